// One open filesystem and what the service does with it: summary, btree overview, check, findings.
// Runs inside the service's session worker (session-worker.ts); usable in-process too (tests).
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { openFilesystem, OpenError, type OpenedFilesystem } from '../open.js';
import { forEachNodePointer } from '../btree/fs.js';
import { superblockSummary } from '../format/superblock.js';
import { BTREE_ID_NR, btreeName } from '../format/names.js';
import { toJsonSafe } from './json.js';
import { loadChecker, type Checker } from './checker.js';
import type { CheckProgress as CheckerProgress, CheckResult } from '../check/index.js';
import type { CancellationToken } from '../base/cancellation.js';
import type {
  BtreeOverview, BtreesResult, CheckDone, CheckProgress, CheckStatus, ErrorInfo, Finding, FindingsResult, OpenResult,
  SuperblockSummary,
} from './protocol.js';

/** An error whose message is meant for the user as it is. */
export class ServiceError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof ServiceError) return { code: e.code, message: e.message };
  if (e instanceof OpenError) return { code: 'OPEN_FAILED', message: e.message };
  const msg = e instanceof Error ? e.message : String(e);
  return {
    code: 'INTERNAL',
    message: `Internal error: ${msg}. This is a bug in bcachefs-repair; please report it with the image you opened and this message. Nothing was written to the image.`,
  };
}

export interface CheckHooks {
  onProgress(p: CheckProgress): void;
  /** polled whenever the checker reports progress: lets a blocked (synchronous) check be cancelled */
  isCancelled(): boolean;
}

const PROGRESS_INTERVAL_MS = 100;

export class Session {
  private opened: OpenedFilesystem | null = null;
  private info: OpenResult | null = null;
  private overview: BtreesResult | null = null;
  private lastCheck: { checkId: number; status: CheckStatus; findings: Finding[]; limitations: string[] } | null = null;
  private classes: Record<string, string> = {};
  private abort: AbortController | null = null;

  get isOpen(): boolean {
    return this.opened !== null;
  }

  open(path: string, write = false): OpenResult {
    if (typeof path !== 'string' || path.trim() === '') {
      throw new ServiceError('BAD_REQUEST', 'No image or device path was given. Enter the path of an image file (.img or .img.gz) or a block device such as /dev/sdb1.');
    }
    if (write) {
      throw new ServiceError('READ_ONLY', 'This version only reads: repair and undo are not available yet, so nothing can be opened for writing. Open it read-only.');
    }
    let p = path.trim();
    if (p === '~' || p.startsWith('~/')) p = homedir() + p.slice(1);
    // open the new one first: if that fails, what was open stays open
    const o = openFilesystem(resolve(p));
    this.close();
    const fs = o.fs;
    this.opened = o;
    this.info = {
      path: o.dev.path,
      size: o.dev.size,
      readOnly: true,
      isBlockDevice: o.dev.isBlockDevice,
      direct: o.dev.direct,
      summary: toJsonSafe(superblockSummary(fs.sb)) as SuperblockSummary,
      superblockSector: fs.sb.sector,
      usedBackupSuperblock: fs.sbRead.usedBackup,
      rootsFrom: fs.rootsFrom,
      notes: [...o.notes],
    };
    return this.info;
  }

  private need(): OpenedFilesystem {
    if (!this.opened) throw new ServiceError('NOT_OPEN', 'No image is open. Open an image or device first.');
    return this.opened;
  }

  superblock(): OpenResult {
    this.need();
    // device notes may have grown (e.g. an O_DIRECT fallback during reads)
    return { ...this.info!, notes: [...new Set([...this.info!.notes, ...this.opened!.dev.notes, ...this.opened!.fs.notes])] };
  }

  btrees(): BtreesResult {
    const o = this.need();
    if (this.overview) return this.overview;
    const fs = o.fs;
    const btrees: BtreeOverview[] = [];
    let totalNodes = 0;
    for (let id = 0; id < BTREE_ID_NR; id++) {
      const root = fs.roots[id]!;
      const b: BtreeOverview = {
        id, name: btreeName(id), empty: root.fake, rootLevel: root.level, nodes: 0, nodesPerLevel: [], unreadable: 0,
        rootSector: root.ptr.ptrs[0]?.offset ?? null,
      };
      if (!root.fake) {
        b.nodesPerLevel = new Array<number>(root.level + 1).fill(0);
        forEachNodePointer(fs, id, 0, (_text, level) => {
          b.nodesPerLevel[level] = (b.nodesPerLevel[level] ?? 0) + 1;
          b.nodes++;
        }, (node) => {
          if (!node.readable) b.unreadable++;
        });
      }
      totalNodes += b.nodes;
      btrees.push(b);
    }
    this.overview = { btrees, totalNodes, totalBytes: totalNodes * fs.sb.btreeNodeSize * 512 };
    return this.overview;
  }

