// The service as the elevated process would run it (`child.js --only-device PATH` under pkexec, README
// "Opening disks"): it opens that one device (by real path, links included) and refuses everything that
// would let a root process list, read or write anything else.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { fixturePath, PROJECT_ROOT } from '../helpers/fixtures.js';

const CHILD = join(PROJECT_ROOT, 'dist', 'src-core', 'service', 'child.js');
const ALLOWED = fixturePath('clean-32k-depth2');
const OTHER = fixturePath('gap-extents-b2');
const dir = mkdtempSync(join(tmpdir(), 'elevated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Sends the requests on stdin (JSON lines) and returns the answers by id. */
async function run(args: string[], requests: Array<{ id: number; method: string; params?: unknown }>): Promise<Map<number, any>> {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const answers = new Map<number, any>();
  const done = new Promise<void>((res) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      const m = JSON.parse(l);
      if ('id' in m) answers.set(m.id, m);
      if (answers.size === requests.length) res();
    });
  });
  for (const r of requests) child.stdin.write(`${JSON.stringify(r)}\n`);
  child.stdin.end();
  await done;
  child.kill();
  return answers;
}

describe('service --only-device', () => {
  it('opens that device only, also through a link to it; refuses any other', async () => {
    const link = join(dir, 'link.img.gz');
    symlinkSync(ALLOWED, link);
    const a = await run(['--only-device', ALLOWED], [
      { id: 1, method: 'open', params: { path: ALLOWED } },
      { id: 2, method: 'open', params: { path: OTHER } },
      { id: 3, method: 'open', params: { path: link } },
      { id: 4, method: 'btrees' },
    ]);
    expect(a.get(1).result.path).toBe(ALLOWED);
    expect(a.get(2).error).toMatchObject({ code: 'NOT_ALLOWED', message: expect.stringContaining(`started for ${ALLOWED} only, not ${OTHER}`) });
    expect(a.get(3).result.path).toBe(link);
    expect(a.get(4).result.btrees.length).toBeGreaterThan(0);
  });

  it('neither lists devices or folders nor makes copies', async () => {
    const a = await run(['--only-device', ALLOWED], [
      { id: 1, method: 'devices' },
      { id: 2, method: 'complete', params: { path: '/root/' } },
      { id: 3, method: 'workingCopy.propose', params: { path: ALLOWED } },
      { id: 4, method: 'workingCopy.make', params: { path: ALLOWED, folder: dir } },
      { id: 5, method: 'hello' },
    ]);
    for (const id of [1, 2, 3, 4]) expect(a.get(id).error, String(id)).toMatchObject({ code: 'NOT_ALLOWED' });
    expect(a.get(5).result.protocol).toBe(1);
  });

  it('without a path after --only-device it does not start', () => {
    const r = spawnSync(process.execPath, [CHILD, '--only-device'], { encoding: 'utf8', input: '' });
    expect(r.status).toBe(16);
    expect(r.stderr).toMatch(/--only-device needs the path of the device/);
  });

  it('the normal service still does all of it', async () => {
    const a = await run([], [{ id: 1, method: 'open', params: { path: OTHER } }, { id: 2, method: 'complete', params: { path: `${dir}/` } }]);
    expect(a.get(1).result.path).toBe(OTHER);
    expect(a.get(2).result.folder).toBe(dir);
  });
});
