// Encoders for the values a repair rewrites: varints, alloc_v2, extent pointers (and their gen), btree_ptr_v2,
// inodes (new_varint), dirents. The inverse of values.ts, byte for byte as bcachefs 2021 writes them.
import { readU32, readU64 } from './bytes.js';
import { type Bpos } from './bpos.js';
import { copyBytes, writeBpos, writeU16, writeU32, writeU64 } from './encode-key.js';
import {
  ALLOC_V2_WIDTH, BCH_EXTENT_ENTRY_ptr, BCH_INODE_FIELDS, btreePtrV2Header, inodeUnpack, BTREE_PTR_V2_HEADER_BYTES, EXTENT_ENTRY_END,
  ExtentEntryIter, type AllocUnpacked,
} from './values.js';

/** bch2_varint_encode: the shortest form (1-8 bytes, length in the trailing one-bits), or 0xff + 8 bytes. */
export function varintEncode(v: bigint): Uint8Array {
  if (v < 0n || v >> 64n !== 0n) throw new RangeError(`varint ${v} is not a u64`);
  let bits = 1;
  while (v >> BigInt(bits) !== 0n) bits++;
  const bytes = Math.ceil(bits / 7);
  if (bytes >= 9) {
    const out = new Uint8Array(9);
    out[0] = 0xff;
    writeU64(out, 1, v);
    return out;
  }
  const x = (v << BigInt(bytes)) | ((1n << BigInt(bytes - 1)) - 1n);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Number((x >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Concatenates byte strings and zero-pads the result to a whole number of u64s (memset_u64s_tail). */
function padU64(parts: Uint8Array[], len: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(len / 8) * 8);
  let p = 0;
  for (const b of parts) {
    out.set(b.subarray(0, Math.min(b.length, len - p)), p);
    p += b.length;
    if (p >= len) break;
  }
  return out;
}

/**
 * The varint fields as bcachefs's pack_v2 functions write them: every field, zero as a single 0 byte, then
 * cut after the last non-zero one. Returns the bytes and how many fields were kept (nr_fields).
 */
function packVarintFields(fields: bigint[][]): { bytes: Uint8Array[]; len: number; nr: number } {
  const bytes: Uint8Array[] = [];
  let len = 0;
  let keepLen = 0;
  let nr = 0;
  fields.forEach((f, i) => {
    for (const v of f) {
      const b = varintEncode(v);
      bytes.push(b);
      len += b.length;
    }
    if (f[0] !== 0n) {
      keepLen = len;
      nr = i + 1;
    }
  });
  return { bytes, len: keepLen, nr };
}

const ALLOC_V2_NAMES = ['read_time', 'write_time', 'dirty_sectors', 'cached_sectors', 'stripe', 'stripe_redundancy'];

/** bch2_alloc_pack_v2: the alloc_v2 value (nr_fields, gen, oldest_gen, data_type, varints). */
export function encodeAllocV2(a: AllocUnpacked): Uint8Array {
  const vals = [a.readTime, a.writeTime, a.dirtySectors, a.cachedSectors, a.stripe, a.stripeRedundancy];
  const fields = vals.map((v, i) => {
    const bits = ALLOC_V2_WIDTH[i]!;
    if (!Number.isSafeInteger(v) || v < 0 || (bits < 64 && v >= 2 ** bits)) {
      throw new RangeError(`alloc ${ALLOC_V2_NAMES[i]} ${v} does not fit its ${bits}-bit field`);
    }
    return [BigInt(v)];
  });
  for (const [name, v] of [['gen', a.gen], ['oldest_gen', a.oldestGen], ['data_type', a.dataType]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`alloc ${name} ${v} does not fit a u8`);
  }
  const packed = packVarintFields(fields);
  const head = Uint8Array.of(packed.nr, a.gen, a.oldestGen, a.dataType);
  return padU64([head, ...packed.bytes], 4 + packed.len);
}

/** An inode value's fixed header and fields (BCH_INODE_FIELDS order), as inodeUnpack reads them. */
export interface InodeValue {
  hashSeed: bigint;
  /** bi_flags; its INODE_NR_FIELDS bits are recomputed by the encoder and INODE_NEW_VARINT set */
  flags: number;
  mode: number;
  fields: bigint[];
}

export function inodeHeader(val: Uint8Array): { hashSeed: bigint; flags: number } {
  return { hashSeed: readU64(val, 0), flags: readU32(val, 8) };
}

const INODE_NR_FIELDS_MASK = 0x7f00_0000;
const INODE_NEW_VARINT = 0x8000_0000;

/** bch2_inode_pack_v2 (new_varint, the format of every 2021 fixture): 96-bit fields get a zero high varint. */
export function encodeInode(v: InodeValue): Uint8Array {
  if (v.fields.length !== BCH_INODE_FIELDS.length) throw new RangeError(`an inode has ${BCH_INODE_FIELDS.length} fields, not ${v.fields.length}`);
  const fields = v.fields.map((x, i) => {
    const bits = BCH_INODE_FIELDS[i]![1];
    if (bits < 64 && x >> BigInt(bits) !== 0n) throw new RangeError(`${BCH_INODE_FIELDS[i]![0]} ${x} does not fit ${bits} bits`);
    return bits > 64 ? [x, 0n] : [x];
  });
  const packed = packVarintFields(fields);
  const head = new Uint8Array(14);
  writeU64(head, 0, v.hashSeed);
  writeU32(head, 8, ((v.flags & ~INODE_NR_FIELDS_MASK & ~INODE_NEW_VARINT) | (packed.nr << 24) | INODE_NEW_VARINT) >>> 0);
  writeU16(head, 12, v.mode);
  return padU64([head, ...packed.bytes], 14 + packed.len);
}

/** An inode value with some fields (by name, e.g. bi_size, bi_nlink) set; the value must unpack. */
export function withInodeFields(val: Uint8Array, change: Readonly<Record<string, bigint>>): Uint8Array {
  const u = inodeUnpack(val);
  if (!u) throw new RangeError('the inode value does not unpack, so its fields cannot be rewritten');
  const fields = [...u.fields];
  for (const [name, v] of Object.entries(change)) {
    const i = BCH_INODE_FIELDS.findIndex(([n]) => n === name);
    if (i < 0) throw new RangeError(`no inode field ${name}`);
    fields[i] = v;
  }
  return encodeInode({ ...inodeHeader(val), mode: u.mode, fields });
}

/** struct bch_dirent: d_inum, d_type, the name, zero-padded to u64s. */
export function encodeDirent(inum: bigint, type: number, name: Uint8Array): Uint8Array {
  if (name.length === 0 || name.includes(0)) throw new RangeError('a dirent name must be non-empty and contain no NUL byte');
  const head = new Uint8Array(9);
  writeU64(head, 0, inum);
  head[8] = type;
  return padU64([head, name], 9 + name.length);
}

/** struct bch_extent_ptr as one u64: type bit, cached, reservation, offset (44 bits), dev, gen. */
export interface ExtentPtrFields {
  dev: number;
  offset: number;
  gen: number;
  cached: boolean;
  reservation?: boolean;
}

export function encodeExtentPtr(p: ExtentPtrFields): Uint8Array {
  if (!Number.isSafeInteger(p.offset) || p.offset < 0 || p.offset >= 2 ** 44) throw new RangeError(`pointer offset ${p.offset} does not fit 44 bits`);
  if (p.dev > 0xff || p.gen > 0xff || p.dev < 0 || p.gen < 0) throw new RangeError('pointer dev and gen are u8s');
  const out = new Uint8Array(8);
  const lo = (1 | (p.cached ? 2 : 0) | (p.reservation ? 8 : 0) | ((p.offset % 0x1000_0000) << 4)) >>> 0;
  const hi = (Math.floor(p.offset / 0x1000_0000) | (p.dev << 16) | (p.gen << 24)) >>> 0;
  writeU32(out, 0, lo);
  writeU32(out, 4, hi);
  return out;
}

/**
 * A copy of an extent-like value (extent, btree_ptr; btree_ptr_v2 with `entriesStart` 40) with the gen of
 * its `index`-th pointer entry (0 = first ptr, counting only ptr entries) set to gen.
 */
export function withPtrGen(value: Uint8Array, entriesStart: number, index: number, gen: number): Uint8Array {
  if (!Number.isInteger(gen) || gen < 0 || gen > 0xff) throw new RangeError(`gen ${gen} is not a u8`);
  const out = copyBytes(value);
  const it = new ExtentEntryIter();
  it.set(out, entriesStart, out.length, 0);
  let n = 0;
  for (let t = it.next(); t !== EXTENT_ENTRY_END; t = it.next()) {
    if (t < 0) break;
    if (t === BCH_EXTENT_ENTRY_ptr && n++ === index) {
      out[it.entryOff + 7] = gen; // gen is the top byte of the little-endian u64
      return out;
    }
  }
  throw new RangeError(`the value has ${n} pointer entries, so there is no pointer ${index}`);
}

/** struct bch_btree_ptr_v2's header fields; the extent entries follow as raw bytes. */
export interface BtreePtrV2Value {
  memPtr: bigint;
  seq: bigint;
  sectorsWritten: number;
  flags: number;
  minKey: Bpos;
  /** the extent entries (normally bch_extent_ptrs, see encodeExtentPtr) */
  entries: Uint8Array;
}

export function readBtreePtrV2Value(val: Uint8Array): BtreePtrV2Value {
  if (val.length < BTREE_PTR_V2_HEADER_BYTES) throw new RangeError(`a btree_ptr_v2 value is at least ${BTREE_PTR_V2_HEADER_BYTES} bytes`);
  return { memPtr: readU64(val, 0), ...btreePtrV2Header(val), entries: copyBytes(val, BTREE_PTR_V2_HEADER_BYTES) };
}

export function encodeBtreePtrV2(v: BtreePtrV2Value): Uint8Array {
  if (v.entries.length % 8) throw new RangeError('extent entries are whole u64s');
  const out = new Uint8Array(BTREE_PTR_V2_HEADER_BYTES + v.entries.length);
  writeU64(out, 0, v.memPtr);
  writeU64(out, 8, v.seq);
  writeU16(out, 16, v.sectorsWritten);
  writeU16(out, 18, v.flags);
  writeBpos(out, 20, v.minKey);
  out.set(v.entries, BTREE_PTR_V2_HEADER_BYTES);
  return out;
}
