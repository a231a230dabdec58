// The repair front end: plan on every damaged fixture (a fix or a reason for every finding, nothing written),
// repair's ways of choosing (--only by fix or finding id, --plan exactly, refused when stale), .img.gz refused,
// exit codes as fsck's.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDevice } from '../../src-core/device/index.js';
import { planRepair } from '../../src-core/repair/pipeline.js';
import { PROJECT_ROOT, allFixtures, cleanFixtures, fixturePath } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { checkImage, cli, copyImage, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

const DAMAGED = allFixtures().filter((f) => !cleanFixtures().includes(f));

describe('plan on every damaged fixture', () => {
  it.each(DAMAGED)('%s: every finding has a fix or a reason', { timeout: 300_000 }, async (fx) => {
    const dev = openDevice(fixturePath(fx));
    try {
      const p = await planRepair(dev, { devName: 'image.img' });
      expect(p.before.length).toBeGreaterThan(0);
      const fixed = new Set(p.fixes.flatMap((f) => f.resolves));
      const reasons = new Map(p.unresolved.map((u) => [u.finding.id, u.reason]));
      for (const f of p.before) {
        if (fixed.has(f.id)) continue;
        // a finding that is gone without a fix naming it would be a bookkeeping error; one still there needs a reason
        expect(reasons.get(f.id), `${f.id}: neither fixed nor explained`).toMatch(/\S/);
      }
      for (const f of p.fixes) {
        expect(f.writes.length, `${f.id} writes something`).toBeGreaterThan(0);
        expect(f.resolves.length, `${f.id} resolves something`).toBeGreaterThan(0);
        for (const w of f.writes) expect(w.old.length).toBe(w.new.length);
        for (const d of f.dependsOn) expect(p.fixes.findIndex((x) => x.id === d)).toBeLessThan(p.fixes.indexOf(f));
      }
    } finally {
      dev.close();
    }
  });
});

describe('plan and repair on the command line', () => {
  it('the bundled sample: 8 findings from 2 faults, 2 fixes; repair -y leaves it clean for us and the real fsck -n', { timeout: 300_000 }, async () => {
    const img = copyImage('sample', resolve(PROJECT_ROOT, 'assets', 'sample.img.gz'));
    const dev = openDevice(img);
    const p = await planRepair(dev, { devName: 'image.img' }).finally(() => dev.close());
    expect(p.before).toHaveLength(8);
    expect(p.fixes.map((f) => f.id.split(':')[0])).toEqual(['topology', 'gens']);
    expect(p.fixes.flatMap((f) => f.resolves).sort()).toEqual(p.before.map((f) => f.id).sort());
    const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect((await checkImage(img)).findings).toEqual([]);
    if (!toolMissing) expect(realFsck(img).exit).toBe(0);
  });

  it('plan writes nothing, --output gives the plan that repair --plan applies exactly; a second --plan is refused as stale', { timeout: 300_000 }, async () => {
    const img = copyImage('stale-b2');
    const damaged = sha256File(img);
    const p = cli(img, ['plan', 'image.img', '--output', 'plan.json']);
    expect(p.status, p.stderr).toBe(4);
    expect(p.stdout).toMatch(/^FIX gens:0:115: Restore the gen of bucket 0:115 to 1/m);
    expect(p.stdout).toMatch(/29 findings, 1 fixes planned in 1 rounds, 0 findings without a fix\. Nothing was written\./);
    expect(sha256File(img)).toBe(damaged);
    const j = cli(img, ['plan', 'image.img', '--json']);
    const doc = JSON.parse(j.stdout);
    expect(doc.kind).toBe('bcachefs-repair plan');
    expect(doc.fixes[0].resolves).toHaveLength(29);
    expect(doc.fixes[0].alternatives[0].lost).toHaveLength(11);

    const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '--plan', 'plan.json']);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect((await checkImage(img)).findings).toEqual([]);
    const repaired = sha256File(img);
    const again = cli(img, ['repair', 'image.img', '--journal', 'j.db', '--plan', 'plan.json']);
    expect(again.status).toBe(8);
    expect(again.stderr).toMatch(/fix gens:0:115 of the plan no longer matches the disk .* Nothing was written; make a new plan\./);
    expect(sha256File(img)).toBe(repaired);
    // nothing to do now: exit 0
    expect(cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']).status).toBe(0);
  });

  it('--only names a fix by one of the findings it resolves; the alternative by its own id', { timeout: 300_000 }, async () => {
    const img = copyImage('gen-future-b2');
    const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '--only', 'bucket_dirty_sectors:0:115']);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/applied 1 fix \(gens:0:115 = journal fix 1\)/);
    expect((await checkImage(img)).findings).toEqual([]);

    const img2 = copyImage('stale-b2');
    const a = cli(img2, ['repair', 'image.img', '--journal', 'j.db', '--only', 'gens:0:115:2021']);
    // 2021's way: the 11 extents are dropped; the alloc key and usage are then left for a new plan
    expect(a.stdout).toMatch(/applied 1 fix \(gens:0:115:2021 = journal fix 1\)/);
    const after = await checkImage(img2);
    expect(after.findings.some((f) => f.class.startsWith('ptr_'))).toBe(false);
    expect(after.keys.get('extents')!.has('5052:8:U32_MAX')).toBe(false);
    const rest = cli(img2, ['repair', 'image.img', '--journal', 'j.db', '-y']);
    expect(rest.status, rest.stdout + rest.stderr).toBe(1);
    expect((await checkImage(img2)).findings).toEqual([]);
    if (toolMissing) return;
    // what 2021's way leaves for the fsck passes (inode 5066 still counts the dropped extents' sectors) the
    // second repair found and set: the real fsck -n is clean too
    expect(rest.stdout).toMatch(/applied 3 fixes/);
    const f = realFsck(img2);
    expect(f.exit, f.out).toBe(0);
  });

  it('an unknown --only id, no choice, and a .img.gz are refused before anything is written', () => {
    const img = copyImage('gen-future-b2');
    const damaged = sha256File(img);
    const u = cli(img, ['repair', 'image.img', '--journal', 'j.db', '--only', 'nonsense']);
    expect(u.status).toBe(8);
    expect(u.stderr).toMatch(/no fix of this plan is or resolves "nonsense"/);
    expect(cli(img, ['repair', 'image.img', '--journal', 'j.db']).status).toBe(16);
    expect(sha256File(img)).toBe(damaged);
    const gz = runCli(['repair', fixturePath('gen-future-b2'), '--journal', join(resolve(img, '..'), 'g.db'), '-y']);
    expect(gz.status).toBe(8);
    expect(gz.stderr).toMatch(/is a compressed image: it cannot be repaired in place\. Unpack a working copy/);
  });

  it('a plan file for another filesystem is refused', { timeout: 300_000 }, () => {
    const img = copyImage('stale-b2');
    const other = copyImage('gen-future-b3');
    expect(cli(other, ['plan', 'image.img', '--output', 'plan.json']).status).toBe(4);
    writeFileSync(join(resolve(img, '..'), 'bad.json'), '{"kind":"x"}');
    const bad = cli(img, ['repair', 'image.img', '--journal', 'j.db', '--plan', 'bad.json']);
    expect(bad.status).toBe(8);
    expect(bad.stderr).toMatch(/not a plan written by `bcachefs-repair plan --output`/);
    const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '--plan', join(resolve(other, '..'), 'plan.json')]);
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/the plan is for the filesystem .* Give the disk the plan was made for/);
  });
});
