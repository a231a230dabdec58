// The planning rounds: check -> the lowest-order planner with findings plans -> its fixes are laid over the
// device in memory (overlay.ts) -> the filesystem is opened again over the overlay -> check again; until no
// finding is left or no planner makes progress. Each fix's old bytes are what the overlay held when it was
// planned, so the journal applies the plan's fixes in plan order, and nothing is written while planning.
import { NEVER_CANCELLED, type CancellationToken } from '../base/cancellation.js';
import { Filesystem } from '../btree/fs.js';
import type { BlockReader } from '../btree/reader.js';
import { checkFilesystem, type CheckResult, type Finding, type WrittenRange } from '../check/index.js';
import { freeBuckets, type BucketAlloc } from '../format/buckets.js';
import { rangesOverlap } from '../journal/plan.js';
import { PLANNERS } from './index.js';
import { Overlay } from './overlay.js';
import { replayRefusal } from './unclean.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

export interface Unresolved {
  finding: Finding;
  /** why no fix of this plan resolves it */
  reason: string;
}

export interface RepairPlan {
  /** in the order they must be applied */
  fixes: RepairFix[];
  /** findings of the last check that no fix resolves, each with why */
  unresolved: Unresolved[];
  /** the findings of the first check (what the plan was made for) */
  before: Finding[];
  rounds: number;
  /** the token cancelled planning: the fixes are those planned up to then */
  cancelled: boolean;
}

export interface PlanProgress {
  round: number;
  /** what the round is doing: 'check' or the planner's name */
  step: string;
  findings: number;
  fixes: number;
}

export interface PlanOptions {
  token?: CancellationToken;
  onProgress?: (p: PlanProgress) => void;
  /** device name for the check's messages */
  devName?: string;
  /** the planners (default: every registered one) */
  planners?: readonly Planner[];
  /** at most this many rounds (default 16) */
  maxRounds?: number;
}

/** Plans the repair of the filesystem on `dev` without writing anything. */
export async function planRepair(dev: BlockReader, opts: PlanOptions = {}): Promise<RepairPlan> {
  const token = opts.token ?? NEVER_CANCELLED;
  const planners = [...(opts.planners ?? PLANNERS)].sort((a, b) => a.order - b.order);
  const overlay = new Overlay(dev);
  const fixes: RepairFix[] = [];
  const reasons = new Map<string, string>();
  const claimed = new Map<number, Set<number>>();
  let round = 0;
  const progress = (step: string, findings: number): void => opts.onProgress?.({ round, step, findings, fixes: fixes.length });
  // each round's check takes over from the one before what the round's writes cannot have changed (check/reuse.ts)
  const check = async (fs: Filesystem, since?: { check: CheckResult; writes: readonly WrittenRange[] }): Promise<CheckResult> => {
    progress('check', 0);
    return checkFilesystem(fs, { token, reusable: true, ...(since ? { since } : {}), ...(opts.devName ? { devName: opts.devName } : {}) });
  };
  let fs = new Filesystem(overlay);
  let state = await check(fs);
  const before = state.findings;
  const refusal = replayRefusal(fs);
  if (refusal) return { fixes: [], unresolved: before.map((finding) => ({ finding, reason: refusal })), before, rounds: 0, cancelled: state.aborted };
  let cancelled = state.aborted;
  // planners that found nothing to do in the current state (reset whenever a round makes progress)
  const idle = new Set<Planner>();
  while (!cancelled && state.findings.length && round < (opts.maxRounds ?? 16)) {
    const planner = planners.find((p) => !idle.has(p) && state.findings.some((f) => p.classes.includes(f.class)));
    if (!planner) break;
    round++;
    const mine = state.findings.filter((f) => planner.classes.includes(f.class));
    progress(planner.name, mine.length);
    const ctx: PlanContext = {
      fs, check: state, token,
      claimFreeBucket: (d) => claimBucket(fs, state, claimed, d),
      noRepair: (id, why) => reasons.set(id, `${planner.name}: ${why}`),
    };
    const planned = planner.plan(ctx, mine);
    if (token.isCancellationRequested) {
      cancelled = true;
      break;
    }
    const mark = overlay.mark();
    try {
      for (const f of planned) overlay.apply(f);
    } catch (e) {
      overlay.reset(mark);
      for (const f of mine) reasons.set(f.id, `${planner.name}: its fixes do not apply (${(e as Error).message})`);
      idle.add(planner);
      continue;
    }
    fs = new Filesystem(overlay);
    const next = await check(fs, { check: state, writes: planned.flatMap((f) => f.writes.map((w) => ({ offset: w.offset, length: w.new.length }))) });
    if (next.aborted) {
      cancelled = true;
      overlay.reset(mark);
      break;
    }
    const now = new Set(next.findings.map((f) => f.id));
    const gone = state.findings.filter((f) => !now.has(f.id));
    if (!planned.length || !gone.length) {
      // nothing planned, or nothing resolved: the state stays as it was and this planner is done with it
      overlay.reset(mark);
      fs = new Filesystem(overlay);
      idle.add(planner);
      continue;
    }
    attribute(planned, gone);
    for (const f of planned.filter((p) => p.resolves.length)) {
      f.dependsOn = fixes.filter((o) => o.writes.some((w) => f.writes.some((x) => rangesOverlap(w.offset, w.old.length, x.offset, x.old.length)))).map((o) => o.id);
      fixes.push(uniqueId(f, fixes));
    }
    for (const f of gone) reasons.delete(f.id);
    state = next;
    idle.clear();
  }
  const unresolved = state.findings.map((finding) => ({
    finding,
    reason: reasons.get(finding.id)
      ?? (cancelled ? 'planning was cancelled before this finding was planned'
        : planners.some((p) => p.classes.includes(finding.class)) ? `${planners.find((p) => p.classes.includes(finding.class))!.name} has no fix for it`
          : `no repair for ${finding.class} yet`),
  }));
  return { fixes, unresolved, before, rounds: round, cancelled };
}

