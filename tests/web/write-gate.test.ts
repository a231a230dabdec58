// Browser mode's write gate (the same ServiceGate as Electron's main process, src-core/ops/write-gate.ts):
// a request straight to /api/rpc cannot write. apply and undo are refused until write.confirm names the open
// disk; a confirmation for another path is refused; after it they reach the service and write. Runs the
// real server and service child (npm run build && npm run build:app) on a copy of the stale-b2 fixture.
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, TOKEN_HEADER, type RunningServer } from '../../src-web/server.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { copyImage, removeImages, sha256File } from '../repair/core-helpers.js';

const TOKEN = 'write-gate-test-token-0123456789abcdef';
let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({
    port: 0, token: TOKEN, log: () => undefined,
    staticDir: join(PROJECT_ROOT, 'dist', 'renderer'), childEntry: join(PROJECT_ROOT, 'dist', 'src-core', 'service', 'child.js'),
  });
});
afterAll(async () => {
  await srv.close();
  removeImages();
});

async function rpc(method: string, params: unknown = {}): Promise<{ result?: any; error?: { code: string; message: string } }> {
  const r = await fetch(`http://127.0.0.1:${srv.port}/api/rpc`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: TOKEN }, body: JSON.stringify({ id: 7, method, params }),
  });
  expect(r.status).toBe(200);
  return (await r.json()) as { result?: any; error?: { code: string; message: string } };
}

describe('browser mode refuses to write without write mode confirmed for the open disk', () => {
  it('nothing open: apply and undo are refused, and the message says to open the disk first', async () => {
    await rpc('close');
    const img = copyImage('stale-b2');
    const journal = join(resolve(img, '..'), 'j.db');
    expect(await rpc('apply', { journal, fixes: ['gens:0:115'] })).toMatchObject({ error: { code: 'NOT_OPEN', message: expect.stringMatching(/^No disk is open, so nothing can be written\. Open the disk to repair/) } });
    expect(await rpc('undo', { journal, all: true })).toMatchObject({ error: { code: 'NOT_OPEN' } });
    expect(await rpc('write.confirm', { path: img, journal })).toMatchObject({ error: { code: 'NOT_OPEN' } });
  });

  it('apply and undo before write.confirm are refused; write.confirm for another path is refused; after it they write', { timeout: 120_000 }, async () => {
    const img = copyImage('stale-b2');
    const other = copyImage('stale-b2');
    const damaged = sha256File(img);
    const journal = join(resolve(img, '..'), 'j.db');
    expect((await rpc('open', { path: img })).result.path).toBe(img);

    const apply = await rpc('apply', { journal, fixes: ['gens:0:115'] });
    expect(apply).toMatchObject({ error: { code: 'NOT_CONFIRMED', message: expect.stringMatching(new RegExp(`^Write mode was not confirmed for ${img}\\. .*tick "Write mode: I confirm…" in Apply`)) } });
    expect(await rpc('undo', { journal, all: true })).toMatchObject({ error: { code: 'NOT_CONFIRMED' } });
    expect(sha256File(img), 'a refused apply writes nothing').toBe(damaged);

    const wrong = await rpc('write.confirm', { path: other, journal });
    expect(wrong).toMatchObject({ error: { code: 'NOT_OPEN', message: `Write mode can only be confirmed for the open disk, ${img}, not ${other}. Open the disk to repair first.` } });
    expect(await rpc('apply', { journal, fixes: ['gens:0:115'] }), 'a refused confirmation confirms nothing').toMatchObject({ error: { code: 'NOT_CONFIRMED' } });

    expect(await rpc('write.confirm', { path: img, journal })).toEqual({ id: 7, result: { path: img, journal } });
    const applied = await rpc('apply', { journal, fixes: ['gens:0:115'] });
    expect(applied.error).toBeUndefined();
    expect(applied.result).toMatchObject({ cancelled: false, applied: [{ id: 'gens:0:115', fix: 1 }], after: [] });
    expect(sha256File(img)).not.toBe(damaged);
    const undone = await rpc('undo', { journal, all: true });
    expect(undone.error).toBeUndefined();
    expect(sha256File(img), 'undo brings the damaged bytes back').toBe(damaged);

    // the confirmation is for that disk: opening another one asks again
    expect((await rpc('open', { path: other })).result.path).toBe(other);
    expect(await rpc('apply', { journal: join(resolve(other, '..'), 'j.db'), fixes: ['gens:0:115'] })).toMatchObject({ error: { code: 'NOT_CONFIRMED', message: expect.stringContaining(other) } });
    await rpc('close');
  });

  it('the bundled sample is never confirmed for writing: a working copy is repaired instead', async () => {
    const sample = join(PROJECT_ROOT, 'assets', 'sample.img.gz');
    expect((await rpc('open', { path: sample })).error).toBeUndefined();
    expect(await rpc('write.confirm', { path: sample, journal: '/tmp/never.db' })).toMatchObject({ error: { code: 'WORKING_COPY_NEEDED', message: expect.stringMatching(/Make a working copy and repair that\./) } });
    await rpc('close');
  });
});
