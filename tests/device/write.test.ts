// Write mode round trip on a temporary copy (O_DIRECT with read-modify-write of partial blocks).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDevice } from '../../src-core/device/index.js';
import { openDeviceForWrite } from '../../src-core/device/write.js';
import { randomFile, rng, scratchDir } from './helpers.js';
import { randomBytes } from 'node:crypto';

const scratch = scratchDir('write');
afterAll(() => scratch.cleanup());

function roundTrip(size: number, seed: number): void {
  const path = join(scratch.dir, `rw-${size}.img`);
  const mirror = Buffer.from(randomFile(path, size));
  const dev = openDeviceForWrite(path);
  try {
    expect(dev.direct).toBe(true);
    const r = rng(seed);
    const writes: Array<[number, number]> = [
      [0, 1],
      [4095, 2],
      [4096, 4096],
      [size - 1, 1],
      [size - 5000, 5000],
      [123, 9 * 1024 * 1024 < size - 123 ? 9 * 1024 * 1024 : size - 123], // > 8 MiB: chunked
    ];
    for (let i = 0; i < 300; i++) {
      const off = Math.floor(r() * size);
      writes.push([off, Math.min(size - off, 1 + Math.floor(r() * 70_000))]);
    }
    for (const [off, len] of writes) {
      const data = randomBytes(len);
      dev.write(off, data);
      data.copy(mirror, off);
      // read back at once (through the same O_DIRECT path) around the write
      const lo = Math.max(0, off - 100);
      const hi = Math.min(size, off + len + 100);
      expect(dev.read(lo, hi - lo).equals(mirror.subarray(lo, hi))).toBe(true);
    }
    dev.sync();
    expect(dev.size).toBe(size);
  } finally {
    dev.close();
  }
  const onDisk = readFileSync(path);
  expect(onDisk.length).toBe(size); // never extended
  expect(onDisk.equals(mirror)).toBe(true);
}

describe('write mode', () => {
  it('round-trips unaligned writes on an aligned-size file', () => roundTrip(12 * 1024 * 1024, 11));
  it('round-trips unaligned writes on a file whose size is not a multiple of 4096', () => roundTrip(12 * 1024 * 1024 + 777, 12));

  it('accepts a Uint8Array and a zero-length write', () => {
    const path = join(scratch.dir, 'u8.img');
    const ref = randomFile(path, 65536);
    const dev = openDeviceForWrite(path);
    try {
      dev.write(10, new Uint8Array([1, 2, 3]));
      dev.write(20, Buffer.alloc(0));
      dev.sync();
      expect([...dev.read(10, 3)]).toEqual([1, 2, 3]);
      expect(dev.read(13, 100).equals(ref.subarray(13, 113))).toBe(true);
    } finally {
      dev.close();
    }
  });

  it('refuses writes past the end (EOF) and does not extend the file', () => {
    const path = join(scratch.dir, 'eof.img');
    randomFile(path, 8192);
    const dev = openDeviceForWrite(path);
    try {
      expect(() => dev.write(8190, Buffer.alloc(3))).toThrow(expect.objectContaining({ name: 'DeviceError', code: 'EOF' }));
    } finally {
      dev.close();
    }
    expect(readFileSync(path).length).toBe(8192);
  });

  it('a device opened for reading has no write capability, and reading never changes the file', () => {
    const path = join(scratch.dir, 'ro.img');
    const ref = randomFile(path, 65536);
    const dev = openDevice(path);
    try {
      expect('write' in dev).toBe(false);
      expect('sync' in dev).toBe(false);
      expect(dev.read(0, 65536).equals(ref)).toBe(true);
    } finally {
      dev.close();
    }
    expect(readFileSync(path).equals(ref)).toBe(true);
  });
});
