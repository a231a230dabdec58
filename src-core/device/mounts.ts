/**
 * Is a device or image in use by the kernel? Read from /proc/self/mountinfo (mounts are compared by
 * major:minor, which survives renamed /dev nodes and symlinks) and /sys/block (loop devices and their
 * backing files, holders such as device-mapper). Only this process's mount namespace is visible.
 */
import { existsSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { devMajorMinor } from './sysfs.js';

export interface Mount {
  /** major:minor of the mounted filesystem's device */
  dev: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Octal escapes of mountinfo (\040 for a space, ...). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo text: `id parent maj:min root mountpoint options [optional...] - fstype source superopts`. */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 7 || sep < 0 || !/^\d+:\d+$/.test(f[2]!)) continue;
    out.push({ dev: f[2]!, mountPoint: unescape(f[4]!), fsType: f[sep + 1] ?? '', source: unescape(f[sep + 2] ?? '') });
  }
  return out;
}

function readMounts(): Mount[] {
  try {
    return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return [];
  }
}

function majMin(rdev: number): string {
  const { major, minor } = devMajorMinor(rdev);
  return `${major}:${minor}`;
}

function readTrim(p: string): string | null {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A block device (by major:minor), its partitions, and who mounts or holds each. */
function blockUsers(dev: string, mounts: Mount[]): string[] {
  const sys = `/sys/dev/block/${dev}`;
  const devs = [dev];
  for (const e of list(sys)) {
    if (existsSync(join(sys, e, 'partition'))) {
      const d = readTrim(join(sys, e, 'dev'));
      if (d) devs.push(d);
    }
  }
  const users: string[] = [];
  for (const d of devs) {
    const part = d === dev ? '' : ` (its partition ${d})`;
    for (const m of mounts) if (m.dev === d) users.push(`mounted at ${m.mountPoint}${part}`);
    for (const h of list(`/sys/dev/block/${d}/holders`)) users.push(`held by ${h}${part} (device-mapper, RAID or bcache)`);
  }
  return users;
}

interface LoopAttachment {
  /** /dev/loopN */
  loop: string;
  /** major:minor of the loop device */
  dev: string;
}

/** Loop devices whose backing file is this file (same inode: hard links and bind mounts count). */
function loopsBackedBy(st: Stats): LoopAttachment[] {
  const out: LoopAttachment[] = [];
  for (const name of list('/sys/block')) {
    if (!name.startsWith('loop')) continue;
    const backing = readTrim(`/sys/block/${name}/loop/backing_file`);
    if (!backing) continue;
    try {
      const b = statSync(backing.replace(/ \(deleted\)$/, ''));
      if (b.dev !== st.dev || b.ino !== st.ino) continue;
    } catch {
      continue;
    }
    const dev = readTrim(`/sys/block/${name}/dev`);
    if (dev) out.push({ loop: `/dev/${name}`, dev });
  }
  return out;
}

/** The backing file of a loop device, or null (not a loop device, or nothing attached). */
export function loopBackingFile(rdev: number): string | null {
  const name = readTrim(`/sys/dev/block/${majMin(rdev)}/uevent`)?.match(/^DEVNAME=(loop\d+)$/m)?.[1];
  if (!name) return null;
  const b = readTrim(`/sys/block/${name}/loop/backing_file`);
  return b ? b.replace(/ \(deleted\)$/, '') : null;
}

/**
 * Why writing to `path` would race with the kernel: a block device (or one of its partitions) that is
 * mounted or held by a stacked device, or an image attached to a loop device. Empty when none.
 */
export function kernelUsers(st: Stats): string[] {
  const mounts = readMounts();
  if (st.isBlockDevice()) return blockUsers(majMin(st.rdev), mounts);
  return loopsBackedBy(st).map((l) => {
    const users = blockUsers(l.dev, mounts);
    return `attached to ${l.loop}${users.length ? `, which is ${users.join(', ')}` : ''}`;
  });
}
