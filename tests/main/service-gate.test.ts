// ServiceGate (src-core/ops/write-gate.ts): what Electron's main and browser mode's server both do with each
// call before the service sees it, on image files and the devices of a recorded lsblk output.
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLsblk, ServiceGate, type Admission } from '../../src-core/ops/index.js';

const list = { devices: parseLsblk(readFileSync(join(import.meta.dirname, '..', 'device-list', 'lsblk', 'loops-debian12.json'), 'utf8')), notes: [] };
const dir = mkdtempSync(join(tmpdir(), 'service-gate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const img = join(dir, 'disk.img');
writeFileSync(img, '');
const sample = join(dir, 'sample.img');
writeFileSync(sample, '');

/** admits `method`, and says the service answered it (`ok`) */
function call(g: ServiceGate, method: string, params: unknown, ok = true): Admission {
  const a = g.admit(method, params);
  if ('answered' in a) a.answered(ok);
  return a;
}

describe('ServiceGate', () => {
  it('answers devices from its own list', () => {
    let asked = 0;
    const g = new ServiceGate(null, () => (asked++, list));
    expect(g.admit('devices', {})).toEqual({ answer: list });
    expect(asked).toBe(1);
  });

  it('forwards apply and undo only after write.confirm for the disk that opened', () => {
    const g = new ServiceGate(null, () => list);
    expect(call(g, 'apply', { journal: `${img}.j`, fixes: [] })).toMatchObject({ error: { code: 'NOT_OPEN' } });
    expect(call(g, 'open', { path: img })).toMatchObject({ forward: { path: img } });
    expect(call(g, 'undo', { journal: `${img}.j`, all: true })).toMatchObject({ error: { code: 'NOT_CONFIRMED', message: expect.stringContaining(img) } });
    expect(call(g, 'write.confirm', { path: join(dir, 'other.img'), journal: `${img}.j` })).toMatchObject({ error: { code: 'NOT_OPEN' } });
    expect(call(g, 'write.confirm', { path: img, journal: `${img}.j` })).toHaveProperty('forward');
    expect(call(g, 'apply', { journal: `${img}.j`, fixes: [] })).toHaveProperty('forward');
    expect(call(g, 'undo', { journal: `${img}.j`, all: true })).toHaveProperty('forward');
  });

  it('a confirmation names the file, not the link it was reached by; the sample is never written', () => {
    const g = new ServiceGate(sample, () => list);
    const link = join(dir, 'link.img');
    symlinkSync(img, link);
    call(g, 'open', { path: link });
    expect(call(g, 'write.confirm', { path: img, journal: `${img}.j` })).toHaveProperty('forward');
    call(g, 'open', { path: sample });
    expect(call(g, 'write.confirm', { path: sample, journal: `${sample}.j` })).toMatchObject({ error: { code: 'WORKING_COPY_NEEDED' } });
  });

  it('a failed open, a close or a closed session leave nothing to write', () => {
    const g = new ServiceGate(null, () => list);
    call(g, 'open', { path: img });
    call(g, 'write.confirm', { path: img, journal: `${img}.j` });
    call(g, 'open', { path: join(dir, 'missing.img') }, false);
    expect(call(g, 'apply', { journal: `${img}.j`, fixes: [] })).toMatchObject({ error: { code: 'NOT_OPEN' } });
    call(g, 'open', { path: img });
    expect(call(g, 'apply', { journal: `${img}.j`, fixes: [] }), 'the confirmation stays with the disk').toHaveProperty('forward');
    call(g, 'close', {});
    expect(call(g, 'apply', { journal: `${img}.j`, fixes: [] })).toMatchObject({ error: { code: 'NOT_OPEN' } });
    call(g, 'open', { path: img });
    g.closed();
    expect(call(g, 'undo', { journal: `${img}.j`, all: true })).toMatchObject({ error: { code: 'NOT_OPEN' } });
  });
});
