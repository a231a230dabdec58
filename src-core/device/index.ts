/**
 * Device I/O for bcachefs-repair: open an image file, a .img.gz image or a block device,
 * and read (or, opened with write: true, write) any byte range of it synchronously.
 *
 * Reads and writes use O_DIRECT through our own N-API addon (native/direct_io.c), which
 * transfers through its own aligned memory and copies to/from ordinary JS Buffers. Where
 * the filesystem refuses O_DIRECT, or the addon is missing, we fall back to buffered
 * fs I/O and say why in `notes`.
 */
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { DeviceError, errorCode, ioError, openError } from './errors.js';
import { allocatedBytes, gunzipToTemp, removeTemp } from './gz.js';
import { loadAddon, type DirectIoAddon } from './native.js';
import { readBlockGeometry } from './sysfs.js';

export { DeviceError } from './errors.js';

export interface BlockDevice {
  /** What the user opened (the .gz path for gz images). */
  readonly path: string;
  /** Bytes. */
  readonly size: number;
  /** Block devices: the queue's logical block size (512, 4096, ...). Files: 4096 (the O_DIRECT alignment used). */
  readonly logicalBlockSize: number;
  readonly isBlockDevice: boolean;
  /** True while reads use O_DIRECT. */
  readonly direct: boolean;
  readonly writable: boolean;
  /** Human notes: fallbacks and their reasons, temporary files, devices in use. */
  readonly notes: string[];
  /** Any byte range; throws DeviceError (EOF past the end, ESHORT, EIO, ...). Never returns partial data. */
  read(offset: number, length: number): Buffer;
  /**
   * Hints that [offset, offset+length) will be read soon: with O_DIRECT (no kernel readahead) the addon
   * reads it in the background. A no-op otherwise, and for unaligned ranges.
   */
  prefetch(offset: number, length: number): void;
  /** Forgets the read-aheads not yet taken (the device was changed behind our back, e.g. before a reload). */
  dropPrefetch(): void;
  /** Only when opened with write: true. Cannot extend the device. */
  write(offset: number, data: Uint8Array): void;
  /** fsync: data and the device's write cache. */
  sync(): void;
  /** Idempotent; removes a gz temp file. */
  close(): void;
}

export interface OpenOptions {
  write?: boolean;
}

/** O_DIRECT alignment used for regular files (safe for 512e and 4Kn backing disks). */
export const FILE_ALIGN = 4096;

const { O_RDONLY, O_RDWR, O_EXCL } = fsConstants;
const O_DIRECT = fsConstants.O_DIRECT ?? 0;

function isGzPath(p: string): boolean {
  return /\.gz$/i.test(p);
}

function checkRange(dev: { path: string; size: number }, op: 'read' | 'write', offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new DeviceError('EINVALARG', `${op} of ${dev.path}: offset ${offset} and length ${length} must be non-negative integers. This is a bug in the caller.`, { path: dev.path });
  }
  if (offset + length > dev.size) {
    throw new DeviceError(
      'EOF',
      `${op} of ${dev.path} at offset ${offset} (${length} bytes) goes past the end of the device (${dev.size} bytes). The filesystem metadata points outside the device, or the wrong device/image was opened.`,
      { path: dev.path },
    );
  }
}

