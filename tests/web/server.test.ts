// Browser mode's access token: every request needs this run's token (query on the first load, then the
// cookie it sets, or a header), and anything else gets 401 before any other check. Runs the real server and
// service child (npm run build && npm run build:app).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tokenCookie, TOKEN_HEADER, type RunningServer } from '../../src-web/server.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const SAMPLE = join(PROJECT_ROOT, 'assets', 'sample.img.gz');
const TOKEN = 'k2Jx8-test-token-of-some-length_0123456789';
let srv: RunningServer;
let base: string;

beforeAll(async () => {
  srv = await startServer({
    port: 0, token: TOKEN, log: () => undefined,
    staticDir: join(PROJECT_ROOT, 'dist', 'renderer'), childEntry: join(PROJECT_ROOT, 'dist', 'src-core', 'service', 'child.js'),
  });
  base = `http://127.0.0.1:${srv.port}`;
});
afterAll(() => srv.close());

const rpc = (method: string, params: unknown, headers: Record<string, string> = { [TOKEN_HEADER]: TOKEN }): Promise<Response> =>
  fetch(`${base}/api/rpc`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ id: 1, method, params }) });

async function result(method: string, params: unknown = {}): Promise<any> {
  const body = (await (await rpc(method, params)).json()) as { result?: unknown; error?: unknown };
  if (body.error) throw new Error(JSON.stringify(body.error));
  return body.result;
}

