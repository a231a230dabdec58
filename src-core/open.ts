// Opening a disk or image as a filesystem, read-only: the one entry point the front ends use.
import { nativeCrc32c, openDevice, DeviceError, type BlockReader } from './device/index.js';
import { Filesystem, FsOpenError } from './btree/fs.js';
import { useNativeCrc32c } from './format/bytes.js';

// checksums are most of the CPU time of a walk after key decoding: use the addon's CRC-32C when present
const crc32c = nativeCrc32c();
if (crc32c) useNativeCrc32c(crc32c);

export interface OpenedFilesystem {
  dev: BlockReader;
  fs: Filesystem;
  /** device and filesystem notes for the user, in the order they arose */
  notes: string[];
  close(): void;
}

/**
 * A failure to open, with a message that says what happened and what to do. `code` is the device's
 * errno name (EBUSY, EACCES, ENOENT, ...) when the device failed, 'EBADFS' when it is not a filesystem
 * this tool can read.
 */
export class OpenError extends Error {
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OpenError';
  }
}

export function openFilesystem(path: string): OpenedFilesystem {
  let dev: BlockReader;
  try {
    dev = openDevice(path);
  } catch (e) {
    if (e instanceof DeviceError) throw new OpenError(e.message, e.code, { cause: e });
    throw e;
  }
  try {
    const fs = new Filesystem(dev);
    return { dev, fs, notes: [...dev.notes, ...fs.notes], close: () => dev.close() };
  } catch (e) {
    dev.close();
    if (e instanceof FsOpenError) {
      throw new OpenError(`${path}: ${e.message}. Check that this is the right disk or image, and that it is bcachefs (on-disk format 2021, metadata version 9-13).`, 'EBADFS', { cause: e });
    }
    if (e instanceof DeviceError) throw new OpenError(`${path}: ${e.message}`, e.code, { cause: e });
    throw e;
  }
}
