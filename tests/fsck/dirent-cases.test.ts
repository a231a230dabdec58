// check_dirents and check_directory_structure on damage the injector has no kind for, made by
// dirent-cases/patch.py on the clean fixture clean-default-64m (cases.json: dirents out of their hash slot,
// duplicate names, a directory linked twice, a directory loop, dirents in a missing or non-directory inode,
// wrong backpointers, a directory's i_nlink, a missing parent that stops fsck), against what the real
// fsck -n printed on the same images (recorded by dirent-cases/make.py). The patch is deterministic, so the
// images are made again here.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkFilesystem } from '../../src-core/check/index.js';
import { gunzipToTemp, removeTemp } from '../../src-core/device/gz.js';
import { isFsckClass } from '../../src-core/fsck/classes.js';
import { openFilesystem } from '../../src-core/open.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { parseFsckLog } from '../helpers/fsck-log.js';

interface Case { name: string; steps: string[]; why: string }
const here = join(dirname(fileURLToPath(import.meta.url)), 'dirent-cases');
const cases = JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8')) as Case[];

it('has its cases', () => expect(cases.length).toBeGreaterThanOrEqual(10));

describe.each(cases)('$name', (c) => {
  it('reports what fsck -n printed after "starting fsck"', async () => {
    const log = parseFsckLog(readFileSync(join(here, `${c.name}.fsck-n.txt`), 'latin1'), Number(readFileSync(join(here, `${c.name}.fsck-n.exit`), 'latin1')));
    const img = gunzipToTemp(join(FIXTURES, 'clean-default-64m', 'image.img.gz'));
    try {
      for (const step of c.steps) {
        const r = spawnSync('python3', [join(here, 'patch.py'), img.tempPath, ...step.split(' ')], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${step} failed on ${c.name}: ${r.stderr || r.error}`);
      }
      const o = openFilesystem(img.tempPath);
      try {
        const r = await checkFilesystem(o.fs, { devName: 'image.img' });
        const have = r.findings.filter((f) => isFsckClass(f.class) && f.severity === 'error').map((f) => f.fsck_message);
        const want = log.errors.filter((e) => e.phase === 'fsck').map((e) => e.message);
        expect(want.length).toBeGreaterThan(0);
        expect(have).toEqual(want);
        expect(r.findings.filter((f) => f.stage !== 'fsck' && f.severity === 'error')).toEqual([]);
        // fsck -n exits 8 when fsck stopped ("error looking up parent directory")
        expect(r.limitations.some((l) => l.includes("bcachefs 2021's fsck stops"))).toBe(log.exit === 8);
      } finally {
        o.close();
      }
    } finally {
      removeTemp(img.tempDir);
    }
  }, 60_000);
});
