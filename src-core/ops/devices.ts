// The system's block devices, for the device list: what lsblk reports (util-linux), with bcachefs found
// by reading each unrecognised device's superblock magic (blkid before util-linux 2.39 does not know
// bcachefs). Listing only reads; which device may be opened for writing is the front end's decision
// (ops/write-gate.ts), and the device layer refuses writes to mounted devices anyway.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { openDevice } from '../device/index.js';
import { BCACHE_MAGIC, BCH_SB_SECTOR } from '../format/superblock.js';
import type { DeviceList, SystemDevice } from './device-types.js';

export type { DeviceList, SystemDevice } from './device-types.js';

export const LSBLK_COLUMNS = 'NAME,PATH,SIZE,MODEL,SERIAL,FSTYPE,LABEL,UUID,MOUNTPOINTS,TYPE,RO,RM,HOTPLUG,TRAN,VENDOR,PKNAME';

interface LsblkNode {
  name?: unknown; path?: unknown; size?: unknown; model?: unknown; serial?: unknown; vendor?: unknown; tran?: unknown;
  fstype?: unknown; label?: unknown; mountpoints?: unknown; mountpoint?: unknown; type?: unknown;
  ro?: unknown; rm?: unknown; hotplug?: unknown; children?: unknown;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
/** lsblk ≥ 2.33 writes true/false, older ones "0"/"1" */
const flag = (v: unknown): boolean => v === true || v === '1' || v === 1;

function mountpointsOf(n: LsblkNode): string[] {
  const raw = Array.isArray(n.mountpoints) ? n.mountpoints : [n.mountpoint];
  return raw.filter((m): m is string => typeof m === 'string' && m !== '');
}

/**
 * Parses `lsblk --json -b -o LSBLK_COLUMNS`: every device once, each disk followed by its partitions and
 * holders. A device is in use when it, or anything built on it (a partition, a dm/md holder), is mounted.
 * `readable` is left true: listDevices asks the system. Throws on text that is not lsblk's JSON.
 */
export function parseLsblk(json: string): SystemDevice[] {
  const doc = JSON.parse(json) as { blockdevices?: unknown };
  if (!doc || !Array.isArray(doc.blockdevices)) throw new Error('lsblk --json printed no "blockdevices" list');
  const out: SystemDevice[] = [];
  const seen = new Set<string>();
  /** returns the mounted "path at mountpoint" texts of n and everything below it */
  const walk = (n: LsblkNode, parent: string | null): string[] => {
    const name = text(n.name) ?? '?';
    const path = text(n.path) ?? `/dev/${name}`;
    const own = mountpointsOf(n);
    const below: string[] = [];
    const dev: SystemDevice = {
      path, name, type: text(n.type) ?? 'unknown', size: Number(n.size) || 0,
      model: text(n.model), serial: text(n.serial), vendor: text(n.vendor), transport: text(n.tran),
      fstype: text(n.fstype), label: text(n.label), mountpoints: own, parent,
      readOnly: flag(n.ro), removable: flag(n.rm) || flag(n.hotplug), readable: true, inUse: null,
    };
    const first = !seen.has(path);
    if (first) {
      seen.add(path);
      out.push(dev);
    }
    for (const c of Array.isArray(n.children) ? (n.children as LsblkNode[]) : []) below.push(...walk(c, path));
    const mine = own.map((m) => (m === '[SWAP]' ? `${path} is in use as swap` : `${path} is mounted at ${m}`));
    if (mine.length) dev.inUse = mine.join('; ');
    else if (below.length) dev.inUse = `${below.join('; ')}`;
    return [...mine, ...below];
  };
  for (const n of doc.blockdevices as LsblkNode[]) walk(n, null);
  return out;
}

/** True when a bcachefs superblock's magic is at sector 8 of the device or image. Throws DeviceError. */
export function hasBcachefsMagic(path: string): boolean {
  const dev = openDevice(path);
  try {
    if (dev.size < (BCH_SB_SECTOR + 8) * 512) return false;
    const sb = dev.read(BCH_SB_SECTOR * 512, 4096);
    return BCACHE_MAGIC.every((b, i) => sb[24 + i] === b);
  } finally {
    dev.close();
  }
}

export interface ListOptions {
  /** the lsblk binary (tests) */
  lsblk?: string;
}

/** The block devices of this machine, now (call again to refresh). Never throws: failures become notes. */
export function listDevices(opts: ListOptions = {}): DeviceList {
  const notes: string[] = [];
  let devices: SystemDevice[];
  try {
    const out = execFileSync(opts.lsblk ?? 'lsblk', ['--json', '--bytes', '--output', LSBLK_COLUMNS], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    devices = parseLsblk(out);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    const why = err.code === 'ENOENT' ? 'lsblk is not installed (apt-get install util-linux)' : `lsblk failed: ${(err.stderr || err.message || String(e)).trim().split('\n')[0]}`;
    return { devices: [], notes: [`No device list: ${why}. Type the device's path (such as /dev/sdb1) in the path field instead.`] };
  }
  const unreadable: string[] = [];
  for (const d of devices) {
    try {
      accessSync(d.path, constants.R_OK);
    } catch {
      d.readable = false;
    }
    // a disk with partitions holds a partition table, not a filesystem; an empty slot (size 0) holds nothing
    const holdsParts = devices.some((c) => c.parent === d.path && c.type === 'part');
    if (d.fstype !== null || d.size === 0 || holdsParts || !d.readable) continue;
    try {
      if (hasBcachefsMagic(d.path)) d.fstype = 'bcachefs';
    } catch {
      unreadable.push(d.path);
    }
  }
  const needRights = devices.filter((d) => !d.readable).map((d) => d.path);
  if (needRights.length) {
    notes.push(`${needRights.join(', ')} can be opened only with administrator rights: start bcachefs-repair as root, or see the README, "Opening disks".`);
  }
  if (unreadable.length) {
    notes.push(`Could not read ${unreadable.join(', ')} to look for bcachefs (no permission, or no medium): their filesystem is shown as unknown. Run bcachefs-repair with access to the disks (see the README, "Opening disks").`);
  }
  return { devices, notes };
}
