// The check, as every front end runs it: the same options (the device name bcachefs prints), the same
// progress arithmetic, the same result.
import { checkFilesystem, FINDING_CLASSES, type CheckOptions, type CheckProgress as CheckerProgress, type CheckResult } from '../check/index.js';
import type { Filesystem } from '../btree/fs.js';
import { NEVER_CANCELLED, type CancellationToken } from '../base/cancellation.js';
import { Disk, filesystemOf } from './disk.js';
import { btreeOverview } from './btrees.js';
import type { CheckProgress, CheckReport } from './types.js';
import type { GcState } from '../check/result.js';

/** The report, and the buckets and counters mark and sweep ended with (typed arrays: for the pictures, not for JSON). */
export interface CheckOutcome extends CheckReport {
  gc?: GcState;
}

/** checkFilesystem's contract: the service's tests put a slowed-down or misbehaving checker in its place. */
export type CheckFn = (fs: Filesystem, opts: CheckOptions) => Promise<CheckResult>;

export interface Checker {
  check: CheckFn;
  /** class -> what it means */
  classes: Record<string, string>;
}

export const BUILT_IN_CHECKER: Checker = { check: checkFilesystem, classes: { ...FINDING_CLASSES } };

export interface CheckRequest {
  /** polled at every node: the check stops there with what it found */
  token?: CancellationToken;
  /** at most every PROGRESS_INTERVAL_MS, and at every phase change */
  onProgress?: (p: CheckProgress) => void;
  checker?: Checker;
}

const PROGRESS_INTERVAL_MS = 100;

/** Checks the disk as bcachefs 2021's fsck -n does. Errors other than a cancel propagate. */
export async function checkDisk(disk: Disk, req: CheckRequest = {}): Promise<CheckOutcome> {
  const fs = filesystemOf(disk);
  const ck = req.checker ?? BUILT_IN_CHECKER;
  const token = req.token ?? NEVER_CANCELLED;
  const report = req.onProgress ? progressReporter(disk, fs, req.onProgress) : null;
  // progress between the checker's own reports (it reports every few dozen nodes) is sent from its polls
  const polled: CancellationToken = report
    ? { get isCancellationRequested() { report(undefined); return token.isCancellationRequested; } }
    : token;
  report?.({ phase: 'starting' }, true);
  const r = await ck.check(fs, {
    devName: disk.devName,
    token: polled,
    ...(report ? { onProgress: (p: CheckerProgress) => report(p) } : {}),
  });
  return { findings: r.findings, stats: r.stats, aborted: r.aborted, limitations: r.limitations, classes: ck.classes, ...(r.gc ? { gc: r.gc } : {}) };
}

type Said = Partial<Omit<CheckerProgress, 'phase'>> & { phase: string };

/** Progress in nodes and bytes from the filesystem's own counters (current at every poll), never backwards. */
function progressReporter(disk: Disk, fs: Filesystem, emit: (p: CheckProgress) => void): (p: Said | undefined, force?: boolean) => void {
  const started = Date.now();
  const overview = btreeOverview(disk);
  const nodes0 = fs.nodesRead;
  const bytes0 = fs.nodeBytesRead;
  const said: { phase: string; btree?: string; estimate: number } = { phase: 'starting', estimate: 0 };
  let lastSent = 0;
  let lastPhase = '';
  let lastFraction = 0;
  return (p, force = false) => {
    if (p) {
      said.phase = p.phase;
      if (p.btree !== undefined) said.btree = p.btree;
      else delete said.btree;
      if (p.estimatedTotalBytes) said.estimate = p.estimatedTotalBytes;
    }
    const phase = said.phase;
    const now = Date.now();
    if (!force && phase === lastPhase && now - lastSent < PROGRESS_INTERVAL_MS) return;
    lastSent = now;
    lastPhase = phase;
    const nodesDone = fs.nodesRead - nodes0;
    const bytesDone = fs.nodeBytesRead - bytes0;
    const bytesTotal = Math.max(said.estimate || overview.totalBytes, bytesDone);
    // estimates improve as the check goes: never backwards, and 0.99 until the result is out
    let fraction = phase === 'done' ? 0.99 : bytesTotal ? bytesDone / bytesTotal : 0;
    fraction = Math.min(Math.max(fraction, lastFraction, 0), 0.99);
    lastFraction = fraction;
    const elapsedMs = now - started;
    const etaSeconds = fraction > 0.02 && elapsedMs > 300 ? Math.round(((elapsedMs / fraction) * (1 - fraction)) / 1000) : null;
    emit({
      phase, ...(said.btree ? { btree: said.btree } : {}), nodesDone, nodesTotal: Math.max(overview.totalNodes, nodesDone),
      bytesDone, bytesTotal, fraction, etaSeconds, elapsedMs,
    });
  };
}
