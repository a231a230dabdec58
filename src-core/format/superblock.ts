// struct bch_sb and its fields (super-io.c). The primary superblock is at sector 8; its layout (also
// stored at sector 7) lists the backups, which are used when the primary is damaged.
import { readU16, readU32, readU64, readU64Number, uuidToString, csumMatches } from './bytes.js';
import { parseJsetEntries, type JsetEntry } from './journal.js';
import {
  BCH_SB_FEATURES, BCH_SB_COMPAT, BCH_SB_FIELDS, BCH_CSUM_OPTS, BCH_COMPRESSION_OPTS, BCH_ERROR_ACTIONS,
  BCH_STR_HASH_OPTS, BCH_MEMBER_STATES, BCH_CACHE_REPLACEMENT_POLICIES, BCH_DATA_TYPES, flagsToText,
} from './names.js';

export const BCH_SB_SECTOR = 8;
export const BCH_SB_LAYOUT_SECTOR = 7;
export const SB_HEADER_BYTES = 752;
export const BCACHE_MAGIC = Uint8Array.from([
  0xc6, 0x85, 0x73, 0xf6, 0x4e, 0x1a, 0x45, 0xca, 0x82, 0x65, 0xf5, 0x7f, 0x48, 0xba, 0x6d, 0x81,
]);
const JSET_MAGIC = 0x245235c1a3625032n;
const BSET_MAGIC = 0x90135c78b99e07f5n;
export const BCH_SB_FIELD_journal = 0;
export const BCH_SB_FIELD_members = 1;
export const BCH_SB_FIELD_replicas_v0 = 3;
export const BCH_SB_FIELD_clean = 6;
export const BCH_SB_FIELD_replicas = 7;
const MEMBER_BYTES = 56;
/** bcachefs_metadata_version_min .. _max of this format generation */
export const METADATA_VERSION_MIN = 9;
export const METADATA_VERSION_MAX = 14;

export interface SbLayout {
  magicOk: boolean;
  layoutType: number;
  sbMaxSizeBits: number;
  nrSuperblocks: number;
  sbOffsets: number[]; // sectors
}

export interface Member {
  index: number;
  uuid: string;
  nbuckets: number;
  firstBucket: number;
  bucketSize: number; // sectors
  lastMount: number; // seconds since epoch
  state: number;
  replacement: number;
  discard: number;
  dataAllowed: number;
  group: number;
  durability: number;
  exists: boolean;
}

export interface ReplicasEntry {
  dataType: number;
  nrRequired: number;
  devs: number[];
}

export interface SbField {
  type: number;
  /** byte offset of the field in the superblock */
  offset: number;
  bytes: number;
}

export interface SbClean {
  flags: number;
  journalSeq: bigint;
  entries: JsetEntry[];
  error?: string;
}

export interface Superblock {
  /** sector the superblock was read from */
  sector: number;
  bytes: Uint8Array;
  csumType: number;
  csumOk: boolean | null;
  version: number;
  versionMin: number;
  uuid: string; // internal
  userUuid: string; // external
  label: string;
  offset: number;
  seq: bigint;
  blockSize: number; // sectors
  devIdx: number;
  nrDevices: number;
  u64s: number;
  timeBaseLo: bigint;
  timeBaseHi: number;
  timePrecision: number;
  flags: bigint[];
  features: bigint[];
  compat: bigint[];
  layout: SbLayout;
  fields: SbField[];
  // decoded flags
  clean: boolean;
  btreeNodeSize: number; // sectors
  errorAction: number;
  metaCsumType: number;
  dataCsumType: number;
  metaReplicasWant: number;
  dataReplicasWant: number;
  compressionType: number;
  strHashType: number;
  inode32bit: boolean;
  gcReservePercent: number;
  rootReservePercent: number;
  encryptionType: number;
  foregroundTarget: number;
  backgroundTarget: number;
  promoteTarget: number;
  metadataTarget: number;
  // fields
  journalBuckets: number[][]; // per device: bucket numbers (only this device's field is in its sb)
  members: Member[];
  replicas: ReplicasEntry[];
  cleanSection?: SbClean;
  /** magic values of this filesystem */
  jsetMagic: bigint;
  bsetMagic: bigint;
}