function preadBuffered(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, off + done, len - done, pos + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function pwriteBuffered(fd: number, data: Uint8Array, len: number, pos: number): void {
  let done = 0;
  while (done < len) {
    const n = writeSync(fd, data, done, len - done, pos + done);
    if (n === 0) throw Object.assign(new Error('write returned 0'), { code: 'EIO' });
    done += n;
  }
}

class Device implements BlockDevice {
  readonly notes: string[] = [];
  readonly path: string;
  readonly size: number;
  readonly logicalBlockSize: number;
  readonly isBlockDevice: boolean;
  readonly writable: boolean;
  private fd: number | null;
  private isDirect: boolean;
  private readonly align: number;
  private readonly addon: DirectIoAddon | null;
  private tempDir: string | null;

  constructor(init: {
    path: string;
    fd: number;
    size: number;
    logicalBlockSize: number;
    isBlockDevice: boolean;
    writable: boolean;
    direct: boolean;
    addon: DirectIoAddon | null;
    tempDir: string | null;
    notes: string[];
  }) {
    this.path = init.path;
    this.fd = init.fd;
    this.size = init.size;
    this.logicalBlockSize = init.logicalBlockSize;
    this.isBlockDevice = init.isBlockDevice;
    this.writable = init.writable;
    this.isDirect = init.direct;
    this.addon = init.addon;
    this.align = init.isBlockDevice ? Math.max(512, init.logicalBlockSize) : FILE_ALIGN;
    this.tempDir = init.tempDir;
    this.notes.push(...init.notes);
  }

  get direct(): boolean {
    return this.isDirect;
  }

  private openFd(op: string): number {
    if (this.fd === null) {
      throw new DeviceError('ECLOSED', `cannot ${op} ${this.path}: it was closed. Open it again.`, { path: this.path });
    }
    return this.fd;
  }

  /** The filesystem accepted O_DIRECT at open but rejects transfers (EINVAL): go buffered. */
  private dropDirect(op: string, err: unknown): boolean {
    if (!this.isDirect || !this.addon || errorCode(err) !== 'EINVAL' || this.fd === null) return false;
    try {
      this.addon.setDirect(this.fd, false);
    } catch {
      return false;
    }
    this.isDirect = false;
    this.notes.push(`O_DIRECT ${op} was rejected with EINVAL despite ${this.align}-byte alignment; switched to buffered I/O (the page cache is now involved).`);
    return true;
  }

  read(offset: number, length: number): Buffer {
    const fd = this.openFd('read');
    checkRange(this, 'read', offset, length);
    if (length === 0) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(length);
    let n: number;
    try {
      n = this.isDirect && this.addon
        ? this.addon.pread(fd, buf, 0, length, offset, this.align)
        : preadBuffered(fd, buf, 0, length, offset);
    } catch (err) {
      if (!this.dropDirect('read', err)) throw ioError(this.path, 'read', offset, length, err);
      try {
        n = preadBuffered(fd, buf, 0, length, offset);
      } catch (err2) {
        throw ioError(this.path, 'read', offset, length, err2);
      }
    }
    if (n !== length) {
      throw new DeviceError(
        'ESHORT',
        `short read from ${this.path} at offset ${offset}: got ${n} of ${length} bytes although the device was ${this.size} bytes when opened; it shrank, was resized or vanished. Check it and open it again.`,
        { path: this.path },
      );
    }
    return buf;
  }

  prefetch(offset: number, length: number): void {
    if (!this.isDirect || !this.addon || this.fd === null) return;
    if (offset % FILE_ALIGN || length % FILE_ALIGN || offset + length > this.size) return;
    this.addon.prefetch(this.fd, offset, length);
  }

  dropPrefetch(): void {
    if (this.addon && this.fd !== null) this.addon.dropPrefetch(this.fd);
  }

  write(offset: number, data: Uint8Array): void {
    const fd = this.openFd('write');
    if (!this.writable) {
      throw new DeviceError(
        'EREADONLY',
        this.tempDir
          ? `cannot write to ${this.path}: a .gz image is opened read-only (decompressed to a temporary file). Decompress it yourself and open the .img with write access.`
          : `cannot write to ${this.path}: it was opened read-only. Open it with write access to apply repairs.`,
        { path: this.path },
      );
    }
    if (!(data instanceof Uint8Array)) {
      throw new DeviceError('EINVALARG', `write to ${this.path}: data must be a Buffer or Uint8Array. This is a bug in the caller.`, { path: this.path });
    }
    const length = data.length;
    checkRange(this, 'write', offset, length);
    if (length === 0) return;
    try {
      if (this.isDirect && this.addon) {
        const alignedEnd = Math.ceil((offset + length) / this.align) * this.align;
        if (alignedEnd <= this.size) {
          try {
            this.addon.pwrite(fd, data, 0, length, offset, this.align);
            return;
          } catch (err) {
            if (!this.dropDirect('write', err)) throw err;
            pwriteBuffered(fd, data, length, offset);
            return;
          }
        }
        // A regular file whose size is not a multiple of the alignment: the covering
        // aligned range would extend the file, so write this one buffered.
        this.addon.setDirect(fd, false);
        try {
          pwriteBuffered(fd, data, length, offset);
        } finally {
          this.addon.setDirect(fd, true);
        }
        return;
      }
      pwriteBuffered(fd, data, length, offset);
    } catch (err) {
      if (err instanceof DeviceError) throw err;
      throw ioError(this.path, 'write', offset, length, err);
    }
  }

  sync(): void {
    const fd = this.openFd('sync');
    try {
      fsyncSync(fd);
    } catch (err) {
      throw ioError(this.path, 'sync', 0, 0, err);
    }
  }

  close(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      this.addon?.dropPrefetch(fd);
      try {
        closeSync(fd);
      } catch {
        /* nothing useful to do; durability is sync()'s job */
      }
    }
    if (this.tempDir) {
      removeTemp(this.tempDir);
      this.tempDir = null;
    }
  }
}

