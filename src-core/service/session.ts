// One open disk and what the service does with it, through the operations layer (src-core/ops): the
// same orchestration as the CLI's. Runs inside the service's session worker (session-worker.ts); usable
// in-process too (tests).
import { Disk, OpsError, btreeOverview, checkDisk, type CancellationToken, type Checker } from '../ops/index.js';
import type { BtreesResult, CheckDone, CheckProgress, CheckStatus, ErrorInfo, Finding, FindingsResult, OpenResult } from './protocol.js';

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
  private lastCheck: { checkId: number; status: CheckStatus; findings: Finding[]; limitations: string[] } | null = null;
  private classes: Record<string, string> = {};

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

  findings(): Omit<FindingsResult, 'problems'> {
    this.need();
    const c = this.lastCheck;
    return c
      ? { checkId: c.checkId, status: c.status, findings: c.findings, limitations: c.limitations, classes: this.classes }
      : { checkId: null, status: null, findings: [], limitations: [], classes: this.classes };
  }

  async check(checkId: number, hooks: CheckHooks, checker: Checker): Promise<CheckDone> {
    const disk = this.need();
    const started = Date.now();
    this.classes = checker.classes;
    this.lastCheck = { checkId, status: 'running', findings: [], limitations: [] };
    let status: CheckDone['status'] = 'completed';
    let error: ErrorInfo | undefined;
    let findings: Finding[] = [];
    let limitations: string[] = [];
    try {
      const r = await checkDisk(disk, { token: hooks.token, checker, onProgress: (p) => hooks.onProgress({ checkId, ...p }) });
      ({ findings, limitations } = r);
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

  close(): void {
    this.disk?.close();
    this.disk = null;
    this.lastCheck = null;
  }
}
