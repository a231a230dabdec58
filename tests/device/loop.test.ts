// Real block devices: loop devices over files of random data. Needs root and losetup; skipped with
// a printed reason otherwise. Every attached loop device is detached in afterAll/finally.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { DeviceError, openDevice } from '../../src-core/device/index.js';
import { openDeviceForWrite } from '../../src-core/device/write.js';
import { attachLoop, detachLoop, loopSupport, randomFile, rng, scratchDir } from './helpers.js';
import { randomBytes } from 'node:crypto';

const support = loopSupport();
if (!support.ok) console.warn(`loop device tests skipped: ${support.reason}`);

const scratch = scratchDir('loop');
const attached: string[] = [];
afterAll(() => {
  for (const d of attached.reverse()) detachLoop(d);
  scratch.cleanup();
});

function attach(file: string, extra: string[] = []): string {
  const dev = attachLoop(file, extra);
  attached.push(dev);
  return dev;
}

function need(ctx: TestContext): void {
  if (!support.ok) ctx.skip(support.reason);
}

function compareRandom(read: (o: number, l: number) => Buffer, ref: Buffer, seed: number): void {
  const r = rng(seed);
  for (let i = 0; i < 600; i++) {
    const off = Math.floor(r() * ref.length);
    const len = Math.min(ref.length - off, 1 + Math.floor(r() * 262_144));
    if (!read(off, len).equals(ref.subarray(off, off + len))) throw new Error(`mismatch at ${off}+${len}`);
  }
}