export class SuperblockError extends Error {}

function getBits(v: bigint, lo: number, hi: number): number {
  return Number((v >> BigInt(lo)) & ((1n << BigInt(hi - lo)) - 1n));
}

function parseLayout(buf: Uint8Array, off: number): SbLayout {
  let magicOk = true;
  for (let i = 0; i < 16; i++) if (buf[off + i] !== BCACHE_MAGIC[i]) magicOk = false;
  const nr = buf[off + 18]!;
  const sbOffsets: number[] = [];
  for (let i = 0; i < Math.min(nr, 61); i++) sbOffsets.push(readU64Number(buf, off + 24 + 8 * i));
  return { magicOk, layoutType: buf[off + 16]!, sbMaxSizeBits: buf[off + 17]!, nrSuperblocks: nr, sbOffsets };
}

/** validate_sb_layout (super-io.c); also bounds sb_max_size_bits, which C shifts into an int. */
function layoutInvalid(l: SbLayout): string | undefined {
  if (!l.magicOk) return 'Not a bcachefs superblock layout';
  if (l.layoutType !== 0) return 'Invalid superblock layout type';
  if (!l.nrSuperblocks) return 'Invalid superblock layout: no superblocks';
  if (l.nrSuperblocks > 61) return 'Invalid superblock layout: too many superblocks';
  if (l.sbMaxSizeBits > 16) return `Invalid superblock layout: superblock max size 2^${l.sbMaxSizeBits} sectors`;
  const max = 2 ** l.sbMaxSizeBits;
  for (let i = 1; i < l.sbOffsets.length; i++) {
    if (l.sbOffsets[i]! < l.sbOffsets[i - 1]! + max) return 'Invalid superblock layout: superblocks overlap';
  }
  return undefined;
}

/**
 * Parses and validates a superblock image starting at buf[0] (read from `sector`). Throws SuperblockError
 * with the reason if it is not a usable bcachefs superblock.
 */
