// Topology repair: the children of an interior node must cover its range exactly (btree_gc.c
// bch2_gc_check_topology). A gap, an overlap or a short last child is put right by moving one boundary, in
// the node's header and in its parent's btree_ptr_v2 (min_key, or the key position = max_key), in place.
// Which boundary moves is decided from the keys: a node's first and last keys tell the range it really
// holds, and the boundary is put where both nodes keep every key. bcachefs 2021 instead always moves the
// reported child's min_key (or, in its topology repair pass, trims the older of the two nodes) and drops the
// keys outside the new range; we never drop a readable key, and where no boundary keeps them all we plan
// nothing (the finding stays, reported as "no repair").
import type { Filesystem } from '../btree/fs.js';
import { bposCmp, bposSuccessor, bposToText, type Bpos } from '../format/bpos.js';
import { btreeName } from '../format/names.js';
import { encodeBtreePtrV2, readBtreePtrV2Value } from '../format/encode-value.js';
import type { Finding } from '../check/findings.js';
import type { BtreeNode } from '../btree/node.js';
import { EditsByNode, readNodeAtSector } from './edit.js';
import { rebuildOverChildren } from './nodes-interior.js';
import { lostNodeOf, rangeText } from './nodes-lost.js';
import { ScanCancelled, scanForNodes, type FoundNode } from './older-copies.js';
import { bposPredecessor, childAt, keysText, liveIndexAt, rowsAt, within, type Child } from './topology-nodes.js';
import { planRootRange, ROOT_CLASSES } from './topology-root.js';
import { wrongNodeFixes, WRONG_NODE_CLASS } from './topology-wrongnode.js';
import type { PlannedWrite } from '../journal/plan.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

const KEPT_2021 = 'bcachefs 2021 (fsck -y) moves the reported child\'s min_key and drops every key outside the new range (bch2_btree_node_drop_keys_outside_node); here every key stays';

/** Sets a child's min_key (header and its pointer's btree_ptr_v2.min_key). */
function setMin(e: EditsByNode, parentSector: number, c: Child, level: number, min: Bpos): void {
  const id = c.node.btreeId;
  const p = e.at(id, level, parentSector);
  const v = readBtreePtrV2Value(p.node.keys.value(c.row));
  p.add({ kind: 'value', keyOffset: p.node.keys.keyOff[c.row]!, value: encodeBtreePtrV2({ ...v, minKey: min }) }, {
    field: `btree_ptr_v2.min_key of the pointer to node ${c.node.sector}`, before: bposToText(v.minKey), after: bposToText(min),
  });
  e.at(id, level - 1, c.node.sector).add({ kind: 'minKey', pos: min }, { field: 'btree_node.min_key', before: bposToText(c.node.minKey), after: bposToText(min) });
}

/** Sets a child's max_key (header and the position of its pointer), hiding no other key at either position. */
function setMax(e: EditsByNode, parentSector: number, c: Child, level: number, max: Bpos, ignore = -1): void {
  const id = c.node.btreeId;
  const p = e.at(id, level, parentSector);
  const t = p.node.keys;
  const old = t.pos(c.row);
  // an older version at the old position would come back to life, one at the new position would shadow this key
  for (const r of [...rowsAt(p.node, old, c.row), ...rowsAt(p.node, max, c.row)].filter((r) => r !== ignore)) {
    p.add({ kind: 'delete', keyOffset: t.keyOff[r]! }, { field: `older key at ${bposToText(t.pos(r))}`, before: 'present', after: 'deleted' });
  }
  p.add({ kind: 'pos', keyOffset: t.keyOff[c.row]!, pos: max }, {
    field: `position (max_key) of the pointer to node ${c.node.sector}`, before: bposToText(old), after: bposToText(max),
  });
  e.at(id, level - 1, c.node.sector).add({ kind: 'maxKey', pos: max }, { field: 'btree_node.max_key', before: bposToText(c.node.maxKey), after: bposToText(max) });
}

function fixOf(fs: Filesystem, e: EditsByNode, id: string, title: string, summary: string, evidence: string[], resolves: string[]): RepairFix {
  return {
    id, title, summary, evidence, resolves, lost: [], kept: [KEPT_2021], alternatives: [], dependsOn: [],
    writes: e.all.map((n) => n.write(fs, `${btreeName(n.node.btreeId)} node ${n.node.sector}: ${title}`)),
  };
}

