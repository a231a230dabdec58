/**
 * The open file descriptor behind both capabilities: `DeviceHandle` reads (index.ts hands it out as a
 * BlockReader), write.ts extends it with writes. Internal to src-core/device (the layering rule keeps
 * everyone else out), so that a writable handle can only come from openDeviceForWrite.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, constants as fsConstants, type Stats } from 'node:fs';
import { DeviceError, errorCode, ioError, openError } from './errors.js';
import { removeTemp } from './gz.js';
import { loadAddon, type DirectIoAddon } from './native.js';
import { readBlockGeometry } from './sysfs.js';
import type { BlockReader } from './index.js';

/** O_DIRECT alignment used for regular files (safe for 512e and 4Kn backing disks). */
const FILE_ALIGN = 4096;

const { O_RDONLY, O_RDWR, O_EXCL } = fsConstants;
const O_DIRECT = fsConstants.O_DIRECT ?? 0;

export function checkRange(dev: { path: string; size: number }, op: 'read' | 'write', offset: number, length: number): void {
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

export interface HandleInit {
  path: string;
  fd: number;
  size: number;
  logicalBlockSize: number;
  isBlockDevice: boolean;
  serial: string | null;
  wwn: string | null;
  direct: boolean;
  addon: DirectIoAddon | null;
  tempDir: string | null;
  notes: string[];
}

export class DeviceHandle implements BlockReader {
  readonly notes: string[] = [];
  readonly path: string;
  readonly size: number;
  readonly logicalBlockSize: number;
  readonly isBlockDevice: boolean;
  readonly serial: string | null;
  readonly wwn: string | null;
  protected fd: number | null;
  protected isDirect: boolean;
  protected readonly align: number;
  protected readonly addon: DirectIoAddon | null;
  private tempDir: string | null;

  constructor(init: HandleInit) {
    this.path = init.path;
    this.fd = init.fd;
    this.size = init.size;
    this.logicalBlockSize = init.logicalBlockSize;
    this.isBlockDevice = init.isBlockDevice;
    this.serial = init.serial;
    this.wwn = init.wwn;
    this.isDirect = init.direct;
    this.addon = init.addon;
    this.align = init.isBlockDevice ? Math.max(512, init.logicalBlockSize) : FILE_ALIGN;
    this.tempDir = init.tempDir;
    this.notes.push(...init.notes);
  }

  get direct(): boolean {
    return this.isDirect;
  }

  protected openFd(op: string): number {
    if (this.fd === null) {
      throw new DeviceError('ECLOSED', `cannot ${op} ${this.path}: it was closed. Open it again.`, { path: this.path });
    }
    return this.fd;
  }

  /** The filesystem accepted O_DIRECT at open but rejects transfers (EINVAL): go buffered. */
  protected dropDirect(op: string, err: unknown): boolean {
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

  read(offset: number, length: number, into?: Uint8Array): Buffer {
    const fd = this.openFd('read');
    checkRange(this, 'read', offset, length);
    if (length === 0) return Buffer.alloc(0);
    const buf = into && into.length >= length ? Buffer.from(into.buffer, into.byteOffset, length) : Buffer.allocUnsafe(length);
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

  /** Whether a repair (openDeviceForWrite, in any process) holds this device's lock; asking takes no lock. */
  lockedByRepair(): boolean {
    if (this.fd === null || this.addon === null) return false;
    try {
      return this.addon.ofdLocked(this.fd);
    } catch {
      return false; // a filesystem without lock support: no repair can hold a lock there either
    }
  }

  close(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      this.addon?.dropPrefetch(fd);
      try {
        closeSync(fd); // also releases an OFD lock taken on this descriptor
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

export function statPath(path: string, write: boolean): Stats {
  try {
    return statSync(path);
  } catch (err) {
    throw openError(path, err, write);
  }
}

export function checkType(path: string, st: Stats): void {
  if (st.isDirectory()) {
    throw new DeviceError('EISDIR', `cannot open ${path}: it is a directory, not an image file or block device. Pick the image file inside it.`, { path });
  }
  if (!st.isFile() && !st.isBlockDevice()) {
    const what = st.isCharacterDevice() ? 'a character device' : st.isFIFO() ? 'a pipe' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new DeviceError('ENOTBLK', `cannot open ${path}: it is ${what}, not an image file or block device. Pick a disk (e.g. /dev/sdb1) or an image file.`, { path });
  }
}

export function isGzPath(p: string): boolean {
  return /\.gz$/i.test(p);
}

/**
 * Opens the descriptor (O_DIRECT where the addon and the filesystem allow) and finds size and block size.
 * Read mode is O_RDONLY and takes no lock of any kind, so a mount or another tool is never refused
 * because we are reading. Write mode is O_RDWR, plus O_EXCL on a block device (the kernel then refuses
 * mounts and other exclusive openers while we hold it).
 */
export function openHandleInit(realPath: string, displayPath: string, write: boolean, notes: string[], tempDir: string | null): HandleInit {
  const st = statPath(realPath, write);
  checkType(displayPath, st);
  const isBlock = st.isBlockDevice();
  const { addon, reason } = loadAddon();
  const flags = (write ? O_RDWR : O_RDONLY) | (isBlock && write ? O_EXCL : 0);

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
    let serial: string | null = null;
    let wwn: string | null = null;
    if (fst.isBlockDevice()) {
      let geo: { size: number; logicalBlockSize: number; readOnly?: boolean; serial?: string | null; wwn?: string | null } | null = null;
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
      serial = geo.serial ?? null;
      wwn = geo.wwn ?? null;
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
    return { path: displayPath, fd, size, logicalBlockSize, isBlockDevice: fst.isBlockDevice(), serial, wwn, direct, addon, tempDir, notes };
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* ignore */
    }
    throw err;
  }
}
