// Write mode refuses what it cannot write safely: mounted or attached disks, a disk another program holds
// exclusively, a disk another repair holds (an OFD lock that dies with its process, SIGKILL included), and
// a journal on the device itself. Loop-device cases need root and losetup; skipped with the reason otherwise.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { openDevice } from '../../src-core/device/index.js';
import { parseMountinfo } from '../../src-core/device/mounts.js';
import { loadAddon } from '../../src-core/device/native.js';
import { openDeviceForWrite } from '../../src-core/device/write.js';
import { attachLoop, detachLoop, loopSupport, randomFile, scratchDir } from './helpers.js';

const support = loopSupport();
if (!support.ok) console.warn(`loop device write-safety tests skipped: ${support.reason}`);
const scratch = scratchDir('wsafe');
const attached: string[] = [];
const mounted: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const m of mounted.reverse()) spawnSync('umount', [m]);
  for (const d of attached.reverse()) detachLoop(d);
  scratch.cleanup();
});

function need(ctx: TestContext): void {
  if (!support.ok) ctx.skip(support.reason);
}

function attach(file: string): string {
  const dev = attachLoop(file);
  attached.push(dev);
  return dev;
}

function refusal(path: string, opts?: { journalPath?: string }): { code: string; message: string } {
  try {
    openDeviceForWrite(path, opts).close();
  } catch (e) {
    const err = e as { name: string; code: string; message: string };
    expect(err.name).toBe('DeviceError');
    expect(err.message).not.toContain('\n');
    return err;
  }
  throw new Error(`openDeviceForWrite(${path}) was not refused`);
}

/** A child process running `code` (CommonJS), resolved once it printed `ready`. */
async function holder(code: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const until = Date.now() + 10_000;
  while (!out.includes('ready')) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`holder did not start (exit ${child.exitCode}): ${out}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return child;
}

async function killHard(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await gone;
}

describe('mountinfo', () => {
  it('parses major:minor, mount point (octal escapes) and type, skipping optional fields', () => {
    const m = parseMountinfo(
      '36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n' +
        '22 27 0:21 / /proc rw,relatime - proc proc rw\nnot a line\n',
    );
    expect(m).toEqual([
      { dev: '98:0', mountPoint: '/mnt/with space', fsType: 'ext3', source: '/dev/root' },
      { dev: '0:21', mountPoint: '/proc', fsType: 'proc', source: 'proc' },
    ]);
  });
});

describe('write mode refuses', () => {
  it('a journal that is the image itself', () => {
    const file = join(scratch.dir, 'self.img');
    randomFile(file, 65536);
    const e = refusal(file, { journalPath: file });
    expect(e.code).toBe('EINVALARG');
    expect(e.message).toMatch(/journal is on the device being repaired.*Put the journal on another disk/);
    openDeviceForWrite(file, { journalPath: join(scratch.dir, 'self.journal') }).close(); // elsewhere: fine
  });

  it('an image another repair holds; the OFD lock vanishes when the holder is killed with SIGKILL', async () => {
    const file = join(scratch.dir, 'locked.img');
    const ref = randomFile(file, 1024 * 1024);
    // in this process: a second handle is refused while the first is open, accepted after close
    const first = openDeviceForWrite(file);
    expect(refusal(file)).toMatchObject({ code: 'EBUSY', message: expect.stringMatching(/another bcachefs-repair .* has it open for repair\. Wait for that repair to finish/) });
    const reader = openDevice(file);
    expect(reader.notes.join('\n')).toMatch(/open for repair by another bcachefs-repair/);
    reader.close();
    first.close();
    openDeviceForWrite(file).close();
    // in another process, which then dies without any chance to clean up
    const addonPath = loadAddon().path!;
    const child = await holder(`
      const a = require(${JSON.stringify(addonPath)});
      const fd = require('node:fs').openSync(${JSON.stringify(file)}, 'r+');
      if (!a.ofdLock(fd)) process.exit(3);
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1e6);`);
    expect(refusal(file).code).toBe('EBUSY');
    await killHard(child);
    const dev = openDeviceForWrite(file);
    try {
      dev.write(100, Buffer.from('after the holder died'));
      dev.sync();
    } finally {
      dev.close();
    }
    expect(readFileSync(file).subarray(100, 121).toString()).toBe('after the holder died');
    expect(readFileSync(file).subarray(0, 100).equals(ref.subarray(0, 100))).toBe(true);
  });

  it('an image attached to a loop device, and the loop device while its image is being repaired', (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'attached.img');
    randomFile(file, 4 * 1024 * 1024);
    const loop = attach(file);
    const e = refusal(file);
    expect(e.code).toBe('EBUSY');
    expect(e.message).toContain(`attached to ${loop}.`);
    expect(e.message).toMatch(/losetup -d/);
    detachLoop(loop);
    attached.splice(attached.indexOf(loop), 1); // never detach a number another test may have been given since
    // the other way round: a repair holds the image, then someone attaches it and tries the loop device
    const w = openDeviceForWrite(file);
    try {
      const loop2 = attach(file);
      const e2 = refusal(loop2);
      expect(e2.code).toBe('EBUSY');
      expect(e2.message).toMatch(/backing file .*attached\.img is being repaired by another bcachefs-repair/);
    } finally {
      w.close();
    }
  });

  it('a mounted block device, and an image whose loop device is mounted; reading only notes it', (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'ext4.img');
    randomFile(file, 16 * 1024 * 1024);
    const mk = spawnSync('mkfs.ext4', ['-q', '-F', file], { encoding: 'utf8' });
    if (mk.error || mk.status !== 0) return ctx.skip(`mkfs.ext4 not available: ${mk.error?.message ?? mk.stderr}`);
    const loop = attach(file);
    const mnt = join(scratch.dir, 'mnt');
    mkdirSync(mnt);
    const mo = spawnSync('mount', [loop, mnt], { encoding: 'utf8' });
    if (mo.status !== 0) return ctx.skip(`cannot mount ext4: ${mo.stderr}`);
    mounted.push(mnt);
    const e = refusal(loop);
    expect(e.code).toBe('EBUSY');
    expect(e.message).toContain(`is mounted at ${mnt}. Unmount it (umount)`);
    const e2 = refusal(file);
    expect(e2.message).toContain(`attached to ${loop}, which is mounted at ${mnt}`);
    const r = openDevice(loop);
    expect(r.notes.join('\n')).toContain(`mounted at ${mnt}: what is read may change underneath`);
    r.close();
    spawnSync('umount', [mnt]);
    mounted.pop();
    openDeviceForWrite(loop).close(); // unmounted: accepted
  });

  it('a block device another program holds open exclusively (O_EXCL): EBUSY saying how to find it', async (ctx) => {
    need(ctx);
    const file = join(scratch.dir, 'excl.img');
    randomFile(file, 4 * 1024 * 1024);
    const loop = attach(file);
    const child = await holder(`
      const fs = require('node:fs');
      fs.openSync(${JSON.stringify(loop)}, fs.constants.O_RDONLY | fs.constants.O_EXCL);
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1e6);`);
    const e = refusal(loop);
    expect(e.code).toBe('EBUSY');
    expect(e.message).toMatch(/another program holds the device exclusively \(EBUSY\).*fuser -v .*then try again/);
    await killHard(child);
    openDeviceForWrite(loop).close();
  });
});
