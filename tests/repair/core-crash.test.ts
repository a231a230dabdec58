// The journal's crash test on a real repair: `repair -y` (the built CLI, a separate process) on fixtures with
// gen, alloc and topology damage, and one with all three (three fixes in one run), killed with SIGKILL
//  - after each of its journal and device steps in turn (BCACHEFS_REPAIR_CRASH_AT=N, N = 1, 2, … until a run
//    completes), and
//  - by this test at random moments of the run (spawnSync's timeout with SIGKILL; the delays come from a seeded
//    generator: the seed is in the test names, BCACHEFS_REPAIR_CRASH_SEED=S reruns the same delays).
// A random kill can land before the journal exists, while planning, between the writes, or during the check
// after. After every kill:
//  - every byte that differs from the damaged image lies inside a write the journal recorded (no unrecorded write);
//  - path "undo": `undo --all` (which recovers first) gives back the damaged image byte for byte, and a
//    second `repair -y` finishes;
//  - path "repair": on a copy of the killed state, a fresh `repair -y` first rolls back a half-applied fix (and
//    says so), then finishes; where the kill left a fix in the journal, its `undo --all` still gives back the
//    damaged image;
//  - both repaired disks are clean for our check and for the real bcachefs fsck -n, and both journals verify.
// The real fsck -n is not sampled: it takes about 50 ms on these images, so it runs after every kill on both
// paths. What keeps the file within a few minutes on two cores: the decompressed fixture is shared by all kill
// points (sparse or reflinked copies), the two paths run side by side, and the random kills are stratified
// (one in the start-up, which is the same at any moment, the others over the rest of the run).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem } from '../../src-core/btree/fs.js';
import { checkFilesystem } from '../../src-core/check/index.js';
import { Journal } from '../../src-core/journal/index.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/fixtures.js';
import { rng } from '../device/helpers.js';
import { sha256 } from '../journal/helpers.js';
import { realFsck, toolMissing } from './core-helpers.js';

