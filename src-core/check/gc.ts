// bch2_gc_btrees: each btree in gc phase order, through bch2_gc_btree_init and its recursion. A node's keys
// are first all marked (and, in interior nodes, checked against their siblings); then, above the target
// depth, its children are read in key order and recursed into. The root's own key is marked last.
import { btreePtrFromKey, nodeKeysWithJournal } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import type { KeyTable } from '../format/bkey.js';
import { btreeName } from '../format/names.js';
import type { BtreePtr } from '../format/values.js';
import { btreePtrTable } from '../btree/fs.js';
import type { Gc } from './context.js';
import type { KeyLocation } from './findings.js';
import type { Marker } from './mark.js';
import { nodeWhere, reportNodeErrors } from './node-read.js';
import { rootKey } from './recovery.js';
import { checkRootRange, checkTopology, emptyInteriorNode } from './topology.js';

/** bch2_gc_btrees' order: btree ids sorted by their gc phase (stripes, extents, inodes, dirents, xattrs, alloc, quotas, reflink). */
const GC_BTREE_ORDER = [6, 0, 1, 2, 3, 4, 5, 7];
/** btree_node_type_needs_gc for leaves: extents, inodes, alloc, stripes, reflink have triggers. */
export const LEAF_NEEDS_GC = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 6) | (1 << 7);

export async function gcBtrees(g: Gc, marker: Marker): Promise<void> {
  for (const id of GC_BTREE_ORDER) {
    if (id >= g.fs.roots.length) continue;
    g.btree = btreeName(id);
    await gcBtreeInit(g, marker, id);
  }
  g.btree = undefined;
}

/** bch2_gc_btree_init: down to the leaves for btrees with triggers, to level 1 for the others. */
async function gcBtreeInit(g: Gc, marker: Marker, id: number): Promise<void> {
  const root = g.fs.roots[id]!;
  if (root.fake) return;
  const node = g.rootNodes[id];
  const targetDepth = (LEAF_NEEDS_GC >> id) & 1 ? 0 : 1;
  g.fs.beginWalk();
  g.fs.firstVisit(root.ptr);
  if (node && node.readable) {
    const key = rootKey(g, id);
    checkRootRange(g, id, node, root.ptr, key);
    if (node.level >= targetDepth) await gcBtreeInitRecurse(g, marker, id, node, root.ptr, key, targetDepth);
  }
  // the root's own key: bch2_gc_mark_key(..., is_root = true)
  marker.markKey(btreePtrTable(root.ptr), 0, id, root.level + 1, null, 0);
}

/** bch2_gc_btree_init_recurse; `parent` is absent for the root. */
async function gcBtreeInitRecurse(
  g: Gc, marker: Marker, id: number, node: BtreeNode, ptr: BtreePtr, key: KeyLocation, targetDepth: number, parent?: { node: BtreeNode; index: number },
): Promise<void> {
  const level = node.level;
  const name = btreeName(id);
  // keys: mark each, and check interior nodes' children ranges against each other
  let prevT: KeyTable | null = null;
  let prevRow = -1;
  const keys = nodeKeysWithJournal(g.fs, node);
  const n = keys.count;
  if (level > 0 && n === 0) emptyInteriorNode(g, node, nodeWhere(g, node, ptr, key, parent));
  for (let k = 0; k < n; k++) {
    const t = keys.table(k);
    const row = keys.row(k);
    marker.markKey(t, row, id, level, node, k);
    if (level > 0) {
      checkTopology(g, node, prevT, prevRow, t, row, k, k === n - 1);
      prevT = t;
      prevRow = row;
    }
  }
  if (level <= targetDepth) return;
  for (let k = 0; k < n; k++) {
    const t = keys.table(k);
    const row = keys.row(k);
    const child = btreePtrFromKey(t, row);
    if (!child || !g.firstVisit(id, child)) continue;
    const cn = g.readNode(id, level - 1, child, g.tableFor(level - 1));
    await g.nodeDone();
    const childKey = g.keyAt(t, row, node, k);
    const at = { node, index: k };
    const where = nodeWhere(g, cn, child, childKey, at);
    const fatal = reportNodeErrors(g, cn, where);
    if (!cn.readable) {
      if (fatal === undefined) continue; // already reported (alloc read)
      g.out.report(
        'btree_node_unreadable',
        {
          btree: name, level: level - 1, sector: cn.sector, keyText: childKey.text, inLeaves: false,
          reason: cn.errors.find((e) => e.type !== 'fixable' && e.type !== 'want_retry')?.msg ?? 'read error',
        },
        { id: `${name}:${level - 1}:${cn.sector}`, at: where, log: fatal },
      );
      continue;
    }
    await gcBtreeInitRecurse(g, marker, id, cn, child, childKey, targetDepth, at);
  }
}
