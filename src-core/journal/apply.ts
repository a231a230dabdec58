// Applying, rolling back and undoing fixes through the journal. For each fix: the journal rows with the
// before-images are committed and synced, then the device is written and synced, then the fix is marked
// applied (a new event). A fix that was started but never marked applied (a crash, a power cut) is rolled
// back from its before-images when the device is next opened, or forward on request.
import { stepDone } from './crash.js';
import type { WritableDevice } from './device.js';
import { JournalError } from './errors.js';
import { planProblem, rangesOverlap, type FixPlan } from './plan.js';
import type { FixRecord, FixState, Journal, WriteRecord } from './store.js';

export interface RecoveryAction {
  fixId: number;
  planId: string;
  /** the state the crash left it in */
  was: FixState;
  did: 'rolled_back' | 'rolled_forward' | 'undo_completed';
}

export interface RecoveryResult {
  actions: RecoveryAction[];
  /** one line per action, for the user */
  messages: string[];
}

export type UndoTarget = { fix: number } | { session: number } | { all: true };

export interface UndoOptions {
  /** undo even where the disk no longer holds a fix's after-image (something else wrote there) */
  force?: boolean;
  /** also undo the later fixes that rewrote bytes of the ones asked for (the CLI's --yes) */
  withLater?: boolean;
}

export interface UndoResult {
  /** journal fix numbers, in the order undone (newest first) */
  undone: number[];
  /** fixes undone over a foreign write (only with force), with the offsets that differed */
  forced: { fixId: number; offsets: number[] }[];
}

function describe(f: FixRecord): string {
  return `fix ${f.id} (${f.planId}: ${f.title})`;
}

type ImagedWrite = WriteRecord & { before: Buffer; after: Buffer };

function withImages(journal: Journal, f: FixRecord): ImagedWrite[] {
  const images = journal.images(f.id);
  return f.writes.map((w, i) => ({ ...w, ...images[i]! }));
}

/** Writes one side of every write of a fix, then syncs. */
function writeImages(dev: WritableDevice, journal: Journal, f: FixRecord, which: 'before' | 'after'): void {
  for (const w of withImages(journal, f)) {
    dev.write(w.offset, w[which]);
    stepDone();
  }
  dev.sync();
  stepDone();
}

/** Finishes what a crash interrupted: started fixes rolled back (or forward), interrupted undos completed. */
export function recover(journal: Journal, dev: WritableDevice, sessionId: number, direction: 'back' | 'forward' = 'back'): RecoveryResult {
  const result: RecoveryResult = { actions: [], messages: [] };
  const pending = journal.fixes().filter((f) => f.state === 'started' || f.state === 'undoing').reverse();
  for (const f of pending) {
    if (f.state === 'undoing') {
      writeImages(dev, journal, f, 'before');
      journal.recordFixEvent(sessionId, f.id, 'fix_undone', { recovery: true });
      result.actions.push({ fixId: f.id, planId: f.planId, was: f.state, did: 'undo_completed' });
      result.messages.push(`${describe(f)} was being undone when the last run stopped: its undo was completed from the before-images.`);
    } else if (direction === 'forward') {
      writeImages(dev, journal, f, 'after');
      journal.recordFixEvent(sessionId, f.id, 'fix_applied', { recovery: 'forward' });
      result.actions.push({ fixId: f.id, planId: f.planId, was: f.state, did: 'rolled_forward' });
      result.messages.push(`${describe(f)} was started but not finished when the last run stopped: it was completed (rolled forward) from the after-images, as asked.`);
    } else {
      writeImages(dev, journal, f, 'before');
      journal.recordFixEvent(sessionId, f.id, 'fix_rolled_back', { recovery: true });
      result.actions.push({ fixId: f.id, planId: f.planId, was: f.state, did: 'rolled_back' });
      result.messages.push(`${describe(f)} was started but not finished when the last run stopped: it was rolled back from the before-images (nothing of it is on the disk now). Apply it again if you still want it.`);
    }
  }
  return result;
}

/** Applies one fix all-or-nothing; returns its journal fix number. */
export function applyFix(journal: Journal, dev: WritableDevice, sessionId: number, plan: FixPlan): number {
  const problem = planProblem(plan, dev.size);
  if (problem) throw new JournalError('BAD_PLAN', `${problem}. This is a bug in the repair planner: nothing was written.`);
  const before = plan.writes.map((w) => Buffer.from(dev.read(w.offset, w.new.length)));
  plan.writes.forEach((w, i) => {
    if (!before[i].equals(w.old)) {
      throw new JournalError('STALE_PLAN', `fix ${plan.id} (${plan.title}): the disk no longer holds the bytes the plan was made from at offset ${w.offset} (${targetText(w.target)}). Nothing was written: plan again on the disk as it is now.`);
    }
  });
  const fixId = journal.recordFixStarted(sessionId, plan, before);
  try {
    for (const w of plan.writes) {
      dev.write(w.offset, w.new);
      stepDone();
    }
    dev.sync();
    stepDone();
  } catch (e) {
    // all-or-nothing: put the before-images back now
    try {
      const f = journal.fixes().find((x) => x.id === fixId)!;
      writeImages(dev, journal, f, 'before');
      journal.recordFixEvent(sessionId, fixId, 'fix_rolled_back', { error: (e as Error).message });
    } catch {
      // the fix stays "started" in the journal: the next open of the device rolls it back
    }
    throw e;
  }
  journal.recordFixEvent(sessionId, fixId, 'fix_applied');
  return fixId;
}

