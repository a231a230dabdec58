/**
 * The only way to a writable device. Only src-core/journal may import this module (the layering rule
 * in .dependency-cruiser.cjs enforces it): every write must be journaled before it happens.
 *
 * Before handing out a handle, openDeviceForWrite refuses what cannot be written safely: a .gz image,
 * a mounted block device or one held by device-mapper/RAID, an image attached to a loop device, a device
 * another program holds exclusively (O_EXCL, which we then hold ourselves), a disk another repair holds
 * (an exclusive OFD lock, released by the kernel when the handle is closed or the process dies, even by
 * SIGKILL), and a journal file that is the device itself.
 */
import { closeSync, fdatasyncSync, openSync, statSync, writeSync, constants as fsConstants } from 'node:fs';
import { resolve } from 'node:path';
import { DeviceError, ioError } from './errors.js';
import { DeviceHandle, checkRange, checkType, isGzPath, openHandleInit, statPath } from './handle.js';
import type { BlockReader } from './index.js';
import { kernelUsers, loopBackingFile } from './mounts.js';
import { loadAddon } from './native.js';

export interface BlockWriter extends BlockReader {
  /** Writes data at offset (any alignment: partial blocks are read-modify-written). Cannot extend the device. */
  write(offset: number, data: Uint8Array): void;
  /** fdatasync: the data, and the disk's write cache, are on stable storage when it returns. */
  sync(): void;
}

export interface WriteOptions {
  /** The journal that will record the writes: refused if it is the device or image itself. */
  journalPath?: string;
}

function pwriteBuffered(fd: number, data: Uint8Array, len: number, pos: number): void {
  let done = 0;
  while (done < len) {
    const n = writeSync(fd, data, done, len - done, pos + done);
    if (n === 0) throw Object.assign(new Error('write returned 0'), { code: 'EIO' });
    done += n;
  }
}

class DeviceWriter extends DeviceHandle implements BlockWriter {
  write(offset: number, data: Uint8Array): void {
    const fd = this.openFd('write');
    if (!(data instanceof Uint8Array)) {
      throw new DeviceError('EINVALARG', `write to ${this.path}: data must be a Buffer or Uint8Array. This is a bug in the caller.`, { path: this.path });
    }
    const length = data.length;
    checkRange(this, 'write', offset, length);
    if (length === 0) return;
    // Whatever path the bytes take below, a read-ahead taken before them would now be stale.
    this.addon?.dropPrefetch(fd);
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

  /** The exclusive OFD lock for the life of this handle; false if another holder has it. */
  lock(): boolean {
    return this.addon !== null && this.addon.ofdLock(this.openFd('lock'));
  }

  sync(): void {
    const fd = this.openFd('sync');
    try {
      fdatasyncSync(fd);
    } catch (err) {
      throw ioError(this.path, 'sync', 0, 0, err);
    }
  }
}

/** Another repair's OFD lock on a loop device's backing file (a repair of the image while we open the loop). */
function backingFileLocked(rdev: number): string | null {
  const file = loopBackingFile(rdev);
  const addon = loadAddon().addon;
  if (!file || !addon) return null;
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY);
  } catch {
    return null;
  }
  try {
    return addon.ofdLocked(fd) ? file : null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens an image file or block device for reading and writing, after the checks above. Throws
 * DeviceError: EREADONLY (.gz), EBUSY (mounted, attached, held exclusively, or locked by another
 * repair), ENOLCK (no lock possible without the native addon), EINVALARG (journal is the device), or
 * an open error (ENOENT, EACCES, EROFS, ...).
 */
export function openDeviceForWrite(path: string, opts: WriteOptions = {}): BlockWriter {
  if (typeof path !== 'string' || path.length === 0) {
    throw new DeviceError('EINVALARG', 'no device or image path given for repair. Pick a disk or an image file.');
  }
  const st = statPath(path, true);
  checkType(path, st);
  if (isGzPath(path) && st.isFile()) {
    throw new DeviceError(
      'EREADONLY',
      `cannot repair ${path}: it is a compressed image, which is never written. Unpack a working copy (gunzip -k ${path}, or zcat ${path} > copy.img) and repair that copy.`,
      { path },
    );
  }
  if (opts.journalPath !== undefined) {
    let j: ReturnType<typeof statSync> | undefined;
    try {
      j = statSync(resolve(opts.journalPath));
    } catch {
      j = undefined; // not created yet: it cannot be the device
    }
    if (j && ((j.dev === st.dev && j.ino === st.ino) || (st.isBlockDevice() && j.isBlockDevice() && j.rdev === st.rdev) || (st.isBlockDevice() && j.dev === st.rdev))) {
      throw new DeviceError('EINVALARG', `cannot repair ${path} with journal ${opts.journalPath}: the journal is on the device being repaired, so a repair could overwrite its own undo records. Put the journal on another disk.`, { path });
    }
  }
  const users = kernelUsers(st);
  if (users.length) {
    const what = st.isBlockDevice()
      ? `${path} is ${users.join('; ')}. Unmount it (umount) or stop what holds it, then repair it offline.`
      : `${path} is ${users.join('; ')}. Unmount and detach it (umount, then losetup -d), or repair the loop device instead of the file.`;
    throw new DeviceError('EBUSY', `cannot repair ${path}: the kernel is using it. ${what}`, { path });
  }
  const { addon, reason } = loadAddon();
  if (!addon) {
    throw new DeviceError('ENOLCK', `cannot repair ${path}: without the native addon (${reason}) it cannot be locked against a second repair. Build it with npm run build:native.`, { path });
  }
  if (st.isBlockDevice()) {
    const locked = backingFileLocked(st.rdev);
    if (locked) {
      throw new DeviceError('EBUSY', `cannot repair ${path}: its backing file ${locked} is being repaired by another bcachefs-repair. Wait for that repair to finish or close it.`, { path });
    }
  }
  const dev = new DeviceWriter(openHandleInit(path, path, true, [], null));
  try {
    if (!dev.lock()) {
      throw new DeviceError('EBUSY', `cannot repair ${path}: another bcachefs-repair (in this or another process) has it open for repair. Wait for that repair to finish or close it, then try again.`, { path });
    }
  } catch (err) {
    dev.close();
    if (err instanceof DeviceError) throw err;
    throw new DeviceError('ENOLCK', `cannot lock ${path} against a second repair: ${(err as Error).message}. Repair a copy on a local filesystem (ext4, xfs, tmpfs) instead.`, { path, cause: err });
  }
  return dev;
}
