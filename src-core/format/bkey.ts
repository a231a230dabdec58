// struct bkey and packed keys (bkey.c). Keys are decoded into a KeyTable: one row per key, fields in
// typed arrays, so walking millions of keys allocates nothing per key and never touches BigInt.
// 64-bit fields are kept as (hi, lo) u32 halves.
import { readU32, u64FromHiLo } from './bytes.js';
import type { Bpos } from './bpos.js';

export const BKEY_U64s = 5; // an unpacked struct bkey
export const KEY_FORMAT_LOCAL_BTREE = 0;
export const KEY_FORMAT_CURRENT = 1;
export const BKEY_NR_FIELDS = 6;
// enum bch_bkey_fields
export const BKEY_FIELD_INODE = 0;
export const BKEY_FIELD_OFFSET = 1;
export const BKEY_FIELD_SNAPSHOT = 2;
export const BKEY_FIELD_SIZE = 3;
export const BKEY_FIELD_VERSION_HI = 4;
export const BKEY_FIELD_VERSION_LO = 5;
const FIELD_MAX_BITS = [64, 64, 32, 32, 32, 64];

export interface BkeyFormat {
  keyU64s: number;
  nrFields: number;
  bitsPerField: number[];
  fieldOffset: bigint[];
  /** fieldOffset split for the hot path */
  offHi: Uint32Array;
  offLo: Uint32Array;
}

export function readBkeyFormat(buf: Uint8Array, off: number): BkeyFormat {
  const bits: number[] = [];
  const fieldOffset: bigint[] = [];
  const offHi = new Uint32Array(BKEY_NR_FIELDS);
  const offLo = new Uint32Array(BKEY_NR_FIELDS);
  for (let i = 0; i < BKEY_NR_FIELDS; i++) {
    bits.push(buf[off + 2 + i]!);
    const lo = readU32(buf, off + 8 + 8 * i);
    const hi = readU32(buf, off + 12 + 8 * i);
    offHi[i] = hi;
    offLo[i] = lo;
    fieldOffset.push(u64FromHiLo(hi, lo));
  }
  return { keyU64s: buf[off]!, nrFields: buf[off + 1]!, bitsPerField: bits, fieldOffset, offHi, offLo };
}

/** bch2_bkey_format_validate; returns the reason a format is unusable, or undefined. */
export function bkeyFormatInvalid(f: BkeyFormat): string | undefined {
  if (f.nrFields !== BKEY_NR_FIELDS) return 'incorrect number of fields';
  let bits = 24; // KEY_PACKED_BITS_START
  for (let i = 0; i < BKEY_NR_FIELDS; i++) {
    const b = f.bitsPerField[i]!;
    if (b > FIELD_MAX_BITS[i]!) return 'field too large';
    // the largest value the field can hold, offset included, must fit the unpacked field
    if (b < 64) {
      const max = f.fieldOffset[i]! + (1n << BigInt(b)) - 1n;
      const lim = FIELD_MAX_BITS[i] === 64 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
      if (max > lim) return 'offset + bits overflow';
    } else if (f.fieldOffset[i] !== 0n) {
      return 'offset + bits overflow';
    }
    bits += b;
  }
  if (bits > f.keyU64s * 64) return 'bits overflow';
  if (f.keyU64s < 1 || f.keyU64s > BKEY_U64s) return 'bad key_u64s';
  return undefined;
}

const INITIAL_CAP = 1024;

/**
 * Decoded keys, one row each. `buf` is the buffer the keys (and so their values) live in; a row's value is
 * buf[valOff, valOff + valLen).
 */
export class KeyTable {
  n = 0;
  cap = 0;
  buf: Uint8Array = new Uint8Array(0);
  /** byte offset of the key itself in buf */
  keyOff = new Int32Array(0);
  /** u64s of the key unpacked (5 + value u64s): what bcachefs prints */
  u64s = new Uint16Array(0);
  /** on-disk u64s (packed size) */
  diskU64s = new Uint8Array(0);
  type = new Uint8Array(0);
  packed = new Uint8Array(0);
  needsWhiteout = new Uint8Array(0);
  inodeHi = new Uint32Array(0);
  inodeLo = new Uint32Array(0);
  offsetHi = new Uint32Array(0);
  offsetLo = new Uint32Array(0);
  snapshot = new Uint32Array(0);
  size = new Uint32Array(0);
  versionHi = new Uint32Array(0);
  versionLoHi = new Uint32Array(0);
  versionLoLo = new Uint32Array(0);
  valOff = new Int32Array(0);
  valLen = new Int32Array(0);
  /** which bset (0 = first) the key came from; newer bsets have larger numbers */
  bset = new Uint8Array(0);

