// O_DIRECT reads (through our addon) of real random data, compared byte for byte with fs.readFileSync.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceError, openDevice, type BlockReader } from '../../src-core/device/index.js';
import { loadAddon } from '../../src-core/device/native.js';
import { openDeviceForWrite } from '../../src-core/device/write.js';
import { randomFile, rng, scratchDir } from './helpers.js';

const scratch = scratchDir('read');
afterAll(() => scratch.cleanup());

function checkRandomReads(dev: BlockReader, ref: Buffer, seed: number, count: number, maxLen: number): void {
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const off = Math.floor(r() * ref.length);
    const len = Math.min(ref.length - off, 1 + Math.floor(r() * maxLen));
    const got = dev.read(off, len);
    if (!got.equals(ref.subarray(off, off + len))) {
      throw new Error(`mismatch at offset ${off} length ${len}`);
    }
  }
}

describe('O_DIRECT reads of a regular file', () => {
  let path: string;
  let ref: Buffer;
  let dev: BlockReader;
  beforeAll(() => {
    path = join(scratch.dir, 'aligned.img');
    ref = randomFile(path, 16 * 1024 * 1024);
    dev = openDevice(path);
  });
  afterAll(() => dev.close());

  it('loads the addon and opens with O_DIRECT', () => {
    const st = loadAddon();
    expect(st.reason).toBeNull();
    expect(st.addon).not.toBeNull();
    expect(dev.direct).toBe(true);
    expect('write' in dev).toBe(false);
    expect(dev.isBlockDevice).toBe(false);
    expect(dev.size).toBe(ref.length);
    expect(dev.logicalBlockSize).toBe(4096);
    expect(dev.notes).toEqual([]);
    expect(dev.path).toBe(path);
    expect([dev.serial, dev.wwn]).toEqual([null, null]);
  });

  it('matches readFileSync at unaligned offsets and lengths', () => {
    expect(readFileSync(path).equals(ref)).toBe(true);
    checkRandomReads(dev, ref, 1, 1500, 300_000);
    checkRandomReads(dev, ref, 2, 1500, 5000); // many small, within one block or straddling two
  });

  it('reads edge cases: first/last bytes, exact blocks, zero length, whole file', () => {
    expect(dev.read(0, 1).equals(ref.subarray(0, 1))).toBe(true);
    expect(dev.read(ref.length - 1, 1).equals(ref.subarray(ref.length - 1))).toBe(true);
    expect(dev.read(4095, 2).equals(ref.subarray(4095, 4097))).toBe(true);
    expect(dev.read(8192, 131072).equals(ref.subarray(8192, 8192 + 131072))).toBe(true);
    expect(dev.read(100, 0).length).toBe(0);
    expect(dev.read(ref.length, 0).length).toBe(0);
    // whole file: larger than the addon's 8 MiB bounce cap, so it is read in chunks
    expect(dev.read(0, ref.length).equals(ref)).toBe(true);
    expect(dev.read(3, ref.length - 5).equals(ref.subarray(3, ref.length - 2))).toBe(true);
  });

  it('reuses its aligned bounce buffer for btree-node-sized reads', () => {
    const addon = loadAddon().addon!;
    dev.read(0, 256 * 1024);
    const before = addon.bounceSize();
    for (let i = 0; i < 200; i++) dev.read((i * 70001) % (ref.length - 300_000), 32 * 1024 + (i % 7) * 32 * 1024);
    expect(addon.bounceSize()).toBe(before);
    expect(before).toBeLessThanOrEqual(addon.maxChunk);
  });

  it('refuses reads past the end with DeviceError EOF, and bad arguments', () => {
    expect(() => dev.read(ref.length - 10, 11)).toThrow(expect.objectContaining({ name: 'DeviceError', code: 'EOF' }));
    expect(() => dev.read(ref.length + 4096, 1)).toThrow(expect.objectContaining({ code: 'EOF' }));
    expect(() => dev.read(-1, 1)).toThrow(expect.objectContaining({ code: 'EINVALARG' }));
    expect(() => dev.read(1.5, 1)).toThrow(expect.objectContaining({ code: 'EINVALARG' }));
  });
});

describe('O_DIRECT reads of a file whose size is not a multiple of 4096', () => {
  it('reads the tail exactly and stops at the end', () => {
    const path = join(scratch.dir, 'odd.img');
    const ref = randomFile(path, 1_000_003);
    const dev = openDevice(path);
    try {
      expect(dev.direct).toBe(true);
      expect(dev.size).toBe(1_000_003);
      checkRandomReads(dev, ref, 3, 500, 100_000);
      expect(dev.read(ref.length - 7, 7).equals(ref.subarray(ref.length - 7))).toBe(true);
      expect(dev.read(0, ref.length).equals(ref)).toBe(true);
      expect(() => dev.read(ref.length - 7, 8)).toThrow(expect.objectContaining({ code: 'EOF' }));
    } finally {
      dev.close();
    }
  });
});

describe('block device identity', () => {
  it("a disk's serial number comes from sysfs (read-only open of the first disk that has one)", (ctx) => {
    const disk = readdirSync('/sys/class/block').find((n) => {
      try {
        return readFileSync(`/sys/class/block/${n}/serial`, 'utf8').trim() !== '' && existsSync(`/dev/${n}`);
      } catch {
        return false;
      }
    });
    if (!disk) return ctx.skip('no block device with a serial number in /sys/class/block on this machine');
    let dev: BlockReader;
    try {
      dev = openDevice(`/dev/${disk}`);
    } catch (e) {
      if (e instanceof DeviceError && (e.code === 'EPERM' || e.code === 'EACCES')) return ctx.skip(`/dev/${disk} has a serial number but may not be opened here (${e.code})`);
      throw e;
    }
    try {
      expect(dev.isBlockDevice).toBe(true);
      expect(dev.serial).toBe(readFileSync(`/sys/class/block/${disk}/serial`, 'utf8').trim());
    } finally {
      dev.close();
    }
  });
});

describe('close', () => {
  it('is idempotent and later use throws ECLOSED', () => {
    const path = join(scratch.dir, 'close.img');
    randomFile(path, 65536);
    const dev = openDevice(path);
    dev.close();
    dev.close();
    expect(() => dev.read(0, 1)).toThrow(expect.objectContaining({ code: 'ECLOSED' }));
    const w = openDeviceForWrite(path);
    w.close();
    expect(() => w.write(0, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ECLOSED' }));
    expect(() => w.sync()).toThrow(expect.objectContaining({ code: 'ECLOSED' }));
  });
});
