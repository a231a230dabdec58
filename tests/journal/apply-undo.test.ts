// Apply, undo, recovery and refusals through the journal, on working copies of a real fixture image.
import { openSync, closeSync, writeSync, truncateSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { identityMismatch, JournalError, openRepairSession, Journal, type FixPlan, type RepairSession } from '../../src-core/journal/index.js';
import { CancellationTokenSource } from '../../src-core/base/cancellation.js';
import { scratchDir } from '../device/helpers.js';
import { TOOL, NODES_TXT, fixtureImage, sha256, sha256File, workingCopy } from './helpers.js';
// plain ESM, shared with the crash test's child process
import { applySynthetic, nodeSectors, planFromSpec, syntheticSpecs } from './synthetic.mjs';

const scratch = scratchDir('journal');
afterAll(() => scratch.cleanup());
const sectors = nodeSectors(NODES_TXT());
const ORIGINAL = sha256(fixtureImage());
let n = 0;

function fresh(): { image: string; journal: string } {
  n++;
  return { image: workingCopy(scratch.dir, `w${n}.img`), journal: join(scratch.dir, `w${n}.journal`) };
}

function expectCode(fn: () => unknown, code: string, text?: RegExp): JournalError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(JournalError);
    expect((e as JournalError).code).toBe(code);
    if (text) expect((e as Error).message).toMatch(text);
    return e as JournalError;
  }
  throw new Error(`expected a ${code} refusal`);
}

/** The image bytes after applying only the given synthetic fixes, in order, to the original. */
function imageWith(ids: string[]): string {
  const img = Buffer.from(fixtureImage());
  for (const spec of syntheticSpecs(sectors).filter((s: { id: string }) => ids.includes(s.id))) {
    const plan: FixPlan = planFromSpec(spec, (o: number, l: number) => img.subarray(o, o + l));
    for (const w of plan.writes) Buffer.from(w.new).copy(img, w.offset);
  }
  return sha256(img);
}