/** Other findings the same change puts right: the moved child's own first pointer, checked against its new min_key. */
function alsoResolved(all: readonly Finding[], childSector: number, min: Bpos): string[] {
  return all.filter((g) => g.class === 'topology_min_key' && g.location.node?.sector === childSector && g.location.key?.index === 0 && g.actual === bposToText(min)).map((g) => g.id);
}

/** topology_min_key: a gap or overlap between child `index` and the one before it (or the parent's start). */
function planMinKey(ctx: PlanContext, f: Finding, all: readonly Finding[]): RepairFix | string | undefined {
  const loc = f.location;
  if (loc.btree_id === undefined || loc.level === undefined || !loc.node || loc.key?.source !== 'bset' || loc.key.byte_offset === undefined) return undefined;
  const parent = readNodeAtSector(ctx.fs, loc.btree_id, loc.level, loc.node.sector);
  if (!parent.readable) return undefined;
  const k = liveIndexAt(parent, loc.key.byte_offset);
  const cur = childAt(ctx.fs, parent, k);
  if (!cur?.node.readable || !cur.ptr.minKey) return 'the child node cannot be read: the node planners deal with it first';
  const prev = k > 0 ? childAt(ctx.fs, parent, k - 1) : undefined;
  if (k > 0 && !prev?.node.readable) return 'the previous sibling cannot be read: the node planners deal with it first';
  const start = prev ? bposSuccessor(prev.ptr.maxKey) : parent.minKey;
  if (!start) return undefined;
  const where = `${btreeName(loc.btree_id)} level ${loc.level - 1}`;
  const kind = bposCmp(cur.ptr.minKey, start) > 0 ? 'gap' : 'overlap';
  const evidence = [
    `the ${kind}: node ${cur.node.sector} starts at ${bposToText(cur.ptr.minKey)}, ${prev ? `its previous sibling ${prev.node.sector} ends at ${bposToText(prev.ptr.maxKey)}` : `its parent starts at ${bposToText(start)}`}`,
    keysText(cur),
    ...(prev ? [keysText(prev)] : []),
  ];
  const fixes: RepairFix[] = [];
  // A: the child starts where the previous sibling ends; every key of the child lies at or after that
  if (within(cur.first, start, cur.ptr.maxKey) && bposCmp(start, cur.ptr.maxKey) <= 0) {
    const e = new EditsByNode(ctx.fs);
    setMin(e, parent.sector, cur, loc.level, start);
    fixes.push(fixOf(ctx.fs, e, `topology:${f.id}`, `set min_key of ${where} node ${cur.node.sector} to ${bposToText(start)}`,
      `btree_node.min_key of node ${cur.node.sector} and its btree_ptr_v2.min_key in node ${parent.sector}: ${bposToText(cur.ptr.minKey)} -> ${bposToText(start)}`,
      [...evidence, `every key of node ${cur.node.sector} lies at or after ${bposToText(start)}: nothing is dropped`],
      [f.id, ...alsoResolved(all, cur.node.sector, start).filter((id) => id !== f.id)]));
  }
  // B: the previous sibling ends where this child starts; every key of the sibling lies before that
  const end = bposPredecessor(cur.ptr.minKey);
  // (only when the child's own keys agree with the min_key it keeps)
  if (prev?.ptr.minKey && end && within(prev.last, prev.ptr.minKey, end) && bposCmp(prev.ptr.minKey, end) <= 0 && within(cur.first, cur.ptr.minKey, cur.ptr.maxKey)) {
    const e = new EditsByNode(ctx.fs);
    setMax(e, parent.sector, prev, loc.level, end);
    fixes.push(fixOf(ctx.fs, e, `topology:${f.id}:prev`, `set max_key of ${where} node ${prev.node.sector} to ${bposToText(end)}`,
      `btree_node.max_key of node ${prev.node.sector} and the position of its btree_ptr_v2 in node ${parent.sector}: ${bposToText(prev.ptr.maxKey)} -> ${bposToText(end)}`,
      [...evidence, `every key of node ${prev.node.sector} lies at or before ${bposToText(end)}: nothing is dropped`], [f.id]));
  }
  if (!fixes.length) return `no boundary between node ${prev?.node.sector ?? parent.sector} and node ${cur.node.sector} keeps the keys of both (${evidence.slice(1).join('; ')})`;
  // the boundary a split leaves is the left node's last key: when the sibling ends exactly at its last key, it is the intact side
  const prevIntact = prev?.last !== undefined && bposCmp(prev.last, prev.ptr.maxKey) === 0;
  const [primary, ...rest] = fixes.length === 2 && !prevIntact ? [fixes[1]!, fixes[0]!] : fixes;
  if (prevIntact) primary!.evidence.push(`node ${prev!.node.sector} ends exactly at its last key, as a split leaves it: its end is the intact boundary`);
  primary!.alternatives = rest;
  return primary;
}

