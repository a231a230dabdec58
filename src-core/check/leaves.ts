// The leaves mark and sweep skips (dirents, xattrs, quotas: no triggers, so gc stops at level 1). bcachefs
// 2021 reads them only in its fsck passes, where a damaged leaf stops fsck ("error in fsck (-5)"); this
// checker reads them after gc_done so that the damage is found in one run.
import { btreePtrFromKey } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
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
  const root = g.fs.roots[id]!;
  const rootNode = g.rootNodes[id];
  if (root.fake || !rootNode || !rootNode.readable || rootNode.level === 0) return;
  const name = btreeName(id);
  g.fs.beginWalk();
  g.fs.firstVisit(root.ptr);
  const rec = async (node: BtreeNode): Promise<void> => {
    const t = node.keys;
    g.fs.prefetchChildren(node);
    for (let k = 0; k < node.liveCount; k++) {
      const row = node.live[k]!;
      const child = btreePtrFromKey(t, row);
      if (!child || !g.firstVisit(id, child)) continue;
      const level = node.level - 1;
      const cn = g.readNode(id, level, child, g.tableFor(level));
      await g.nodeDone();
      if (level > 0) {
        if (cn.readable) await rec(cn); // interior nodes were checked (and reported) by gc
        continue;
      }
      if (!cn.errors.length) continue;
      const key = g.keyAt(t, row, node, k);
      const logs = cn.errors.map((e) => nodeErrText(g, cn, key.text, root.level, e)).join('\n');
      const reasons = cn.errors.map((e) => e.msg.split('\n')[0]).join('; ');
      // after the initial gc, a fixable node error no longer repairs on read: the node fails to read
      const unreadable = !cn.readable || cn.errors.some((e) => e.type === 'fixable');
      g.reportedNodes.add(reportedKey(cn));
      const r = { id: `${name}:${level}:${cn.sector}`, at: nodeWhere(g, cn, child, key, { node, index: k }), log: logs };
      if (unreadable) {
        g.out.report('btree_node_unreadable', { btree: name, level, sector: cn.sector, keyText: key.text, reason: reasons, inLeaves: true }, r);
      } else {
        g.out.report('btree_node_read_error', { text: logs, msg: reasons, inLeaves: true, sector: cn.sector, btree: name }, r);
      }
    }
  };
  await rec(rootNode);
}
