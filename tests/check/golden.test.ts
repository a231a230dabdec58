// The restructured checker must report exactly what the checker reported before the core was restructured:
// tests/golden/findings-2021.json holds, per fixture, every finding's class, severity, stage and bcachefs
// text, in order (ids are left out: they may change where a structured location makes them more precise).
// The findings of the fsck passes (src-core/fsck/classes.ts) are not in it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFilesystem } from '../../src-core/check/index.js';
import { isFsckClass } from '../../src-core/fsck/classes.js';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

interface GoldenFinding {
  id: string; class: string; severity: string; stage: string;
  fsck_message: string | null; fsck_disposition: string | null; log_message: string | null;
}
const golden = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests', 'golden', 'findings-2021.json'), 'utf8')) as Record<string, GoldenFinding[]>;
const opened: OpenedFilesystem[] = [];
afterAll(() => opened.forEach((o) => o.close()));

const strip = (f: GoldenFinding) => ({ class: f.class, severity: f.severity, stage: f.stage, fsck_message: f.fsck_message, fsck_disposition: f.fsck_disposition, log_message: f.log_message });

describe.each(Object.keys(golden))('%s', (key) => {
  it('reports what the checker reported before the restructuring', async () => {
    const o = openFilesystem(join(PROJECT_ROOT, '..', 'shared', 'fixtures', key, 'image.img.gz'));
    opened.push(o);
    const r = await checkFilesystem(o.fs, { devName: 'image.img' });
    // the classes of the fsck passes came after the golden file (tests/fsck checks them)
    const have = r.findings.filter((f) => !isFsckClass(f.class)).map((f) => strip({ ...f, log_message: f.log_message ?? null } as GoldenFinding));
    expect(have).toEqual(golden[key]!.map(strip));
  });
});
