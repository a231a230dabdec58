// .img.gz images: decompressed (sparsely) to a temporary file, read-only, removed on close.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type BlockDevice } from '../../src-core/device/index.js';
import { liveGzTempDirs } from '../../src-core/device/gz.js';
import { GZ_FIXTURE, rng, scratchDir } from './helpers.js';

const scratch = scratchDir('gz');
afterAll(() => scratch.cleanup());

describe('gz image (clean-default-64m fixture)', () => {
  let ref: Buffer;
  let dev: BlockDevice;
  let tempPath: string;
  beforeAll(() => {
    expect(existsSync(GZ_FIXTURE), `fixture missing: ${GZ_FIXTURE}`).toBe(true);
    ref = gunzipSync(readFileSync(GZ_FIXTURE));
    dev = openDevice(GZ_FIXTURE);
    const m = /temporary file (\S+) \(read-only/.exec(dev.notes.join('\n'));
    tempPath = m?.[1] ?? '';
  });

  it('reports the .gz path, the decompressed size and a note about the temp file', () => {
    expect(dev.path).toBe(GZ_FIXTURE);
    expect(dev.size).toBe(ref.length);
    expect(dev.size).toBe(64 * 1024 * 1024);
    expect(dev.writable).toBe(false);
    expect(dev.isBlockDevice).toBe(false);
    expect(dev.direct).toBe(true); // the temp file is on a normal filesystem here
    expect(tempPath).not.toBe('');
    expect(existsSync(tempPath)).toBe(true);
  });

  it('the temp file is sparse: all-zero 64 KiB chunks are holes', () => {
    const allocated = statSync(tempPath).blocks * 512;
    expect(allocated).toBeLessThan(ref.length / 2);
    expect(readFileSync(tempPath).equals(ref)).toBe(true);
  });

  it('reads match zlib.gunzipSync byte for byte', () => {
    const r = rng(21);
    for (let i = 0; i < 1000; i++) {
      const off = Math.floor(r() * ref.length);
      const len = Math.min(ref.length - off, 1 + Math.floor(r() * 262_144));
      expect(dev.read(off, len).equals(ref.subarray(off, off + len))).toBe(true);
    }
    expect(dev.read(0, ref.length).equals(ref)).toBe(true);
  });

  it('refuses writes on the open device, and write mode at open', () => {
    expect(() => dev.write(0, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'EREADONLY', message: expect.stringMatching(/\.gz image/) }));
    expect(() => openDevice(GZ_FIXTURE, { write: true })).toThrow(
      expect.objectContaining({ name: 'DeviceError', code: 'EREADONLY', message: expect.stringMatching(/Decompress it first/) }),
    );
  });

  it('close removes the temporary file (idempotently)', () => {
    expect(liveGzTempDirs().length).toBeGreaterThan(0);
    dev.close();
    dev.close();
    expect(existsSync(tempPath)).toBe(false);
    expect(liveGzTempDirs()).toEqual([]);
  });
});

describe('gz edge cases', () => {
  it('an image whose size is not a multiple of 64 KiB, ending in zeros', () => {
    const raw = Buffer.alloc(3 * 65536 + 1000);
    raw.fill(7, 65536, 65536 + 10); // data only in the 2nd chunk; the tail is zeros (a hole + ftruncate)
    const p = join(scratch.dir, 'small.img.gz');
    writeFileSync(p, gzipSync(raw));
    const dev = openDevice(p);
    try {
      expect(dev.size).toBe(raw.length);
      expect(dev.read(0, raw.length).equals(raw)).toBe(true);
    } finally {
      dev.close();
    }
  });

  it('a truncated .gz is a DeviceError EGZIP and leaves no temp file', () => {
    const p = join(scratch.dir, 'trunc.img.gz');
    const gz = readFileSync(GZ_FIXTURE);
    writeFileSync(p, gz.subarray(0, Math.floor(gz.length / 2)));
    expect(() => openDevice(p)).toThrow(expect.objectContaining({ name: 'DeviceError', code: 'EGZIP', message: expect.stringMatching(/corrupt or truncated/) }));
    expect(liveGzTempDirs()).toEqual([]);
  });

  it('a .gz that is not gzip at all is EGZIP', () => {
    const p = join(scratch.dir, 'notgz.img.gz');
    writeFileSync(p, Buffer.alloc(4096, 0x41));
    expect(() => openDevice(p)).toThrow(expect.objectContaining({ code: 'EGZIP' }));
  });

  it('an empty .gz file and a .gz that decompresses to nothing are EMPTY', () => {
    const p1 = join(scratch.dir, 'empty.img.gz');
    writeFileSync(p1, Buffer.alloc(0));
    expect(() => openDevice(p1)).toThrow(expect.objectContaining({ code: 'EMPTY' }));
    const p2 = join(scratch.dir, 'nothing.img.gz');
    writeFileSync(p2, gzipSync(Buffer.alloc(0)));
    expect(() => openDevice(p2)).toThrow(expect.objectContaining({ code: 'EMPTY' }));
    expect(liveGzTempDirs()).toEqual([]);
  });

  it('a missing .gz is ENOENT', () => {
    expect(() => openDevice(join(scratch.dir, 'missing.img.gz'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
