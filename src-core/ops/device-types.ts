// The system's block devices as the front ends show them (plain JSON, no Node imports: the renderer
// imports these types through protocol.ts).

export interface SystemDevice {
  /** /dev/sdb1 */
  path: string;
  /** sdb1 */
  name: string;
  /** lsblk's TYPE: disk, part, loop, rom, crypt, lvm, raid1, ... */
  type: string;
  /** bytes */
  size: number;
  model: string | null;
  serial: string | null;
  vendor: string | null;
  /** usb, sata, nvme, ... */
  transport: string | null;
  /** the filesystem found on it: lsblk's (blkid's), or 'bcachefs' found by reading its superblock */
  fstype: string | null;
  label: string | null;
  /** where it is mounted (empty: not mounted) */
  mountpoints: string[];
  /** the path of the disk a partition belongs to */
  parent: string | null;
  /** the kernel marks it read-only */
  readOnly: boolean;
  removable: boolean;
  /**
   * Why it must not be opened for writing, in words (mounted, or a partition or holder of it is mounted);
   * null when nothing on this machine uses it. Read-only opening is still allowed.
   */
  inUse: string | null;
}

export interface DeviceList {
  devices: SystemDevice[];
  /** what the list could not tell, in words (e.g. that lsblk is missing, or a device could not be read) */
  notes: string[];
}

export interface CompletionEntry {
  name: string;
  /** the full path to put in the field (folders end in /) */
  path: string;
  kind: 'folder' | 'file' | 'device' | 'other';
  /** bytes, files only */
  size: number;
}

export interface Completion {
  /** the folder listed */
  folder: string;
  entries: CompletionEntry[];
  /** more entries matched than were returned: type more */
  truncated: boolean;
}

/** Where an image that must not be written (the bundled sample, any .img.gz) would be copied for repair. */
export interface WorkingCopyProposal {
  source: string;
  /** the folder proposed; the user confirms or changes it */
  folder: string;
  /** the copy's file name in that folder (not taken yet) */
  fileName: string;
  /** bytes the copy will take; null for a .gz (known once unpacked: its trailer keeps the size modulo 4 GiB only) */
  size: number | null;
  /** why a copy is needed, in words */
  reason: string;
}

export interface WorkingCopy {
  source: string;
  /** the copy made */
  path: string;
  size: number;
}
