// The inode summary the fsck passes share: one row per inode of the inodes btree (as bcachefs sees it
// after check_inodes), the fields fsck.c reads, in typed arrays. 64-bit fields are (hi, lo) u32 halves.
// Rows are in inode number order; lookups by number allocate nothing.
import { readU16, readU32 } from '../format/bytes.js';
import { varint, varintDecode } from '../format/values.js';

// bi_flags (bcachefs_format.h)
export const BCH_INODE_I_SIZE_DIRTY = 1 << 5;
export const BCH_INODE_I_SECTORS_DIRTY = 1 << 6;
export const BCH_INODE_UNLINKED = 1 << 7;
export const BCH_INODE_BACKPTR_UNTRUSTED = 1 << 8;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const DT_DIR = 4;

/** mode_to_type: the d_type a dirent to an inode of this mode carries. */
export function modeToType(mode: number): number {
  return (mode >>> 12) & 15;
}
export function isDir(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

// BCH_INODE_FIELDS: index, width in bits (96-bit times hold a u64 in 2021: two varints, the second 0)
const FIELD_BITS = [96, 96, 96, 96, 64, 64, 32, 32, 32, 32, 32, 8, 8, 32, 8, 8, 16, 16, 16, 16, 16, 64, 64];
/** bi_atime .. bi_otime, the fields before bi_size */
const F_TIMES_END = 4;
const F_SIZE = 4;
const F_DATA_CHECKSUM = 11;
const F_COMPRESSION = 12;
const F_SECTORS = 5;
const F_NLINK = 8;
const F_DIR = 21;
const F_DIR_OFFSET = 22;
const INODE_NEW_VARINT = 0x8000_0000;
const BCH_STR_HASH_NR = 4;
const BCH_CSUM_OPT_NR = 3;
const BCH_COMPRESSION_OPT_NR = 4;
const V1_BYTES = [1, 2, 3, 4, 6, 8, 10, 13];

/** Scratch for one unpacked inode: the fields as (hi, lo) halves. */
const fhi = new Uint32Array(FIELD_BITS.length);
const flo = new Uint32Array(FIELD_BITS.length);

/**
 * bch2_inode_unpack of the fields after bi_hash_seed/bi_flags/bi_mode into fhi/flo; false where bcachefs's
 * unpack fails (bch2_inode_invalid then drops the key when its node is read).
 */
function unpackFields(val: Uint8Array, off: number, end: number, flags: number): boolean {
  const nr = (flags >>> 24) & 0x7f;
  let p = off + 14;
  // fields past nr_fields are zero
  for (let f = nr < FIELD_BITS.length ? nr : FIELD_BITS.length; f < FIELD_BITS.length; f++) fhi[f] = flo[f] = 0;
  if (flags & INODE_NEW_VARINT) {
    for (let f = 0; f < FIELD_BITS.length && f < nr; f++) {
      // most fields are one-byte varints (low bit clear: value = byte >> 1): decoded here, the rest by
      // varintDecode, as this loop runs for every inode
      let hi = 0;
      let lo = 0;
      if (p < end && (val[p]! & 1) === 0) {
        lo = val[p++]! >>> 1;
      } else if (f < F_TIMES_END) {
        // times are not kept, and any u64 fits them: their varints are only stepped over
        const x = ~val[p]! & 0xff;
        p += x === 0 ? 9 : 32 - Math.clz32(x & -x);
        if (p > end) return false;
      } else {
        if (!varintDecode(val, p, end)) return false;
        p += varint.bytes;
        hi = varint.hi;
        lo = varint.lo;
      }
      // the high part of a time must be zero (u96 is a u64 in 2021)
      if (FIELD_BITS[f]! > 64) {
        if (p < end && val[p] === 0) {
          p++;
        } else {
          if (!varintDecode(val, p, end) || varint.hi !== 0 || varint.lo !== 0) return false;
          p += varint.bytes;
        }
      }
      if (!fits(f, hi, lo)) return false;
      fhi[f] = hi;
      flo[f] = lo;
    }
    return true;
  }
  // v1: big-endian fields; the leading byte's highest set bit gives the length (inode_decode_field)
  for (let f = 0; f < FIELD_BITS.length && f < nr; f++) {
    if (p >= end || val[p] === 0) return false;
    const shift = 8 - (31 - Math.clz32(val[p]!));
    const bytes = V1_BYTES[shift - 1]!;
    if (p + bytes > end) return false;
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < bytes; i++) {
      let b = val[p + i]!;
      if (i === 0) b ^= 0x100 >> shift;
      // bytes above the low 8 must be zero: the value must fit a u64
      if (bytes - i > 8) {
        if (b !== 0) return false;
        continue;
      }
      hi = ((hi << 8) | (lo >>> 24)) >>> 0;
      lo = ((lo << 8) | b) >>> 0;
    }
    p += bytes;
    if (!fits(f, hi, lo)) return false;
    fhi[f] = hi;
    flo[f] = lo;
  }
  return true;
}

