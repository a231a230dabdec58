// The leaves mark and sweep skips (dirents, xattrs, quotas: no triggers, so gc stops at level 1). bcachefs
// 2021 reads them only in its fsck passes, where a damaged leaf stops fsck ("error in fsck (-5)"); this
// checker reports every damaged one so that the damage is found in one run. It runs after the passes and
// its findings are placed before theirs (index.ts): a leaf a pass already read and found without errors is
// not read again (on a clean filesystem none is), only the others.
import { BtreeWalk, btreePtrFromKey, type NodeStep, type RepeatStep } from '../btree/fs.js';
import { KeyTable } from '../format/bkey.js';
import { btreeName } from '../format/names.js';
import type { BtreePtr } from '../format/values.js';
import type { Gc } from './context.js';
import { LEAF_NEEDS_GC } from './gc.js';
import { nodeErrText, nodeWhere, reportedKey } from './node-read.js';

/** `readClean(btreeId, sector)`: whether an fsck pass read that leaf and found no error in it. */
export async function readSkippedLeaves(g: Gc, readClean: (btreeId: number, sector: number) => boolean): Promise<void> {
  for (let id = 0; id < g.fs.roots.length; id++) {
    if ((LEAF_NEEDS_GC >> id) & 1) continue;
    g.btree = btreeName(id);
    await readLeaves(g, id, readClean);
  }
  g.btree = undefined;
}

async function readLeaves(g: Gc, id: number, readClean: (btreeId: number, sector: number) => boolean): Promise<void> {
  const rootNode = g.rootNodes[id];
  if (!rootNode || !rootNode.readable || rootNode.level === 0) return;
  // interior nodes were checked (and reported) by gc: the walk stops above the leaves, which are taken here
  const w = new BtreeWalk(g.fs, id, { rootNode, depth: 1 });
  const visited = new Set<number>();
  const table = new KeyTable(4096);
  for (let w1 = w.next(); w1; w1 = w.next()) {
    const s = await g.visit(w1);
    if (!s || s.level !== 1) continue;
    const children: { ptr: BtreePtr; k: number }[] = [];
    for (let k = 0; k < s.keys.count; k++) {
      const ptr = btreePtrFromKey(s.keys.table(k), s.keys.row(k));
      const p = ptr?.ptrs[0];
      if (!ptr) continue;
      const first = p ? p.dev * 2 ** 44 + p.offset : -1 - k;
      const base = { btreeId: id, level: 0, ptr, parent: s.node, childIndex: k, ptrTable: s.keys.table(k), ptrRow: s.keys.row(k) };
      if (visited.has(first)) {
        await g.visit({ ...base, repeat: true } satisfies RepeatStep);
        continue;
      }
      visited.add(first);
      if (p && readClean(id, p.offset)) await g.countRead(id, p.offset);
      else children.push({ ptr, k });
    }
    for (const c of children) g.fs.prefetchNode(c.ptr);
    for (const { ptr, k } of children) {
      const node = g.fs.readNodeAt(id, 0, ptr, table);
      const step: NodeStep = {
        btreeId: id, level: 0, ptr, parent: s.node, childIndex: k, ptrTable: s.keys.table(k), ptrRow: s.keys.row(k), repeat: false, node,
        keys: { count: 0, table: () => table, row: () => 0 },
      };
      await g.visit(step);
      if (node.errors.length) reportLeaf(g, step);
    }
  }
}

function reportLeaf(g: Gc, step: NodeStep): void {
  const node = step.node;
  const name = btreeName(node.btreeId);
  const key = g.stepKey(step);
  const rootLevel = g.fs.roots[node.btreeId]!.level;
  const logs = node.errors.map((e) => nodeErrText(g, node, key.text, rootLevel, e)).join('\n');
  const reasons = node.errors.map((e) => e.msg.split('\n')[0]).join('; ');
  // after the initial gc, a fixable node error no longer repairs on read: the node fails to read
  const unreadable = !node.readable || node.errors.some((e) => e.type === 'fixable');
  g.reportedNodes.add(reportedKey(node));
  const r = { id: `${name}:0:${node.sector}`, at: nodeWhere(g, node, step.ptr, key, { node: step.parent!, index: step.childIndex }), log: logs };
  if (unreadable) {
    g.out.report('btree_node_unreadable', { btree: name, level: 0, sector: node.sector, keyText: key.text, reason: reasons, inLeaves: true }, r);
  } else {
    g.out.report('btree_node_read_error', { text: logs, msg: reasons, inLeaves: true, sector: node.sector, btree: name }, r);
  }
}
