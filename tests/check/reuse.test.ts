// A check that takes over parts of the check before a repair round (CheckOptions.since, check/reuse.ts) gives
// what a full check gives: on every damaged fixture, each planned fix is laid over the image in memory in
// plan order, and after each the check with `since` is compared with a full check of the same bytes —
// findings (ids, texts, order), limitations and the whole gc state the planners read.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem } from '../../src-core/btree/fs.js';
import { checkFilesystem, type CheckResult } from '../../src-core/check/index.js';
import { Overlay } from '../../src-core/repair/overlay.js';
import { planRepair } from '../../src-core/repair/pipeline.js';
import { PROJECT_ROOT, allFixtures, cleanFixtures, fixturePath } from '../helpers/fixtures.js';

const FS_FIXTURES = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-fs');
const CASES = [
  ...allFixtures().filter((f) => !cleanFixtures().includes(f)).map((f) => [f, fixturePath(f)] as const),
  ...readdirSync(FS_FIXTURES).filter((d) => existsSync(join(FS_FIXTURES, d, 'image.img.gz'))).sort().map((f) => [f, join(FS_FIXTURES, f, 'image.img.gz')] as const),
];

/** Everything a check result says, without the timing and the kept state. */
function said(r: CheckResult): unknown {
  return {
    findings: r.findings, limitations: r.limitations, aborted: r.aborted, gc: r.gc,
    stats: { ...r.stats, ms: 0 },
  };
}

const reusedOn: string[] = [];

describe('a check after a repair round takes over only what the round cannot have changed', () => {
  it.each(CASES)('%s: after each planned fix, the same result as a full check', { timeout: 300_000 }, async (name, path) => {
    const dev = openDevice(path);
    try {
      const plan = await planRepair(dev, { devName: 'image.img' });
      const overlay = new Overlay(dev);
      let state = await checkFilesystem(new Filesystem(overlay), { devName: 'image.img', reusable: true });
      for (const fix of plan.fixes) {
        overlay.apply(fix);
        const writes = fix.writes.map((w) => ({ offset: w.offset, length: w.new.length }));
        const next = await checkFilesystem(new Filesystem(overlay), { devName: 'image.img', reusable: true, since: { check: state, writes } });
        const full = await checkFilesystem(new Filesystem(overlay), { devName: 'image.img' });
        expect(said(next), `${fix.id} (${next.reused ? 'taken over' : 'checked in full'})`).toEqual(said(full));
        if (next.reused) reusedOn.push(`${name} ${fix.id}`);
        state = next;
      }
    } finally {
      dev.close();
    }
  });

  it('takes over on the fixtures whose fix rewrites only alloc keys', () => {
    // the alloc fixes of these rewrite alloc leaves in place: nothing else is read again
    for (const fx of ['alloc-sectors-b2', 'alloc-datatype-b2', 'alloc-oldest-gen-b3']) {
      expect(reusedOn.some((r) => r.startsWith(`${fx} `)), `${fx}: ${reusedOn.join(', ')}`).toBe(true);
    }
  });
});
