// What reaches the kernel, seen with strace: a read-only open is O_RDONLY with no O_EXCL and no lock taken;
// write mode is O_RDWR|O_DIRECT (plus O_EXCL on a block device), takes the OFD lock, writes whole aligned
// blocks and syncs with fdatasync. Runs the built dist/ in a child under strace; skipped with the reason where
// strace or a fresh build is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { attachLoop, detachLoop, loopSupport, PROJECT_ROOT, randomFile, scratchDir } from './helpers.js';

const scratch = scratchDir('syscalls');
const attached: string[] = [];
afterAll(() => {
  for (const d of attached.reverse()) detachLoop(d);
  scratch.cleanup();
});

const DIST = join(PROJECT_ROOT, 'dist', 'src-core', 'device');

function unavailable(): string | null {
  const s = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  if (s.error || s.status !== 0) return `strace is not installed (${s.error?.message ?? s.stderr.trim()})`;
  for (const f of readdirSync(join(PROJECT_ROOT, 'src-core', 'device')).filter((n) => n.endsWith('.ts'))) {
    const js = join(DIST, f.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(PROJECT_ROOT, 'src-core', 'device', f)).mtimeMs) {
      return `${js} is missing or older than its source (run npm run build)`;
    }
  }
  return null;
}

function need(ctx: TestContext): void {
  const why = unavailable();
  if (why) {
    console.warn(`skipping syscall trace test: ${why}`);
    ctx.skip(why);
  }
}

/** The syscalls on `path`'s descriptor while a child runs `body` (ESM, with openDevice / openDeviceForWrite in scope). */
function trace(path: string, body: string): string[] {
  const out = join(scratch.dir, `trace-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const script = `
    const { openDevice } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'index.js')).href)});
    const { openDeviceForWrite } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'write.js')).href)});
    ${body}`;
  const r = spawnSync('strace', ['-f', '-e', 'trace=openat,pwrite64,pread64,fdatasync,fsync,fcntl', '-o', out, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const lines = readFileSync(out, 'utf8').split('\n');
  // the descriptors opened on path, then every call on them
  const fds = new Set<string>();
  const mine: string[] = [];
  for (const l of lines) {
    const open = /openat\(AT_FDCWD, "([^"]+)", ([A-Z_|]+)[^)]*\) = (\d+)/.exec(l);
    if (open && open[1] === path) {
      fds.add(open[3]!);
      mine.push(`openat ${open[2]}`);
      continue;
    }
    const call = /(pwrite64|pread64|fdatasync|fsync|fcntl)\((\d+)(.*)\) += (-?\d+)/.exec(l);
    if (call && fds.has(call[2]!)) mine.push(`${call[1]}${call[3]} = ${call[4]}`);
  }
  return mine;
}

describe('syscalls', () => {
  it('a read-only open of an image: O_RDONLY|O_DIRECT, asks about locks but takes none', (ctx) => {
    need(ctx);
    const img = join(scratch.dir, 'ro.img');
    randomFile(img, 1024 * 1024);
    const calls = trace(img, `const d = openDevice(${JSON.stringify(img)}); d.read(100, 5000); d.close();`);
    expect(calls[0]).toMatch(/^openat O_RDONLY\|O_DIRECT/);
    expect(calls.filter((c) => c.startsWith('openat')).every((c) => !/O_RDWR|O_WRONLY|O_EXCL/.test(c))).toBe(true);
    expect(calls.some((c) => c.startsWith('fcntl, F_OFD_GETLK'))).toBe(true);
    expect(calls.some((c) => /F_OFD_SETLK|pwrite64|fdatasync/.test(c))).toBe(false);
  });

  it('write mode on an image: O_RDWR|O_DIRECT, an exclusive OFD lock, aligned block writes, fdatasync', (ctx) => {
    need(ctx);
    const img = join(scratch.dir, 'rw.img');
    randomFile(img, 1024 * 1024);
    const calls = trace(img, `const d = openDeviceForWrite(${JSON.stringify(img)}); d.write(5000, Buffer.alloc(9000, 1)); d.sync(); d.close();`);
    expect(calls[0]).toMatch(/^openat O_RDWR\|O_DIRECT/);
    expect(calls).toContain('fcntl, F_OFD_SETLK, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=0} = 0');
    const writes = calls.filter((c) => c.startsWith('pwrite64'));
    expect(writes.length).toBeGreaterThan(0);
    for (const w of writes) {
      const m = /, (\d+), (\d+) = (\d+)$/.exec(w.replace(/"(?:[^"\\]|\\.)*"(\.\.\.)?/, '""'))!;
      expect(Number(m[1]) % 4096, w).toBe(0); // length
      expect(Number(m[2]) % 4096, w).toBe(0); // offset
    }
    expect(calls.filter((c) => c.startsWith('fdatasync'))).toHaveLength(1);
  });

  it('write mode on a block device adds O_EXCL; a read-only open of it has none', (ctx) => {
    need(ctx);
    const loop = loopSupport();
    if (!loop.ok) return ctx.skip(loop.reason);
    const img = join(scratch.dir, 'blk.img');
    randomFile(img, 4 * 1024 * 1024);
    const dev = attachLoop(img);
    attached.push(dev);
    const w = trace(dev, `const d = openDeviceForWrite(${JSON.stringify(dev)}); d.write(0, Buffer.alloc(512, 2)); d.sync(); d.close();`);
    expect(w[0]).toMatch(/^openat O_RDWR\|O_EXCL\|O_DIRECT/);
    const r = trace(dev, `openDevice(${JSON.stringify(dev)}).close();`);
    expect(r.filter((c) => c.startsWith('openat'))).toEqual([expect.stringMatching(/^openat O_RDONLY\|O_DIRECT/)]);
    expect(r.some((c) => /O_EXCL/.test(c))).toBe(false);
  });
});
