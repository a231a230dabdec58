// The planner for damaged btree nodes: unreadable leaves (restored from older copies, else dropped with a
// sibling taking their range), unreadable alloc leaves (rebuilt from mark and sweep), unreadable interior
// nodes (rebuilt over their children found on the device) and bad checksums (corrected only with evidence).
// The older-copy scan reads the disk, so it runs once per round and only when a finding needs it.
import type { Finding } from '../check/index.js';
import { BTREE_ID_alloc } from '../format/names.js';
import { planBadChecksum } from './nodes-csum.js';
import { planLostAllocLeaf } from './nodes-alloc.js';
import { planLostInterior } from './nodes-interior.js';
import { lostNodeOf } from './nodes-lost.js';
import { planLostLeaf } from './nodes-restore.js';
import { ScanCancelled, readCopy, scanForNodes, type FoundNode } from './older-copies.js';
import type { PlanContext, Planner, RepairFix } from './types.js';

const UNREADABLE = ['btree_node_unreadable', 'alloc_info_unreadable'];

export const nodesPlanner: Planner = {
  name: 'unreadable and damaged btree nodes',
  classes: [...UNREADABLE, 'btree_node_read_error'],
  order: 10,
  plan(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
    const out: RepairFix[] = [];
    let found: FoundNode[] | undefined;
    const scan = (): FoundNode[] => (found ??= scanForNodes(ctx.fs, ctx.check.gc, { token: ctx.token }));
    try {
      for (const f of findings) {
        const fix = planOne(ctx, f, scan);
        if (fix) out.push(fix);
      }
    } catch (e) {
      if (e instanceof ScanCancelled) return []; // the pipeline sees the token and reports the plan as cancelled
      throw e;
    }
    return out;
  },
};

function planOne(ctx: PlanContext, f: Finding, scan: () => FoundNode[]): RepairFix | undefined {
  if (!UNREADABLE.includes(f.class)) {
    const fix = planBadChecksum(ctx.fs, f);
    if (!fix && /invalid checksum/.test(f.log_message ?? '')) {
      ctx.noRepair(f.id, 'no evidence of which part is damaged (the checksums differ in more than one byte and no single flipped bit explains it, ' +
        'or keys do not validate): the node is kept and used as it is, as bcachefs 2021 does');
    }
    return fix;
  }
  // a node that validates against its own header (wrong seq, btree or range for its pointer) is intact:
  // the topology planner makes pointer and node agree
  if (f.location.node && readCopy(ctx.fs, f.location.node.sector)) return undefined;
  const lost = lostNodeOf(ctx.fs, f);
  if (!lost) {
    ctx.noRepair(f.id, 'an unreadable root: its pointer is in the superblock (clean section or journal), which this planner does not rewrite');
    return undefined;
  }
  const fix =
    lost.level > 0 ? planLostInterior(ctx.fs, ctx.check, lost, scan())
    : lost.btreeId === BTREE_ID_alloc ? planLostAllocLeaf(ctx.fs, ctx.check, lost, scan())
    : planLostLeaf(ctx.fs, ctx.check, lost, scan());
  if (!fix) ctx.noRepair(f.id, 'no older copy of its range and no sibling to take it over (it is its parent\'s only child)');
  return fix;
}
