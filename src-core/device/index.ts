/**
 * Device I/O for bcachefs-repair: open an image file, a .img.gz image or a block device and read any
 * byte range of it synchronously. This module only reads: a writable handle exists only through
 * openDeviceForWrite in ./write.ts, which only the journal may import (enforced by `npm run lint:layers`).
 *
 * Reads use O_DIRECT through our own N-API addon (native/direct_io.c), which transfers through its own
 * aligned memory and copies to ordinary JS Buffers. Where the filesystem refuses O_DIRECT, or the addon is
 * missing, we fall back to buffered fs I/O and say why in `notes`.
 */
import { DeviceError } from './errors.js';
import { allocatedBytes, gunzipToTemp, removeTemp } from './gz.js';
import { DeviceHandle, checkType, isGzPath, openHandleInit, statPath } from './handle.js';
import { kernelUsers } from './mounts.js';
import { loadAddon } from './native.js';

export { DeviceError } from './errors.js';

/** A device or image opened for reading. */
export interface BlockReader {
  /** What the user opened (the .gz path for gz images). */
  readonly path: string;
  /** Bytes. */
  readonly size: number;
  /** Block devices: the queue's logical block size (512, 4096, ...). Files: 4096 (the O_DIRECT alignment used). */
  readonly logicalBlockSize: number;
  readonly isBlockDevice: boolean;
  /** Block devices: the disk's serial number and World Wide Name from sysfs, where the kernel has them; null for files. */
  readonly serial: string | null;
  readonly wwn: string | null;
  /** True while reads use O_DIRECT. */
  readonly direct: boolean;
  /** Human notes: fallbacks and their reasons, temporary files, devices in use. */
  readonly notes: string[];
  /**
   * Any byte range; throws DeviceError (EOF past the end, ESHORT, EIO, ...). Never returns partial data.
   * With `into` (at least length bytes) the data goes there and the Buffer returned views it: a caller
   * reading many ranges of one size reuses its memory instead of making new.
   */
  read(offset: number, length: number, into?: Uint8Array): Buffer;
  /**
   * Hints that [offset, offset+length) will be read soon: with O_DIRECT (no kernel readahead) the addon
   * reads it in the background. A no-op otherwise, and for unaligned ranges.
   */
  prefetch(offset: number, length: number): void;
  /** Forgets the read-aheads not yet taken: the device was changed behind this reader's back (Filesystem.reload). */
  dropPrefetch(): void;
  /** Idempotent; removes a gz temp file. */
  close(): void;
}

/** Open an image file (.img or .img.gz) or a block device, read-only, taking no lock. Throws DeviceError. */
export function openDevice(path: string): BlockReader {
  if (typeof path !== 'string' || path.length === 0) {
    throw new DeviceError('EINVALARG', 'no device or image path given. Pick a disk or an image file.');
  }
  const st = statPath(path, false);
  checkType(path, st);
  if (isGzPath(path) && st.isFile()) {
    if (st.size === 0) {
      throw new DeviceError('EMPTY', `cannot open ${path}: the file is empty (0 bytes). Pick the right image file.`, { path });
    }
    const gz = gunzipToTemp(path);
    try {
      const notes = [
        `decompressed ${path} to temporary file ${gz.tempPath} (read-only; deleted on close or exit): ${gz.size} bytes, ${gz.zeroChunks} all-zero 64 KiB chunks left as holes, ${(allocatedBytes(gz.tempPath) / 1048576).toFixed(1)} MiB on disk, ${gz.ms} ms.`,
      ];
      return new DeviceHandle(openHandleInit(gz.tempPath, path, false, notes, gz.tempDir));
    } catch (err) {
      removeTemp(gz.tempDir);
      throw err;
    }
  }
  const users = kernelUsers(st);
  const notes = users.length ? [`${path} is ${users.join('; ')}: what is read may change underneath and look inconsistent. Unmount it for a reliable check.`] : [];
  const dev = new DeviceHandle(openHandleInit(path, path, false, notes, null));
  if (dev.lockedByRepair()) dev.notes.push(`${path} is open for repair by another bcachefs-repair: what is read may change while it writes. Check again when the repair has finished.`);
  return dev;
}

/** The addon's CRC-32C (SSE4.2 where the CPU has it), or null without the addon: raw update, no inversion. */
export function nativeCrc32c(): ((buf: Uint8Array, start: number, end: number, crc: number) => number) | null {
  return loadAddon().addon?.crc32c ?? null;
}
