// struct bkey and packed keys (bkey.c). Keys are decoded into a KeyTable: one row per key, fields in
// typed arrays, so walking millions of keys allocates nothing per key and never touches BigInt.
// 64-bit fields are kept as (hi, lo) u32 halves.
import { readU32, u64FromHiLo } from './bytes.js';
import type { Bpos } from './bpos.js';
import { KEY_TYPE_deleted, KEY_TYPE_discard } from './names.js';

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
  /** the compiled unpacker, made on first use */
  unpack?: (t: KeyTable, row: number, w: Uint32Array, o: number, offLo: Uint32Array, offHi: Uint32Array) => void;
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
  if (f.keyU64s !== Math.ceil(bits / 64)) return 'incorrect key_u64s';
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
  /** 1 when a later key of the same bset has the same position (and so replaces this one) */
  superseded = new Uint8Array(0);
  /** a node's rows that survive the merge of its bsets (BtreeNode.live), reused with the table */
  live = new Int32Array(0);
  /** memory the node whose keys this table holds is read into, reused with the table (see Filesystem.readNodeAt) */
  nodeBuf: Uint8Array | undefined;

  constructor(cap = INITIAL_CAP) {
    this.grow(cap);
  }

  /** 32-bit little-endian view of buf (keys are u64-aligned, so their fields are u32-aligned) */
  u32: Uint32Array = new Uint32Array(0);

  /** Starts a new table over buf; a buffer not 4-byte aligned in memory is copied to one that is. */
  reset(buf: Uint8Array): void {
    if ((buf.byteOffset & 3) !== 0) buf = buf.slice();
    this.buf = buf;
    this.u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
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
    this.superseded = g(this.superseded, Uint8Array);
    this.cap = cap;
  }

  /** Position comparison of two rows (inode, offset, snapshot). */
  cmpPos(i: number, j: number): number {
    return this.cmpPosWith(i, this, j);
  }

  /** Position comparison of row i with row j of another table (node keys against journal keys). */
  cmpPosWith(i: number, o: KeyTable, j: number): number {
    // the hottest comparison of a walk (bset order checks, merges): spelt out, no helper calls
    let a = this.inodeHi[i]!;
    let b = o.inodeHi[j]!;
    if (a !== b) return a < b ? -1 : 1;
    a = this.inodeLo[i]!;
    b = o.inodeLo[j]!;
    if (a !== b) return a < b ? -1 : 1;
    a = this.offsetHi[i]!;
    b = o.offsetHi[j]!;
    if (a !== b) return a < b ? -1 : 1;
    a = this.offsetLo[i]!;
    b = o.offsetLo[j]!;
    if (a !== b) return a < b ? -1 : 1;
    a = this.snapshot[i]!;
    b = o.snapshot[j]!;
    return a === b ? 0 : a < b ? -1 : 1;
  }

  /** bkey_whiteout: a deleted or discard key, which hides older keys at its position and is not listed. */
  whiteout(i: number): boolean {
    const ty = this.type[i]!;
    return ty === KEY_TYPE_deleted || ty === KEY_TYPE_discard;
  }

  /** Compares row i's position with a position split by bposToParts (the hot-path form). */
  cmpParts(i: number, q: Uint32Array): number {
    let a = this.inodeHi[i]!;
    let b = q[0]!;
    if (a !== b) return a < b ? -1 : 1;
    a = this.inodeLo[i]!;
    b = q[1]!;
    if (a !== b) return a < b ? -1 : 1;
    a = this.offsetHi[i]!;
    b = q[2]!;
    if (a !== b) return a < b ? -1 : 1;
    a = this.offsetLo[i]!;
    b = q[3]!;
    if (a !== b) return a < b ? -1 : 1;
    a = this.snapshot[i]!;
    b = q[4]!;
    return a === b ? 0 : a < b ? -1 : 1;
  }

  /** Compares row i's position with a Bpos (converts it each call: precompute bposToParts in loops). */
  cmpBpos(i: number, p: Bpos): number {
    return this.cmpParts(i, bposToParts(p));
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

/** A Bpos as u32 halves [inodeHi, inodeLo, offsetHi, offsetLo, snapshot], for BigInt-free comparisons. */
export function bposToParts(p: Bpos): Uint32Array {
  return Uint32Array.of(
    Number(p.inode >> 32n), Number(p.inode & 0xffff_ffffn), Number(p.offset >> 32n), Number(p.offset & 0xffff_ffffn), p.snapshot,
  );
}

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('bcachefs-repair reads little-endian on-disk data through u32 views: a little-endian host is required');
}