/** topology_max_key: the last child ends before its parent does; its keys all lie below the parent's end. */
function planMaxKey(ctx: PlanContext, f: Finding): RepairFix | string | undefined {
  const loc = f.location;
  if (loc.btree_id === undefined || loc.level === undefined || !loc.node || loc.key?.source !== 'bset' || loc.key.byte_offset === undefined) return undefined;
  const parent = readNodeAtSector(ctx.fs, loc.btree_id, loc.level, loc.node.sector);
  if (!parent.readable) return undefined;
  const last = childAt(ctx.fs, parent, liveIndexAt(parent, loc.key.byte_offset));
  if (!last?.node.readable || last.index !== parent.liveCount - 1) return 'the last child cannot be read: the node planners deal with it first';
  const end = parent.maxKey;
  if (!within(last.last, last.node.minKey, end) || bposCmp(last.ptr.maxKey, end) > 0) return `the last child's keys or range reach past its parent's end ${bposToText(end)}: the parent's range is what is wrong`;
  const e = new EditsByNode(ctx.fs);
  setMax(e, parent.sector, last, loc.level, end);
  const where = `${btreeName(loc.btree_id)} level ${loc.level - 1}`;
  return fixOf(ctx.fs, e, `topology:${f.id}`, `set max_key of ${where} node ${last.node.sector} to ${bposToText(end)}`,
    `btree_node.max_key of node ${last.node.sector} and the position of its btree_ptr_v2 in node ${parent.sector}: ${bposToText(last.ptr.maxKey)} -> ${bposToText(end)}`,
    [
      `node ${last.node.sector} is the last child of node ${parent.sector}, which ends at ${bposToText(end)}; the child ends at ${bposToText(last.ptr.maxKey)}`,
      keysText(last), 'extending the last child keeps every key; nothing else covers the range in between',
    ],
    [f.id]);
}

/**
 * btree_node_empty: an interior node with no children. Its former children are usually still on the device
 * (the node lost its keys, not its subtree): when the node scan finds nodes one level down that tile its
 * range and no live node points to, the node is rebuilt over them as an unreadable one is
 * (nodes-interior.ts), with its removal as the alternative; else it leaves its parent and a neighbour takes
 * over its range, so the siblings stay contiguous.
 */
function planEmpty(ctx: PlanContext, f: Finding, scan: () => FoundNode[]): RepairFix | string | undefined {
  const loc = f.location;
  if (!loc.parent) return 'an empty root: bcachefs needs a root node for every btree in use, and nothing is lost by keeping it';
  if (loc.btree_id === undefined || loc.level === undefined || !loc.node || loc.key?.source !== 'bset' || loc.key.byte_offset === undefined) return undefined;
  const level = loc.level + 1;
  const parent = readNodeAtSector(ctx.fs, loc.btree_id, level, loc.parent.sector);
  if (!parent.readable) return undefined;
  const k = liveIndexAt(parent, loc.key.byte_offset);
  const empty = childAt(ctx.fs, parent, k);
  const lost = lostNodeOf(ctx.fs, f);
  if (!empty?.node.readable || empty.node.liveCount || !lost) return undefined;
  const r = rebuildOverChildren(ctx.fs, ctx.check, lost, scan());
  const removal = parent.liveCount >= 2 ? planRemoval(ctx, f, parent, k, empty) : undefined;
  if (removal && r.found) {
    removal.evidence.push('reason' in r ? `not rebuilt over its former children: ${r.reason}`
      : `the ${r.found} child nodes found on the device in its range are then reached by no node`);
    removal.lost = [`every key of the ${r.found} ${btreeName(loc.btree_id)} level ${loc.level - 1} nodes found on the device in ${rangeText(lost.minKey, lost.maxKey)}`];
    removal.kept = [];
  } else if (removal && 'reason' in r) removal.evidence.push(r.reason);
  if ('fix' in r) {
    if (removal) removal.id = `topology:${f.id}:remove`;
    return { ...r.fix, id: `topology:${f.id}`, alternatives: removal ? [removal] : [] };
  }
  return removal ?? `node ${loc.node.sector} is the only child of node ${parent.sector}: removing it would leave that node empty in turn, and ${r.reason}`;
}

