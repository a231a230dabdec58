// One open disk and what the service does with it, through the operations layer (src-core/ops): the
// same orchestration as the CLI's. Runs inside the service's session worker (session-worker.ts); usable
// in-process too (tests).
import { Disk, OpsError, btreeOverview, checkDisk, problemsOf, type CancellationToken, type Checker } from '../ops/index.js';
import { filesystemOf } from '../ops/disk.js';
import { bucketMap, hexRequestFor, hexView, keyRangeMap } from '../ops/pictures.js';
import type { GcState } from '../check/result.js';
import { applyChosen, planFor, refuseCompressed, undo } from './repair-calls.js';
import type { ApplyProgress, ApplyResult, PlanProgress, PlanResult, UndoResult, BucketMap, HexView, KeyRangeMap, BtreesResult, CheckDone, CheckProgress, CheckStatus, ErrorInfo, Finding, FindingsResult, OpenResult } from './protocol.js';

/** An error whose message is meant for the user as it is. */
export class ServiceError extends OpsError {}

export function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof OpsError) return { code: e.code, message: e.message };
  const msg = e instanceof Error ? e.message : String(e);
  return {
    code: 'INTERNAL',
    // true by construction: the service only holds read-only disks (src-core/ops)
    message: `Internal error: ${msg}. This is a bug in bcachefs-repair; please report it with the image you opened and this message. Nothing was written to the image.`,
  };
}

export interface CheckHooks {
  onProgress(p: CheckProgress): void;
  /** polled at every node: may be set by another thread while this one is busy checking */
  token: CancellationToken;
}

export class Session {
  private disk: Disk | null = null;
  private lastCheck: { checkId: number; status: CheckStatus; findings: Finding[]; limitations: string[]; problems?: FindingsResult['problems'] } | null = null;
  private classes: Record<string, string> = {};
  private gc: GcState | null = null;

  get isOpen(): boolean {
    return this.disk !== null;
  }

  open(path: string): OpenResult {
    // open the new one first: if that fails, what was open stays open
    const d = Disk.open(path);
    this.close();
    this.disk = d;
    return d.info();
  }

  private need(): Disk {
    if (!this.disk) throw new ServiceError('NOT_OPEN', 'No image is open. Open an image or device first.');
    return this.disk;
  }

  superblock(): OpenResult {
    return this.need().info();
  }

  btrees(): BtreesResult {
    return btreeOverview(this.need());
  }

  /** The last check's findings, grouped into problems with the files and data each puts at risk (read from the disk once). */
  findings(): FindingsResult {
    const disk = this.need();
    const c = this.lastCheck;
    if (!c) return { checkId: null, status: null, findings: [], problems: [], limitations: [], classes: this.classes };
    c.problems ??= problemsOf(disk, c.findings);
    return { checkId: c.checkId, status: c.status, findings: c.findings, problems: c.problems, limitations: c.limitations, classes: this.classes };
  }

  async check(checkId: number, hooks: CheckHooks, checker: Checker): Promise<CheckDone> {
    const disk = this.need();
    const started = Date.now();
    this.classes = checker.classes;
    this.lastCheck = { checkId, status: 'running', findings: [], limitations: [] };
    this.gc = null;
    let status: CheckDone['status'] = 'completed';
    let error: ErrorInfo | undefined;
    let findings: Finding[] = [];
    let limitations: string[] = [];
    try {
      const r = await checkDisk(disk, { token: hooks.token, checker, onProgress: (p) => hooks.onProgress({ checkId, ...p }) });
      ({ findings, limitations } = r);
      this.gc = r.gc ?? null;
      // the checker says whether it stopped early (a cancel after its last poll came too late)
      if (r.aborted) status = 'cancelled';
    } catch (e) {
      if (hooks.token.isCancellationRequested) {
        status = 'cancelled';
      } else {
        status = 'failed';
        error = errorInfo(e);
        error.message = `The check stopped with an error: ${error.message}`;
      }
    }
    this.lastCheck = { checkId, status, findings, limitations };
    const bySeverity: Record<string, number> = {};
    for (const f of findings) bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
    const done: CheckDone = { checkId, status, elapsedMs: Date.now() - started, findings: findings.length, bySeverity, notes: [], limitations };
    if (error) done.error = error;
    return done;
  }

  private finding(id: string): Finding {
    this.need();
    const f = this.lastCheck?.findings.find((x) => x.id === id);
    if (!f) throw new ServiceError('NOT_FOUND', `No finding ${id} in the last check. Run the check again, then pick the finding from its list.`);
    return f;
  }

  keyRange(id: string): KeyRangeMap {
    const m = keyRangeMap(filesystemOf(this.need()), this.finding(id));
    if (!m) throw new ServiceError('BAD_REQUEST', `Finding ${id} is not about the key ranges of btree nodes: it has no key-range map.`);
    return m;
  }

  buckets(dev: number, cells: number): BucketMap {
    this.need();
    if (!this.gc) throw new ServiceError('NOT_CHECKED', 'The bucket map comes from a check: run the check first (a cancelled check has no complete bucket state).');
    return bucketMap(this.gc, this.lastCheck?.findings ?? [], dev, cells);
  }

  hex(id: string): HexView {
    const req = hexRequestFor(this.finding(id));
    if (!req) throw new ServiceError('BAD_REQUEST', `Finding ${id} is not about a btree node: there are no node bytes to show.`);
    return hexView(filesystemOf(this.need()), req);
  }

  async plan(token: CancellationToken, onProgress: (p: PlanProgress) => void): Promise<PlanResult> {
    return (await planFor(this.need(), token, onProgress)).result;
  }

  /** Runs fn with the disk closed (the journal opens it for writing), then opens it again and checks it. */
  private async writing<T>(fn: (path: string) => Promise<T> | T, checker: Checker): Promise<{ r: T; after: Finding[] }> {
    const path = this.need().path;
    refuseCompressed(path);
    this.close();
    let r: T;
    try {
      r = await fn(path);
    } finally {
      this.disk = Disk.open(path);
    }
    const c = await checkDisk(this.disk, { checker });
    this.gc = c.gc ?? null;
    this.lastCheck = { checkId: -1, status: 'completed', findings: c.findings, limitations: c.limitations };
    return { r, after: c.findings };
  }

  async apply(req: { journal: string; fixes: string[]; who?: string }, token: CancellationToken, onProgress: (p: ApplyProgress) => void, checker: Checker): Promise<ApplyResult> {
    const { r, after } = await this.writing((path) => applyChosen(path, req, token, onProgress), checker);
    return { ...r, after };
  }

  async undo(req: { journal: string; fix?: number; session?: number; all?: boolean }, checker: Checker): Promise<UndoResult> {
    const { r, after } = await this.writing((path) => undo(path, req), checker);
    return { ...r, after };
  }

  close(): void {
    this.gc = null;
    this.disk?.close();
    this.disk = null;
    this.lastCheck = null;
  }
}
