// The leaves mark and sweep skips (dirents, xattrs, quotas: no triggers, so gc stops at level 1). bcachefs
// 2021 reads them only in its fsck passes, where a damaged leaf stops fsck ("error in fsck (-5)"); this
// checker reads them after gc_done so that the damage is found in one run.
import { BtreeWalk } from '../btree/fs.js';
import { btreeName } from '../format/names.js';
import type { Gc } from './context.js';
import { LEAF_NEEDS_GC } from './gc.js';
import { nodeErrText, nodeWhere, reportedKey } from './node-read.js';

export async function readSkippedLeaves(g: Gc): Promise<void> {
  for (let id = 0; id < g.fs.roots.length; id++) {
    if ((LEAF_NEEDS_GC >> id) & 1) continue;
    g.btree = btreeName(id);
    await readLeaves(g, id);
  }
  g.btree = undefined;
}

async function readLeaves(g: Gc, id: number): Promise<void> {
  const rootNode = g.rootNodes[id];
  if (!rootNode || !rootNode.readable || rootNode.level === 0) return;
  const name = btreeName(id);
  const w = new BtreeWalk(g.fs, id, { rootNode });
  for (let s = w.next(); s; s = w.next()) {
    const step = await g.visit(s);
    // interior nodes were checked (and reported) by gc
    if (!step || step.level > 0 || !step.node.errors.length) continue;
    const node = step.node;
    const key = g.stepKey(step);
    const rootLevel = g.fs.roots[id]!.level;
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
}
