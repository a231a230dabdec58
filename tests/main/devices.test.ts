// The main process's decision of which device may be opened, and how (src-core/ops/write-gate.ts), on the
// devices of a recorded lsblk output (tests/device-list/lsblk).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideOpen, parseLsblk, WriteConsent } from '../../src-core/ops/index.js';

const devices = parseLsblk(readFileSync(join(import.meta.dirname, '..', 'device-list', 'lsblk', 'loops-debian12.json'), 'utf8'));
const dev = (path: string) => devices.find((d) => d.path === path)!;
const device = (path: string) => ({ kind: 'device' as const, path });

describe('decideOpen', () => {
  it('reads any listed device, mounted or not', () => {
    const none = new WriteConsent();
    for (const p of ['/dev/loop0', '/dev/loop1', '/dev/loop2', '/dev/loop2p1', '/dev/vda']) {
      expect(decideOpen(device(p), 'read', devices, none)).toEqual({ allow: true, mode: 'read' });
    }
  });

  it('refuses a device that is not in its list, and says where to refresh it', () => {
    const d = decideOpen(device('/dev/sdz'), 'read', devices, new WriteConsent());
    expect(d).toMatchObject({ allow: false, code: 'NOT_LISTED', message: expect.stringMatching(/^\/dev\/sdz is not in the device list\. Press "Refresh" in the device list/) });
  });

  it('writes only after the technician confirmed write mode for that device', () => {
    const consent = new WriteConsent();
    expect(decideOpen(device('/dev/loop0'), 'write', devices, consent)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED' });
    consent.confirmDevice(dev('/dev/loop2p2'));
    expect(decideOpen(device('/dev/loop0'), 'write', devices, consent)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED' });
    consent.confirmDevice(dev('/dev/loop0'));
    expect(decideOpen(device('/dev/loop0'), 'write', devices, consent)).toEqual({ allow: true, mode: 'write' });
    // another disk plugged in under the same name (other size or serial) is not the one confirmed
    const swapped = devices.map((d) => (d.path === '/dev/loop0' ? { ...d, size: d.size * 2 } : d));
    expect(decideOpen(device('/dev/loop0'), 'write', swapped, consent)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED' });
    consent.revokeAll();
    expect(decideOpen(device('/dev/loop0'), 'write', devices, consent)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED' });
  });

  it('never writes a mounted device, nor a disk whose partition is mounted, even when confirmed', () => {
    const consent = new WriteConsent();
    for (const p of ['/dev/loop1', '/dev/loop2', '/dev/loop2p1', '/dev/vda']) consent.confirmDevice(dev(p));
    expect(decideOpen(device('/dev/loop1'), 'write', devices, consent)).toMatchObject({ allow: false, code: 'IN_USE', message: expect.stringMatching(/\/dev\/loop1 is mounted at \/tmp\/uishell-lsblk\/mnt\. Unmount it first/) });
    expect(decideOpen(device('/dev/loop2'), 'write', devices, consent)).toMatchObject({ allow: false, code: 'IN_USE', message: expect.stringMatching(/\/dev\/loop2p1 is mounted/) });
    expect(decideOpen(device('/dev/vda'), 'write', devices, consent)).toMatchObject({ allow: false, code: 'IN_USE' });
  });

  it('never writes a device the kernel marks read-only', () => {
    const consent = new WriteConsent();
    const ro = devices.map((d) => (d.path === '/dev/loop0' ? { ...d, readOnly: true } : d));
    consent.confirmDevice(ro.find((d) => d.path === '/dev/loop0')!);
    expect(decideOpen(device('/dev/loop0'), 'write', ro, consent)).toMatchObject({ allow: false, code: 'READ_ONLY_DEVICE' });
  });

  it('images: read freely; write after confirmation; the sample and .gz images never (working copy)', () => {
    const consent = new WriteConsent();
    const img = { kind: 'image' as const, path: '/work/disk.img', isSample: false };
    expect(decideOpen(img, 'read', devices, consent)).toEqual({ allow: true, mode: 'read' });
    expect(decideOpen(img, 'write', devices, consent)).toMatchObject({ allow: false, code: 'NOT_CONFIRMED' });
    consent.confirmImage('/work/disk.img');
    expect(decideOpen(img, 'write', devices, consent)).toEqual({ allow: true, mode: 'write' });
    consent.confirmImage('/work/a.img.gz');
    expect(decideOpen({ kind: 'image', path: '/work/a.img.gz', isSample: false }, 'write', devices, consent)).toMatchObject({ allow: false, code: 'WORKING_COPY_NEEDED', message: expect.stringMatching(/compressed\. Make a working copy/) });
    consent.confirmImage('/app/sample.img');
    expect(decideOpen({ kind: 'image', path: '/app/sample.img', isSample: true }, 'write', devices, consent)).toMatchObject({ allow: false, code: 'WORKING_COPY_NEEDED', message: expect.stringMatching(/bundled sample/) });
  });
});
