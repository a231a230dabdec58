// The checker against what the real `bcachefs fsck -n` printed on every fixture.
import { afterAll, describe, expect, it } from 'vitest';
import { checkFilesystem, type CheckResult } from '../../src-core/check/index.js';
import { allFixtures, closeFixtures, openFixture, readFixtureText } from '../helpers/fixtures.js';
import { multiset, multisetMissing, parseFsckLog, type FsckLog } from '../helpers/fsck-log.js';

afterAll(closeFixtures);

function log(fx: string): FsckLog {
  return parseFsckLog(readFixtureText(fx, 'fsck-n.txt')!, Number(readFixtureText(fx, 'fsck-n.exit')!.trim()));
}

async function check(fx: string): Promise<CheckResult> {
  return checkFilesystem(openFixture(fx).fs, { devName: 'image.img' });
}

describe.each(allFixtures())('%s', (fx) => {
  it('reproduces the fsck errors of recovery and mark and sweep', async () => {
    const l = log(fx);
    const r = await check(fx);
    expect(r.aborted).toBe(false);
    const want = multiset(l.errors.filter((e) => e.phase !== 'fsck').map((e) => e.message));
    const errs = r.findings.filter((f) => f.severity === 'error' && f.fsck_message !== null && f.stage !== 'fsck');
    const have = multiset(errs.map((f) => f.fsck_message!));
    // every error bcachefs printed is found
    expect(multisetMissing(want, have)).toEqual([]);
    // and nothing more, when bcachefs's gc output is complete
    if (l.gcCompleted) {
      expect(multisetMissing(have, want)).toEqual([]);
      // in the same order
      expect(errs.map((f) => f.fsck_message)).toEqual(l.errors.filter((e) => e.phase !== 'fsck').map((e) => e.message));
    }
    // the disposition -n prints agrees with what the log shows
    const disp = new Map(l.errors.map((e) => [e.message, e.disposition] as const));
    for (const f of errs) if (disp.has(f.fsck_message!)) expect(f.fsck_disposition).toBe(disp.get(f.fsck_message!));
  });

  it('reproduces the node validation log lines', async () => {
    const l = log(fx);
    const r = await check(fx);
    const want = multiset(l.nodeValidation.filter((b) => b.phase !== 'fsck').map((b) => b.text));
    const have = multiset(r.findings.filter((f) => f.stage !== 'fsck' && f.log_message?.startsWith('error validating')).map((f) => f.log_message!));
    expect(multisetMissing(want, have)).toEqual([]);
    if (l.gcCompleted || !l.gcStarted) expect(multisetMissing(have, want)).toEqual([]);
  });

  if (fx.startsWith('clean-')) {
    it('finds nothing on a clean image', async () => {
      const r = await check(fx);
      expect(r.findings).toEqual([]);
    });
  }

  it('gives every finding a unique id, a class, a repair and an explanation', async () => {
    const r = await check(fx);
    const ids = new Set(r.findings.map((f) => f.id));
    expect(ids.size).toBe(r.findings.length);
    for (const f of r.findings) {
      expect(f.id.startsWith(f.class + ':')).toBe(true);
      expect(f.explanation.length).toBeGreaterThan(10);
      expect(f.repair.description.length).toBeGreaterThan(3);
    }
    for (const f of r.findings) expect(['recovery', 'gc', 'fsck']).toContain(f.stage);
    const again = await check(fx);
    expect(again.findings.map((f) => f.id)).toEqual(r.findings.map((f) => f.id));
  });
});