/** The empty child `k` of `parent` removed; the next sibling (the previous one, for the last child) takes its range. */
function planRemoval(ctx: PlanContext, f: Finding, parent: BtreeNode, k: number, empty: Child): RepairFix | undefined {
  const loc = f.location;
  const id = parent.btreeId;
  const e = new EditsByNode(ctx.fs);
  const p = e.at(id, parent.level, parent.sector);
  p.add({ kind: 'delete', keyOffset: parent.keys.keyOff[empty.row]! }, { field: `pointer to node ${empty.node.sector}`, before: loc.key?.text ?? '', after: 'deleted' });
  const isLast = k === parent.liveCount - 1;
  const other = childAt(ctx.fs, parent, isLast ? k - 1 : k + 1);
  if (!other?.node.readable || !other.ptr.minKey) return undefined;
  if (isLast) setMax(e, parent.sector, other, parent.level, empty.ptr.maxKey, empty.row);
  else setMin(e, parent.sector, other, parent.level, empty.ptr.minKey!);
  const range = `${bposToText(empty.ptr.minKey!)} .. ${bposToText(empty.ptr.maxKey)}`;
  return fixOf(ctx.fs, e, `topology:${f.id}`, `remove empty ${btreeName(id)} level ${empty.node.level} node ${empty.node.sector} from node ${parent.sector}`,
    `its btree_ptr_v2 deleted from node ${parent.sector}; node ${other.node.sector} (${isLast ? 'previous' : 'next'} sibling) covers ${range} too`,
    [`node ${empty.node.sector} has no keys`, `its range ${range} goes to its ${isLast ? 'previous' : 'next'} sibling so the children stay contiguous`],
    [f.id]);
}

const CLASSES = ['topology_min_key', 'topology_max_key', 'btree_node_empty', ...ROOT_CLASSES, WRONG_NODE_CLASS] as const;

/** What a write rewrites: a node, or the superblock or journal (each rewritten whole by one fix a round). */
const unit = (w: PlannedWrite): string => (w.target.kind === 'node' ? `node ${w.target.sector}` : w.target.kind);

export const topologyPlanner: Planner = {
  name: 'topology',
  classes: CLASSES,
  order: 20,
  plan(ctx, findings) {
    const out: RepairFix[] = [...wrongNodeFixes(ctx, findings)];
    // the node scan reads the disk: once a round, and only for an empty node
    let found: FoundNode[] | undefined;
    const scan = (): FoundNode[] => (found ??= scanForNodes(ctx.fs, ctx.check.gc, { token: ctx.token }));
    const touched = new Set(out.flatMap((x) => x.writes.map(unit)));
    const done = new Set(out.flatMap((x) => x.resolves));
    for (const f of findings) {
      if (ctx.token.isCancellationRequested || done.has(f.id)) continue;
      let fix: RepairFix | string | undefined;
      try {
        fix = f.class === 'topology_min_key' ? planMinKey(ctx, f, findings)
          : f.class === 'topology_max_key' ? planMaxKey(ctx, f)
            : f.class === 'btree_node_empty' ? planEmpty(ctx, f, scan)
              : (ROOT_CLASSES as readonly string[]).includes(f.class) ? planRootRange(ctx, f, findings) : undefined;
      } catch (e) {
        if (e instanceof ScanCancelled) return []; // the pipeline sees the token and reports the plan as cancelled
        throw e;
      }
      if (typeof fix === 'string') ctx.noRepair(f.id, fix);
      if (!fix || typeof fix === 'string') continue;
      // one change per node in a round: a later finding on a node already changed is planned on the next round's re-check
      const sectors = [fix, ...fix.alternatives].flatMap((x) => x.writes.map(unit));
      if (sectors.some((s) => touched.has(s))) continue;
      for (const s of sectors) touched.add(s);
      for (const id of fix.resolves) done.add(id);
      out.push(fix);
    }
    return out;
  },
};
