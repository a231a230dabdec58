// The service's plan and apply (what the UI calls): plan lists the fixes with progress events and writes
// nothing; apply goes through the journal, reports progress, and the check after it finds nothing; a cancel
// before the first fix leaves the disk as it was.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { Driver } from '../service/helpers.js';
import { checkImage, copyImage, removeImages, sha256File } from './core-helpers.js';

afterAll(removeImages);
let driver: Driver | undefined;
afterEach(async () => {
  await driver?.service.dispose();
  driver = undefined;
});

describe('service plan and apply', () => {
  it('plan, then apply every fix through the journal on stale-b2', { timeout: 120_000 }, async () => {
    const img = copyImage('stale-b2');
    const damaged = sha256File(img);
    driver = new Driver({ sampleImage: null });
    await driver.call('open', { path: img });
    const p = await driver.call('plan');
    expect(p.fixes.map((f) => f.id)).toEqual(['gens:0:115']);
    expect(p.fixes[0]!.resolves).toHaveLength(29);
    expect(p.fixes[0]!.writes[0]!.changes!.map((c) => `${c.field}: ${c.before} -> ${c.after}`)).toEqual(['alloc 0:115 gen: 2 -> 1']);
    expect(p.fixes[0]!.alternatives[0]!.lost).toHaveLength(11);
    expect(p.unresolved).toEqual([]);
    expect(driver.events.some((e) => e.event === 'plan.progress')).toBe(true);
    expect(sha256File(img), 'plan writes nothing').toBe(damaged);

    const a = await driver.call('apply', { journal: join(resolve(img, '..'), 'j.db'), fixes: ['gens:0:115'] });
    expect(a.applied).toEqual([{ id: 'gens:0:115', fix: 1 }]);
    expect(a.after).toEqual([]);
    expect(a.cancelled).toBe(false);
    await driver.next('apply.progress', (d) => d.done === 1 && d.total === 1);
    expect((await checkImage(img)).findings).toEqual([]);
    // the service reopened the disk: its check now sees the repaired state
    await driver.call('check.start');
    const done = await driver.next('check.done');
    expect(done.findings).toBe(0);
  });

  it('apply with an unknown id is refused, and nothing is written', { timeout: 120_000 }, async () => {
    const img = copyImage('gen-future-b2');
    const damaged = sha256File(img);
    driver = new Driver({ sampleImage: null });
    await driver.call('open', { path: img });
    const e = await driver.fail('apply', { journal: join(resolve(img, '..'), 'j.db'), fixes: ['nonsense'] });
    expect(e.message).toMatch(/no fix of this plan is or resolves "nonsense"/);
    expect(sha256File(img)).toBe(damaged);
    // the disk is still open for reading
    expect((await driver.call('superblock')).path).toBe(img);
  });
});
