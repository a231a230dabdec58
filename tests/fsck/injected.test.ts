// More cases for the passes (check_inodes, check_extents, check_root and check_nlinks above all): clean images
// with damage made by ../shared/tools/inject.py and by injected/patch.py (for what the injector has no kind for),
// listed in tests/fsck/injected/cases.json, against what the real fsck -n printed on the same images (recorded
// by tests/fsck/injected/make.py). Both tools are deterministic, so the images are made again here.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkFilesystem } from '../../src-core/check/index.js';
import { gunzipToTemp, removeTemp } from '../../src-core/device/gz.js';
import { isFsckClass } from '../../src-core/fsck/classes.js';
import { openFilesystem } from '../../src-core/open.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { parseFsckLog } from '../helpers/fsck-log.js';

interface Case { name: string; base: string; steps: string[]; why: string }
const here = join(dirname(fileURLToPath(import.meta.url)), 'injected');
const cases = JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8')) as Case[];
const shared = join(PROJECT_ROOT, '..', 'shared');
/** The base: a fixture of ../shared/fixtures/bcachefs-2021, or an image of tests/fsck/fixtures. */
function baseImage(name: string): string {
  const fx = join(shared, 'fixtures', 'bcachefs-2021', name, 'image.img.gz');
  return existsSync(fx) ? fx : join(dirname(here), 'fixtures', `${name}.img.gz`);
}

/** The case's image in a temporary directory (remove it with removeTemp). */
function makeImage(c: Case): { tempDir: string; tempPath: string } {
  const img = gunzipToTemp(baseImage(c.base));
  for (const step of c.steps) {
    const [tool, ...args] = step.split(' ');
    const script = tool === 'inject' ? [join(shared, 'tools', 'inject.py'), 'inject'] : [join(here, 'patch.py')];
    const r = spawnSync('python3', [...script, img.tempPath, ...args], { encoding: 'utf8' });
    if (r.status !== 0) {
      removeTemp(img.tempDir);
      throw new Error(`${step} failed on ${c.name}: ${r.stderr || r.error}`);
    }
  }
  return img;
}

it('has its cases', () => expect(cases.length).toBeGreaterThanOrEqual(16));

describe.each(cases)('$name', (c) => {
  it('reports what fsck -n printed after "starting fsck"', async () => {
    const log = parseFsckLog(readFileSync(join(here, `${c.name}.fsck-n.txt`), 'latin1'), Number(readFileSync(join(here, `${c.name}.fsck-n.exit`), 'latin1')));
    const img = makeImage(c);
    const o = openFilesystem(img.tempPath);
    try {
      const r = await checkFilesystem(o.fs, { devName: 'image.img' });
      const have = r.findings.filter((f) => isFsckClass(f.class) && f.severity === 'error').map((f) => f.fsck_message);
      expect(have).toEqual(log.errors.filter((e) => e.phase === 'fsck').map((e) => e.message));
      // fsck -n exits 8 when fsck stopped with an error ("error in fsck (-5)", a missing parent directory)
      expect(r.limitations.some((l) => l.includes("bcachefs 2021's fsck stops"))).toBe(log.exit === 8);
    } finally {
      o.close();
      removeTemp(img.tempDir);
    }
  }, 60_000);
});
