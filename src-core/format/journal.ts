// struct jset and struct jset_entry (journal_io.c). The same entries fill the superblock's clean section.
import { readU16, readU32, readU64, csumMatches } from './bytes.js';
import { KeyTable, decodeKey, BKEY_U64s } from './bkey.js';

export const BCH_JSET_ENTRY_btree_keys = 0;
export const BCH_JSET_ENTRY_btree_root = 1;
export const BCH_JSET_ENTRY_blacklist = 3;
export const BCH_JSET_ENTRY_blacklist_v2 = 4;
export const BCH_JSET_ENTRY_usage = 5;
export const BCH_JSET_ENTRY_data_usage = 6;
export const BCH_JSET_ENTRY_clock = 7;
export const BCH_JSET_ENTRY_dev_usage = 8;

export const JSET_ENTRY_HEADER_BYTES = 8;

export interface JsetEntry {
  type: number;
  btreeId: number;
  level: number;
  u64s: number;
  /** byte range of the entry's payload in `buf` */
  buf: Uint8Array;
  start: number;
  end: number;
}

/** Splits buf[start, end) into jset entries; stops at one that would run past the end. */
export function parseJsetEntries(buf: Uint8Array, start: number, end: number): { entries: JsetEntry[]; error?: string } {
  const entries: JsetEntry[] = [];
  let p = start;
  while (p + JSET_ENTRY_HEADER_BYTES <= end) {
    const u64s = readU16(buf, p);
    const next = p + JSET_ENTRY_HEADER_BYTES + u64s * 8;
    if (next > end) return { entries, error: `journal entry at byte ${p - start} extends past end` };
    entries.push({ type: buf[p + 4]!, btreeId: buf[p + 2]!, level: buf[p + 3]!, u64s, buf, start: p + 8, end: next });
    p = next;
  }
  return { entries };
}

/** Decodes the unpacked keys (bkey_i) of a btree_keys or btree_root entry into t (t.buf must be e.buf). */
export function decodeEntryKeys(e: JsetEntry, t: KeyTable): string | undefined {
  let p = e.start;
  while (p < e.end) {
    const row = t.push();
    const u64s = e.buf[p]!;
    if (u64s < BKEY_U64s || p + u64s * 8 > e.end || !decodeKey(t, row, e.buf, p, null)) {
      t.n--;
      return `bad key in journal entry at byte ${p - e.start}`;
    }
    p += u64s * 8;
  }
  return undefined;
}

/** jset_entry_usage / data_usage / dev_usage payloads, as recorded usage for gc to compare. */
export interface FsUsageEntry {
  kind: 'usage';
  usageType: number; // entry->btree_id holds the FS_USAGE_* type; level holds the persistent_reserved index
  index: number;
  v: bigint;
}
export interface DataUsageEntry {
  kind: 'data_usage';
  v: bigint;
  dataType: number;
  nrRequired: number;
  devs: number[];
}
export interface DevUsageEntry {
  kind: 'dev_usage';
  dev: number;
  bucketsEc: bigint;
  bucketsUnavailable: bigint;
  d: { buckets: bigint; sectors: bigint; fragmented: bigint }[];
}

export function decodeUsageEntry(e: JsetEntry): FsUsageEntry | DataUsageEntry | DevUsageEntry | undefined {
  const b = e.buf;
  if (e.type === BCH_JSET_ENTRY_usage && e.end - e.start >= 8) {
    return { kind: 'usage', usageType: e.btreeId, index: e.level, v: readU64(b, e.start) };
  }
  if (e.type === BCH_JSET_ENTRY_data_usage && e.end - e.start >= 11) {
    const nrDevs = b[e.start + 9]!;
    const devs: number[] = [];
    for (let i = 0; i < nrDevs && e.start + 11 + i < e.end; i++) devs.push(b[e.start + 11 + i]!);
    return { kind: 'data_usage', v: readU64(b, e.start), dataType: b[e.start + 8]!, nrRequired: b[e.start + 10]!, devs };
  }
  if (e.type === BCH_JSET_ENTRY_dev_usage && e.end - e.start >= 24) {
    const d: DevUsageEntry['d'] = [];
    for (let p = e.start + 24; p + 24 <= e.end; p += 24) {
      d.push({ buckets: readU64(b, p), sectors: readU64(b, p + 8), fragmented: readU64(b, p + 16) });
    }
    return { kind: 'dev_usage', dev: readU32(b, e.start), bucketsEc: readU64(b, e.start + 8), bucketsUnavailable: readU64(b, e.start + 16), d };
  }
  return undefined;
}

// ---- struct jset ----
export const JSET_HEADER_BYTES = 56;

export interface Jset {
  /** byte offset on the device */
  deviceOffset: number;
  seq: bigint;
  lastSeq: bigint;
  version: number;
  flags: number;
  u64s: number;
  csumType: number;
  csumOk: boolean | null;
  /** JSET_NO_FLUSH: not a flush entry (journal_no_flush) */
  noFlush: boolean;
  entries: JsetEntry[];
  bytes: number;
  error?: string;
}

/**
 * Parses a jset at buf[off]; returns undefined if there is no jset there (wrong magic), a Jset with
 * `error` if it is damaged.
 */
export function parseJset(buf: Uint8Array, off: number, magic: bigint, deviceOffset: number): Jset | undefined {
  if (off + JSET_HEADER_BYTES > buf.length) return undefined;
  if (readU64(buf, off + 16) !== magic) return undefined;
  const u64s = readU32(buf, off + 40);
  const flags = readU32(buf, off + 36);
  const bytes = JSET_HEADER_BYTES + u64s * 8;
  const j: Jset = {
    deviceOffset,
    seq: readU64(buf, off + 24),
    lastSeq: readU64(buf, off + 48),
    version: readU32(buf, off + 32),
    flags,
    u64s,
    csumType: flags & 0xf,
    csumOk: null,
    noFlush: ((flags >>> 5) & 1) === 1,
    entries: [],
    bytes,
  };
  if (off + bytes > buf.length) {
    j.error = `journal entry ${j.seq} extends past the end of its bucket`;
    return j;
  }
  j.csumOk = csumMatches(j.csumType, buf, off, off + 16, off + bytes);
  const parsed = parseJsetEntries(buf, off + JSET_HEADER_BYTES, off + bytes);
  j.entries = parsed.entries;
  if (parsed.error) j.error = parsed.error;
  return j;
}