/** the largest low half a field of each width holds (fields of 64 bits and more take any value) */
const FIELD_MAX_LO = FIELD_BITS.map((b) => (b >= 32 ? 0xffffffff : 2 ** b - 1));

function fits(f: number, hi: number, lo: number): boolean {
  return FIELD_BITS[f]! >= 64 || (hi === 0 && lo <= FIELD_MAX_LO[f]!);
}

const INITIAL_ROWS = 4096;

export class InodeTable {
  n = 0;
  inumHi = new Uint32Array(0);
  inumLo = new Uint32Array(0);
  mode = new Uint16Array(0);
  /** bi_flags as bcachefs holds them after check_inodes (untrusted backpointers cleared, ...) */
  flags = new Uint32Array(0);
  /** bi_nlink as stored: the link count minus nlink_bias (see nlinkGet) */
  nlink = new Uint32Array(0);
  sizeHi = new Uint32Array(0);
  sizeLo = new Uint32Array(0);
  sectorsHi = new Uint32Array(0);
  sectorsLo = new Uint32Array(0);
  /** bi_hash_seed as a little-endian u64 */
  hashSeedHi = new Uint32Array(0);
  hashSeedLo = new Uint32Array(0);
  /** backpointer to the dirent naming this inode (metadata version 13): bi_dir:bi_dir_offset, 0:0 if unset */
  dirHi = new Uint32Array(0);
  dirLo = new Uint32Array(0);
  dirOffHi = new Uint32Array(0);
  dirOffLo = new Uint32Array(0);
  /** per-row scratch bits for the passes (see ROW_* in context.ts) */
  state = new Uint8Array(0);
  /** direct index when inode numbers are dense: denseIndex[inum - denseBase] = row + 1 */
  private denseIndex: Int32Array | null = null;
  private denseBase = 0;
  private cap = 0;

  /** `rows`: how many inodes to expect (gc counts them), so that the table is not regrown and copied */
  constructor(rows = 0) {
    this.grow(Math.max(INITIAL_ROWS, Math.min(rows + 16, 1 << 26)));
  }

