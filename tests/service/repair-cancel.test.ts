// The service's repair.cancel (what the UI's Cancel in Review and Apply calls) and write.confirm: a cancel
// reaches a plan or apply that runs or still waits in the queue, leaves the disk as it was before the fix
// it would have written next, and does not outlive that call; write.confirm names only the open disk.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { Driver } from './helpers.js';
import { copyImage, removeImages, sha256File } from '../repair/core-helpers.js';

afterAll(removeImages);
let driver: Driver | undefined;
afterEach(async () => {
  await driver?.service.dispose();
  driver = undefined;
});

describe('repair.cancel', () => {
  it('with nothing planning or applying there is nothing to cancel', async () => {
    driver = new Driver({ sampleImage: null });
    expect(await driver.call('repair.cancel')).toEqual({ cancelling: false });
  });

  it('stops a plan; the next plan is whole', { timeout: 120_000 }, async () => {
    const img = copyImage('gap-extents-b2');
    driver = new Driver({ sampleImage: null });
    await driver.call('open', { path: img });
    const planning = driver.call('plan');
    expect(await driver.call('repair.cancel')).toEqual({ cancelling: true });
    const cut = await planning;
    expect(cut.cancelled).toBe(true);
    expect(cut.fixes).toEqual([]);
    const whole = await driver.call('plan');
    expect(whole.cancelled).toBe(false);
    expect(whole.fixes).toHaveLength(1);
  });

  it('stops an apply before it writes anything; applied again, the fix is written and the check after is clean', { timeout: 120_000 }, async () => {
    const img = copyImage('stale-b2');
    const damaged = sha256File(img);
    const journal = join(resolve(img, '..'), 'j.db');
    driver = new Driver({ sampleImage: null });
    await driver.call('open', { path: img });
    const applying = driver.call('apply', { journal, fixes: ['gens:0:115'] });
    expect(await driver.call('repair.cancel')).toEqual({ cancelling: true });
    const a = await applying;
    expect(a.cancelled).toBe(true);
    expect(a.applied).toEqual([]);
    expect(sha256File(img), 'a cancelled apply writes nothing').toBe(damaged);
    const h = await driver.call('history', { journal });
    expect(h.sessions.flatMap((s) => s.fixes.filter((f) => f.state === 'applied'))).toEqual([]);
    // the cancel was for that apply only
    const b = await driver.call('apply', { journal, fixes: ['gens:0:115'] });
    expect(b.cancelled).toBe(false);
    expect(b.applied).toEqual([{ id: 'gens:0:115', fix: 1 }]);
    expect(b.after).toEqual([]);
    expect(await driver.call('repair.cancel')).toEqual({ cancelling: false });
  });
});

describe('write.confirm', () => {
  it('names the open disk only', async () => {
    const img = copyImage('gap-extents-b2');
    driver = new Driver({ sampleImage: null });
    expect(await driver.fail('write.confirm', { path: img, journal: `${img}.j` })).toMatchObject({ code: 'NOT_OPEN' });
    await driver.call('open', { path: img });
    expect(await driver.call('write.confirm', { path: img, journal: `${img}.j` })).toEqual({ path: img, journal: `${img}.j` });
    const other = await driver.fail('write.confirm', { path: '/dev/sdz', journal: `${img}.j` });
    expect(other).toMatchObject({ code: 'NOT_OPEN', message: expect.stringMatching(/^Write mode can only be confirmed for the open disk, .*, not \/dev\/sdz\. Open \/dev\/sdz first\.$/) });
  });
});
