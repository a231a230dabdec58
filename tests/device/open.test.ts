// openFilesystem (src-core/open.ts): read-only, and its OpenError carries the device's errno code.
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OpenError, openFilesystem } from '../../src-core/open.js';
import { GZ_FIXTURE, randomFile, scratchDir } from './helpers.js';

const scratch = scratchDir('open');
afterAll(() => scratch.cleanup());

function openFails(path: string): OpenError {
  try {
    openFilesystem(path).close();
  } catch (e) {
    expect(e).toBeInstanceOf(OpenError);
    return e as OpenError;
  }
  throw new Error(`openFilesystem(${path}) did not fail`);
}

describe('openFilesystem', () => {
  it('passes the device error code on: ENOENT, EISDIR', () => {
    const e = openFails(join(scratch.dir, 'missing.img'));
    expect(e.code).toBe('ENOENT');
    expect(e.message).toMatch(/no such file or device.*Check the path/);
    expect(openFails(scratch.dir).code).toBe('EISDIR');
  });

  it('EBADFS, with what to check, for a file that is not bcachefs', () => {
    const p = join(scratch.dir, 'random.img');
    randomFile(p, 1024 * 1024);
    const e = openFails(p);
    expect(e.code).toBe('EBADFS');
    expect(e.message).toMatch(/no valid bcachefs superblock.*Check that this is the right disk or image/);
  });

  it('opens read-only: the device has no write, and the image it opened is byte-identical afterwards', () => {
    // an unpacked image (a .gz is decompressed to a temp file, so hashing the .gz would prove nothing)
    const img = join(scratch.dir, 'clean.img');
    writeFileSync(img, gunzipSync(readFileSync(GZ_FIXTURE)));
    const hash = () => createHash('sha256').update(readFileSync(img)).digest('hex');
    const before = hash();
    const o = openFilesystem(img);
    try {
      expect(o.dev.path).toBe(img);
      expect('write' in o.dev).toBe(false);
      expect(o.fs.sb.uuid).toBeDefined();
    } finally {
      o.close();
    }
    expect(hash()).toBe(before);
  });
});