  constructor(cap = INITIAL_CAP) {
    this.grow(cap);
  }

  reset(buf: Uint8Array): void {
    this.buf = buf;
    this.n = 0;
  }

  /** Reserves a row and returns its index. */
  push(): number {
    if (this.n === this.cap) this.grow(this.cap * 2);
    return this.n++;
  }

  private grow(cap: number): void {
    const g = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(cap);
      b.set(a.subarray(0, this.n) as never);
      return b;
    };
    this.keyOff = g(this.keyOff, Int32Array);
    this.u64s = g(this.u64s, Uint16Array);
    this.diskU64s = g(this.diskU64s, Uint8Array);
    this.type = g(this.type, Uint8Array);
    this.packed = g(this.packed, Uint8Array);
    this.needsWhiteout = g(this.needsWhiteout, Uint8Array);
    this.inodeHi = g(this.inodeHi, Uint32Array);
    this.inodeLo = g(this.inodeLo, Uint32Array);
    this.offsetHi = g(this.offsetHi, Uint32Array);
    this.offsetLo = g(this.offsetLo, Uint32Array);
    this.snapshot = g(this.snapshot, Uint32Array);
    this.size = g(this.size, Uint32Array);
    this.versionHi = g(this.versionHi, Uint32Array);
    this.versionLoHi = g(this.versionLoHi, Uint32Array);
    this.versionLoLo = g(this.versionLoLo, Uint32Array);
    this.valOff = g(this.valOff, Int32Array);
    this.valLen = g(this.valLen, Int32Array);
    this.bset = g(this.bset, Uint8Array);
    this.cap = cap;
  }

  /** Position comparison of two rows (inode, offset, snapshot). */
  cmpPos(i: number, j: number): number {
    return (
      cmpU32(this.inodeHi[i]!, this.inodeHi[j]!) ||
      cmpU32(this.inodeLo[i]!, this.inodeLo[j]!) ||
      cmpU32(this.offsetHi[i]!, this.offsetHi[j]!) ||
      cmpU32(this.offsetLo[i]!, this.offsetLo[j]!) ||
      cmpU32(this.snapshot[i]!, this.snapshot[j]!)
    );
  }

  /** Compares row i's position with a Bpos (off the hot path). */
  cmpBpos(i: number, p: Bpos): number {
    const inode = u64FromHiLo(this.inodeHi[i]!, this.inodeLo[i]!);
    if (inode !== p.inode) return inode < p.inode ? -1 : 1;
    const offset = u64FromHiLo(this.offsetHi[i]!, this.offsetLo[i]!);
    if (offset !== p.offset) return offset < p.offset ? -1 : 1;
    return cmpU32(this.snapshot[i]!, p.snapshot);
  }

  pos(i: number): Bpos {
    return {
      inode: u64FromHiLo(this.inodeHi[i]!, this.inodeLo[i]!),
      offset: u64FromHiLo(this.offsetHi[i]!, this.offsetLo[i]!),
      snapshot: this.snapshot[i]!,
    };
  }

  versionLo(i: number): bigint {
    return u64FromHiLo(this.versionLoHi[i]!, this.versionLoLo[i]!);
  }

  /** The key's value bytes (a view, no copy). */
  value(i: number): Uint8Array {
    return this.buf.subarray(this.valOff[i]!, this.valOff[i]! + this.valLen[i]!);
  }
}