function statPath(path: string, write: boolean): Stats {
  try {
    return statSync(path);
  } catch (err) {
    throw openError(path, err, write);
  }
}

function checkType(path: string, st: Stats): void {
  if (st.isDirectory()) {
    throw new DeviceError('EISDIR', `cannot open ${path}: it is a directory, not an image file or block device. Pick the image file inside it.`, { path });
  }
  if (!st.isFile() && !st.isBlockDevice()) {
    const what = st.isCharacterDevice() ? 'a character device' : st.isFIFO() ? 'a pipe' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new DeviceError('ENOTBLK', `cannot open ${path}: it is ${what}, not an image file or block device. Pick a disk (e.g. /dev/sdb1) or an image file.`, { path });
  }
}

/**
 * Open an image file (.img, or .img.gz read-only) or a block device.
 * Read-only unless opts.write. Throws DeviceError.
 */
export function openDevice(path: string, opts?: OpenOptions): BlockDevice {
  const write = opts?.write === true;
  if (typeof path !== 'string' || path.length === 0) {
    throw new DeviceError('EINVALARG', 'no device or image path given. Pick a disk or an image file.');
  }
  const st = statPath(path, write);
  checkType(path, st);
  if (isGzPath(path) && st.isFile()) {
    if (write) {
      throw new DeviceError(
        'EREADONLY',
        `cannot open ${path} for writing: .gz images are read-only here. Decompress it first (gunzip -k) and open the .img to repair it.`,
        { path },
      );
    }
    if (st.size === 0) {
      throw new DeviceError('EMPTY', `cannot open ${path}: the file is empty (0 bytes). Pick the right image file.`, { path });
    }
    const gz = gunzipToTemp(path);
    try {
      const notes = [
        `decompressed ${path} to temporary file ${gz.tempPath} (read-only; deleted on close or exit): ${gz.size} bytes, ${gz.zeroChunks} all-zero 64 KiB chunks left as holes, ${(allocatedBytes(gz.tempPath) / 1048576).toFixed(1)} MiB on disk, ${gz.ms} ms.`,
      ];
      return openPlain(gz.tempPath, path, false, notes, gz.tempDir);
    } catch (err) {
      removeTemp(gz.tempDir);
      throw err;
    }
  }
  return openPlain(path, path, write, [], null);
}

