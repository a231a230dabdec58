// Opening a disk or image as a filesystem: the one entry point the front ends use.
import { openDevice, DeviceError, type BlockDevice } from './device/index.js';
import { Filesystem, FsOpenError } from './btree/fs.js';
import { loadAddon } from './device/native.js';
import { useNativeCrc32c } from './format/bytes.js';

// checksums are most of the CPU time of a walk after key decoding: use the addon's CRC-32C when present
const addon = loadAddon().addon;
if (addon) useNativeCrc32c(addon.crc32c);

export interface OpenedFilesystem {
  dev: BlockDevice;
  fs: Filesystem;
  /** device and filesystem notes for the user, in the order they arose */
  notes: string[];
  close(): void;
}

/** A failure to open, with a message that says what happened and what to do. */
export class OpenError extends Error {}

export function openFilesystem(path: string, opts: { write?: boolean } = {}): OpenedFilesystem {
  let dev: BlockDevice;
  try {
    dev = openDevice(path, { write: opts.write === true });
  } catch (e) {
    if (e instanceof DeviceError) throw new OpenError(e.message);
    throw e;
  }
  try {
    const fs = new Filesystem(dev);
    return { dev, fs, notes: [...dev.notes, ...fs.notes], close: () => dev.close() };
  } catch (e) {
    dev.close();
    if (e instanceof FsOpenError) {
      throw new OpenError(`${path}: ${e.message}. Check that this is the right disk or image, and that it is bcachefs (on-disk format 2021, metadata version 9-13).`);
    }
    if (e instanceof DeviceError) throw new OpenError(`${path}: ${e.message}`);
    throw e;
  }
}
