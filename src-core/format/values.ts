// Key values: extent entries (ptr, crc, stripe_ptr), btree_ptr_v2, alloc/alloc_v2, inode, dirent, xattr.
// Hot-path decoders write into reusable objects; the *ToText printers follow bcachefs's val_to_text.
import { readU16, readU32, readU64, u64FromHiLo } from './bytes.js';
import { readBpos, type Bpos } from './bpos.js';

// ---- extent entries (extents.h) ----
export const BCH_EXTENT_ENTRY_ptr = 0;
export const BCH_EXTENT_ENTRY_crc32 = 1;
export const BCH_EXTENT_ENTRY_crc64 = 2;
export const BCH_EXTENT_ENTRY_crc128 = 3;
export const BCH_EXTENT_ENTRY_stripe_ptr = 4;
const ENTRY_BYTES = [8, 8, 16, 24, 8];
export const EXTENT_ENTRY_INVALID = -2;
export const EXTENT_ENTRY_END = -1;

/**
 * Walks the entries of an extent-like value (extent, btree_ptr, btree_ptr_v2 after its header, reflink_v
 * after its refcount) without allocating: call set(), then next() until it returns EXTENT_ENTRY_END.
 */
export class ExtentEntryIter {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  end = 0;
  /** byte offset of the current entry */
  entryOff = 0;
  // ptr
  ptrDev = 0;
  ptrOffset = 0; // sectors (44 bits: exact in a JS number)
  ptrGen = 0;
  ptrCached = false;
  ptrReservation = false;
  // crc (unpacked as bch2_extent_crc_unpack does; sizes in sectors)
  crcCompressedSize = 0;
  crcUncompressedSize = 0;
  crcOffset = 0;
  crcNonce = 0;
  crcCsumType = 0;
  crcCompressionType = 0;
  // stripe_ptr
  ecBlock = 0;
  ecRedundancy = 0;
  ecIdx = 0;

  set(buf: Uint8Array, start: number, end: number, keySize: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    // an extent without a crc entry is uncompressed and exactly its key's size
    this.crcCompressedSize = keySize;
    this.crcUncompressedSize = keySize;
    this.crcOffset = 0;
    this.crcNonce = 0;
    this.crcCsumType = 0;
    this.crcCompressionType = 0;
  }