export function cmpU32(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Decodes the key at buf[off] into row `row` of t (t.buf must be buf). Returns false if the key header is
 * unusable (format > 1, or too short for its format); the caller reports it.
 */
export function decodeKey(t: KeyTable, row: number, buf: Uint8Array, off: number, fmt: BkeyFormat | null): boolean {
  const u64s = buf[off]!;
  const fb = buf[off + 1]!;
  const format = fb & 0x7f;
  t.keyOff[row] = off;
  t.diskU64s[row] = u64s;
  t.type[row] = buf[off + 2]!;
  t.needsWhiteout[row] = fb >>> 7;
  if (format === KEY_FORMAT_CURRENT) {
    if (u64s < BKEY_U64s) return false;
    t.packed[row] = 0;
    t.versionLoLo[row] = readU32(buf, off + 4);
    t.versionLoHi[row] = readU32(buf, off + 8);
    t.versionHi[row] = readU32(buf, off + 12);
    t.size[row] = readU32(buf, off + 16);
    t.snapshot[row] = readU32(buf, off + 20);
    t.offsetLo[row] = readU32(buf, off + 24);
    t.offsetHi[row] = readU32(buf, off + 28);
    t.inodeLo[row] = readU32(buf, off + 32);
    t.inodeHi[row] = readU32(buf, off + 36);
    t.u64s[row] = u64s;
    t.valOff[row] = off + BKEY_U64s * 8;
    t.valLen[row] = (u64s - BKEY_U64s) * 8;
    return true;
  }
  if (format !== KEY_FORMAT_LOCAL_BTREE || fmt === null || u64s < fmt.keyU64s) return false;
  t.packed[row] = 1;
  unpackFields(t, row, buf, off, fmt);
  t.u64s[row] = BKEY_U64s + u64s - fmt.keyU64s;
  t.valOff[row] = off + fmt.keyU64s * 8;
  t.valLen[row] = (u64s - fmt.keyU64s) * 8;
  return true;
}

// Bit reader state for unpacking: fields are a big-endian bit stream from the top bit of the key's
// highest-addressed u64 downwards (on little-endian: from byte (key_u64s*8 - 1), bit 7).
let rdBuf: Uint8Array = new Uint8Array(0);
let rdBase = 0; // byte offset of the key
let rdWord = 0; // index of the current 32-bit word (counting from the key's lowest address)
let rdAvail = 0; // unread bits left in that word
let resHi = 0;
let resLo = 0;

const POW2 = Array.from({ length: 33 }, (_, i) => 2 ** i);
const MASK = Array.from({ length: 33 }, (_, i) => (i === 32 ? 0xffffffff : 2 ** i - 1));

function take(n: number): number {
  // n <= 32 bits
  let out = 0;
  while (n > 0) {
    if (rdAvail === 0) {
      rdWord--;
      rdAvail = 32;
    }
    const t = n < rdAvail ? n : rdAvail;
    const w = readU32(rdBuf, rdBase + rdWord * 4);
    const bits = t === 32 ? w : (w >>> (rdAvail - t)) & MASK[t]!;
    out = out * POW2[t]! + bits;
    rdAvail -= t;
    n -= t;
  }
  return out >>> 0;
}

function readField(bits: number): void {
  if (bits > 32) {
    resHi = take(bits - 32);
    resLo = take(32);
  } else {
    resHi = 0;
    resLo = bits ? take(bits) : 0;
  }
}

function addOffset(fmt: BkeyFormat, f: number): void {
  const lo = resLo + fmt.offLo[f]!;
  resLo = lo >>> 0;
  resHi = (resHi + fmt.offHi[f]! + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

function unpackFields(t: KeyTable, row: number, buf: Uint8Array, off: number, fmt: BkeyFormat): void {
  rdBuf = buf;
  rdBase = off;
  rdWord = fmt.keyU64s * 2; // one past the top word; take() steps down first
  rdAvail = 0;
  const b = fmt.bitsPerField;
  readField(b[0]!);
  addOffset(fmt, 0);
  t.inodeHi[row] = resHi;
  t.inodeLo[row] = resLo;
  readField(b[1]!);
  addOffset(fmt, 1);
  t.offsetHi[row] = resHi;
  t.offsetLo[row] = resLo;
  readField(b[2]!);
  addOffset(fmt, 2);
  t.snapshot[row] = resLo;
  readField(b[3]!);
  addOffset(fmt, 3);
  t.size[row] = resLo;
  readField(b[4]!);
  addOffset(fmt, 4);
  t.versionHi[row] = resLo;
  readField(b[5]!);
  addOffset(fmt, 5);
  t.versionLoHi[row] = resHi;
  t.versionLoLo[row] = resLo;
}

