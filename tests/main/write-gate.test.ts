// Main's gate on apply and undo (src-core/ops/write-gate.ts, shared with browser mode), on the devices of a recorded lsblk output
// (tests/device-list/lsblk): nothing is written without write mode confirmed for the open disk.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLsblk, WriteGate } from '../../src-core/ops/index.js';

const devices = parseLsblk(readFileSync(join(import.meta.dirname, '..', 'device-list', 'lsblk', 'loops-debian12.json'), 'utf8'));
const device = (path: string) => ({ kind: 'device' as const, path });
const image = (path: string) => ({ kind: 'image' as const, path, isSample: false });

describe('WriteGate', () => {
  it('refuses to write when nothing is open', () => {
    const g = new WriteGate();
    expect(g.mayWrite(devices)).toMatchObject({ allow: false, code: 'NOT_OPEN', message: expect.stringMatching(/^No disk is open, so nothing can be written\. Open the disk/) });
    expect(g.confirm(device('/dev/loop0'), devices)).toMatchObject({ allow: false, code: 'NOT_OPEN' });
  });

  it('refuses apply and undo on the open device until write mode is confirmed for it', () => {
    const g = new WriteGate();
    g.opened(device('/dev/loop0'));
    expect(g.mayWrite(devices)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED', message: expect.stringMatching(/^Write mode was not confirmed for \/dev\/loop0\. It is asked for when you apply repairs: tick "Write mode: I confirm…" in Apply/) });
    expect(g.confirm(device('/dev/loop0'), devices)).toEqual({ allow: true, mode: 'write' });
    expect(g.mayWrite(devices)).toEqual({ allow: true, mode: 'write' });
  });

  it('a confirmation is for the open disk only, and stays with that disk', () => {
    const g = new WriteGate();
    g.opened(device('/dev/loop0'));
    expect(g.confirm(device('/dev/loop2p2'), devices)).toMatchObject({ allow: false, code: 'NOT_OPEN', message: expect.stringMatching(/open disk, \/dev\/loop0, not \/dev\/loop2p2/) });
    expect(g.mayWrite(devices)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED' });
    g.confirm(device('/dev/loop0'), devices);
    g.opened(image('/work/disk.img'));
    expect(g.mayWrite(devices)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED', message: expect.stringContaining('/work/disk.img') });
    g.opened(device('/dev/loop0'));
    expect(g.mayWrite(devices)).toEqual({ allow: true, mode: 'write' });
    g.opened(null);
    expect(g.mayWrite(devices)).toMatchObject({ allow: false, code: 'NOT_OPEN' });
  });

  it('a device mounted after the confirmation is refused; so is another disk under the same name', () => {
    const g = new WriteGate();
    g.opened(device('/dev/loop0'));
    g.confirm(device('/dev/loop0'), devices);
    const mounted = devices.map((d) => (d.path === '/dev/loop0' ? { ...d, inUse: '/dev/loop0 is mounted at /mnt', mountpoints: ['/mnt'] } : d));
    expect(g.mayWrite(mounted)).toMatchObject({ allow: false, code: 'IN_USE' });
    const swapped = devices.map((d) => (d.path === '/dev/loop0' ? { ...d, serial: 'another' } : d));
    expect(g.mayWrite(swapped)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED' });
  });

  it('never confirms a mounted device, the sample or a .gz image', () => {
    const g = new WriteGate();
    g.opened(device('/dev/loop1'));
    expect(g.confirm(device('/dev/loop1'), devices)).toMatchObject({ allow: false, code: 'IN_USE' });
    g.opened({ kind: 'image', path: '/app/sample.img.gz', isSample: true });
    expect(g.confirm({ kind: 'image', path: '/app/sample.img.gz', isSample: true }, devices)).toMatchObject({ allow: false, code: 'WORKING_COPY_NEEDED' });
    expect(g.mayWrite(devices)).toMatchObject({ allow: false, code: 'WORKING_COPY_NEEDED' });
  });
});