  next(): number {
    if (this.pos >= this.end) return EXTENT_ENTRY_END;
    const b = this.buf;
    const off = this.pos;
    this.entryOff = off;
    const lo = readU32(b, off);
    const hi = readU32(b, off + 4);
    let type: number;
    if (lo === 0) type = hi === 0 ? 64 : 32 + ctz32(hi);
    else type = ctz32(lo);
    if (type > BCH_EXTENT_ENTRY_stripe_ptr || off + ENTRY_BYTES[type]! > this.end) return EXTENT_ENTRY_INVALID;
    this.pos = off + ENTRY_BYTES[type]!;
    switch (type) {
      case BCH_EXTENT_ENTRY_ptr:
        this.ptrCached = (lo & 2) !== 0;
        this.ptrReservation = (lo & 8) !== 0;
        // offset: bits 4..47
        this.ptrOffset = (lo >>> 4) + (hi & 0xffff) * 0x1000_0000;
        this.ptrDev = (hi >>> 16) & 0xff;
        this.ptrGen = hi >>> 24;
        break;
      case BCH_EXTENT_ENTRY_crc32:
        this.crcCompressedSize = ((lo >>> 2) & 0x7f) + 1;
        this.crcUncompressedSize = ((lo >>> 9) & 0x7f) + 1;
        this.crcOffset = (lo >>> 16) & 0x7f;
        this.crcNonce = 0;
        this.crcCsumType = (lo >>> 24) & 0xf;
        this.crcCompressionType = (lo >>> 28) & 0xf;
        break;
      case BCH_EXTENT_ENTRY_crc64:
        this.crcCompressedSize = ((lo >>> 3) & 0x1ff) + 1;
        this.crcUncompressedSize = ((lo >>> 12) & 0x1ff) + 1;
        this.crcOffset = ((lo >>> 21) & 0x1ff);
        this.crcNonce = ((lo >>> 30) | ((hi & 0xff) << 2)) & 0x3ff;
        this.crcCsumType = (hi >>> 8) & 0xf;
        this.crcCompressionType = (hi >>> 12) & 0xf;
        break;
      case BCH_EXTENT_ENTRY_crc128:
        this.crcCompressedSize = ((lo >>> 4) & 0x1fff) + 1;
        this.crcUncompressedSize = ((lo >>> 17) & 0x1fff) + 1;
        this.crcOffset = ((lo >>> 30) | ((hi & 0x7ff) << 2)) & 0x1fff;
        this.crcNonce = (hi >>> 11) & 0x1fff;
        this.crcCsumType = (hi >>> 24) & 0xf;
        this.crcCompressionType = (hi >>> 28) & 0xf;
        break;
      case BCH_EXTENT_ENTRY_stripe_ptr:
        this.ecBlock = (lo >>> 5) & 0xff;
        this.ecRedundancy = (lo >>> 13) & 0xf;
        this.ecIdx = (lo >>> 17) + hi * 0x8000; // 47 bits
        break;
    }
    return type;
  }
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Text of the entries, as bch2_bkey_ptrs_to_text; `stale` marks pointers whose bucket gen moved on. */
export function extentEntriesToText(
  buf: Uint8Array, start: number, end: number, keySize: number,
  stale?: (dev: number, offset: number, gen: number) => boolean,
): string {
  const it = new ExtentEntryIter();
  it.set(buf, start, end, keySize);
  const parts: string[] = [];
  for (;;) {
    const t = it.next();
    if (t === EXTENT_ENTRY_END) break;
    if (t === EXTENT_ENTRY_INVALID) {
      const lo = readU32(buf, it.entryOff);
      const hi = it.entryOff + 8 <= buf.length ? readU32(buf, it.entryOff + 4) : 0;
      parts.push(`(invalid extent entry ${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')})`);
      break;
    }
    switch (t) {
      case BCH_EXTENT_ENTRY_ptr:
        parts.push(
          `ptr: ${it.ptrDev}:${it.ptrOffset} gen ${it.ptrGen}${it.ptrCached ? ' cached' : ''}` +
            (stale?.(it.ptrDev, it.ptrOffset, it.ptrGen) ? ' stale' : ''),
        );
        break;
      case BCH_EXTENT_ENTRY_stripe_ptr:
        parts.push(`ec: idx ${it.ecIdx} block ${it.ecBlock}`);
        break;
      default:
        parts.push(
          `crc: c_size ${it.crcCompressedSize} size ${it.crcUncompressedSize} offset ${it.crcOffset} ` +
            `nonce ${it.crcNonce} csum ${it.crcCsumType} compress ${it.crcCompressionType}`,
        );
    }
  }
  return parts.join(' ');
}

// ---- btree_ptr_v2 (struct bch_btree_ptr_v2) ----
export const BTREE_PTR_V2_HEADER_BYTES = 40;
export interface ExtentPtr {
  dev: number;
  offset: number; // sectors
  gen: number;
  cached: boolean;
}

/** A decoded pointer to a btree node (btree_ptr_v2, or v1 btree_ptr with no seq/min_key). */
export interface BtreePtr {
  type: number; // KEY_TYPE_btree_ptr or KEY_TYPE_btree_ptr_v2
  /** the key's position: the child's max_key */
  maxKey: Bpos;
  /** v2 only */
  seq?: bigint;
  sectorsWritten: number;
  flags: number;
  minKey?: Bpos;
  ptrs: ExtentPtr[];
  /** the whole key exactly as stored unpacked (bkey + value), for journaling and rewriting */
  raw: Uint8Array;
}

export const BTREE_PTR_RANGE_UPDATED = 1;

export function decodePtrs(buf: Uint8Array, start: number, end: number): ExtentPtr[] {
  const it = new ExtentEntryIter();
  it.set(buf, start, end, 0);
  const out: ExtentPtr[] = [];
  for (let t = it.next(); t >= 0; t = it.next()) {
    if (t === BCH_EXTENT_ENTRY_ptr) out.push({ dev: it.ptrDev, offset: it.ptrOffset, gen: it.ptrGen, cached: it.ptrCached });
  }
  return out;
}

export function btreePtrV2Header(val: Uint8Array): { seq: bigint; sectorsWritten: number; flags: number; minKey: Bpos } {
  return { seq: readU64(val, 8), sectorsWritten: readU16(val, 16), flags: readU16(val, 18), minKey: readBpos(val, 20) };
}

export function btreePtrV2HeaderToText(val: Uint8Array, posText: (p: Bpos) => string): string {
  const h = btreePtrV2Header(val);
  return `seq ${h.seq.toString(16)} written ${h.sectorsWritten} min_key ${posText(h.minKey)} `;
}

// ---- varints (varint.c, "new_varint") ----
/** Decoded value of the last varint: (hi, lo) u32 halves, and its length in bytes (0 = error). */
export const varint = { hi: 0, lo: 0, bytes: 0 };

export function varintDecode(buf: Uint8Array, off: number, end: number): boolean {
  if (off >= end) return fail();
  const first = buf[off]!;
  const bytes = first === 0xff ? 9 : ctz32(~first & 0xff) + 1;
  if (off + bytes > end) return fail();
  if (bytes === 9) {
    varint.lo = readU32(buf, off + 1);
    varint.hi = readU32(buf, off + 5);
  } else {
    // little-endian value of `bytes` bytes, shifted right by `bytes`
    let lo = 0;
    let hi = 0;
    for (let i = bytes - 1; i >= 0; i--) {
      const byte = buf[off + i]!;
      if (i >= 4) hi = (hi * 256 + byte) >>> 0;
      else lo = (lo * 256 + byte) >>> 0;
    }
    // (hi:lo) >> bytes
    lo = ((lo >>> bytes) | (hi << (32 - bytes))) >>> 0;
    hi = hi >>> bytes;
    varint.lo = lo;
    varint.hi = hi;
  }
  varint.bytes = bytes;
  return true;
}
function fail(): false {
  varint.bytes = 0;
  return false;
}

// ---- alloc (alloc_background.c bch2_alloc_unpack) ----
export interface AllocUnpacked {
  gen: number;
  oldestGen: number;
  dataType: number;
  readTime: number;
  writeTime: number;
  dirtySectors: number;
  cachedSectors: number;
  stripe: number;
  stripeRedundancy: number;
}

export function newAllocUnpacked(): AllocUnpacked {
  return { gen: 0, oldestGen: 0, dataType: 0, readTime: 0, writeTime: 0, dirtySectors: 0, cachedSectors: 0, stripe: 0, stripeRedundancy: 0 };
}

export const ALLOC_V2_WIDTH = [64, 64, 16, 16, 32, 8];
const ALLOC_V1_BYTES = [2, 2, 1, 2, 2, 1, 4, 1]; // read_time write_time data_type dirty cached oldest_gen stripe stripe_redundancy

const ALLOC_V2_FIELDS = ['readTime', 'writeTime', 'dirtySectors', 'cachedSectors', 'stripe', 'stripeRedundancy'] as const;
const ALLOC_V1_FIELDS = ['readTime', 'writeTime', 'dataType', 'dirtySectors', 'cachedSectors', 'oldestGen', 'stripe', 'stripeRedundancy'] as const;

/**
 * Unpacks an alloc (12) or alloc_v2 (20) value into out, as bch2_alloc_unpack does: fields start at 0, and
 * a malformed value keeps what was decoded before the fault (returns false then).
 */
export function allocUnpack(type: number, buf: Uint8Array, off: number, len: number, out: AllocUnpacked): boolean {
  const end = off + len;
  out.gen = out.oldestGen = out.dataType = 0;
  out.readTime = out.writeTime = out.dirtySectors = out.cachedSectors = out.stripe = out.stripeRedundancy = 0;
  if (type === 20) {
    if (len < 4) return false;
    const nr = buf[off]!;
    out.gen = buf[off + 1]!;
    out.oldestGen = buf[off + 2]!;
    out.dataType = buf[off + 3]!;
    let p = off + 4;
    for (let f = 0; f < ALLOC_V2_FIELDS.length && f < nr; f++) {
      if (!varintDecode(buf, p, end)) return false;
      p += varint.bytes;
      const w = ALLOC_V2_WIDTH[f]!;
      // a value wider than its field, or beyond 2^53 (times), does not unpack
      if (varint.hi >= 0x20_0000 || (w < 64 && (varint.hi !== 0 || (w < 32 && varint.lo >= 2 ** w)))) return false;
      out[ALLOC_V2_FIELDS[f]!] = varint.hi * 0x1_0000_0000 + varint.lo;
    }
    return true;
  }
  if (type === 12) {
    if (len < 2) return false;
    const fields = buf[off]!;
    out.gen = buf[off + 1]!;
    let p = off + 2;
    for (let f = 0; f < ALLOC_V1_FIELDS.length; f++) {
      if (!(fields & (1 << f))) continue;
      const n = ALLOC_V1_BYTES[f]!;
      if (p + n > end) return false;
      out[ALLOC_V1_FIELDS[f]!] = n === 1 ? buf[p]! : n === 2 ? readU16(buf, p) : readU32(buf, p);
      p += n;
    }
    return true;
  }
  return false;
}

// ---- inode (inode.c) ----
export const BCH_INODE_FIELDS: ReadonlyArray<readonly [string, number]> = [
  ['bi_atime', 96], ['bi_ctime', 96], ['bi_mtime', 96], ['bi_otime', 96], ['bi_size', 64], ['bi_sectors', 64],
  ['bi_uid', 32], ['bi_gid', 32], ['bi_nlink', 32], ['bi_generation', 32], ['bi_dev', 32], ['bi_data_checksum', 8],
  ['bi_compression', 8], ['bi_project', 32], ['bi_background_compression', 8], ['bi_data_replicas', 8],
  ['bi_promote_target', 16], ['bi_foreground_target', 16], ['bi_background_target', 16], ['bi_erasure_code', 16],
  ['bi_fields_set', 16], ['bi_dir', 64], ['bi_dir_offset', 64],
];
const INODE_NEW_VARINT = 0x8000_0000;

/** The inode's fields in BCH_INODE_FIELDS order, or undefined where bcachefs would say "(unpack error)". */
export function inodeUnpack(val: Uint8Array): { mode: number; fields: bigint[] } | undefined {
  if (val.length < 14) return undefined;
  const flags = readU32(val, 8);
  const mode = readU16(val, 12);
  const nrFields = (flags >>> 24) & 0x7f;
  const fields: bigint[] = [];
  let p = 14;
  const end = val.length;
  if (flags & INODE_NEW_VARINT) {
    for (let f = 0; f < BCH_INODE_FIELDS.length; f++) {
      const bits = BCH_INODE_FIELDS[f]![1];
      let v0 = 0n;
      let v1 = 0n;
      if (f < nrFields) {
        if (!varintDecode(val, p, end)) return undefined;
        p += varint.bytes;
        v0 = u64FromHiLo(varint.hi, varint.lo);
        if (bits > 64) {
          if (!varintDecode(val, p, end)) return undefined;
          p += varint.bytes;
          v1 = u64FromHiLo(varint.hi, varint.lo);
        }
      }
      const width = bits > 64 ? 64 : bits;
      if (v1 !== 0n || (width < 64 && v0 >> BigInt(width) !== 0n)) return undefined;
      fields.push(v0);
    }
    return { mode, fields };
  }
  // v1: each field is a big-endian integer whose leading byte's highest set bit encodes the length
  const BYTES = [1, 2, 3, 4, 6, 8, 10, 13];
  for (let f = 0; f < BCH_INODE_FIELDS.length; f++) {
    if (f >= nrFields) {
      fields.push(0n);
      continue;
    }
    if (p >= end || val[p] === 0) return undefined;
    const shift = 8 - (31 - Math.clz32(val[p]!));
    const bytes = BYTES[shift - 1]!;
    if (p + bytes > end) return undefined;
    let v = BigInt(val[p]! ^ (0x100 >> shift));
    for (let i = 1; i < bytes; i++) v = (v << 8n) | BigInt(val[p + i]!);
    p += bytes;
    const width = BCH_INODE_FIELDS[f]![1] > 64 ? 64 : BCH_INODE_FIELDS[f]![1];
    if (v >> BigInt(width) !== 0n) return undefined;
    fields.push(v);
  }
  return { mode, fields };
}

export function inodeToText(val: Uint8Array): string {
  const u = inodeUnpack(val);
  if (!u) return '(unpack error)';
  let s = `mode: ${u.mode.toString(8)} `;
  for (let f = 0; f < BCH_INODE_FIELDS.length; f++) s += `${BCH_INODE_FIELDS[f]![0]}: ${u.fields[f]} `;
  return s;
}

// ---- dirent, xattr ----
/** Name bytes of a dirent: the value after d_inum/d_type, up to the first NUL. */
export function direntName(val: Uint8Array): Uint8Array {
  const name = val.subarray(9);
  const nul = name.indexOf(0);
  return nul < 0 ? name : name.subarray(0, nul);
}

/** bch_scnmemcpy: the bytes as characters (bcachefs copies them raw). */
export function bytesToText(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

export function direntToText(val: Uint8Array): string {
  if (val.length < 9) return '(invalid dirent)';
  return `${bytesToText(direntName(val))} -> ${readU64(val, 0)} type ${val[8]}`;
}

const XATTR_PREFIX: Record<number, string | null> = {
  1: 'user.', 2: 'system.posix_acl_access', 3: 'system.posix_acl_default', 4: 'trusted.', 5: 'security.',
};

export function xattrToText(val: Uint8Array): string {
  if (val.length < 4) return '(invalid xattr)';
  const type = val[0]!;
  const nameLen = val[1]!;
  const valLen = readU16(val, 2);
  const prefix = XATTR_PREFIX[type];
  let s = prefix !== undefined ? (prefix ?? '') : `(unknown type ${type})`;
  s += bytesToText(val.subarray(4, 4 + nameLen));
  s += ':';
  s += bytesToText(val.subarray(4 + nameLen, 4 + nameLen + valLen));
  return s;
}

/** inline_data: bcachefs prints a kernel-only %*phN (garbage in userspace); we print the bytes as hex. */
export function inlineDataToText(val: Uint8Array, prefix = ''): string {
  const n = Math.min(val.length, 32);
  return `${prefix}datalen ${val.length}: ${Buffer.from(val.buffer, val.byteOffset, n).toString('hex')}`;
}

export function allocToText(type: number, val: Uint8Array, dataTypes: readonly string[]): string {
  const a = newAllocUnpacked();
  if (!allocUnpack(type, val, 0, val.length, a)) return '(invalid alloc key)';
  return (
    `gen ${a.gen} oldest_gen ${a.oldestGen} data_type ${dataTypes[a.dataType] ?? a.dataType} ` +
    `read_time ${a.readTime} write_time ${a.writeTime} dirty_sectors ${a.dirtySectors} ` +
    `cached_sectors ${a.cachedSectors} stripe ${a.stripe} stripe_redundancy ${a.stripeRedundancy}`
  );
}

export function stripeToText(val: Uint8Array): string {
  if (val.length < 16) return '(invalid stripe)';
  const sectors = readU16(val, 0);
  const algorithm = val[2]!;
  const nrBlocks = val[3]!;
  const nrRedundant = val[4]!;
  const csumGranularityBits = val[5]!;
  const csumType = val[6]!;
  let s = `algo ${algorithm} sectors ${sectors} blocks ${nrBlocks - nrRedundant}:${nrRedundant} csum ${csumType} gran ${2 ** csumGranularityBits}`;
  const csumBytes = [0, 4, 8, 16, 16, 4, 8][csumType] ?? 0;
  const nrCsums = csumGranularityBits < 31 ? Math.ceil(sectors / 2 ** csumGranularityBits) : 1;
  const countsOff = 8 + nrBlocks * 8 + nrBlocks * nrCsums * csumBytes;
  for (let i = 0; i < nrBlocks && 8 + i * 8 + 8 <= val.length; i++) {
    const lo = readU32(val, 8 + i * 8);
    const hi = readU32(val, 12 + i * 8);
    const offset = (lo >>> 4) + (hi & 0xffff) * 0x1000_0000;
    const dev = (hi >>> 16) & 0xff;
    const count = countsOff + 2 * i + 2 <= val.length ? readU16(val, countsOff + 2 * i) : 0;
    s += ` ${dev}:${offset}:${count}`;
  }
  return s;
}

