import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GZ_FIXTURE = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021', 'clean-default-64m', 'image.img.gz');

/** A scratch directory (mode 0755 so that tests that drop privileges can traverse it). */
export function scratchDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bcachefs-repair-test-${tag}-`));
  chmodSync(dir, 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Real random data (not sparse: holes would hide alignment bugs). */
export function randomFile(path: string, size: number): Buffer {
  const data = randomBytes(size);
  writeFileSync(path, data);
  return data;
}

/** Deterministic pseudo-random offsets/lengths. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

export interface LoopSupport {
  ok: boolean;
  reason: string;
}

/** Can we attach loop devices here? (root, losetup present, a free loop device) */
export function loopSupport(): LoopSupport {
  if (process.platform !== 'linux') return { ok: false, reason: 'loop devices are Linux-only' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: 'losetup needs root; run the tests as root to cover real block devices' };
  }
  const r = spawnSync('losetup', ['-f'], { encoding: 'utf8' });
  if (r.error) return { ok: false, reason: `losetup not available (${r.error.message})` };
  if (r.status !== 0) return { ok: false, reason: `losetup -f failed: ${(r.stderr || '').trim()}` };
  return { ok: true, reason: '' };
}

export function attachLoop(file: string, extra: string[] = []): string {
  return execFileSync('losetup', ['--show', '-f', ...extra, file], { encoding: 'utf8' }).trim();
}

export function detachLoop(dev: string): void {
  spawnSync('losetup', ['-d', dev]);
}

/** Mount a ramfs (a filesystem that refuses O_DIRECT). */
export function mountRamfs(dir: string): { ok: boolean; reason: string } {
  const r = spawnSync('mount', ['-t', 'ramfs', 'ramfs', dir], { encoding: 'utf8' });
  if (r.error) return { ok: false, reason: `mount not available (${r.error.message})` };
  if (r.status !== 0) return { ok: false, reason: `cannot mount ramfs: ${(r.stderr || '').trim()}` };
  return { ok: true, reason: '' };
}

export function umount(dir: string): void {
  spawnSync('umount', [dir]);
}
