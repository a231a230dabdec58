/**
 * Block device geometry from sysfs. fstat() reports size 0 for block devices, so the
 * size comes from /sys/class/block/NAME/size (always in 512-byte units) and the logical
 * block size from .../queue/logical_block_size (for a partition: the parent disk's queue).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface BlockGeometry {
  size: number;
  logicalBlockSize: number;
  /** Kernel name, e.g. loop0, sda1, nvme0n1p2 */
  name: string;
  sysDir: string;
  readOnly: boolean;
  /** The disk's serial number and World Wide Name where the kernel has them (a partition: its disk's). */
  serial: string | null;
  wwn: string | null;
}

/** Linux dev_t → major/minor (glibc encoding). */
export function devMajorMinor(rdev: number): { major: number; minor: number } {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return { major, minor };
}

function readTrim(p: string): string {
  return readFileSync(p, 'utf8').trim();
}

function readInt(p: string): number {
  const s = readTrim(p);
  if (!/^\d+$/.test(s)) throw new Error(`unexpected content in ${p}: ${JSON.stringify(s)}`);
  return Number(s);
}

/**
 * Find the sysfs directory of a block device: by kernel name (after following
 * symlinks such as /dev/disk/by-id/... → /dev/sdb1), checked against the device
 * number, else via /sys/dev/block/MAJOR:MINOR. Returns null if sysfs has no entry.
 */
function findSysDir(devPath: string, rdev: number): string | null {
  const { major, minor } = devMajorMinor(rdev);
  const want = `${major}:${minor}`;
  const tries: string[] = [];
  try {
    tries.push(join('/sys/class/block', basename(realpathSync(devPath))));
  } catch {
    /* ignore */
  }
  tries.push(join('/sys/dev/block', want));
  for (const t of tries) {
    try {
      if (!existsSync(join(t, 'dev'))) continue;
      if (readTrim(join(t, 'dev')) !== want) continue;
      return realpathSync(t);
    } catch {
      /* try next */
    }
  }
  return null;
}

/** The first non-empty of these sysfs attributes, or null. */
function firstOf(dir: string, names: string[]): string | null {
  for (const n of names) {
    try {
      const v = readTrim(join(dir, n));
      if (v) return v;
    } catch {
      /* not there: try the next */
    }
  }
  return null;
}

export function readBlockGeometry(devPath: string, rdev: number): BlockGeometry | null {
  const sysDir = findSysDir(devPath, rdev);
  if (!sysDir) return null;
  const size = readInt(join(sysDir, 'size')) * 512;
  const isPartition = existsSync(join(sysDir, 'partition'));
  const queueDir = isPartition ? join(dirname(sysDir), 'queue') : join(sysDir, 'queue');
  const logicalBlockSize = readInt(join(queueDir, 'logical_block_size'));
  let readOnly = false;
  try {
    readOnly = readTrim(join(sysDir, 'ro')) === '1';
  } catch {
    /* ignore */
  }
  const disk = isPartition ? dirname(sysDir) : sysDir;
  return { size, logicalBlockSize, name: basename(sysDir), sysDir, readOnly, serial: firstOf(disk, ['serial', 'device/serial']), wwn: firstOf(disk, ['wwid', 'device/wwid']) };
}