  findings(): FindingsResult {
    this.need();
    const c = this.lastCheck;
    return c
      ? { checkId: c.checkId, status: c.status, findings: c.findings, limitations: c.limitations, classes: this.classes }
      : { checkId: null, status: null, findings: [], limitations: [], classes: this.classes };
  }

  /** Aborts the running check's signal (seen by the checker at its next poll). */
  cancel(): void {
    this.abort?.abort();
  }

  async check(checkId: number, hooks: CheckHooks, checker?: Checker | null): Promise<CheckDone> {
    const o = this.need();
    const ck = checker === undefined ? await loadChecker() : checker;
    if (!ck) {
      throw new ServiceError('NO_CHECKER', 'The checker could not be loaded, so nothing can be checked. Reinstall bcachefs-repair (npm ci).');
    }
    this.classes = ck.classes;
    const started = Date.now();
    const overview = this.btrees();
    const fs = o.fs;
    const nodes0 = fs.nodesRead;
    const bytes0 = fs.nodeBytesRead;
    const abort = new AbortController();
    this.abort = abort;
    this.lastCheck = { checkId, status: 'running', findings: [], limitations: [] };
    let lastSent = 0;
    let lastPhase = '';
    let lastFraction = 0;
    // what the checker last said; nodes and bytes come from the filesystem's own counters, which are current
    // at every poll (the checker reports only every few dozen nodes and at phase changes)
    const said: { phase: string; btree?: string; estimate: number } = { phase: 'starting', estimate: 0 };
    const progress = (p: (Partial<Omit<CheckerProgress, 'phase'>> & { phase: string }) | undefined, force = false): void => {
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
      const nodesTotal = Math.max(overview.totalNodes, nodesDone);
      const bytesTotal = Math.max(said.estimate || overview.totalBytes, bytesDone);
      let fraction = bytesTotal ? bytesDone / bytesTotal : 0;
      if (phase === 'done') fraction = 0.99;
      // never backwards: estimates improve as the check goes
      fraction = Math.min(Math.max(fraction, lastFraction, 0), 0.99);
      lastFraction = fraction;
      const elapsedMs = now - started;
      const etaSeconds = fraction > 0.02 && elapsedMs > 300 ? Math.round(((elapsedMs / fraction) * (1 - fraction)) / 1000) : null;
      hooks.onProgress({
        checkId, phase, ...(said.btree ? { btree: said.btree } : {}), nodesDone, nodesTotal, bytesDone, bytesTotal, fraction, etaSeconds, elapsedMs,
      });
    };
    // The checker polls token.isCancellationRequested at every node. That poll is where a cancel set by the main thread
    // (a shared flag: this thread may be too busy for messages) becomes an abort, and where progress is
    // reported between the checker's own reports.
    const token: CancellationToken = {
      get isCancellationRequested(): boolean {
        if (!abort.signal.aborted) {
          if (hooks.isCancelled()) abort.abort();
          else progress(undefined);
        }
        return abort.signal.aborted;
      },
    };
    progress({ phase: 'starting' }, true);
    let status: CheckDone['status'] = 'completed';
    let error: ErrorInfo | undefined;
    let result: CheckResult | undefined;
    try {
      result = await ck.check(fs, { onProgress: (p) => progress(p), token });
      // the checker says whether it stopped early (a cancel after its last poll came too late)
      if (result.aborted) status = 'cancelled';
    } catch (e) {
      if (abort.signal.aborted) {
        status = 'cancelled';
      } else {
        status = 'failed';
        error = errorInfo(e);
        error.message = `The check stopped with an error: ${error.message}`;
      }
    } finally {
      this.abort = null;
    }
    const findings = result?.findings ?? [];
    const limitations = result?.limitations ?? [];
    this.lastCheck = { checkId, status, findings, limitations };
    const bySeverity: Record<string, number> = {};
    for (const f of findings) bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
    const done: CheckDone = { checkId, status, elapsedMs: Date.now() - started, findings: findings.length, bySeverity, notes: [], limitations };
    if (error) done.error = error;
    return done;
  }

  close(): void {
    this.abort?.abort();
    this.opened?.close();
    this.opened = null;
    this.info = null;
    this.overview = null;
    this.lastCheck = null;
  }
}
