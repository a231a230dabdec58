// The one place the journal obtains a writable device, and what identifies that device across a repair and
// a replug: the filesystem's uuid, the size, a block device's serial and WWN, and the superblock's hash.
import { createHash } from 'node:crypto';
import type { BlockReader } from '../device/index.js';
import { openDeviceForWrite, type BlockWriter } from '../device/write.js';
import { readSuperblock } from '../format/superblock.js';

export type WritableDevice = BlockWriter;

/**
 * Opens a disk or image file for writing; the device layer refuses what it cannot write safely (mounted,
 * held exclusively, locked by another repair, compressed, or the journal's own disk).
 */
export function openForWrite(path: string, journalPath: string): WritableDevice {
  return openDeviceForWrite(path, { journalPath });
}

export interface DeviceIdentity {
  /** the filesystem's internal uuid, from the superblock */
  uuid: string;
  path: string;
  size: number;
  isBlockDevice: boolean;
  serial: string | null;
  wwn: string | null;
  /** SHA-256 of the superblock's bytes as read now */
  sbSha256: string;
  /** the superblock was read from a backup copy (the primary is damaged) */
  sbFromBackup: boolean;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads the identity of an open device (throws with a clear message when no superblock can be read). */
export function deviceIdentity(dev: Pick<BlockReader, 'path' | 'size' | 'isBlockDevice' | 'serial' | 'wwn' | 'read'>): DeviceIdentity {
  let sbRead;
  try {
    sbRead = readSuperblock((o, l) => dev.read(o, l), dev.size);
  } catch (e) {
    throw new Error(`${dev.path}: no bcachefs superblock can be read (${(e as Error).message}), so it cannot be matched with a repair journal. Check that this is the right disk or image.`);
  }
  return {
    uuid: sbRead.sb.uuid,
    path: dev.path,
    size: dev.size,
    isBlockDevice: dev.isBlockDevice,
    serial: dev.serial,
    wwn: dev.wwn,
    sbSha256: sha256Hex(sbRead.sb.bytes),
    sbFromBackup: sbRead.usedBackup,
  };
}

/** Why `now` is not the device `recorded` names, or undefined when it is (a new path alone is fine: /dev names change). */
export function identityMismatch(recorded: DeviceIdentity, now: DeviceIdentity): string | undefined {
  const diffs: string[] = [];
  if (recorded.uuid !== now.uuid) diffs.push(`filesystem uuid ${now.uuid}, the journal's is ${recorded.uuid}`);
  if (recorded.size !== now.size) diffs.push(`size ${now.size} bytes, the journal's is ${recorded.size}`);
  if (recorded.serial && now.serial && recorded.serial !== now.serial) diffs.push(`serial ${now.serial}, the journal's is ${recorded.serial}`);
  if (recorded.wwn && now.wwn && recorded.wwn !== now.wwn) diffs.push(`WWN ${now.wwn}, the journal's is ${recorded.wwn}`);
  if (diffs.length === 0) return undefined;
  return `${now.path} is not the device this journal belongs to (${recorded.path}): ${diffs.join('; ')}. Open the journal that was written for this disk, or the disk this journal names.`;
}
