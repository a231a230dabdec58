// Every failure is a DeviceError with a one-line message saying what happened and what to do.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceError, openDevice } from '../../src-core/device/index.js';
import { openDeviceForWrite } from '../../src-core/device/write.js';
import { resetAddonForTests } from '../../src-core/device/native.js';
import { mountRamfs, randomFile, scratchDir, umount } from './helpers.js';

const scratch = scratchDir('errors');
afterAll(() => scratch.cleanup());

function openErr(path: string, opts?: { write?: boolean }): DeviceError {
  try {
    (opts?.write ? openDeviceForWrite(path) : openDevice(path)).close();
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceError);
    const err = e as DeviceError;
    expect(err.message).not.toContain('\n');
    return err;
  }
  throw new Error(`openDevice(${path}) did not fail`);
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('open errors', () => {
  it('missing path: ENOENT', () => {
    const e = openErr(join(scratch.dir, 'missing.img'));
    expect(e.code).toBe('ENOENT');
    expect(e.message).toMatch(/no such file or device.*Check the path/);
    expect(e.path).toBe(join(scratch.dir, 'missing.img'));
  });

  it('a dangling symlink and a path through a file: ENOENT / ENOTDIR', () => {
    const link = join(scratch.dir, 'dangling');
    symlinkSync(join(scratch.dir, 'nothing-here'), link);
    expect(openErr(link).code).toBe('ENOENT');
    const f = join(scratch.dir, 'plain');
    writeFileSync(f, 'x');
    expect(openErr(join(f, 'sub.img')).code).toBe('ENOTDIR');
  });

  it('a directory: EISDIR', () => {
    const d = join(scratch.dir, 'adir');
    mkdirSync(d);
    const e = openErr(d);
    expect(e.code).toBe('EISDIR');
    expect(e.message).toMatch(/directory.*Pick the image file/);
    expect(openErr(d, { write: true }).code).toBe('EISDIR');
  });

  it('a character device: ENOTBLK', () => {
    const e = openErr('/dev/null');
    expect(e.code).toBe('ENOTBLK');
    expect(e.message).toMatch(/character device/);
  });

  it('a zero-length file: EMPTY', () => {
    const p = join(scratch.dir, 'empty.img');
    writeFileSync(p, '');
    const e = openErr(p);
    expect(e.code).toBe('EMPTY');
    expect(e.message).toMatch(/empty \(0 bytes\)/);
    expect(openErr(p, { write: true }).code).toBe('EMPTY');
  });

  it('an empty path: EINVALARG', () => {
    expect(openErr('').code).toBe('EINVALARG');
  });

  it.skipIf(!isRoot)('permission denied (as an unprivileged user): EACCES with advice', () => {
    const p = join(scratch.dir, 'secret.img');
    randomFile(p, 65536);
    chmodSync(p, 0o600);
    process.seteuid!(65534); // nobody; restored below (real uid stays 0)
    let e: DeviceError;
    try {
      e = openErr(p);
    } finally {
      process.seteuid!(0);
    }
    expect(e.code).toBe('EACCES');
    expect(e.message).toMatch(/permission denied \(EACCES\)\. Run as root/);
  });

  it('write access to an immutable file (even for root): EPERM', (ctx) => {
    const p = join(scratch.dir, 'immutable.img');
    randomFile(p, 65536);
    const r = spawnSync('chattr', ['+i', p], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      const why = `chattr +i not possible here: ${r.error?.message ?? r.stderr.trim()}`;
      console.warn(`skipping: ${why}`);
      ctx.skip(why);
    }
    try {
      const e = openErr(p, { write: true });
      expect(e.code).toBe('EPERM');
      expect(e.message).toMatch(/for writing: permission denied/);
      openDevice(p).close(); // read-only still fine
    } finally {
      spawnSync('chattr', ['-i', p]);
    }
  });

  it('write access on a read-only filesystem: EROFS', (ctx) => {
    const mnt = join(scratch.dir, 'rofs');
    mkdirSync(mnt);
    const m = mountRamfs(mnt);
    if (!m.ok) {
      console.warn(`skipping EROFS test: ${m.reason}`);
      ctx.skip(m.reason);
    }
    try {
      const p = join(mnt, 'img');
      randomFile(p, 65536);
      const r = spawnSync('mount', ['-o', 'remount,ro', mnt]);
      if (r.status !== 0) ctx.skip('cannot remount read-only');
      const e = openErr(p, { write: true });
      expect(e.code).toBe('EROFS');
      expect(e.message).toMatch(/read-only filesystem/);
      const dev = openDevice(p);
      expect(dev.read(0, 10).length).toBe(10);
      dev.close();
    } finally {
      umount(mnt);
    }
  });
});

describe('I/O errors on an open device', () => {
  function shrinkUnderFd(tag: string, expectDirect: boolean): void {
    const p = join(scratch.dir, `shrink-${tag}.img`);
    const ref = randomFile(p, 1024 * 1024);
    const dev = openDevice(p);
    try {
      expect(dev.direct).toBe(expectDirect);
      truncateSync(p, 300_000);
      expect(dev.read(1000, 5000).equals(ref.subarray(1000, 6000))).toBe(true);
      expect(() => dev.read(299_000, 5000)).toThrow(expect.objectContaining({ code: 'ESHORT', message: expect.stringMatching(/got 1000 of 5000 bytes/) }));
      expect(() => dev.read(500_000, 10)).toThrow(expect.objectContaining({ code: 'ESHORT', message: expect.stringMatching(/shrank/) }));
      expect(dev.size).toBe(1024 * 1024);
    } finally {
      dev.close();
    }
  }

  it('a file truncated under an open fd gives ESHORT, not garbage (O_DIRECT)', () => shrinkUnderFd('direct', true));

  it('a file truncated under an open fd gives ESHORT, not garbage (buffered)', () => {
    process.env.BCACHEFS_REPAIR_NO_DIRECT_IO = '1';
    resetAddonForTests();
    try {
      shrinkUnderFd('buffered', false);
    } finally {
      delete process.env.BCACHEFS_REPAIR_NO_DIRECT_IO;
      resetAddonForTests();
    }
  });
});
