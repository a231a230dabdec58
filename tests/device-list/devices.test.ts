// The device list: lsblk's JSON as recorded on a Debian 12 machine with real loop devices (see README.md),
// and the bcachefs probe on real images.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasBcachefsMagic, listDevices, parseLsblk, LSBLK_COLUMNS } from '../../src-core/ops/index.js';
import { fixturePath } from '../helpers/fixtures.js';

const recorded = (f: string): string => readFileSync(join(import.meta.dirname, 'lsblk', f), 'utf8');

describe('parseLsblk on recorded outputs', () => {
  const devs = parseLsblk(recorded('loops-debian12.json'));
  const byPath = new Map(devs.map((d) => [d.path, d]));

  it('lists every disk and partition once, each disk followed by its partitions', () => {
    expect(devs.map((d) => d.path)).toEqual(['/dev/loop0', '/dev/loop1', '/dev/loop2', '/dev/loop2p1', '/dev/loop2p2', '/dev/zram0', '/dev/vda']);
    expect(byPath.get('/dev/loop2p1')).toMatchObject({ type: 'part', parent: '/dev/loop2', size: 16 * 1048576 });
    expect(byPath.get('/dev/loop2p2')).toMatchObject({ type: 'part', parent: '/dev/loop2', size: 96256 * 512 });
    expect(byPath.get('/dev/loop0')).toMatchObject({ type: 'loop', parent: null, size: 64 * 1048576, readOnly: false, removable: false });
    expect(byPath.get('/dev/vda')).toMatchObject({ type: 'disk', size: 274877906944, vendor: '0x1af4', model: null, serial: null });
  });

  it('marks mounted devices, and disks whose partitions are mounted, as in use', () => {
    expect(byPath.get('/dev/loop1')).toMatchObject({ mountpoints: ['/tmp/uishell-lsblk/mnt'], inUse: '/dev/loop1 is mounted at /tmp/uishell-lsblk/mnt' });
    expect(byPath.get('/dev/loop2p1')!.inUse).toBe('/dev/loop2p1 is mounted at /tmp/uishell-lsblk/mnt2');
    expect(byPath.get('/dev/loop2')).toMatchObject({ mountpoints: [], inUse: '/dev/loop2p1 is mounted at /tmp/uishell-lsblk/mnt2' });
    expect(byPath.get('/dev/vda')!.inUse).toBe('/dev/vda is mounted at /');
    for (const p of ['/dev/loop0', '/dev/loop2p2', '/dev/zram0']) expect(byPath.get(p)).toMatchObject({ mountpoints: [], inUse: null });
  });

  it('gives the same devices for one disk asked for alone', () => {
    const one = parseLsblk(recorded('one-partitioned.json'));
    expect(one).toEqual([byPath.get('/dev/loop2'), byPath.get('/dev/loop2p1'), byPath.get('/dev/loop2p2')]);
  });

  it('reads swap, older lsblk (MOUNTPOINT, "0"/"1" flags, sizes as text) and holders built on a partition', () => {
    const old = JSON.stringify({
      blockdevices: [{
        name: 'sda', size: '500107862016', type: 'disk', ro: '0', rm: '1', model: 'Samsung SSD 860 ', serial: 'S3Z9NB0K123', mountpoint: null,
        children: [
          { name: 'sda1', size: '536870912', type: 'part', ro: '0', rm: '1', fstype: 'swap', mountpoint: '[SWAP]' },
          { name: 'sda2', size: '1000', type: 'part', ro: '1', rm: '1', mountpoint: null, children: [{ name: 'cryptroot', type: 'crypt', size: '900', mountpoint: '/home' }] },
        ],
      }],
    });
    const d = parseLsblk(old);
    expect(d.map((x) => [x.path, x.size, x.readOnly, x.removable])).toEqual([
      ['/dev/sda', 500107862016, false, true], ['/dev/sda1', 536870912, false, true], ['/dev/sda2', 1000, true, true], ['/dev/cryptroot', 900, false, false],
    ]);
    expect(d[0]).toMatchObject({ model: 'Samsung SSD 860', serial: 'S3Z9NB0K123', inUse: '/dev/sda1 is in use as swap; /dev/cryptroot is mounted at /home' });
    expect(d[2]!.inUse).toBe('/dev/cryptroot is mounted at /home');
  });

  it('refuses text that is not lsblk JSON', () => {
    expect(() => parseLsblk('{"nodes": []}')).toThrow(/blockdevices/);
    expect(() => parseLsblk('lsblk: unknown column')).toThrow();
  });
});

describe('bcachefs probe and the live list', () => {
  it('finds the bcachefs magic on a real image and not on other data', () => {
    expect(hasBcachefsMagic(fixturePath('clean-32k-depth2'))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'devlist-'));
    try {
      writeFileSync(join(dir, 'zero.img'), Buffer.alloc(1 << 20));
      expect(hasBcachefsMagic(join(dir, 'zero.img'))).toBe(false);
      writeFileSync(join(dir, 'tiny.img'), Buffer.alloc(4096));
      expect(hasBcachefsMagic(join(dir, 'tiny.img'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what to do when lsblk is missing', () => {
    const r = listDevices({ lsblk: '/nonexistent/lsblk' });
    expect(r.devices).toEqual([]);
    expect(r.notes[0]).toMatch(/lsblk is not installed .*Type the device's path/);
  });

  it('lists this machine as lsblk does, and every device it calls bcachefs has the magic', () => {
    const direct = parseLsblk(execFileSync('lsblk', ['--json', '--bytes', '--output', LSBLK_COLUMNS], { encoding: 'utf8' }));
    const r = listDevices();
    expect(r.devices.map((d) => d.path)).toEqual(direct.map((d) => d.path));
    for (const d of r.devices.filter((x) => x.fstype === 'bcachefs')) expect(hasBcachefsMagic(d.path)).toBe(true);
  });
});