export function parseSuperblock(buf: Uint8Array, sector: number): Superblock {
  if (buf.length < SB_HEADER_BYTES) throw new SuperblockError('superblock truncated');
  for (let i = 0; i < 16; i++) {
    if (buf[24 + i] !== BCACHE_MAGIC[i]) throw new SuperblockError('not a bcachefs superblock (bad magic)');
  }
  const version = readU16(buf, 16);
  const versionMin = readU16(buf, 18);
  if (version < METADATA_VERSION_MIN || version >= METADATA_VERSION_MAX) {
    throw new SuperblockError(`unsupported superblock version ${version} (this tool reads versions ${METADATA_VERSION_MIN}-${METADATA_VERSION_MAX - 1})`);
  }
  const u64s = readU32(buf, 124);
  const bytes = SB_HEADER_BYTES + u64s * 8;
  if (bytes > buf.length) throw new SuperblockError(`superblock claims ${bytes} bytes, more than the ${buf.length} available`);
  const flags: bigint[] = [];
  for (let i = 0; i < 8; i++) flags.push(readU64(buf, 144 + 8 * i));
  const f0 = flags[0]!;
  const f1 = flags[1]!;
  const f3 = flags[3]!;
  const csumType = getBits(f0, 2, 8);
  const csumOk = csumMatches(csumType, buf, 0, 16, bytes);
  if (csumOk === false) throw new SuperblockError('superblock checksum does not match (bad csum)');
  const uuidB = buf.subarray(40, 48);
  let uuidLe = 0n;
  for (let i = 7; i >= 0; i--) uuidLe = (uuidLe << 8n) | BigInt(uuidB[i]!);

  const sb: Superblock = {
    sector,
    bytes: buf.subarray(0, bytes),
    csumType,
    csumOk,
    version,
    versionMin,
    uuid: uuidToString(buf, 40),
    userUuid: uuidToString(buf, 56),
    label: Buffer.from(buf.subarray(72, 104)).toString('utf8').replace(/\0.*$/s, ''),
    offset: readU64Number(buf, 104),
    seq: readU64(buf, 112),
    blockSize: readU16(buf, 120),
    devIdx: buf[122]!,
    nrDevices: buf[123]!,
    u64s,
    timeBaseLo: readU64(buf, 128),
    timeBaseHi: readU32(buf, 136),
    timePrecision: readU32(buf, 140),
    flags,
    features: [readU64(buf, 208), readU64(buf, 216)],
    compat: [readU64(buf, 224), readU64(buf, 232)],
    layout: parseLayout(buf, 240),
    fields: [],
    clean: getBits(f0, 1, 2) === 1,
    btreeNodeSize: getBits(f0, 12, 28),
    errorAction: getBits(f0, 8, 12),
    metaCsumType: getBits(f0, 40, 44),
    dataCsumType: getBits(f0, 44, 48),
    metaReplicasWant: getBits(f0, 48, 52),
    dataReplicasWant: getBits(f0, 52, 56),
    strHashType: getBits(f1, 0, 4),
    compressionType: getBits(f1, 4, 8),
    inode32bit: getBits(f1, 8, 9) === 1,
    encryptionType: getBits(f1, 10, 14),
    gcReservePercent: getBits(f0, 28, 33),
    rootReservePercent: getBits(f0, 33, 40),
    promoteTarget: getBits(f1, 28, 40),
    foregroundTarget: getBits(f1, 40, 52),
    backgroundTarget: getBits(f1, 52, 64),
    metadataTarget: getBits(f3, 16, 28),
    journalBuckets: [],
    members: [],
    replicas: [],
    jsetMagic: uuidLe ^ JSET_MAGIC,
    bsetMagic: uuidLe ^ BSET_MAGIC,
  };
  const layoutErr = layoutInvalid(sb.layout);
  if (layoutErr) throw new SuperblockError(layoutErr);
  if (sb.blockSize === 0 || (sb.blockSize & (sb.blockSize - 1)) !== 0) throw new SuperblockError(`invalid block size ${sb.blockSize} sectors`);
  if (sb.btreeNodeSize === 0 || (sb.btreeNodeSize & (sb.btreeNodeSize - 1)) !== 0) {
    throw new SuperblockError(`invalid btree node size ${sb.btreeNodeSize} sectors`);
  }

  for (let p = SB_HEADER_BYTES; p + 8 <= bytes; ) {
    const fu64s = readU32(buf, p);
    const type = readU32(buf, p + 4);
    if (fu64s === 0) throw new SuperblockError(`superblock field at byte ${p} has zero size`);
    const fbytes = fu64s * 8;
    if (p + fbytes > bytes) throw new SuperblockError(`superblock field ${BCH_SB_FIELDS[type] ?? type} extends past the end`);
    sb.fields.push({ type, offset: p, bytes: fbytes });
    decodeField(sb, buf, type, p, p + fbytes);
    p += fbytes;
  }
  if (!sb.members.length) throw new SuperblockError('superblock has no members field');
  return sb;
}

