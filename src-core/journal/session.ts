// A repair session: a journal, the device it belongs to (opened for writing, identity checked), and the
// session row naming who works and when. Opening one first finishes whatever a crash interrupted.
import type { CancellationToken } from '../base/cancellation.js';
import { applyFix, recover, undo, type RecoveryResult, type UndoOptions, type UndoResult, type UndoTarget } from './apply.js';
import { deviceIdentity, identityMismatch, openForWrite, type DeviceIdentity, type WritableDevice } from './device.js';
import { JournalError } from './errors.js';
import type { FixPlan } from './plan.js';
import { Journal, type DecisionRecord, type SessionInfo, type SessionRecord } from './store.js';

export interface OpenSessionOptions extends SessionInfo {
  journal: string;
  /** start a new journal file when there is none (repair); undo needs an existing one */
  create?: boolean;
  /** the disk or image; defaults to the path the journal recorded last */
  device?: string;
  /** what to do with a fix a crash left half-written: roll it back (the default) or forward */
  recovery?: 'back' | 'forward';
}

export interface ApplyProgress {
  /** fixes applied so far */
  done: number;
  total: number;
  /** the fix being applied next (absent when all are done) */
  planId?: string;
}

export class RepairSession {
  constructor(
    readonly journal: Journal,
    readonly dev: WritableDevice,
    readonly identity: DeviceIdentity,
    readonly session: SessionRecord,
    /** what opening it finished for a crashed run (empty when nothing was pending) */
    readonly recovered: RecoveryResult,
  ) {}

  recordCheck(stage: 'before' | 'after', findings: readonly { id: string; class: string; severity: string; btree?: string }[], summary?: Record<string, unknown>): number {
    return this.journal.recordCheck(this.session.id, stage, findings, summary);
  }

  recordDecision(planId: string, decision: DecisionRecord['decision'], opts?: { alternative?: string; note?: string }): void {
    this.journal.recordDecision(this.session.id, planId, decision, opts);
  }

  /** Applies one fix all-or-nothing; returns its journal fix number. */
  apply(plan: FixPlan): number {
    return applyFix(this.journal, this.dev, this.session.id, plan);
  }

  /**
   * Applies fixes in order, each all-or-nothing; a cancel takes effect between fixes (the fixes applied so
   * far stay applied and journaled). Stops at the first refusal, which it throws.
   */
  applyAll(plans: readonly FixPlan[], opts: { token?: CancellationToken; onProgress?: (p: ApplyProgress) => void } = {}): { applied: number[]; cancelled: boolean } {
    const applied: number[] = [];
    for (const [i, plan] of plans.entries()) {
      if (opts.token?.isCancellationRequested) return { applied, cancelled: true };
      opts.onProgress?.({ done: i, total: plans.length, planId: plan.id });
      applied.push(this.apply(plan));
    }
    opts.onProgress?.({ done: plans.length, total: plans.length });
    return { applied, cancelled: false };
  }

  undo(target: UndoTarget, opts?: UndoOptions): UndoResult {
    return undo(this.journal, this.dev, this.session.id, target, opts);
  }

  close(): void {
    this.dev.close();
    this.journal.close();
  }
}

/**
 * Opens the journal (creating it when new) and the device, checks that the device is the one the journal
 * names, starts a session and recovers a crashed run. Throws JournalError / DeviceError with clear messages.
 */
export function openRepairSession(opts: OpenSessionOptions): RepairSession {
  const journal = Journal.open(opts.journal, { create: opts.create !== false });
  let dev: WritableDevice | undefined;
  try {
    const recorded = journal.devices().at(-1);
    const path = opts.device ?? recorded?.path;
    if (!path) {
      throw new JournalError('NOT_FOUND', `the journal ${opts.journal} names no device yet: give the disk or image to repair.`);
    }
    dev = openForWrite(path, opts.journal);
    const identity = deviceIdentity(dev);
    const mismatch = recorded && identityMismatch(recorded, identity);
    if (mismatch) throw new JournalError('WRONG_DEVICE', mismatch);
    const session = journal.startSession(identity, opts);
    const recovered = recover(journal, dev, session.id, opts.recovery);
    return new RepairSession(journal, dev, identity, session, recovered);
  } catch (e) {
    dev?.close();
    journal.close();
    throw e;
  }
}
