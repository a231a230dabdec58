// Buffered fallbacks: a filesystem that refuses O_DIRECT (ramfs), and no addon at all.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDevice } from '../../src-core/device/index.js';
import { openDeviceForWrite } from '../../src-core/device/write.js';
import { loadAddon, resetAddonForTests } from '../../src-core/device/native.js';
import { mountRamfs, randomFile, rng, scratchDir, umount } from './helpers.js';

const scratch = scratchDir('buffered');
afterAll(() => scratch.cleanup());

function compare(read: (o: number, l: number) => Buffer, ref: Buffer): void {
  const r = rng(7);
  for (let i = 0; i < 800; i++) {
    const off = Math.floor(r() * ref.length);
    const len = Math.min(ref.length - off, 1 + Math.floor(r() * 200_000));
    expect(read(off, len).equals(ref.subarray(off, off + len))).toBe(true);
  }
}

describe('buffered fallback', () => {
  it('falls back when the filesystem refuses O_DIRECT at open (ramfs), with a note', (ctx) => {
    const mnt = join(scratch.dir, 'ramfs');
    mkdirSync(mnt);
    const m = mountRamfs(mnt);
    if (!m.ok) {
      console.warn(`skipping ramfs O_DIRECT-refusal test: ${m.reason}`);
      ctx.skip(m.reason);
    }
    try {
      const path = join(mnt, 'img');
      const ref = randomFile(path, 4 * 1024 * 1024 + 123);
      const dev = openDevice(path);
      try {
        expect(dev.direct).toBe(false);
        expect(dev.notes.join('\n')).toMatch(/refused O_DIRECT \(EINVAL at open/);
        compare((o, l) => dev.read(o, l), ref);
        expect(() => dev.read(ref.length, 1)).toThrow(expect.objectContaining({ code: 'EOF' }));
      } finally {
        dev.close();
      }
      // write mode works buffered too
      const w = openDeviceForWrite(path);
      try {
        expect(w.direct).toBe(false);
        w.write(5, Buffer.from('hello'));
        w.sync();
        expect(w.read(5, 5).toString()).toBe('hello');
      } finally {
        w.close();
      }
    } finally {
      umount(mnt);
    }
  });

  it('uses plain fs I/O with a note when the addon cannot be loaded', () => {
    const path = join(scratch.dir, 'noaddon.img');
    const ref = randomFile(path, 2 * 1024 * 1024 + 5);
    process.env.BCACHEFS_REPAIR_NO_DIRECT_IO = '1';
    resetAddonForTests();
    try {
      expect(loadAddon().addon).toBeNull();
      const dev = openDevice(path);
      try {
        expect(dev.direct).toBe(false);
        expect(dev.notes.join('\n')).toMatch(/O_DIRECT is not available \(disabled by BCACHEFS_REPAIR_NO_DIRECT_IO=1\)/);
        compare((o, l) => dev.read(o, l), ref);
      } finally {
        dev.close();
      }
      // no addon, no lock against a second repair: write mode is refused, saying how to get it
      expect(() => openDeviceForWrite(path)).toThrow(
        expect.objectContaining({ code: 'ENOLCK', message: expect.stringMatching(/without the native addon .* cannot be locked against a second repair\. Build it with npm run build:native/) }),
      );
    } finally {
      delete process.env.BCACHEFS_REPAIR_NO_DIRECT_IO;
      resetAddonForTests();
    }
    expect(loadAddon().addon).not.toBeNull();
  });

  it('falls back with a note when the addon file is missing or not a loadable addon', () => {
    const bogus = join(scratch.dir, 'bogus.node');
    writeFileSync(bogus, 'this is not an ELF shared object');
    for (const [file, why] of [
      [join(scratch.dir, 'nope', 'direct_io.node'), /not found/],
      [bogus, /failed to load/],
    ] as const) {
      process.env.BCACHEFS_REPAIR_DIRECT_IO_ADDON = file;
      resetAddonForTests();
      try {
        const st = loadAddon();
        expect(st.addon).toBeNull();
        expect(st.reason).toMatch(why);
        const path = join(scratch.dir, 'noaddon2.img');
        const ref = randomFile(path, 100_000);
        const dev = openDevice(path);
        try {
          expect(dev.direct).toBe(false);
          expect(dev.notes.join('\n')).toMatch(/O_DIRECT is not available/);
          expect(dev.read(10, 5000).equals(ref.subarray(10, 5010))).toBe(true);
        } finally {
          dev.close();
        }
      } finally {
        delete process.env.BCACHEFS_REPAIR_DIRECT_IO_ADDON;
        resetAddonForTests();
      }
    }
    expect(loadAddon().addon).not.toBeNull();
  });
});