/**
 * Decodes the key at buf[off] into row `row` of t (t.buf must be buf, so that t.u32 views the same bytes). Returns false if the key header is
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
    const w = t.u32;
    const o = off >>> 2;
    t.packed[row] = 0;
    t.versionLoLo[row] = w[o + 1]!;
    t.versionLoHi[row] = w[o + 2]!;
    t.versionHi[row] = w[o + 3]!;
    t.size[row] = w[o + 4]!;
    t.snapshot[row] = w[o + 5]!;
    t.offsetLo[row] = w[o + 6]!;
    t.offsetHi[row] = w[o + 7]!;
    t.inodeLo[row] = w[o + 8]!;
    t.inodeHi[row] = w[o + 9]!;
    t.u64s[row] = u64s;
    t.valOff[row] = off + BKEY_U64s * 8;
    t.valLen[row] = (u64s - BKEY_U64s) * 8;
    return true;
  }
  if (format !== KEY_FORMAT_LOCAL_BTREE || fmt === null || u64s < fmt.keyU64s) return false;
  t.packed[row] = 1;
  (fmt.unpack ?? unpackerFor(fmt))(t, row, t.u32, off >>> 2, fmt.offLo, fmt.offHi);
  t.u64s[row] = BKEY_U64s + u64s - fmt.keyU64s;
  t.valOff[row] = off + fmt.keyU64s * 8;
  t.valLen[row] = (u64s - fmt.keyU64s) * 8;
  return true;
}

// Unpacking. The fields are a big-endian bit stream from the top bit of the key's highest-addressed u64
// downwards (on little-endian: from byte key_u64s*8 - 1, bit 7). Like bcachefs, which compiles an unpack
// function per format, we generate straight-line code: constant shifts, no loops. One function serves every
// format of the same shape (key_u64s and field widths; the field offsets are arguments): a 4 GiB image has
// hundreds of formats but a handful of shapes, and each generated function must be JIT-compiled once.
type UnpackFn = (t: KeyTable, row: number, w: Uint32Array, o: number, offLo: Uint32Array, offHi: Uint32Array) => void;
const unpackCache = new Map<string, UnpackFn>();
const FIELD_DEST: [string | null, string][] = [
  ['inodeHi', 'inodeLo'], ['offsetHi', 'offsetLo'], [null, 'snapshot'], [null, 'size'], [null, 'versionHi'],
  ['versionLoHi', 'versionLoLo'],
];

/** Expression for `n` (<= 32) bits of the key starting at absolute little-endian bit `a`. */
function bitsExpr(a: number, n: number): string {
  if (n === 0) return '0';
  const j = a >>> 5;
  const sh = a & 31;
  const mask = n === 32 ? '' : ` & ${2 ** n - 1}`;
  if (sh === 0) return n === 32 ? `w[o + ${j}]` : `(w[o + ${j}]${mask})`;
  if (sh + n <= 32) return `((w[o + ${j}] >>> ${sh})${mask})`;
  return `(((w[o + ${j}] >>> ${sh}) | (w[o + ${j + 1}] << ${32 - sh}))${mask || ' >>> 0'})`;
}

function compileUnpack(fmt: BkeyFormat): UnpackFn {
  const totalBits = fmt.keyU64s * 64;
  let stream = 0; // bits consumed from the top
  const lines: string[] = ['let lo = 0, hi = 0, x = 0;'];
  for (let f = 0; f < BKEY_NR_FIELDS; f++) {
    const b = fmt.bitsPerField[f]!;
    const aLo = totalBits - stream - b; // absolute bit of the field's least significant bit
    stream += b;
    const loBits = Math.min(b, 32);
    lines.push(`lo = ${bitsExpr(aLo, loBits)};`, `hi = ${b > 32 ? bitsExpr(aLo + 32, b - 32) : '0'};`);
    lines.push(`x = lo + offLo[${f}];`, `lo = x >>> 0;`, `hi = (hi + offHi[${f}] + (x > 4294967295 ? 1 : 0)) >>> 0;`);
    const [hiDest, loDest] = FIELD_DEST[f]!;
    if (hiDest) lines.push(`t.${hiDest}[row] = hi;`);
    lines.push(`t.${loDest}[row] = lo;`);
  }
  return new Function('t', 'row', 'w', 'o', 'offLo', 'offHi', lines.join('\n')) as UnpackFn;
}

function unpackerFor(fmt: BkeyFormat): UnpackFn {
  if (fmt.unpack) return fmt.unpack;
  const key = `${fmt.keyU64s}/${fmt.bitsPerField.join(',')}`;
  let fn = unpackCache.get(key);
  if (!fn) {
    fn = compileUnpack(fmt);
    if (unpackCache.size > 4096) unpackCache.clear();
    unpackCache.set(key, fn);
  }
  fmt.unpack = fn;
  return fn;
}