  private grow(cap: number): void {
    const g = <T extends Uint8Array | Uint16Array | Uint32Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(cap);
      b.set(a.subarray(0, this.n) as never);
      return b;
    };
    this.inumHi = g(this.inumHi, Uint32Array);
    this.inumLo = g(this.inumLo, Uint32Array);
    this.mode = g(this.mode, Uint16Array);
    this.flags = g(this.flags, Uint32Array);
    this.nlink = g(this.nlink, Uint32Array);
    this.sizeHi = g(this.sizeHi, Uint32Array);
    this.sizeLo = g(this.sizeLo, Uint32Array);
    this.sectorsHi = g(this.sectorsHi, Uint32Array);
    this.sectorsLo = g(this.sectorsLo, Uint32Array);
    this.hashSeedHi = g(this.hashSeedHi, Uint32Array);
    this.hashSeedLo = g(this.hashSeedLo, Uint32Array);
    this.dirHi = g(this.dirHi, Uint32Array);
    this.dirLo = g(this.dirLo, Uint32Array);
    this.dirOffHi = g(this.dirOffHi, Uint32Array);
    this.dirOffLo = g(this.dirOffLo, Uint32Array);
    this.state = g(this.state, Uint8Array);
    this.cap = cap;
  }

  /**
   * Appends the inode value val[off, end) at inode number (hi, lo), which must be above the last row's.
   * Returns the row, or -1 for a value bch2_inode_invalid rejects (bcachefs drops such a key when it reads
   * its node, so the passes never see it).
   */
  push(inumHi: number, inumLo: number, val: Uint8Array, off: number, end: number): number {
    if (end - off < 14) return -1;
    const flags = readU32(val, off + 8);
    if (((flags >>> 20) & 0xf) >= BCH_STR_HASH_NR || !unpackFields(val, off, end, flags)) return -1;
    if (flo[F_DATA_CHECKSUM]! > BCH_CSUM_OPT_NR || flo[F_COMPRESSION]! > BCH_COMPRESSION_OPT_NR) return -1;
    if (flags & BCH_INODE_UNLINKED && flo[F_NLINK] !== 0) return -1;
    if (this.n === this.cap) this.grow(this.cap * 4);
    const r = this.n++;
    this.inumHi[r] = inumHi;
    this.inumLo[r] = inumLo;
    this.hashSeedLo[r] = readU32(val, off);
    this.hashSeedHi[r] = readU32(val, off + 4);
    this.flags[r] = flags;
    this.mode[r] = readU16(val, off + 12);
    this.nlink[r] = flo[F_NLINK]!;
    this.sizeHi[r] = fhi[F_SIZE]!;
    this.sizeLo[r] = flo[F_SIZE]!;
    this.sectorsHi[r] = fhi[F_SECTORS]!;
    this.sectorsLo[r] = flo[F_SECTORS]!;
    this.dirHi[r] = fhi[F_DIR]!;
    this.dirLo[r] = flo[F_DIR]!;
    this.dirOffHi[r] = fhi[F_DIR_OFFSET]!;
    this.dirOffLo[r] = flo[F_DIR_OFFSET]!;
    this.state[r] = 0;
    return r;
  }

  /** Drops the last row (an inode check_inodes deletes). */
  pop(): void {
    this.n--;
  }

  /** Call once all rows are in: builds the direct index when inode numbers are dense enough. */
  seal(): void {
    this.denseIndex = null;
    const n = this.n;
    if (n === 0 || this.inumHi[0] !== 0 || this.inumHi[n - 1] !== 0) return;
    const base = this.inumLo[0]!;
    const span = this.inumLo[n - 1]! - base + 1;
    if (span > 4 * n + 4096) return;
    const idx = new Int32Array(span);
    for (let r = 0; r < n; r++) idx[this.inumLo[r]! - base] = r + 1;
    this.denseIndex = idx;
    this.denseBase = base;
  }

  /** The row of inode number (hi, lo), or -1 if there is no such inode. */
  find(hi: number, lo: number): number {
    const d = this.denseIndex;
    if (d !== null) {
      if (hi !== 0) return -1;
      const i = lo - this.denseBase;
      return i >= 0 && i < d.length ? d[i]! - 1 : -1;
    }
    let a = 0;
    let b = this.n;
    while (a < b) {
      const m = (a + b) >>> 1;
      const mh = this.inumHi[m]!;
      if (mh < hi || (mh === hi && this.inumLo[m]! < lo)) a = m + 1;
      else b = m;
    }
    return a < this.n && this.inumHi[a] === hi && this.inumLo[a] === lo ? a : -1;
  }

  /** bch2_inode_nlink_get: the link count the inode claims. */
  nlinkGet(r: number): number {
    if (this.flags[r]! & BCH_INODE_UNLINKED) return 0;
    return this.nlink[r]! + (isDir(this.mode[r]!) ? 2 : 1);
  }

  /** INODE_STR_HASH: the string hash type of the inode's dirents or xattrs. */
  strHashType(r: number): number {
    return (this.flags[r]! >>> 20) & 0xf;
  }
}
