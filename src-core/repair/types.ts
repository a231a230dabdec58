// Change from TEAM2.md's interface: PlanContext also has noRepair(findingId, reason), so that a planner can say
// why it leaves one of its findings without a fix (the plan lists every such finding with that reason).
// Calling it is optional; a finding left without a fix and without a reason is listed as "<planner> has no fix for it".
//
// The repair interface: planners turn findings into fixes (RepairFix), the pipeline (pipeline.ts) runs them in
// rounds over an in-memory overlay of the device, and the journal applies the resulting plan in order.
import type { CancellationToken } from '../base/cancellation.js';
import type { Filesystem } from '../btree/fs.js';
import type { CheckResult, Finding } from '../check/index.js';
import type { FixPlan } from '../journal/plan.js';

export interface RepairFix extends FixPlan {
  /** what changes, in bcachefs's terms (node header min/max key, btree_ptr_v2 field, key's ptr gen, bucket gen, alloc key field, usage, superblock copy) */
  summary: string;
  /** why: the evidence, one line each */
  evidence: string[];
  /** keys dropped by this fix (their text as bcachefs prints them); empty when nothing is lost */
  lost: string[];
  /** what comes back or is kept that 2021 fsck -y would lose, in words (may be empty) */
  kept: string[];
  /** other ways to fix the same findings, each a complete fix with its own evidence; the technician may choose one */
  alternatives: RepairFix[];
  /** ids of fixes (earlier in the plan) whose writes this one was planned on top of */
  dependsOn: string[];
}

export interface PlanContext {
  /** read-only, over the overlay: it shows every earlier fix of this plan applied */
  fs: Filesystem;
  /** the check of that state: findings + gc */
  check: CheckResult;
  token: CancellationToken;
  /** a free bucket no earlier fix of this plan took (from format/buckets freeBuckets), for a new node */
  claimFreeBucket(dev: number): number | undefined;
  /** records why this planner leaves a finding without a fix (shown in the plan) */
  noRepair(findingId: string, reason: string): void;
}

/** One planner per family of classes: it gets every finding of its classes and returns fixes for those it can fix. */
export interface Planner {
  name: string;
  classes: readonly string[];
  /** lower runs first; after each round the pipeline applies the fixes to the overlay, reloads and re-checks */
  order: number;
  plan(ctx: PlanContext, findings: readonly Finding[]): RepairFix[];
}