describe('loop device', () => {
  it('opens /dev/loopN with O_DIRECT: size and logical block size from sysfs, contents match', (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'lo512.img');
    const ref = randomFile(file, 32 * 1024 * 1024);
    const loop = attach(file);
    const dev = openDevice(loop);
    try {
      expect(dev.isBlockDevice).toBe(true);
      expect(dev.direct).toBe(true);
      expect('write' in dev).toBe(false);
      expect(dev.size).toBe(ref.length);
      const name = basename(loop);
      expect(dev.logicalBlockSize).toBe(Number(readFileSync(`/sys/class/block/${name}/queue/logical_block_size`, 'utf8')));
      expect(dev.logicalBlockSize).toBe(512);
      expect([dev.serial, dev.wwn]).toEqual([null, null]); // loop devices have neither
      expect(dev.notes).toEqual([]);
      compareRandom((o, l) => dev.read(o, l), ref, 31);
      expect(dev.read(ref.length - 3, 3).equals(ref.subarray(ref.length - 3))).toBe(true);
      expect(() => dev.read(ref.length - 3, 4)).toThrow(expect.objectContaining({ code: 'EOF' }));
    } finally {
      dev.close();
    }
  });

  it('follows a symlink to the device node', (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'lo-link.img');
    const ref = randomFile(file, 4 * 1024 * 1024);
    const loop = attach(file);
    const link = join(scratch.dir, 'by-id-link');
    symlinkSync(loop, link);
    const dev = openDevice(link);
    try {
      expect(dev.path).toBe(link);
      expect(dev.isBlockDevice).toBe(true);
      expect(dev.size).toBe(ref.length);
      expect(dev.read(777, 10_000).equals(ref.subarray(777, 10_777))).toBe(true);
    } finally {
      dev.close();
    }
  });

  it('a 4096-byte logical sector loop device (losetup -b 4096)', (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'lo4k.img');
    const ref = randomFile(file, 16 * 1024 * 1024);
    let loop: string;
    try {
      loop = attach(file, ['-b', '4096']);
    } catch (e) {
      return ctx.skip(`losetup -b 4096 not supported: ${(e as Error).message}`);
    }
    const dev = openDevice(loop);
    try {
      expect(dev.logicalBlockSize).toBe(4096);
      expect(dev.size).toBe(ref.length);
      expect(dev.direct).toBe(true);
      compareRandom((o, l) => dev.read(o, l), ref, 32);
    } finally {
      dev.close();
    }
  });

  it('write mode: exclusive (EBUSY for a second writer), read-modify-write round trip', (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'lo-rw.img');
    const mirror = Buffer.from(randomFile(file, 8 * 1024 * 1024));
    const loop = attach(file, ['-b', '4096']);
    const dev = openDeviceForWrite(loop);
    try {
      expect(dev.direct).toBe(true);
      // a second writer is refused; a reader is allowed but told a repair holds the device
      expect(() => openDeviceForWrite(loop)).toThrow(expect.objectContaining({ code: 'EBUSY', message: expect.stringMatching(/holds the device exclusively.*fuser -v/) }));
      const reader = openDevice(loop);
      expect(reader.notes.join('\n')).toMatch(/open for repair by another bcachefs-repair/);
      reader.close();
      const r = rng(33);
      for (let i = 0; i < 200; i++) {
        const off = Math.floor(r() * mirror.length);
        const len = Math.min(mirror.length - off, 1 + Math.floor(r() * 20_000));
        const data = randomBytes(len);
        dev.write(off, data);
        data.copy(mirror, off);
      }
      dev.write(mirror.length - 1, Buffer.from([0xab]));
      mirror[mirror.length - 1] = 0xab;
      dev.sync();
      expect(dev.read(0, mirror.length).equals(mirror)).toBe(true);
    } finally {
      dev.close();
    }
    // exclusivity ends with close
    openDeviceForWrite(loop).close();
    expect(readFileSync(file).equals(mirror)).toBe(true);
  });

  it('a read-only open takes no exclusive hold: a concurrent exclusive opener (as mount is) never gets EBUSY', async (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'lo-noexcl.img');
    randomFile(file, 4 * 1024 * 1024);
    const loop = attach(file);
    // The child opens the device O_EXCL and closes it again, as fast as it can, until told to stop.
    const child = spawn(process.execPath, ['-e', `
      const fs = require('node:fs');
      let ok = 0, busy = 0, stop = false;
      process.stdin.on('data', () => { stop = true; });
      process.stdout.write('ready\\n');
      (function loop() {
        for (let i = 0; i < 200; i++) {
          try { fs.closeSync(fs.openSync(${JSON.stringify(loop)}, fs.constants.O_RDONLY | fs.constants.O_EXCL)); ok++; }
          catch (e) { if (e.code === 'EBUSY') busy++; else throw e; }
        }
        if (stop) process.stdout.write(JSON.stringify({ ok, busy }) + '\\n'); else setImmediate(loop);
      })();`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((res) => child.on('exit', res));
    while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 400; i++) openDevice(loop).close();
    child.stdin.end('stop');
    expect(await exited).toBe(0);
    const res = JSON.parse(out.split('\n')[1]!) as { ok: number; busy: number };
    expect(res.ok).toBeGreaterThan(0);
    expect(res.busy).toBe(0);
  });

  it('a device that shrinks under us (backing file truncated, losetup -c) gives ESHORT', (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'lo-shrink.img');
    const ref = randomFile(file, 8 * 1024 * 1024);
    const loop = attach(file);
    const dev = openDevice(loop);
    try {
      truncateSync(file, 4 * 1024 * 1024);
      execFileSync('losetup', ['-c', loop]);
      expect(dev.read(100, 1000).equals(ref.subarray(100, 1100))).toBe(true);
      expect(() => dev.read(6 * 1024 * 1024, 4096)).toThrow(expect.objectContaining({ name: 'DeviceError', code: 'ESHORT' }));
      expect(() => dev.read(4 * 1024 * 1024 - 100, 4096)).toThrow(expect.objectContaining({ code: 'ESHORT', message: expect.stringMatching(/got 100 of 4096/) }));
    } finally {
      dev.close();
    }
  });

  it('a failing disk (loop over a file on an ext4 that is shut down) gives EIO, not a crash', (ctx) => {
    need(ctx);
    const fsImg = join(scratch.dir, 'ext4.fs');
    writeFileSync(fsImg, '');
    truncateSync(fsImg, 64 * 1024 * 1024);
    const mk = spawnSync('mkfs.ext4', ['-q', '-F', fsImg], { encoding: 'utf8' });
    if (mk.error || mk.status !== 0) return ctx.skip(`mkfs.ext4 not available: ${mk.error?.message ?? mk.stderr}`);
    // Teardown order matters: inner loop (its file lives on the mount), then the mount, then the outer loop.
    let outer: string | undefined;
    let inner: string | undefined;
    let mnt: string | undefined;
    try {
      outer = attachLoop(fsImg);
      mnt = join(scratch.dir, 'ext4mnt');
      mkdirSync(mnt);
      const mo = spawnSync('mount', [outer, mnt], { encoding: 'utf8' });
      if (mo.status !== 0) {
        mnt = undefined;
        return ctx.skip(`cannot mount ext4: ${mo.stderr}`);
      }
      const back = join(mnt, 'disk.img');
      const ref = randomFile(back, 8 * 1024 * 1024);
      inner = attachLoop(back);
      const dev = openDevice(inner);
      try {
        expect(dev.read(0, 65536).equals(ref.subarray(0, 65536))).toBe(true);
        // EXT4_IOC_SHUTDOWN (_IOR('X', 125, __u32)) with EXT4_GOING_FLAGS_NOLOGFLUSH: all I/O now fails with EIO
        const sd = spawnSync('python3', ['-c', `import fcntl,os,struct; fd=os.open(${JSON.stringify(mnt)}, os.O_RDONLY); fcntl.ioctl(fd, 0x8004587D, struct.pack('I', 2))`], { encoding: 'utf8' });
        if (sd.error || sd.status !== 0) return ctx.skip(`cannot shut down ext4 (python3/ioctl): ${sd.error?.message ?? sd.stderr}`);
        let err: unknown;
        try {
          dev.read(4 * 1024 * 1024 + 5, 100_000);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(DeviceError);
        expect((err as DeviceError).code).toBe('EIO');
        expect((err as DeviceError).message).toMatch(/I\/O error reading .* \(EIO\).*ddrescue/);
      } finally {
        dev.close();
      }
    } finally {
      if (inner) detachLoop(inner);
      if (mnt) spawnSync('umount', [mnt]);
      if (outer) detachLoop(outer);
    }
  });

  it('a partition: logical block size comes from the parent disk queue', (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'lo-part.img');
    const ref = randomFile(file, 16 * 1024 * 1024);
    // MBR with one Linux partition at LBA 2048 (4096-byte sectors: 8 MiB), 1024 sectors (4 MiB)
    const mbr = Buffer.alloc(512);
    Buffer.from([0, 0, 0, 0, 0x83, 0, 0, 0]).copy(mbr, 446);
    mbr.writeUInt32LE(2048, 454);
    mbr.writeUInt32LE(1024, 458);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    mbr.copy(ref, 0);
    writeFileSync(file, ref);
    const loop = attach(file, ['-P', '-b', '4096']);
    const part = `${loop}p1`;
    for (let i = 0; i < 20 && !existsSync(part); i++) spawnSync('sleep', ['0.05']);
    if (!existsSync(part)) return ctx.skip(`kernel created no ${part} (no partition table support, e.g. CONFIG_MSDOS_PARTITION unset)`);
    const dev = openDevice(part);
    try {
      expect(dev.isBlockDevice).toBe(true);
      expect(dev.logicalBlockSize).toBe(4096);
      expect(dev.size).toBe(1024 * 4096);
      const base = 2048 * 4096;
      expect(dev.read(10, 50_000).equals(ref.subarray(base + 10, base + 50_010))).toBe(true);
    } finally {
      dev.close();
    }
  });
});