const FIXTURES = [
  { fx: 'gen-future-b2', damage: 'gen', random: 5 },
  { fx: 'alloc-sectors-b2', damage: 'alloc', random: 5 },
  { fx: 'gap-extents-b2', damage: 'topology', random: 5 },
  { fx: 'multi-gap-stale-sectors-b5', damage: 'topology + gen + alloc, three fixes', random: 5 },
];
const SEED = process.env.BCACHEFS_REPAIR_CRASH_SEED ? Number(process.env.BCACHEFS_REPAIR_CRASH_SEED) : randomInt(1, 2 ** 31);
const JOURNAL_FILES = ['j.db', 'j.db-wal', 'j.db-shm'];
const BIN = join(PROJECT_ROOT, 'bin', 'bcachefs-repair');
const root = mkdtempSync(join(tmpdir(), 'core-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
console.log(`core-crash: random kill moments from seed ${SEED} (rerun them with BCACHEFS_REPAIR_CRASH_SEED=${SEED})`);

/** The built CLI in dir (so the image is "image.img", as the fixtures were recorded); crashAt / killAfterMs kill it. */
function run(dir: string, args: string[], kill: { crashAt?: number; killAfterMs?: number } = {}): SpawnSyncReturns<string> {
  const env = { ...process.env };
  delete env.BCACHEFS_REPAIR_CRASH_AT;
  if (kill.crashAt !== undefined) env.BCACHEFS_REPAIR_CRASH_AT = String(kill.crashAt);
  return spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8', timeout: kill.killAfterMs ?? 120_000, killSignal: 'SIGKILL' });
}
/** The same, as a promise: the two paths after a kill run side by side (two cores). */
function runAsync(dir: string, args: string[]): Promise<Ran> {
  const env = { ...process.env };
  delete env.BCACHEFS_REPAIR_CRASH_AT;
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: dir, env, timeout: 120_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => void (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
    c.on('error', fail);
    c.on('close', (status, signal) => done({ status, signal, stdout, stderr }));
  });
}
type Ran = Pick<SpawnSyncReturns<string>, 'status' | 'signal' | 'stdout' | 'stderr'>;
const repairArgs = ['repair', 'image.img', '--journal', 'j.db', '-y'];
const undoArgs = ['undo', 'image.img', '--journal', 'j.db', '--all'];
const said = (r: Ran): string => `exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`;

/** A sparse (or reflinked) copy: the 64-128 MiB images are mostly zeros. */
function cp(from: string, to: string): void {
  const r = spawnSync('cp', ['--sparse=always', '--reflink=auto', from, to], { encoding: 'utf8' });
  expect(r.status, `cp ${from} ${to}: ${r.stderr}`).toBe(0);
}

/** A fresh dir holding the damaged image and no journal. */
function fresh(base: string, name: string): string {
  const dir = join(base, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  cp(join(base, 'damaged.img'), join(dir, 'image.img'));
  return dir;
}

/** The journal files (as the kill left them, WAL included), and the image unless journalOnly, copied into a fresh dir. */
function copyState(from: string, base: string, name: string, journalOnly = false): string {
  const dir = join(base, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const f of journalOnly ? JOURNAL_FILES : ['image.img', ...JOURNAL_FILES]) if (existsSync(join(from, f))) cp(join(from, f), join(dir, f));
  return dir;
}

async function ourFindings(img: string): Promise<string[]> {
  const dev = openDevice(img);
  try {
    return (await checkFilesystem(new Filesystem(dev), { devName: 'image.img' })).findings.map((f) => f.id);
  } finally {
    dev.close();
  }
}

interface KilledState {
  /** where the run was when it died, from its journal */
  phase: string;
  /** byte ranges the journal recorded a write for */
  writes: { offset: number; length: number }[];
  startedFix: number | undefined;
  applied: number;
}

/** Reads the journal a kill left (on a copy: opening a WAL database may checkpoint it). */
function killedState(dir: string, base: string): KilledState {
  const none = { writes: [], startedFix: undefined, applied: 0 };
  if (!existsSync(join(dir, 'j.db'))) {
    const making = readdirSync(dir).some((f) => /^j\.db\.new-\d+$/.test(f));
    return { phase: making ? 'journal being made (not in place)' : 'before the journal existed', ...none };
  }
  // a journal file is there only whole: it must open
  const j = Journal.open(join(copyState(dir, base, 'state', true), 'j.db'));
  try {
    const fixes = j.fixes();
    const checks = j.checks();
    const started = fixes.find((f) => f.state === 'started');
    const applied = fixes.filter((f) => f.state === 'applied').length;
    const phase = checks.some((c) => c.stage === 'after') ? 'check after recorded'
      : started ? `fix ${started.id} started (${applied} applied)`
      : fixes.length ? `${applied} fixes applied (check after or next fix running)`
      : j.decisions().length ? 'decisions recorded'
      : checks.length ? 'check before recorded'
      : j.sessions().length ? 'session opened (planning)'
      : 'journal created';
    return { phase, writes: fixes.flatMap((f) => f.writes), startedFix: started?.id, applied };
  } finally {
    j.close();
  }
}

/** Every 4 KiB block that differs from the damaged image lies inside a recorded write. */
function expectOnlyRecordedWrites(img: string, f: FixtureRun, st: KilledState, what: string): void {
  const now = readFileSync(img);
  expect(now.length).toBe(f.damaged.length);
  if (now.equals(f.damaged)) return;
  const unrecorded: number[] = [];
  for (let off = 0; off < now.length; off += 4096) {
    if (now.subarray(off, off + 4096).equals(f.damaged.subarray(off, off + 4096))) continue;
    if (!st.writes.some((w) => off < w.offset + w.length && w.offset < off + 4096)) unrecorded.push(off);
  }
  expect(unrecorded, `${what}: bytes changed at these offsets without a journal record (${st.phase})`).toEqual([]);
}

/** The image is the damaged one byte for byte (compared whole: quicker than hashing; the sha256 is named when it differs). */
function expectDamaged(img: string, f: FixtureRun, what: string): void {
  const now = readFileSync(img);
  if (now.equals(f.damaged)) return;
  let at = 0;
  while (at < now.length && now[at] === f.damaged[at]) at++;
  expect(sha256(now), `${what}: the image differs from the damaged one from byte ${at}`).toBe(f.damagedSha);
}

async function expectClean(dir: string, what: string): Promise<void> {
  expect(await ourFindings(join(dir, 'image.img')), `our check after ${what}`).toEqual([]);
  if (!toolMissing) {
    const f = realFsck(join(dir, 'image.img'));
    expect(f.exit, `real fsck -n after ${what}: ${f.out}`).toBe(0);
  }
  expect(Journal.verifyFile(join(dir, 'j.db')).ok, `the journal's chain after ${what}`).toBe(true);
}

interface FixtureRun {
  base: string;
  damaged: Buffer;
  damagedSha: string;
  /** fixes a whole uninterrupted run applies, how long it takes, and when in it the journal is there */
  fixes: number;
  runMs: number;
  journalMs: number;
}

/** Decompresses the fixture once, and times one whole repair of it. */
function prepare(fx: string): FixtureRun {
  const base = join(root, fx);
  mkdirSync(base);
  const damaged = gunzipSync(readFileSync(fixturePath(fx)));
  writeFileSync(join(base, 'damaged.img'), damaged);
  const dir = fresh(base, 'whole');
  const t0 = Date.now();
  const r = run(dir, repairArgs);
  const runMs = Date.now() - t0;
  expect(r.status, `a whole repair of ${fx}: ${said(r)}`).toBe(1);
  const fixes = Number(/applied (\d+) fix/.exec(r.stdout)![1]);
  const j = Journal.open(join(dir, 'j.db'));
  const journalMs = Date.parse(j.sessions()[0]!.startedAt) - t0;
  j.close();
  return { base, damaged, damagedSha: sha256(damaged), fixes, runMs, journalMs };
}

/** Path "undo": undo --all gives back the damaged image, then a second repair finishes clean. */
async function undoThenRepair(f: FixtureRun, dir: string, st: KilledState, what: string): Promise<void> {
  const u = await runAsync(dir, undoArgs);
  if (st.phase === 'before the journal existed' || st.phase === 'journal being made (not in place)') {
    // nothing was written (checked above): undo says there is no journal
    expect(u.status, `undo --all ${what}: ${said(u)}`).not.toBe(0);
    expect(u.stderr, `undo --all ${what}`).toMatch(/j\.db does not exist/);
  } else {
    expect(u.status, `undo --all ${what}: ${said(u)}`).toBe(0);
  }
  expectDamaged(join(dir, 'image.img'), f, `the damaged image again after undo --all ${what}`);
  const again = await runAsync(dir, repairArgs);
  expect(again.status, `second repair ${what}: ${said(again)}`).toBe(1);
  await expectClean(dir, `undo --all and a second repair ${what}`);
}

/** Path "repair": a fresh repair on the killed state rolls back a half-applied fix first, then finishes clean. */
async function repairDirectly(f: FixtureRun, dir: string, st: KilledState, what: string): Promise<void> {
  const r = await runAsync(dir, repairArgs);
  // exit 0: the kill came after the last fix was applied, so there is nothing left to do
  expect(r.status, `repair directly ${what} (${st.phase}): ${said(r)}`).toBe(st.applied === f.fixes ? 0 : 1);
  if (st.startedFix !== undefined) expect(r.stderr, `repair directly ${what}`).toMatch(new RegExp(`recovery: fix ${st.startedFix} .*rolled back`));
  else expect(r.stderr, `repair directly ${what}`).not.toMatch(/recovery:/);
  expect(r.stdout, `repair directly ${what}`).toMatch(/the check after the repair finds nothing/);
  await expectClean(dir, `repairing directly ${what}`);
  // its journal holds the kill's fixes too (rolled back or applied): undo --all must see through them. Where
  // the kill left no fix, this journal is an ordinary one, and path "undo" has shown undo --all on those.
  if (st.writes.length === 0) return;
  const u = await runAsync(dir, undoArgs);
  expect(u.status, `undo --all after repairing directly ${what}: ${said(u)}`).toBe(0);
  expectDamaged(join(dir, 'image.img'), f, `undo --all after repairing directly ${what}`);
}

/** Everything that must hold after a kill; returns where the run was. */
async function afterKill(f: FixtureRun, killed: string, what: string): Promise<string> {
  const st = killedState(killed, f.base);
  expectOnlyRecordedWrites(join(killed, 'image.img'), f, st, what);
  const direct = copyState(killed, f.base, 'direct');
  await Promise.all([undoThenRepair(f, killed, st, what), repairDirectly(f, direct, st, what)]);
  return st.phase;
}

const tally = new Map<string, { steps: number; random: number; phases: Map<string, number> }>();
afterAll(() => {
  const lines = [...tally].map(([fx, t]) => `  ${fx}: ${t.steps} step kills + ${t.random} random kills; where: ${[...t.phases].map(([p, n]) => `${p} ×${n}`).join(', ')}`);
  const total = [...tally.values()].reduce((s, t) => s + t.steps + t.random, 0);
  console.log(`core-crash: ${total} kill points (seed ${SEED})\n${lines.join('\n')}`);
});

describe.each(FIXTURES)('repair -y killed on $fx ($damage)', ({ fx, random }) => {
  let f: FixtureRun;
  const t = { steps: 0, random: 0, phases: new Map<string, number>() };
  tally.set(fx, t);
  const seen = (phase: string): void => void t.phases.set(phase, (t.phases.get(phase) ?? 0) + 1);

  it('after each journal and device step (BCACHEFS_REPAIR_CRASH_AT=1, 2, … until a run completes)', { timeout: 600_000 }, async () => {
    f = prepare(fx);
    for (let n = 1; ; n++) {
      const dir = fresh(f.base, 'killed');
      const r = run(dir, repairArgs, { crashAt: n });
      if (r.signal !== 'SIGKILL') {
        // the run got past its last step: it repaired
        expect(r.status, said(r)).toBe(1);
        break;
      }
      t.steps++;
      seen(await afterKill(f, dir, `after a kill at step ${n}`));
      expect(n, 'a repair of a few fixes takes a few dozen steps').toBeLessThan(60);
    }
    // journal, session, check, a decision, and per fix: started, its writes, the sync, applied; the check after
    expect(t.steps).toBeGreaterThanOrEqual(4 + 4 * f.fixes);
  });

  it(`at ${random} random moments (seed ${SEED}): one in the start-up, the others spread over the rest of the run`, { timeout: 600_000 }, async () => {
    f ??= prepare(fx);
    const next = rng(SEED + FIXTURES.findIndex((x) => x.fx === fx));
    // stratified: stratum 0 is the start-up before the journal is there (much the same at any moment), the
    // others split the rest of the run evenly, so the kills land all over it (planning, writes, check after)
    for (let tries = 0; t.random < random; tries++) {
      expect(tries, `fewer than ${random} of ${tries} random delays within a run of ${f.runMs} ms killed it`).toBeLessThan(4 * random);
      const span = (f.runMs - f.journalMs) / (random - 1);
      const [lo, hi] = t.random === 0 ? [0, f.journalMs] : [f.journalMs + (t.random - 1) * span, f.journalMs + t.random * span];
      const delay = Math.max(1, Math.floor(lo + next() * (hi - lo)));
      const dir = fresh(f.base, 'killed');
      const t0 = Date.now();
      const r = run(dir, repairArgs, { killAfterMs: delay });
      if (r.signal !== 'SIGKILL') {
        // this run was quicker than the one timed: time the run again from this one and draw again
        expect(r.status, said(r)).toBe(1);
        f.runMs = Date.now() - t0;
        continue;
      }
      t.random++;
      seen(await afterKill(f, dir, `after a kill at ${delay} ms (seed ${SEED}, try ${tries})`));
    }
  });
});

it('kills at 50 or more points in all', () => {
  const total = [...tally.values()].reduce((s, t) => s + t.steps + t.random, 0);
  expect(total).toBeGreaterThanOrEqual(50);
});