function decodeField(sb: Superblock, buf: Uint8Array, type: number, start: number, end: number): void {
  const data = start + 8;
  switch (type) {
    case BCH_SB_FIELD_journal: {
      const buckets: number[] = [];
      for (let p = data; p + 8 <= end; p += 8) buckets.push(readU64Number(buf, p));
      sb.journalBuckets[sb.devIdx] = buckets;
      break;
    }
    case BCH_SB_FIELD_members:
      for (let i = 0, p = data; i < sb.nrDevices && p + MEMBER_BYTES <= end; i++, p += MEMBER_BYTES) {
        const mf = readU64(buf, p + 40);
        const nbuckets = readU64Number(buf, p + 16);
        let uuidZero = true;
        for (let j = 0; j < 16; j++) if (buf[p + j]) uuidZero = false;
        sb.members.push({
          index: i,
          uuid: uuidToString(buf, p),
          nbuckets,
          firstBucket: readU16(buf, p + 24),
          bucketSize: readU16(buf, p + 26),
          lastMount: readU64Number(buf, p + 32),
          state: getBits(mf, 0, 4),
          replacement: getBits(mf, 10, 14),
          discard: getBits(mf, 14, 15),
          dataAllowed: getBits(mf, 15, 20),
          group: getBits(mf, 20, 28),
          durability: getBits(mf, 28, 30),
          exists: !uuidZero,
        });
      }
      break;
    case BCH_SB_FIELD_replicas_v0:
    case BCH_SB_FIELD_replicas: {
      const v0 = type === BCH_SB_FIELD_replicas_v0;
      for (let p = data; p + 2 <= end; ) {
        const dataType = buf[p]!;
        const nrDevs = buf[p + 1]!;
        if (nrDevs === 0) break; // zero padding at the end of the field
        const hdr = v0 ? 2 : 3;
        if (p + hdr + nrDevs > end) break;
        sb.replicas.push({
          dataType,
          nrRequired: v0 ? 1 : buf[p + 2]!,
          devs: Array.from(buf.subarray(p + hdr, p + hdr + nrDevs)),
        });
        p += hdr + nrDevs;
      }
      break;
    }
    case BCH_SB_FIELD_clean: {
      const parsed = parseJsetEntries(buf, data + 16, end);
      sb.cleanSection = { flags: readU32(buf, data), journalSeq: readU64(buf, data + 8), entries: parsed.entries };
      if (parsed.error) sb.cleanSection.error = parsed.error;
      break;
    }
  }
}

/**
 * What in a valid superblock cannot be true of this device: superblock copies or buckets beyond its end
 * (a truncated image, or the wrong device). Everything sized from the superblock is bounded by this.
 */
function deviceMisfit(sb: Superblock, deviceBytes: number): string | undefined {
  const sectors = Math.floor(deviceBytes / 512);
  for (const o of sb.layout.sbOffsets) {
    if (o + 2 ** sb.layout.sbMaxSizeBits > sectors) {
      return `its layout reserves sectors ${o}-${o + 2 ** sb.layout.sbMaxSizeBits - 1} for a superblock copy, beyond the end of the device (${sectors} sectors): truncated image, or the wrong device?`;
    }
  }
  const m = sb.members[sb.devIdx];
  if (!m) return `no member entry for device index ${sb.devIdx}`;
  if (m.bucketSize < sb.blockSize) return `bucket size ${m.bucketSize} sectors is smaller than the block size`;
  const bytes = m.nbuckets * m.bucketSize * 512;
  if (bytes > deviceBytes) {
    return `it says this device holds ${m.nbuckets} buckets of ${m.bucketSize * 512} bytes (${bytes} bytes), beyond the end of the device (${deviceBytes} bytes): truncated image, or the wrong device?`;
  }
  return undefined;
}

/** How a superblock was found: which copy, and what was wrong with the ones tried before it. */
export interface SuperblockReadResult {
  sb: Superblock;
  usedBackup: boolean;
  problems: string[];
}

/**
 * Reads the primary superblock, falling back to the backups its layout lists (the layout is read from
 * sector 7 when the primary is unreadable). `read` reads bytes at a byte offset.
 */
