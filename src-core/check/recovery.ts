// Recovery before mark and sweep (recovery.c): read_btree_roots reads every root, in btree id order. The
// recorded usage (journal_replay_early) is read with the gc state (usage.ts readRecordedUsage).
import { btreePtrTable } from '../btree/fs.js';
import { KeyTable } from '../format/bkey.js';
import { BTREE_ID_alloc, btreeName } from '../format/names.js';
import type { Gc } from './context.js';
import { nodeWhere, reportNodeErrors } from './node-read.js';

export function readBtreeRoots(g: Gc): void {
  for (let id = 0; id < g.fs.roots.length; id++) readBtreeRoot(g, id);
}

/** The root's own key, as a finding locates it (it sits in the btree root entry, not in a node). */
export function rootKey(g: Gc, id: number) {
  return g.keyAt(btreePtrTable(g.fs.roots[id]!.ptr), 0, null);
}

function readBtreeRoot(g: Gc, id: number): void {
  const root = g.fs.roots[id]!;
  if (root.fake) return;
  const node = g.readNode(id, root.level, root.ptr, new KeyTable(root.level ? 256 : 4096));
  g.rootNodes[id] = node;
  const where = nodeWhere(g, node, root.ptr, rootKey(g, id));
  const fatal = reportNodeErrors(g, node, where);
  if (node.readable) return;
  const name = btreeName(id);
  g.out.report(
    'btree_root_unreadable',
    { btree: name, level: root.level, sector: node.sector, keyText: where.key!.text, isAlloc: id === BTREE_ID_alloc },
    { id: `${name}:${root.level}:${node.sector}`, at: where, ...(fatal !== undefined ? { log: fatal } : {}) },
  );
}
