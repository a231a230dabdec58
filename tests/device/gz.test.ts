// .img.gz images: decompressed (sparsely) to a temporary file, read-only, removed on close.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type BlockReader } from '../../src-core/device/index.js';
import { openDeviceForWrite } from '../../src-core/device/write.js';
import { liveGzTempDirs, sweepStaleTemps } from '../../src-core/device/gz.js';
import { GZ_FIXTURE, PROJECT_ROOT, rng, scratchDir } from './helpers.js';

const scratch = scratchDir('gz');
afterAll(() => scratch.cleanup());

describe('gz image (clean-default-64m fixture)', () => {
  let ref: Buffer;
  let dev: BlockReader;
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
    expect('write' in dev).toBe(false); // a BlockReader: no write capability at all
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

  it('refuses to open a .gz image for writing, telling the user to repair an unpacked copy', () => {
    const before = readFileSync(GZ_FIXTURE);
    expect(() => openDeviceForWrite(GZ_FIXTURE)).toThrow(
      expect.objectContaining({ name: 'DeviceError', code: 'EREADONLY', message: expect.stringMatching(/compressed image, which is never written\. Unpack a working copy \(gunzip -k .*\) and repair that copy/) }),
    );
    expect(readFileSync(GZ_FIXTURE).equals(before)).toBe(true);
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

describe('gz temp files outlive no process', () => {
  const distIndex = join(PROJECT_ROOT, 'dist', 'src-core', 'device', 'index.js');
  function distFresh(): string | null {
    // every module of the device layer: a stale one would test old code under the new name
    for (const f of readdirSync(join(PROJECT_ROOT, 'src-core', 'device')).filter((n) => n.endsWith('.ts')).map((n) => n.slice(0, -3))) {
      const js = join(PROJECT_ROOT, 'dist', 'src-core', 'device', `${f}.js`);
      const ts = join(PROJECT_ROOT, 'src-core', 'device', `${f}.ts`);
      if (!existsSync(js)) return `${js} missing (run npm run build)`;
      if (statSync(js).mtimeMs < statSync(ts).mtimeMs) return `${js} older than its source (run npm run build)`;
    }
    return null;
  }
  const script = (mode: string) => `
    const { openDevice } = await import(${JSON.stringify(pathToFileURL(distIndex).href)});
    const d = openDevice(${JSON.stringify(GZ_FIXTURE)});
    const m = /temporary file (\\S+) \\(read-only/.exec(d.notes.join('\\n'));
    console.log(m[1]);
    ${mode === 'hang' ? 'setInterval(() => {}, 1000);' : 'process.exit(0);'}
  `;

  it('removes the temp file on process exit without close()', { timeout: 30_000 }, (ctx) => {
    const stale = distFresh();
    if (stale) {
      console.warn(`skipping exit-cleanup test: ${stale}`);
      return ctx.skip(stale);
    }
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script('exit')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const temp = r.stdout.trim();
    expect(temp).toMatch(/bcachefs-repair-gz-\d+-/);
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(dirname(temp))).toBe(false);
  });

  it('a later open sweeps temp dirs of processes that were killed', { timeout: 30_000 }, async (ctx) => {
    const stale = distFresh();
    if (stale) {
      console.warn(`skipping stale-sweep test: ${stale}`);
      return ctx.skip(stale);
    }
    const child = spawn(process.execPath, ['--input-type=module', '-e', script('hang')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const temp = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) res(out.trim());
      });
      child.on('exit', () => rej(new Error('child exited early')));
      setTimeout(() => rej(new Error('child printed nothing within 20 s')), 20_000).unref();
    }).catch((e: unknown) => {
      child.kill('SIGKILL');
      throw e;
    });
    expect(existsSync(temp)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    expect(existsSync(temp)).toBe(true); // no exit hook ran
    expect(sweepStaleTemps()).toBeGreaterThanOrEqual(1);
    expect(existsSync(dirname(temp))).toBe(false);
  });
});
