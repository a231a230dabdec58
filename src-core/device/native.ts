/**
 * Loader for our own N-API addon (src-core/device/native/direct_io.c).
 *
 * The .node file is built in place by `npm run build:native` into
 * src-core/device/native/build/Release/. This module runs both from the TS
 * source (vitest) and from dist/src-core/device/ (tsc output), so we look for
 * the addon by walking up from this module's directory.
 *
 * Environment:
 *   BCACHEFS_REPAIR_DIRECT_IO_ADDON=/path/direct_io.node   use only this file (packaged apps)
 *   BCACHEFS_REPAIR_NO_DIRECT_IO=1                          do not load it (buffered I/O only)
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DirectIoAddon {
  /** Reads [position, position+length) into buf[bufOffset..]; returns bytes copied (< length only at EOF). */
  pread(fd: number, buf: Uint8Array, bufOffset: number, length: number, position: number, align: number): number;
  /** Writes buf[bufOffset..+length] at position (read-modify-write of partial edge blocks). */
  pwrite(fd: number, buf: Uint8Array, bufOffset: number, length: number, position: number, align: number): number;
  /** BLKGETSIZE64 / BLKSSZGET on a block device fd. */
  blockInfo(fd: number): { size: number; logicalBlockSize: number };
  /** Turn O_DIRECT on/off on an open fd (fcntl F_SETFL); returns the previous state. */
  setDirect(fd: number, on: boolean): boolean;
  /** Current size of the aligned bounce buffer (0 before the first transfer). */
  bounceSize(): number;
  /** Queues a background read of an aligned range; a later pread of exactly that range takes it. */
  prefetch(fd: number, position: number, length: number): boolean;
  /** Forgets every queued or finished read-ahead of fd (before close: fd numbers are reused). */
  dropPrefetch(fd: number): void;
  /** Bytes held by read-aheads not yet taken (for tests). */
  prefetchBytes(): number;
  /** Preads served from read-ahead so far, process-wide (for tests). */
  prefetchHits(): number;
  /** Read-aheads queued or still being read, process-wide (for tests: 0 = all background reads done). */
  prefetchPending(): number;
  /** Raw CRC-32C update of buf[start, end) (SSE4.2 where available): the fast path for checksums. */
  crc32c(buf: Uint8Array, start: number, end: number, crc: number): number;
  /** Takes an exclusive whole-file OFD lock (fcntl F_OFD_SETLK) on fd; false if another holder has one. */
  ofdLock(fd: number): boolean;
  /** Whether another open file description holds a lock that conflicts with an exclusive one (F_OFD_GETLK). */
  ofdLocked(fd: number): boolean;
  readonly maxChunk: number;
  readonly abiVersion: number;
}

/** Must equal ADDON_ABI_VERSION in native/direct_io.c. */
const ADDON_ABI_VERSION = 5;
const REL = join('native', 'build');

export interface AddonState {
  addon: DirectIoAddon | null;
  /** Where it was loaded from, if loaded. */
  path: string | null;
  /** Why it is not available, if not loaded. */
  reason: string | null;
}

let state: AddonState | undefined;

function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const out: string[] = [];
  const env = process.env.BCACHEFS_REPAIR_DIRECT_IO_ADDON;
  if (env) return [resolve(env)]; // explicit: only this one
  // Walk up from here: matches src-core/device (source) and the project root (from dist/...).
  let dir = here;
  for (let i = 0; i < 6; i++) {
    for (const type of ['Release', 'Debug']) {
      out.push(join(dir, REL, type, 'direct_io.node'));
      out.push(join(dir, 'src-core', 'device', REL, type, 'direct_io.node'));
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // Packaged Electron apps: native files are unpacked next to app.asar.
  return out.map((p) => p.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2'));
}

/** Load the addon once; never throws. */
export function loadAddon(): AddonState {
  if (state) return state;
  if (process.env.BCACHEFS_REPAIR_NO_DIRECT_IO === '1') {
    state = { addon: null, path: null, reason: 'disabled by BCACHEFS_REPAIR_NO_DIRECT_IO=1' };
    return state;
  }
  if (process.platform !== 'linux') {
    state = { addon: null, path: null, reason: `O_DIRECT addon is Linux-only (platform ${process.platform})` };
    return state;
  }
  const req = createRequire(import.meta.url);
  const tried: string[] = [];
  let lastErr = '';
  for (const p of candidates()) {
    if (tried.includes(p)) continue;
    tried.push(p);
    if (!existsSync(p)) continue;
    try {
      const mod = req(p) as DirectIoAddon;
      if (mod.abiVersion !== ADDON_ABI_VERSION || typeof mod.pread !== 'function') {
        lastErr = `${p} is an incompatible build (abiVersion ${String(mod.abiVersion)}, want ${ADDON_ABI_VERSION}); run npm run build:native`;
        continue;
      }
      state = { addon: mod, path: p, reason: null };
      return state;
    } catch (err) {
      lastErr = `${p} failed to load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    }
  }
  state = {
    addon: null,
    path: null,
    reason: lastErr || `direct_io.node not found (looked in ${tried[0] ?? '?'} and ${tried.length - 1} other places; run npm run build:native)`,
  };
  return state;
}

/** For tests: forget the cached load result. */
export function resetAddonForTests(): void {
  state = undefined;
}