function targetText(t: FixPlan['writes'][number]['target']): string {
  if (t.kind === 'node') return `${t.btree} node at sector ${t.sector}, level ${t.level}${t.what ? `, ${t.what}` : ''}`;
  if (t.kind === 'key') return `${t.btree} key ${t.pos}`;
  return `superblock at sector ${t.sector}, ${t.field}`;
}

function overlaps(a: FixRecord, b: FixRecord): boolean {
  return a.writes.some((x) => b.writes.some((y) => rangesOverlap(x.offset, x.length, y.offset, y.length)));
}

/** The applied fixes to undo for target, newest first; refuses when later fixes share bytes and withLater is off. */
function undoSet(applied: FixRecord[], target: UndoTarget, withLater: boolean): FixRecord[] {
  let asked: FixRecord[];
  if ('all' in target) {
    asked = applied;
  } else if ('fix' in target) {
    asked = applied.filter((f) => f.id === target.fix);
    if (asked.length === 0) throw new JournalError('NOTHING_TO_UNDO', `fix ${target.fix} is not applied in this journal, so there is nothing to undo (see history for its state).`);
  } else {
    asked = applied.filter((f) => f.sessionId === target.session);
    if (asked.length === 0) throw new JournalError('NOTHING_TO_UNDO', `session ${target.session} has no applied fix left in this journal, so there is nothing to undo (see history).`);
  }
  const set = new Set(asked);
  // a later fix that rewrote bytes of a fix being undone must be undone first (its before-image holds them)
  for (const f of applied) {
    if (!set.has(f) && [...set].some((m) => m.id < f.id && overlaps(m, f))) set.add(f);
  }
  const later = applied.filter((f) => set.has(f) && !asked.includes(f));
  if (later.length > 0 && !withLater) {
    throw new JournalError('SHARED_BLOCKS', `later fixes rewrote bytes of what you asked to undo: ${later.map(describe).join(', ')}. Undo them too (confirm with --yes), or undo them first. Nothing was written.`);
  }
  return applied.filter((f) => set.has(f)).reverse();
}

/** Undoes fixes newest first, byte-exact. Checks every after-image before writing anything. */
export function undo(journal: Journal, dev: WritableDevice, sessionId: number, target: UndoTarget, opts: UndoOptions = {}): UndoResult {
  const applied = journal.fixes().filter((f) => f.state === 'applied');
  if (applied.length === 0) throw new JournalError('NOTHING_TO_UNDO', `no fix is applied according to the journal ${journal.file}: nothing to undo.`);
  const order = undoSet(applied, target, 'all' in target || opts.withLater === true);
  // what the disk will hold once the newer fixes of this undo are undone, to check each after-image in turn
  const done: ImagedWrite[][] = [];
  const forced: UndoResult['forced'] = [];
  for (const f of order) {
    const offsets: number[] = [];
    const writes = withImages(journal, f);
    for (const w of writes) {
      const now = Buffer.from(dev.read(w.offset, w.length));
      for (const d of done) {
        for (const dw of d) {
          if (!rangesOverlap(w.offset, w.length, dw.offset, dw.length)) continue;
          const lo = Math.max(w.offset, dw.offset);
          const hi = Math.min(w.offset + w.length, dw.offset + dw.length);
          dw.before.copy(now, lo - w.offset, lo - dw.offset, hi - dw.offset);
        }
      }
      if (!now.equals(w.after)) offsets.push(w.offset);
    }
    if (offsets.length > 0) {
      if (!opts.force) {
        throw new JournalError('FOREIGN_WRITE', `${describe(f)}: the disk no longer holds what the fix wrote at offset${offsets.length > 1 ? 's' : ''} ${offsets.join(', ')}: something else wrote there since. Nothing was undone. Undoing anyway (--force) puts back the bytes from before the fix over that foreign write.`);
      }
      forced.push({ fixId: f.id, offsets });
    }
    done.push(writes);
  }
  for (const f of order) {
    const foreign = forced.find((x) => x.fixId === f.id);
    journal.recordFixEvent(sessionId, f.id, 'undo_started', foreign ? { forced: true, foreignOffsets: foreign.offsets } : {});
    writeImages(dev, journal, f, 'before');
    journal.recordFixEvent(sessionId, f.id, 'fix_undone');
  }
  return { undone: order.map((f) => f.id), forced };
}
