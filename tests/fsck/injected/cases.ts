// The injected cases of cases.json: images made from a clean base by inject.py and patch.py, and what the real
// fsck -n printed on them (recorded by make.py).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipToTemp, removeTemp } from '../../../src-core/device/gz.js';
import { PROJECT_ROOT } from '../../helpers/fixtures.js';

export interface InjectedCase { name: string; base: string; steps: string[]; why: string }
const here = dirname(fileURLToPath(import.meta.url));
const shared = join(PROJECT_ROOT, '..', 'shared');
export const injectedCases = JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8')) as InjectedCase[];

export function injectedCase(name: string): InjectedCase {
  const c = injectedCases.find((x) => x.name === name);
  if (!c) throw new Error(`no injected case ${name} in cases.json`);
  return c;
}

/** The base: a fixture of ../shared/fixtures/bcachefs-2021, or an image of tests/fsck/fixtures. */
function baseImage(name: string): string {
  const fx = join(shared, 'fixtures', 'bcachefs-2021', name, 'image.img.gz');
  return existsSync(fx) ? fx : join(here, '..', 'fixtures', `${name}.img.gz`);
}

/** The case's image in a temporary directory: remove it with removeTemp(tempDir). */
export function makeInjectedImage(c: InjectedCase): { tempDir: string; tempPath: string } {
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

/** What fsck -n printed on the case, and its exit code. */
export function injectedFsckN(c: InjectedCase): { text: string; exit: number } {
  return {
    text: readFileSync(join(here, `${c.name}.fsck-n.txt`), 'latin1'),
    exit: Number(readFileSync(join(here, `${c.name}.fsck-n.exit`), 'latin1')),
  };
}