export function readSuperblock(read: (offset: number, length: number) => Uint8Array, deviceBytes: number): SuperblockReadResult {
  const problems: string[] = [];
  const tryAt = (sector: number, maxBytes: number): Superblock | undefined => {
    const len = Math.min(maxBytes, deviceBytes - sector * 512);
    if (len < SB_HEADER_BYTES) {
      problems.push(`superblock at sector ${sector}: beyond the end of the device`);
      return undefined;
    }
    try {
      const head = read(sector * 512, SB_HEADER_BYTES);
      const want = SB_HEADER_BYTES + readU32(head, 124) * 8;
      const buf = want <= SB_HEADER_BYTES ? head : read(sector * 512, Math.min(want, len));
      const sb = parseSuperblock(buf, sector);
      const misfit = deviceMisfit(sb, deviceBytes);
      if (misfit) throw new SuperblockError(misfit);
      return sb;
    } catch (e) {
      problems.push(`superblock at sector ${sector}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const primary = tryAt(BCH_SB_SECTOR, 1 << 20);
  if (primary) return { sb: primary, usedBackup: false, problems };


  let layout: SbLayout | undefined;
  try {
    const l = parseLayout(read(BCH_SB_LAYOUT_SECTOR * 512, 512), 0);
    if (l.magicOk) layout = l;
    else problems.push('superblock layout at sector 7: bad magic');
  } catch (e) {
    problems.push(`superblock layout at sector 7: ${(e as Error).message}`);
  }
  if (layout) {
    for (const s of layout.sbOffsets) {
      if (s === BCH_SB_SECTOR) continue;
      const sb = tryAt(s, 512 << layout.sbMaxSizeBits);
      if (sb) return { sb, usedBackup: true, problems };
    }
  }
  throw new SuperblockError(problems.join('; '));
}

/** The `bcachefs show-super` view of a superblock (cmd_show_super / bch2_sb_print), field by field. */
export function superblockSummary(sb: Superblock): Record<string, unknown> {
  const has = sb.fields.reduce((acc, f) => acc | (1n << BigInt(f.type)), 0n);
  return {
    externalUuid: sb.userUuid,
    internalUuid: sb.uuid,
    deviceIndex: sb.devIdx,
    label: sb.label,
    version: sb.version,
    oldestVersionOnDisk: sb.versionMin,
    created: Number(sb.timeBaseLo / 1_000_000_000n),
    seq: sb.seq.toString(),
    blockSize: sb.blockSize * 512,
    btreeNodeSize: sb.btreeNodeSize * 512,
    errorAction: BCH_ERROR_ACTIONS[sb.errorAction] ?? 'unknown',
    clean: sb.clean ? 1 : 0,
    features: flagsToText(BCH_SB_FEATURES, sb.features[0]!),
    compatFeatures: flagsToText(BCH_SB_COMPAT, sb.compat[0]!),
    metadataReplicas: sb.metaReplicasWant,
    dataReplicas: sb.dataReplicasWant,
    metadataChecksumType: `${BCH_CSUM_OPTS[sb.metaCsumType] ?? 'unknown'} (${sb.metaCsumType})`,
    dataChecksumType: `${BCH_CSUM_OPTS[sb.dataCsumType] ?? 'unknown'} (${sb.dataCsumType})`,
    compressionType: `${BCH_COMPRESSION_OPTS[sb.compressionType] ?? 'unknown'} (${sb.compressionType})`,
    stringHashType: `${BCH_STR_HASH_OPTS[sb.strHashType] ?? 'unknown'} (${sb.strHashType})`,
    inode32bit: sb.inode32bit ? 1 : 0,
    gcReservePercent: sb.gcReservePercent,
    rootReservePercent: sb.rootReservePercent,
    devices: { live: sb.members.filter((m) => m.exists).length, total: sb.nrDevices },
    sections: flagsToText(BCH_SB_FIELDS, has),
    superblockSize: sb.bytes.length,
    layout: sb.layout,
    members: sb.members.filter((m) => m.exists).map((m) => ({
      device: m.index,
      uuid: m.uuid,
      size: m.nbuckets * m.bucketSize * 512,
      bucketSize: m.bucketSize * 512,
      firstBucket: m.firstBucket,
      buckets: m.nbuckets,
      lastMount: m.lastMount,
      state: BCH_MEMBER_STATES[m.state] ?? 'unknown',
      dataAllowed: flagsToText(BCH_DATA_TYPES, BigInt(m.dataAllowed)) || '(none)',
      replacementPolicy: BCH_CACHE_REPLACEMENT_POLICIES[m.replacement] ?? 'unknown',
      discard: m.discard,
    })),
  };
}
