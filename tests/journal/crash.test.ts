// Crash test: a child process applies the synthetic fixes (or undoes them) through the built journal and is
// killed with SIGKILL after each of its journal and device steps in turn (BCACHEFS_REPAIR_CRASH_AT). After
// every kill, recovery + undo --all gives back the original image byte for byte, and a second apply completes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal, JournalError, openRepairSession } from '../../src-core/journal/index.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { rng, scratchDir } from '../device/helpers.js';
import { TOOL, NODES_TXT, fixtureImage, sha256, sha256File, workingCopy } from './helpers.js';
// plain ESM, shared with the child process
import { applySynthetic, nodeSectors } from './synthetic.mjs';

const CHILD = join(PROJECT_ROOT, 'tests', 'journal', 'crash-child.mjs');
const BUILT = join(PROJECT_ROOT, 'dist', 'src-core', 'journal', 'apply.js');
const scratch = scratchDir('crash');
afterAll(() => scratch.cleanup());
const ORIGINAL = sha256(fixtureImage());
const original = workingCopy(scratch.dir, 'original.img');

/** Runs the child; crashAt kills it after that step, killAfterMs kills it from outside at that moment. */
function runChild(mode: 'apply' | 'undo', image: string, journal: string, crashAt?: number, killAfterMs?: number): ReturnType<typeof spawnSync> {
  const env = { ...process.env };
  if (crashAt === undefined) delete env.BCACHEFS_REPAIR_CRASH_AT;
  else env.BCACHEFS_REPAIR_CRASH_AT = String(crashAt);
  return spawnSync(process.execPath, [CHILD, mode, image, journal, NODES_TXT()], { env, encoding: 'utf8', timeout: killAfterMs ?? 60_000, killSignal: 'SIGKILL' });
}

function freshJournal(journal: string): void {
  for (const f of [journal, journal + '-wal', journal + '-shm']) rmSync(f, { force: true });
}

function stepsOf(r: ReturnType<typeof spawnSync>): number {
  expect(r.status, String(r.stderr)).toBe(0);
  return JSON.parse(String(r.stdout)).steps;
}

/** Recovery (on opening) and undo --all in this process; the image must be the original again. */
function recoverAndUndoAll(image: string, journal: string): void {
  const s = openRepairSession({ toolVersion: TOOL, journal, device: image });
  try {
    s.undo({ all: true });
  } catch (e) {
    if (!(e instanceof JournalError && e.code === 'NOTHING_TO_UNDO')) throw e;
  } finally {
    s.close();
  }
  expect(sha256File(image)).toBe(ORIGINAL);
}

let applySteps = 0;
let appliedSha = '';
const applied = { image: join(scratch.dir, 'applied.img'), journal: join(scratch.dir, 'applied.journal') };

beforeAll(() => {
  if (!existsSync(BUILT) || statSync(BUILT).mtimeMs < statSync(join(PROJECT_ROOT, 'src-core', 'journal', 'apply.ts')).mtimeMs) {
    throw new Error(`${BUILT} is missing or older than its source: the child process runs the built code. Run "npm run build" first.`);
  }
  copyFileSync(original, applied.image);
  applySteps = stepsOf(runChild('apply', applied.image, applied.journal));
  appliedSha = sha256File(applied.image);
});

