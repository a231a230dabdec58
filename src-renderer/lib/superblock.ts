// The superblock in the words and units of `bcachefs show-super`: its labels (spelt out), sizes in
// KiB/MiB/GiB, times as dates.
import type { OpenResult, SuperblockSummary } from '../../src-core/service/protocol';
import { bytes, count } from './format';

export type Row = [label: string, value: string];

/** A time as show-super prints it ("Tue Nov 24 21:34:26 2026"), in this computer's time zone. */
export function showSuperDate(unixSeconds: number): string {
  if (!unixSeconds) return '(never)';
  const d = new Date(unixSeconds * 1000);
  const day = d.toLocaleDateString('en-US', { weekday: 'short' });
  const mon = d.toLocaleDateString('en-US', { month: 'short' });
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${day} ${mon} ${d.getDate()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const list = (v: unknown): string => (typeof v === 'string' && v !== '' ? v.split(',').join(', ') : '(none)');

/** Whether it was cleanly unmounted, in words: this says nothing about damage. */
export function cleanText(s: SuperblockSummary): string {
  return s.clean ? 'cleanly unmounted' : 'not cleanly unmounted: the btree roots are read from the journal';
}

/** The few facts shown at once. */
export function mainRows(image: OpenResult): Row[] {
  const s = image.summary;
  return [
    ['External UUID', s.externalUuid],
    ['Label', s.label || '(none)'],
    ['Size', `${bytes(image.size)}${image.isBlockDevice ? ' (block device)' : ''}`],
    ['Version', s.oldestVersionOnDisk !== s.version ? `${s.version} (oldest on disk ${s.oldestVersionOnDisk})` : String(s.version)],
    ['Created', showSuperDate(s.created)],
    ['Last unmount', cleanText(s)],
    ['Block size / btree node size', `${bytes(s.blockSize)} / ${bytes(s.btreeNodeSize)}`],
    ['Checksums', `metadata ${s.metadataChecksumType}, data ${s.dataChecksumType}`],
    ['Devices', `${s.devices.live} live, ${s.devices.total} total`],
  ];
}

/** Every field, in show-super's order and words. */
export function allRows(image: OpenResult): Row[] {
  const s = image.summary;
  const rows: Row[] = [
    ['External UUID', s.externalUuid],
    ['Internal UUID', s.internalUuid],
    ['Device index', String(s.deviceIndex)],
    ['Label', s.label || '(none)'],
    ['Version', String(s.version)],
    ['Oldest version on disk', String(s.oldestVersionOnDisk)],
    ['Created', showSuperDate(s.created)],
    ['Sequence number', s.seq],
    ['Block size', bytes(s.blockSize)],
    ['Btree node size', bytes(s.btreeNodeSize)],
    ['Error action', s.errorAction],
    ['Clean', cleanText(s)],
    ['Features', list(s.features)],
    ['Compat features', list(s.compatFeatures)],
    ['Metadata replicas', String(s.metadataReplicas)],
    ['Data replicas', String(s.dataReplicas)],
    ['Metadata checksum type', s.metadataChecksumType],
    ['Data checksum type', s.dataChecksumType],
    ['Compression type', s.compressionType],
    ['String hash type', s.stringHashType],
  ];
  if (s.inode32bit !== undefined) rows.push(['32 bit inodes', num(s.inode32bit) ? 'yes' : 'no']);
  if (s.gcReservePercent !== undefined) rows.push(['GC reserve percentage', `${num(s.gcReservePercent)}%`]);
  if (s.rootReservePercent !== undefined) rows.push(['Root reserve percentage', `${num(s.rootReservePercent)}%`]);
  rows.push(['Devices', `${s.devices.live} live, ${s.devices.total} total`]);
  if (s.sections !== undefined) rows.push(['Sections', list(s.sections)]);
  if (s.superblockSize !== undefined) rows.push(["Superblock size", `${num(s.superblockSize)} bytes`]);
  const layout = s.layout as { sbOffsets?: number[]; sbMaxSizeBits?: number } | undefined;
  if (layout?.sbOffsets) {
    rows.push(['Superblock copies', `at sectors ${layout.sbOffsets.map((o) => count(o)).join(', ')}${layout.sbMaxSizeBits !== undefined ? `, each at most ${bytes(512 * 2 ** layout.sbMaxSizeBits)}` : ''}`]);
  }
  rows.push(['Superblock read', `from sector ${image.superblockSector}${image.usedBackupSuperblock ? ' (a backup copy: the primary is damaged)' : ''}`]);
  return rows;
}

/** A member device, as show-super's "Device N:" block. */
export function memberRows(m: SuperblockSummary['members'][number]): Row[] {
  const extra = m as unknown as Record<string, unknown>;
  const rows: Row[] = [
    ['UUID', m.uuid],
    ['Size', bytes(m.size)],
    ['Bucket size', bytes(m.bucketSize)],
  ];
  if (extra.firstBucket !== undefined) rows.push(['First bucket', count(num(extra.firstBucket))]);
  rows.push(['Buckets', count(m.buckets)]);
  if (extra.lastMount !== undefined) rows.push(['Last mount', showSuperDate(num(extra.lastMount))]);
  rows.push(['State', m.state], ['Data allowed', list(m.dataAllowed)]);
  if (extra.replacementPolicy !== undefined) rows.push(['Replacement policy', String(extra.replacementPolicy)]);
  if (extra.discard !== undefined) rows.push(['Discard', num(extra.discard) ? 'yes' : 'no']);
  return rows;
}

/** Notes about how the image was read (temporary files, fallbacks): shown with the details, not at once. */
export function isTechnicalNote(n: string): boolean {
  return /temporary file|O_DIRECT|buffered I\/O|^sysfs had no entry/i.test(n);
}