/**
 * Each fix resolves the findings it names that went; a finding that went without being named (the bucket
 * and usage findings that follow a pointer repair) goes to the fix naming a finding of the same bucket,
 * else to the round's first fix.
 */
function attribute(fixes: RepairFix[], gone: Finding[]): void {
  const goneIds = new Set(gone.map((f) => f.id));
  const named = new Set<string>();
  const buckets = new Map<string, RepairFix>();
  const byId = new Map(gone.map((f) => [f.id, f]));
  for (const fix of fixes) {
    fix.resolves = fix.resolves.filter((id) => goneIds.has(id));
    for (const id of fix.resolves) {
      named.add(id);
      const l = byId.get(id)?.location;
      if (l?.bucket !== undefined) buckets.set(`${l.dev}:${l.bucket}`, fix);
    }
  }
  const first = fixes.find((f) => f.resolves.length) ?? fixes[0]!;
  for (const f of gone) {
    if (named.has(f.id)) continue;
    const l = f.location;
    const fix = (l.bucket !== undefined && buckets.get(`${l.dev}:${l.bucket}`)) || first;
    fix.resolves.push(f.id);
  }
}

function uniqueId(f: RepairFix, earlier: readonly RepairFix[]): RepairFix {
  if (!earlier.some((o) => o.id === f.id)) return f;
  let n = 2;
  while (earlier.some((o) => o.id === `${f.id}#${n}`)) n++;
  return { ...f, id: `${f.id}#${n}` };
}

/** A free bucket of device `dev` that neither the alloc btree, nor gc's marking, nor an earlier fix of this plan uses. */
function claimBucket(fs: Filesystem, state: CheckResult, claimed: Map<number, Set<number>>, dev: number): number | undefined {
  const d = state.gc.devs[dev];
  if (!d || dev !== fs.sb.devIdx) return undefined;
  const mine = claimed.get(dev) ?? new Set<number>();
  const alloc: BucketAlloc[] = [];
  for (let b = 0; b < d.nbuckets; b++) {
    if (d.aGenValid[b] || d.aDataType[b] || d.aDirty[b] || d.aCached[b]) {
      alloc.push({ dev, bucket: b, gen: d.aGen[b]!, oldestGen: d.aOldestGen[b]!, dataType: d.aDataType[b]!, dirtySectors: d.aDirty[b]!, cachedSectors: d.aCached[b]!, stripe: 0 });
    }
  }
  const used = (b: number): boolean => mine.has(b) || d.aUnknown[b] === 1 || d.dirty[b]! > 0 || d.cached[b]! > 0 || d.dataType[b]! !== 0;
  const free = freeBuckets(fs.sb, alloc, { exclude: used, limit: 1 })[0];
  if (!free) return undefined;
  mine.add(free.bucket);
  claimed.set(dev, mine);
  return free.bucket;
}