describe('crash at every step', () => {
  it('has a run with many steps whose result differs from the original', () => {
    // new journal (2: written aside, linked into place), session (1), per fix: decision (1), fix_started (1),
    // writes, sync (1), fix_applied (1)
    expect(applySteps).toBe(3 + 3 * 4 + 5);
    expect(appliedSha).not.toBe(ORIGINAL);
  });

  it('apply killed after each step: recovery + undo --all give the original back, and a second apply completes', () => {
    const image = join(scratch.dir, 'work.img');
    const journal = join(scratch.dir, 'work.journal');
    for (let k = 1; k <= applySteps; k++) {
      copyFileSync(original, image);
      freshJournal(journal);
      const r = runChild('apply', image, journal, k);
      expect(r.signal, `step ${k}: ${r.stderr}`).toBe('SIGKILL');
      recoverAndUndoAll(image, journal);
      const s = openRepairSession({ toolVersion: TOOL, journal, device: image });
      applySynthetic(s, nodeSectors(NODES_TXT()));
      s.close();
      expect(sha256File(image), `second apply after a kill at step ${k}`).toBe(appliedSha);
      const v = openRepairSession({ toolVersion: TOOL, journal, device: image });
      expect(v.journal.verify().ok).toBe(true);
      v.close();
    }
  }, 240_000);

  it('a run killed while it makes its journal leaves no journal file (never an empty one), and the next run makes it', () => {
    const dir = join(scratch.dir, 'making');
    mkdirSync(dir);
    const image = join(dir, 'image.img');
    const journal = join(dir, 'j.db');
    copyFileSync(original, image);
    // step 1: the new journal is complete beside its name, not linked into place yet
    const r = runChild('apply', image, journal, 1);
    expect(r.signal, String(r.stderr)).toBe('SIGKILL');
    expect(existsSync(journal), 'a journal file after a kill before it was in place').toBe(false);
    expect(readdirSync(dir).filter((f) => /^j\.db\.new-\d+$/.test(f)), 'what the kill left beside the name').toHaveLength(1);
    expect(() => Journal.open(journal)).toThrow(/does not exist/);
    expect(sha256File(image)).toBe(ORIGINAL);
    const again = runChild('apply', image, journal);
    expect(again.status, String(again.stderr)).toBe(0);
    expect(sha256File(image)).toBe(appliedSha);
    expect(Journal.verifyFile(journal).ok).toBe(true);
  });

  it('a journal made whole leaves nothing beside it', () => {
    const dir = join(scratch.dir, 'made');
    mkdirSync(dir);
    Journal.open(join(dir, 'j.db'), { create: true }).close();
    expect(readdirSync(dir)).toEqual(['j.db']);
  });

  it('apply killed from outside at random moments: recovery + undo --all give the original back', () => {
    const image = join(scratch.dir, 'random.img');
    const journal = join(scratch.dir, 'random.journal');
    copyFileSync(original, image);
    freshJournal(journal);
    const t0 = Date.now();
    stepsOf(runChild('apply', image, journal));
    const runMs = Date.now() - t0;
    const rand = rng(7);
    const outcomes = new Set<string>();
    for (let i = 0; i < 12; i++) {
      copyFileSync(original, image);
      freshJournal(journal);
      const r = runChild('apply', image, journal, undefined, Math.max(1, Math.floor(rand() * runMs)));
      outcomes.add(r.signal === 'SIGKILL' ? 'killed' : 'finished');
      if (r.signal !== 'SIGKILL') expect(r.status, String(r.stderr)).toBe(0);
      if (existsSync(journal)) recoverAndUndoAll(image, journal);
      else expect(sha256File(image)).toBe(ORIGINAL); // killed before the journal existed: nothing written
    }
    expect(outcomes.has('killed')).toBe(true);
  }, 240_000);

  it('recovery killed after each of its steps: the next run finishes it, and undo --all gives the original back', () => {
    const image = join(scratch.dir, 'recover.img');
    const journal = join(scratch.dir, 'recover.journal');
    const files = (p: string): string[] => [p, p + '-wal', p + '-shm'];
    const keep = (from: string, to: string): void => files(from).forEach((f, i) => (existsSync(f) ? copyFileSync(f, files(to)[i]!) : rmSync(files(to)[i]!, { force: true })));
    // a run killed inside its last fix: two fixes applied, the third started, its last write on the disk
    copyFileSync(original, image);
    freshJournal(journal);
    expect(runChild('apply', image, journal, applySteps - 2).signal).toBe('SIGKILL');
    copyFileSync(image, image + '.crashed');
    keep(journal, journal + '.crashed');
    const restore = (): void => {
      copyFileSync(image + '.crashed', image);
      keep(journal + '.crashed', journal);
    };
    keep(journal, journal + '.look');
    const look = Journal.open(journal + '.look');
    expect(look.fixes().map((f) => f.state)).toEqual(['applied', 'applied', 'started']);
    look.close();
    // the next run (an undo --all): session, the recovery's writes, sync and rolled-back event, then the undo
    restore();
    const steps = stepsOf(runChild('undo', image, journal));
    expect(sha256File(image)).toBe(ORIGINAL);
    expect(steps).toBeGreaterThan(1 + 3);
    for (let k = 1; k < steps; k++) {
      restore();
      const r = runChild('undo', image, journal, k);
      expect(r.signal, `step ${k}: ${r.stderr}`).toBe('SIGKILL');
      recoverAndUndoAll(image, journal);
    }
  }, 240_000);

  it('undo --all killed after each step: recovery + undo --all give the original back', () => {
    const image = join(scratch.dir, 'undo.img');
    const journal = join(scratch.dir, 'undo.journal');
    copyFileSync(applied.image, image);
    copyFileSync(applied.journal, journal);
    const undoSteps = stepsOf(runChild('undo', image, journal));
    expect(sha256File(image)).toBe(ORIGINAL);
    // session (1) + per fix: undo_started (1), writes, sync (1), fix_undone (1)
    expect(undoSteps).toBe(1 + 3 * 3 + 5);
    for (let k = 1; k <= undoSteps; k++) {
      copyFileSync(applied.image, image);
      copyFileSync(applied.journal, journal);
      rmSync(journal + '-wal', { force: true });
      rmSync(journal + '-shm', { force: true });
      const r = runChild('undo', image, journal, k);
      expect(r.signal, `step ${k}: ${r.stderr}`).toBe('SIGKILL');
      recoverAndUndoAll(image, journal);
    }
  }, 240_000);
});
