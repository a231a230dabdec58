// bch2_gc_btrees: each btree in gc phase order, through bch2_gc_btree_init and its recursion. A node's keys
// are first all marked (and, in interior nodes, checked against their siblings); then, above the target
// depth, its children are read in key order and recursed into. The root's own key is marked last.
import { BtreeWalk, btreePtrTable, type NodeStep } from '../btree/fs.js';
import type { KeyTable } from '../format/bkey.js';
import { BTREE_ID_alloc, BTREE_ID_extents, BTREE_ID_inodes, btreeName } from '../format/names.js';
import type { Gc } from './context.js';
import type { FindingLocation } from './findings.js';
import type { Marker } from './mark.js';
import { nodeWhere, reportNodeErrors } from './node-read.js';
import { rootKey } from './recovery.js';
import { checkRootRange, checkTopology, emptyInteriorNode } from './topology.js';

/** bch2_gc_btrees' order: btree ids sorted by their gc phase (stripes, extents, inodes, dirents, xattrs, alloc, quotas, reflink). */
const GC_BTREE_ORDER = [6, 0, 1, 2, 3, 4, 5, 7];
/** btree_node_type_needs_gc for leaves: extents, inodes, alloc, stripes, reflink have triggers. */
export const LEAF_NEEDS_GC = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 6) | (1 << 7);

export interface GcWalkHooks {
  /** instead of walking the btrees before alloc: their results, taken over from an earlier check (reuse.ts) */
  takeOver?: () => void;
  /** just before the alloc btree's walk */
  beforeAlloc?: () => void;
}

export async function gcBtrees(g: Gc, marker: Marker, hooks: GcWalkHooks = {}): Promise<void> {
  const allocAt = GC_BTREE_ORDER.indexOf(BTREE_ID_alloc);
  for (const [i, id] of GC_BTREE_ORDER.entries()) {
    if (i === allocAt) {
      hooks.takeOver?.();
      hooks.beforeAlloc?.();
    }
    if ((i < allocAt && hooks.takeOver) || id >= g.fs.roots.length) continue;
    g.btree = btreeName(id);
    await gcBtreeInit(g, marker, id);
  }
  g.btree = undefined;
}

/**
 * bch2_gc_btree_init: down to the leaves for btrees with triggers, to level 1 for the others. The walk is
 * depth first, pre-order, as bch2_gc_btree_init_recurse: a node's keys are all marked before its first
 * child is read.
 */
async function gcBtreeInit(g: Gc, marker: Marker, id: number): Promise<void> {
  const root = g.fs.roots[id]!;
  if (root.fake) return;
  const rootNode = g.rootNodes[id];
  const targetDepth = (LEAF_NEEDS_GC >> id) & 1 ? 0 : 1;
  if (rootNode?.readable) {
    checkRootRange(g, id, rootNode, root.ptr, rootKey(g, id));
    const w = new BtreeWalk(g.fs, id, { depth: targetDepth, rootNode });
    for (let s = w.next(); s; s = w.next()) {
      const step = await g.visit(s);
      if (!step) continue;
      if (id === BTREE_ID_inodes) g.inodeFeed?.node(step);
      else if (id === BTREE_ID_extents) g.extentFeed?.node(step);
      gcNode(g, marker, step);
    }
    if (id === BTREE_ID_inodes) g.inodeFeed?.done();
    else if (id === BTREE_ID_extents) g.extentFeed?.done();
  }
  // the root's own key: bch2_gc_mark_key(..., is_root = true)
  marker.markKey(btreePtrTable(root.ptr), 0, id, root.level + 1, null, 0);
}

/** One node of bch2_gc_btree_init_recurse: what its read found, then its keys marked and checked. */
function gcNode(g: Gc, marker: Marker, step: NodeStep): void {
  const { node, keys } = step;
  const parent = step.parent ? { node: step.parent, index: step.childIndex } : undefined;
  const where = (): FindingLocation => nodeWhere(g, node, step.ptr, g.stepKey(step), parent);
  if (parent && (node.errors.length || !node.readable)) {
    const at = where();
    const fatal = reportNodeErrors(g, node, at);
    if (!node.readable) {
      if (fatal === undefined) return; // already reported (alloc read)
      const name = btreeName(node.btreeId);
      g.out.report(
        'btree_node_unreadable',
        {
          btree: name, level: node.level, sector: node.sector, keyText: at.key!.text, inLeaves: false,
          reason: node.errors.find((e) => e.type !== 'fixable' && e.type !== 'want_retry')?.msg ?? 'read error',
        },
        { id: `${name}:${node.level}:${node.sector}`, at, log: fatal },
      );
      return;
    }
  }
  const level = node.level;
  const n = keys.count;
  if (level > 0 && n === 0) emptyInteriorNode(g, node, where());
  // keys: mark each, and check interior nodes' children ranges against each other
  let prevT: KeyTable | null = null;
  let prevRow = -1;
  for (let k = 0; k < n; k++) {
    const t = keys.table(k);
    const row = keys.row(k);
    marker.markKey(t, row, node.btreeId, level, node, k);
    if (level > 0) {
      checkTopology(g, node, prevT, prevRow, t, row, k, k === n - 1);
      prevT = t;
      prevRow = row;
    }
  }
}