describe('the token', () => {
  it('prints an address on 127.0.0.1 with the token', () => {
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/?token=${TOKEN}`);
  });

  it('refuses every request without it or with another one, with 401, before any other check', async () => {
    const wrong = [undefined, 'nope', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()];
    for (const t of wrong) {
      const h: Record<string, string> = t === undefined ? {} : { [TOKEN_HEADER]: t };
      for (const path of ['/', '/index.html', '/api/events', '/does-not-exist', '/../../etc/passwd']) {
        expect((await fetch(`${base}${path}`, { headers: h })).status, `${path} with ${t}`).toBe(401);
      }
      expect((await rpc('hello', {}, h)).status).toBe(401);
      // a wrong method, a foreign Origin: still 401 first
      expect((await fetch(`${base}/api/rpc`, { method: 'DELETE', headers: { ...h, Origin: 'http://evil.example' } })).status).toBe(401);
      if (t !== undefined) {
        expect((await fetch(`${base}/?token=${encodeURIComponent(t)}`)).status).toBe(401);
        expect((await fetch(`${base}/`, { headers: { Cookie: `${tokenCookie(srv.port)}=${t}` } })).status).toBe(401);
      }
    }
    // the right token in another port's cookie is not this server's
    expect((await fetch(`${base}/`, { headers: { Cookie: `${tokenCookie(srv.port + 1)}=${TOKEN}` } })).status).toBe(401);
    const r = await fetch(`${base}/`);
    expect(await r.text()).toMatch(/open the whole address it printed/);
  });

  it('the first load with ?token= sets the cookie and drops the token from the address; the cookie then carries it (reload)', async () => {
    const first = await fetch(`${base}/?token=${TOKEN}`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/');
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^${tokenCookie(srv.port)}=${TOKEN}; Path=/; HttpOnly; SameSite=Strict$`));
    const Cookie = cookie.split(';')[0]!;
    const page = await fetch(`${base}/`, { headers: { Cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app">');
    expect((await fetch(`${base}/`, { headers: { Cookie } })).status).toBe(200);
    const hello = await rpc('hello', {}, { Cookie });
    expect(hello.status).toBe(200);
    expect(((await hello.json()) as { result: { sampleImage: string } }).result.sampleImage).toBe(SAMPLE);
  });

  it('with the token, the other checks still apply (Host, Origin)', async () => {
    expect((await fetch(`${base}/`, { headers: { [TOKEN_HEADER]: TOKEN, Origin: 'http://evil.example' } })).status).toBe(403);
    expect((await rpc('hello', {}, { [TOKEN_HEADER]: TOKEN, Origin: base })).status).toBe(200);
  });

  it('node dist/src-web/server.js prints the address to open, and it works', async () => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'src-web', 'server.js'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const url = await new Promise<string>((res, rej) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /running at (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43})\n/.exec(out);
          if (m) res(m[1]!);
        });
        child.once('exit', () => rej(new Error(`server exited: ${out}`)));
      });
      const u = new URL(url);
      expect((await fetch(`${u.origin}/`)).status).toBe(401);
      const r = await fetch(url, { redirect: 'manual' });
      expect(r.status).toBe(303);
      expect((await fetch(`${u.origin}/`, { headers: { Cookie: r.headers.get('set-cookie')!.split(';')[0]! } })).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('service methods for the open step (through browser mode)', () => {
  it('devices: the machine\'s block devices', async () => {
    const r = await result('devices');
    expect(Array.isArray(r.devices)).toBe(true);
    for (const d of r.devices) expect(d.path).toMatch(/^\/dev\//);
  });

  it('complete: entries of the folder typed, starting with what was typed; folders end in /', async () => {
    const r = await result('complete', { path: join(PROJECT_ROOT, 'assets', 'sam') });
    expect(r.folder).toBe(join(PROJECT_ROOT, 'assets'));
    expect(r.entries.map((e: { name: string }) => e.name)).toEqual(['sample.img.gz', 'sample.injections.json']);
    expect(r.entries[0]).toMatchObject({ kind: 'file', path: SAMPLE, size: readFileSync(SAMPLE).length });
    const up = await result('complete', { path: join(PROJECT_ROOT, 'assets', '..', 'ass') });
    expect(up.entries).toContainEqual(expect.objectContaining({ name: 'assets', kind: 'folder', path: `${join(PROJECT_ROOT, 'assets')}/` }));
    const missing = await (await rpc('complete', { path: '/nonexistent-dir/x' })).json();
    expect(missing).toMatchObject({ error: { code: 'ENOENT', message: expect.stringMatching(/nonexistent-dir does not exist/) } });
    const bad = await (await rpc('complete', { path: 3 })).json();
    expect(bad).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  it('working copy of the sample: proposed in a folder, made unpacked there, never overwriting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wcopy-'));
    try {
      const p = await result('workingCopy.propose', { path: SAMPLE });
      expect(p).toMatchObject({ source: SAMPLE, fileName: 'sample.img', size: null, reason: expect.stringMatching(/bundled sample stays as it was shipped/) });
      expect(p.folder).toMatch(/bcachefs-repair\/working-copies$/);
      const here = await result('workingCopy.propose', { path: SAMPLE, folder: dir });
      expect(here).toMatchObject({ folder: dir, fileName: 'sample.img' });
      const c = await result('workingCopy.make', { path: SAMPLE, folder: join(dir, 'new') });
      const unpacked = gunzipSync(readFileSync(SAMPLE));
      expect(c).toEqual({ source: SAMPLE, path: join(dir, 'new', 'sample.img'), size: unpacked.length });
      expect(readFileSync(c.path).equals(unpacked)).toBe(true);
      const again = await result('workingCopy.make', { path: SAMPLE, folder: join(dir, 'new') });
      expect(again.path).toBe(join(dir, 'new', 'sample-2.img'));
      expect((await result('workingCopy.propose', { path: c.path })).reason).toMatch(/original image stays as it is/);
      // the copy opens as the same filesystem
      const opened = await result('open', { path: c.path });
      expect(opened.summary.externalUuid).toBe((await result('open', { path: SAMPLE })).summary.externalUuid);
      const relative = await (await rpc('workingCopy.make', { path: SAMPLE, folder: 'copies' })).json();
      expect(relative).toMatchObject({ error: { code: 'BAD_REQUEST', message: expect.stringMatching(/absolute path/) } });
      const notGz = join(dir, 'broken.img.gz');
      const w = await import('node:fs');
      w.writeFileSync(notGz, 'not gzip');
      const broken = await (await rpc('workingCopy.make', { path: notGz, folder: join(dir, 'b') })).json();
      expect(broken).toMatchObject({ error: { code: 'EGZIP', message: expect.stringMatching(/not a valid \.gz file/) } });
      expect(w.readdirSync(join(dir, 'b'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
