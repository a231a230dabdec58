// `npm start` where Electron cannot run (no display; no Electron binary, as on our build machines): it says
// why, then starts browser mode, whose printed address (with the token) serves the app on the sample.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const START = join(PROJECT_ROOT, 'dist', 'src-web', 'start.js');

async function start(env: Record<string, string | undefined>): Promise<{ out: string; url: string; stop(): void }> {
  const e = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  const child = spawn(process.execPath, [START], { env: e, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /running at (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.once('exit', (code) => rej(new Error(`npm start exited (${code}): ${out}`)));
  });
  return { out, url, stop: () => child.kill('SIGTERM') };
}

async function openedOnSample(url: string): Promise<void> {
  const first = await fetch(url, { redirect: 'manual' });
  expect(first.status).toBe(303);
  const Cookie = first.headers.get('set-cookie')!.split(';')[0]!;
  expect((await fetch(new URL('/', url), { headers: { Cookie } })).status).toBe(200);
  const hello = await fetch(new URL('/api/rpc', url), { method: 'POST', headers: { Cookie, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 1, method: 'hello' }) });
  expect(((await hello.json()) as { result: { sampleImage: string } }).result.sampleImage).toBe(join(PROJECT_ROOT, 'assets', 'sample.img.gz'));
}

describe('npm start without Electron', () => {
  it('without a display: says so, and browser mode serves the sample', async () => {
    const s = await start({ DISPLAY: undefined, WAYLAND_DISPLAY: undefined });
    try {
      expect(s.out).toContain('the desktop window cannot start: there is no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set).');
      expect(s.out).toContain('starting browser mode instead');
      await openedOnSample(s.url);
    } finally {
      s.stop();
    }
  });

  it.skipIf(existsSync(join(PROJECT_ROOT, 'node_modules', 'electron', 'path.txt')))('without the Electron binary (runs where it is not installed): says so, and browser mode serves the sample', async () => {
    const s = await start({ DISPLAY: ':99', BCACHEFS_REPAIR_NO_DOWNLOAD: '1' });
    try {
      expect(s.out).toContain('Electron is unavailable: its binary is not installed');
      await openedOnSample(s.url);
    } finally {
      s.stop();
    }
  });
});
