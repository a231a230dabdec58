// Opening a disk for the front ends: read-only, always (writing comes with the journal, and only through it).
import { homedir } from 'node:os';
import { Buffer } from 'node:buffer';
import { openFilesystem, OpenError, type OpenedFilesystem } from '../open.js';
import type { Filesystem } from '../btree/fs.js';
import { superblockSummary } from '../format/superblock.js';
import { toJsonSafe } from './json.js';
import { TOOL_NAME, toolVersion } from './version.js';
import { JSON_SCHEMA_VERSION, type DeviceIdentity, type DiskInfo, type JsonEnvelope, type SuperblockSummary } from './types.js';

/**
 * A failure meant for the user as it is: what happened, then what to do. `code` is the device's errno name
 * (ENOENT, EACCES, EBUSY, EROFS, ...) when the device failed, EBADFS when it holds no bcachefs this tool can
 * read, else one of ours (BAD_REQUEST, NOT_OPEN, ...).
 */
export class OpsError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'OpsError';
  }
}

/** bcachefs keeps a device's name in char[BDEVNAME_SIZE = 32]: messages print at most 31 bytes of it. */
const BDEVNAME_MAX = 31;

/**
 * The device name bcachefs prints ("error validating btree node on NAME"): the path exactly as the user gave
 * it, cut to 31 bytes. For a .gz image, the name of the unpacked image (bcachefs cannot open the .gz itself).
 */
function deviceName(path: string): string {
  const b = Buffer.from(path.replace(/\.gz$/i, ''), 'utf8');
  return b.length <= BDEVNAME_MAX ? b.toString('utf8') : b.subarray(0, BDEVNAME_MAX).toString('utf8');
}

const opened = new WeakMap<Disk, OpenedFilesystem>();

/** An open disk or image. Read-only: nothing reachable from it can write. */
export class Disk {
  private constructor(
    /** the path as the user gave it (after ~ expansion) */
    readonly path: string,
  ) {}

  /** bcachefs's name for it in its messages */
  get devName(): string {
    return deviceName(this.path);
  }

  /** Superblock summary, where the roots came from, and every note so far (device notes grow during reads). */
  info(): DiskInfo {
    const o = openedOf(this);
    const fs = o.fs;
    return {
      path: this.path,
      size: o.dev.size,
      readOnly: true,
      isBlockDevice: o.dev.isBlockDevice,
      direct: o.dev.direct,
      summary: toJsonSafe(superblockSummary(fs.sb)) as SuperblockSummary,
      superblockSector: fs.sb.sector,
      usedBackupSuperblock: fs.sbRead.usedBackup,
      rootsFrom: fs.rootsFrom,
      notes: [...new Set([...o.notes, ...o.dev.notes, ...fs.notes])],
    };
  }

  identity(): DeviceIdentity {
    const o = openedOf(this);
    return { path: this.path, uuid: o.fs.sb.userUuid, internalUuid: o.fs.sb.uuid, size: o.dev.size, isBlockDevice: o.dev.isBlockDevice };
  }

  /** The header of every JSON document about this disk. */
  envelope(): JsonEnvelope {
    return { schemaVersion: JSON_SCHEMA_VERSION, tool: { name: TOOL_NAME, version: toolVersion() }, device: this.identity() };
  }

  /** Idempotent; removes a .gz image's temporary file. */
  close(): void {
    opened.get(this)?.close();
    opened.delete(this);
  }

  /** Opens an image file, a .img.gz (unpacked to a temporary file) or a block device, read-only. Throws OpsError. */
  static open(path: string): Disk {
    if (typeof path !== 'string' || path.trim() === '') {
      throw new OpsError('BAD_REQUEST', 'No image or device path was given. Give the path of an image file (.img or .img.gz) or a block device such as /dev/sdb1.');
    }
    let p = path.trim();
    if (p === '~' || p.startsWith('~/')) p = homedir() + p.slice(1);
    let o: OpenedFilesystem;
    try {
      o = openFilesystem(p);
    } catch (e) {
      if (e instanceof OpenError) throw new OpsError(e.code, e.message);
      throw e;
    }
    const disk = new Disk(p);
    opened.set(disk, o);
    return disk;
  }
}

/** For the operations layer's own modules: the filesystem behind a disk. */
export function filesystemOf(disk: Disk): Filesystem {
  return openedOf(disk).fs;
}

function openedOf(disk: Disk): OpenedFilesystem {
  const o = opened.get(disk);
  if (!o) throw new OpsError('NOT_OPEN', `${disk.path} was closed. Open it again.`);
  return o;
}