function withSession<T>(p: { image?: string; journal: string }, fn: (s: RepairSession) => T): T {
  const s = openRepairSession({ toolVersion: TOOL, journal: p.journal, device: p.image, who: 'tester', caseRef: 'case 1' });
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

describe('apply and undo', () => {
  it('applies fixes and undoes each byte for byte', () => {
    const p = fresh();
    withSession(p, (s) => {
      expect(s.recovered.actions).toEqual([]);
      expect(applySynthetic(s, sectors)).toEqual([1, 2, 3]);
    });
    expect(sha256File(p.image)).toBe(imageWith(['a', 'b', 'c']));
    withSession(p, (s) => expect(s.undo({ fix: 3 }).undone).toEqual([3]));
    expect(sha256File(p.image)).toBe(imageWith(['a', 'b']));
    withSession(p, (s) => expect(s.undo({ all: true }).undone).toEqual([2, 1]));
    expect(sha256File(p.image)).toBe(ORIGINAL);
    const j = Journal.open(p.journal);
    expect(j.fixes().map((f) => f.state)).toEqual(['undone', 'undone', 'undone']);
    expect(j.fixes()[0].writes[0].beforeSha256).toBe(sha256(fixtureImage().subarray(sectors.extents * 512, sectors.extents * 512 + 512)));
    expect(j.verify().ok).toBe(true);
    j.close();
  });

  it('refuses to undo a fix whose bytes a later fix rewrote unless asked, then undoes both', () => {
    const p = fresh();
    withSession(p, (s) => applySynthetic(s, sectors));
    const e = expectCode(() => withSession(p, (s) => s.undo({ fix: 1 })), 'SHARED_BLOCKS', /fix 2 \(b: rewrite part of the extents node again\)/);
    expect(e.message).not.toMatch(/fix 3/);
    expect(sha256File(p.image)).toBe(imageWith(['a', 'b', 'c']));
    withSession(p, (s) => expect(s.undo({ fix: 1 }, { withLater: true }).undone).toEqual([2, 1]));
    expect(sha256File(p.image)).toBe(imageWith(['c']));
  });

  it('undoes a session, and undo --all always works', () => {
    const p = fresh();
    withSession(p, (s) => s.apply(planFromSpec(syntheticSpecs(sectors)[0], (o: number, l: number) => s.dev.read(o, l))));
    const second = withSession(p, (s) => {
      s.apply(planFromSpec(syntheticSpecs(sectors)[2], (o: number, l: number) => s.dev.read(o, l)));
      return s.session.id;
    });
    withSession(p, (s) => expect(s.undo({ session: second }).undone).toEqual([2]));
    expect(sha256File(p.image)).toBe(imageWith(['a']));
    expectCode(() => withSession(p, (s) => s.undo({ session: second })), 'NOTHING_TO_UNDO', /session 2 has no applied fix/);
    withSession(p, (s) => s.apply(planFromSpec(syntheticSpecs(sectors)[1], (o: number, l: number) => s.dev.read(o, l))));
    withSession(p, (s) => expect(s.undo({ all: true }).undone).toEqual([3, 1]));
    expect(sha256File(p.image)).toBe(ORIGINAL);
    expectCode(() => withSession(p, (s) => s.undo({ all: true })), 'NOTHING_TO_UNDO');
  });

  it('refuses an undo over a foreign write, and force puts the before-image back', () => {
    const p = fresh();
    withSession(p, (s) => applySynthetic(s, sectors));
    const off = sectors.dirents * 512 + 4096 + 10; // inside fix c's first write
    const fd = openSync(p.image, 'r+');
    writeSync(fd, Buffer.from([0x42]), 0, 1, off);
    closeSync(fd);
    const before = sha256File(p.image);
    expectCode(() => withSession(p, (s) => s.undo({ all: true })), 'FOREIGN_WRITE', /fix 3 .*something else wrote there since.*--force/);
    expect(sha256File(p.image)).toBe(before); // nothing undone
    withSession(p, (s) => expect(s.undo({ all: true }, { force: true }).forced).toEqual([{ fixId: 3, offsets: [sectors.dirents * 512 + 4096] }]));
    expect(sha256File(p.image)).toBe(ORIGINAL);
  });

  it('refuses a device that is not the one the journal names, and defaults to the recorded path', () => {
    const p = fresh();
    withSession(p, (s) => applySynthetic(s, sectors));
    const other = workingCopy(scratch.dir, 'other.img', 'clean-32k-depth2');
    expectCode(() => withSession({ journal: p.journal, image: other }, () => 0), 'WRONG_DEVICE', /filesystem uuid .* the journal's is/);
    const grown = fresh();
    truncateSync(grown.image, fixtureImage().length + 4096);
    expectCode(() => withSession({ journal: p.journal, image: grown.image }, () => 0), 'WRONG_DEVICE', /size \d+ bytes, the journal's is \d+/);
    withSession({ journal: p.journal }, (s) => {
      expect(s.dev.path).toBe(p.image);
      s.undo({ all: true });
    });
    expect(sha256File(p.image)).toBe(ORIGINAL);
  });

  it('refuses a second repair of a disk that is being repaired, leaving no trace in the journal', () => {
    const p = fresh();
    const first = openRepairSession({ toolVersion: TOOL, journal: p.journal, device: p.image });
    try {
      const other = join(scratch.dir, `second-${n}.journal`);
      expect(() => openRepairSession({ toolVersion: TOOL, journal: other, device: p.image })).toThrow(/another bcachefs-repair .* has it open for repair/);
      const j = Journal.open(other);
      expect(j.sessions()).toEqual([]);
      j.close();
    } finally {
      first.close();
    }
    withSession(p, (s) => expect(s.session.id).toBe(2)); // free again once closed
  });

  it('tells apart a replugged disk from another one by serial and WWN', () => {
    const rec = { uuid: 'u', path: '/dev/sdb', size: 10, isBlockDevice: true, serial: 'S1', wwn: 'naa.1', sbSha256: 'h', sbFromBackup: false };
    expect(identityMismatch(rec, { ...rec, path: '/dev/sdc', sbSha256: 'other' })).toBeUndefined();
    expect(identityMismatch(rec, { ...rec, serial: 'S2' })).toMatch(/serial S2, the journal's is S1/);
    expect(identityMismatch(rec, { ...rec, wwn: 'naa.2' })).toMatch(/WWN naa\.2, the journal's is naa\.1/);
    expect(identityMismatch(rec, { ...rec, serial: null, wwn: null })).toBeUndefined(); // an image of it (dd) is still it
  });

  it('refuses a plan whose old bytes are no longer on the disk, and a bad plan, writing nothing', () => {
    const p = fresh();
    withSession(p, (s) => {
      const plan = planFromSpec(syntheticSpecs(sectors)[0], (o: number, l: number) => s.dev.read(o, l));
      plan.writes[1].old = Buffer.alloc(plan.writes[1].old.length, 7);
      expectCode(() => s.apply(plan), 'STALE_PLAN', /no longer holds the bytes the plan was made from at offset/);
      const overlapping = planFromSpec(syntheticSpecs(sectors)[0], (o: number, l: number) => s.dev.read(o, l));
      overlapping.writes[1] = { ...overlapping.writes[0], offset: overlapping.writes[0].offset + 100 };
      expectCode(() => s.apply(overlapping), 'BAD_PLAN', /overlap/);
      expect(s.journal.fixes()).toEqual([]);
    });
    expect(sha256File(p.image)).toBe(ORIGINAL);
  });

  it('applies a list of fixes with progress, and stops between fixes when cancelled', () => {
    const p = fresh();
    const cancel = new CancellationTokenSource();
    const seen: unknown[] = [];
    withSession(p, (s) => {
      const plans = syntheticSpecs(sectors).filter((x) => x.id !== 'b').map((spec) => planFromSpec(spec, (o: number, l: number) => s.dev.read(o, l)));
      const r = s.applyAll(plans, {
        token: cancel.token,
        onProgress: (pr) => {
          seen.push(pr);
          cancel.cancel(); // asked while fix a starts: a is applied whole, c is not started
        },
      });
      expect(r).toEqual({ applied: [1], cancelled: true });
    });
    expect(seen).toEqual([{ done: 0, total: 2, planId: 'a' }]);
    expect(sha256File(p.image)).toBe(imageWith(['a']));
  });

  it('keeps rows append-only: the database refuses UPDATE and DELETE', () => {
    const p = fresh();
    withSession(p, (s) => applySynthetic(s, sectors));
    const db = new Database(p.journal);
    expect(() => db.prepare('UPDATE events SET kind = ? WHERE id = 1').run('x')).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM writes').run()).toThrow(/append-only/);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('refuses to make a journal where the write-ahead log of a moved or deleted one was left', () => {
    const { dir, cleanup } = scratchDir('stale-wal');
    try {
      const file = join(dir, 'j.db');
      writeFileSync(`${file}-wal`, 'pages of another journal');
      expect(() => Journal.open(file, { create: true })).toThrow(/write-ahead log stayed.*move .*j\.db-wal away/);
      expect(existsSync(file)).toBe(false);
    } finally {
      cleanup();
    }
  });
});

describe('recovery', () => {
  /** A fix whose journal rows are committed and whose first write reached the disk, as a crash leaves it. */
  function halfApplied(p: { image: string; journal: string }): void {
    withSession(p, (s) => {
      const plan = planFromSpec(syntheticSpecs(sectors)[2], (o: number, l: number) => s.dev.read(o, l));
      s.journal.recordFixStarted(s.session.id, plan, plan.writes.map((w) => w.old));
      s.dev.write(plan.writes[0].offset, plan.writes[0].new);
      s.dev.sync();
    });
    expect(sha256File(p.image)).not.toBe(ORIGINAL);
  }

  it('rolls a half-applied fix back by default and says so', () => {
    const p = fresh();
    halfApplied(p);
    withSession(p, (s) => {
      expect(s.recovered.actions).toEqual([{ fixId: 1, planId: 'c', was: 'started', did: 'rolled_back' }]);
      expect(s.recovered.messages[0]).toMatch(/fix 1 \(c: .*\) was started but not finished .* rolled back from the before-images/);
    });
    expect(sha256File(p.image)).toBe(ORIGINAL);
    withSession(p, (s) => expect(s.recovered.actions).toEqual([]));
  });

  it('rolls forward on request', () => {
    const p = fresh();
    halfApplied(p);
    const s = openRepairSession({ toolVersion: TOOL, journal: p.journal, device: p.image, recovery: 'forward' });
    expect(s.recovered.actions[0].did).toBe('rolled_forward');
    expect(s.journal.fixes()[0].state).toBe('applied');
    s.close();
    expect(sha256File(p.image)).toBe(imageWith(['c']));
  });

  it('finishes an interrupted undo', () => {
    const p = fresh();
    withSession(p, (s) => applySynthetic(s, sectors));
    withSession(p, (s) => {
      const f = s.journal.fixes()[2];
      s.journal.recordFixEvent(s.session.id, f.id, 'undo_started');
      s.dev.write(f.writes[0].offset, s.journal.images(f.id)[0]!.before);
    });
    withSession(p, (s) => expect(s.recovered.actions).toEqual([{ fixId: 3, planId: 'c', was: 'undoing', did: 'undo_completed' }]));
    expect(sha256File(p.image)).toBe(imageWith(['a', 'b']));
  });

  it('records who, when and the case', () => {
    const p = fresh();
    withSession(p, () => 0);
    const j = Journal.open(p.journal);
    const [s] = j.sessions();
    expect(s).toMatchObject({ who: 'tester', whoSource: 'typed', caseRef: 'case 1', toolVersion: expect.stringMatching(/^bcachefs-repair \d/) });
    expect(s.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    expect(new Date(s.startedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(j.devices()[0]).toMatchObject({ path: p.image, size: fixtureImage().length, isBlockDevice: false });
    expect(j.devices()[0].uuid).toMatch(/^[0-9a-f-]{36}$/);
    j.close();
    expect(readFileSync(p.journal).subarray(0, 15).toString()).toBe('SQLite format 3');
  });

});
