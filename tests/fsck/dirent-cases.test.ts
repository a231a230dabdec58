// check_dirents and check_directory_structure on damage the injector has no kind for, made by
// dirent-cases/patch.py on clean fixtures (cases.json: dirents out of their hash slot, duplicate names, a
// directory linked twice, a directory loop, dirents in a missing or non-directory inode, wrong and missing
// backpointers, a directory's i_nlink, a missing parent and a refused inode write that stop fsck), against
// what the real fsck -n printed on the same images (recorded by dirent-cases/make.py). Both tools are
// deterministic, so the images are made again here.
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
const INJECT = join(FIXTURES, '..', '..', 'tools', 'inject.py');
import { parseFsckLog } from '../helpers/fsck-log.js';

interface Case { name: string; base?: string; steps: string[]; why: string }
const here = join(dirname(fileURLToPath(import.meta.url)), 'dirent-cases');
const cases = JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8')) as Case[];

it('has its cases', () => expect(cases.length).toBeGreaterThanOrEqual(12));

describe.each(cases)('$name', (c) => {
  it('reports what fsck -n printed after "starting fsck"', async () => {
    const log = parseFsckLog(readFileSync(join(here, `${c.name}.fsck-n.txt`), 'latin1'), Number(readFileSync(join(here, `${c.name}.fsck-n.exit`), 'latin1')));
    const img = gunzipToTemp(join(FIXTURES, c.base ?? 'clean-default-64m', 'image.img.gz'));
    try {
      for (const step of c.steps) {
        const [first, ...rest] = step.split(' ');
        const cmd = first === 'inject' ? [INJECT, 'inject', img.tempPath, ...rest] : [join(here, 'patch.py'), img.tempPath, first!, ...rest];
        const r = spawnSync('python3', cmd, { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${step} failed on ${c.name}: ${r.stderr || r.error}`);
      }
      const o = openFilesystem(img.tempPath);
      try {
        const r = await checkFilesystem(o.fs, { devName: 'image.img' });
        const have = r.findings.filter((f) => isFsckClass(f.class) && f.severity === 'error').map((f) => f.fsck_message);
        expect(have).toEqual(log.errors.filter((e) => e.phase === 'fsck').map((e) => e.message));
        const gc = r.findings.filter((f) => !isFsckClass(f.class) && f.severity === 'error').map((f) => f.fsck_message);
        expect(gc).toEqual(log.errors.filter((e) => e.phase !== 'fsck').map((e) => e.message));
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