function openPlain(realPath: string, displayPath: string, write: boolean, notes: string[], tempDir: string | null): BlockDevice {
  const st = statPath(realPath, write);
  checkType(displayPath, st);
  const isBlock = st.isBlockDevice();
  const { addon, reason } = loadAddon();
  const base = write ? O_RDWR : O_RDONLY;

  if (isBlock && !write && O_EXCL) {
    // Probe: is anyone (a mount, another repair tool) holding it exclusively?
    try {
      closeSync(openSync(realPath, O_RDONLY | O_EXCL));
    } catch (err) {
      if (errorCode(err) === 'EBUSY') {
        notes.push(`${displayPath} is in use (mounted or held exclusively by another program): what is read may change underneath and look inconsistent. Unmount it for a reliable check.`);
      }
    }
  }
  // Writes to a block device hold it exclusively (O_EXCL): no mount while we repair.
  const flags = base | (isBlock && write ? O_EXCL : 0);

  let fd: number | undefined;
  let direct = false;
  if (addon && O_DIRECT) {
    try {
      fd = openSync(realPath, flags | O_DIRECT);
      direct = true;
    } catch (err) {
      if (errorCode(err) !== 'EINVAL') throw openError(displayPath, err, write);
      notes.push(`the filesystem holding ${displayPath} refused O_DIRECT (EINVAL at open, e.g. ramfs or some FUSE/network filesystems); using buffered I/O through the page cache.`);
    }
  } else {
    notes.push(`O_DIRECT is not available (${reason ?? 'no O_DIRECT on this platform'}); using buffered I/O through the page cache.`);
  }
  if (fd === undefined) {
    try {
      fd = openSync(realPath, flags);
    } catch (err) {
      throw openError(displayPath, err, write);
    }
  }

  try {
    const fst = fstatSync(fd);
    checkType(displayPath, fst);
    let size: number;
    let logicalBlockSize: number;
    if (fst.isBlockDevice()) {
      let geo: { size: number; logicalBlockSize: number; readOnly?: boolean } | null = null;
      let sysErr = '';
      try {
        geo = readBlockGeometry(realPath, fst.rdev);
      } catch (err) {
        sysErr = err instanceof Error ? err.message : String(err);
      }
      if (!geo && addon) {
        try {
          geo = addon.blockInfo(fd);
          notes.push(`sysfs had no entry for ${displayPath}${sysErr ? ` (${sysErr})` : ''}; size and block size come from ioctl(BLKGETSIZE64/BLKSSZGET).`);
        } catch (err) {
          throw ioError(displayPath, 'read', 0, 0, err);
        }
      }
      if (!geo) {
        throw new DeviceError('ENODEV', `cannot find the size of block device ${displayPath}: /sys/class/block has no entry for it${sysErr ? ` (${sysErr})` : ''}. Make sure /sys is mounted, or image the device to a file and open that.`, { path: displayPath });
      }
      if (write && geo.readOnly) {
        throw new DeviceError('EROFS', `cannot open ${displayPath} for writing: the kernel marks the device read-only (write-protected). Clear it (blockdev --setrw) or work on an image.`, { path: displayPath });
      }
      size = geo.size;
      logicalBlockSize = geo.logicalBlockSize;
    } else {
      size = fst.size;
      logicalBlockSize = FILE_ALIGN;
    }
    if (size === 0) {
      throw new DeviceError(
        'EMPTY',
        fst.isBlockDevice()
          ? `cannot open ${displayPath}: the device has size 0 (no medium, or a loop device with no file attached). Pick another device.`
          : `cannot open ${displayPath}: the file is empty (0 bytes). Pick the right image file.`,
        { path: displayPath },
      );
    }
    return new Device({
      path: displayPath,
      fd,
      size,
      logicalBlockSize,
      isBlockDevice: fst.isBlockDevice(),
      writable: write,
      direct,
      addon,
      tempDir,
      notes,
    });
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* ignore */
    }
    throw err;
  }
}
