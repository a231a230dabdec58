// Little-endian field access and checksums shared by every on-disk structure.

const TWO32 = 0x1_0000_0000;

/** Reads a u64 as a bigint: for fields that may exceed 2^53 (seqs, positions), off the hot path. */
export function readU64(buf: Uint8Array, off: number): bigint {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return dv.getBigUint64(off, true);
}

/** Reads a u64 that must fit a JS number exactly (sizes, sector offsets); throws rather than round. */
export function readU64Number(buf: Uint8Array, off: number): number {
  const lo = readU32(buf, off);
  const hi = readU32(buf, off + 4);
  if (hi >= 0x20_0000) throw new RangeError(`64-bit field at byte ${off} exceeds 2^53`);
  return hi * TWO32 + lo;
}

export function readU32(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

export function readU16(buf: Uint8Array, off: number): number {
  return buf[off]! | (buf[off + 1]! << 8);
}

/** Combines (hi, lo) u32 halves; exact below 2^53, bigint otherwise. */
export function u64FromHiLo(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Decimal text of a u64 held as (hi, lo) u32 halves, without rounding. */
export function u64HiLoToString(hi: number, lo: number): string {
  if (hi < 0x20_0000) return String(hi * TWO32 + lo);
  return u64FromHiLo(hi, lo).toString();
}

export function uuidToString(buf: Uint8Array, off: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += buf[off + i]!.toString(16).padStart(2, '0');
  }
  return s;
}

// CRC-32C (Castagnoli), slicing-by-8 tables.
const CRC32C_TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0]![n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c >>> 0;
    }
  }
  return t;
})();

export type Crc32cFn = (buf: Uint8Array, start: number, end: number, crc: number) => number;
let nativeCrc32c: Crc32cFn | null = null;

/** Routes crc32cUpdate to a native implementation (the device addon's SSE4.2 one); null restores JS. */
export function useNativeCrc32c(fn: Crc32cFn | null): void {
  nativeCrc32c = fn;
}

/** Raw CRC-32C update (no pre/post inversion): callers choose the variant. */
export function crc32cUpdate(crc: number, buf: Uint8Array, start: number, end: number): number {
  return nativeCrc32c ? nativeCrc32c(buf, start, end, crc) : crc32cUpdateJs(crc, buf, start, end);
}

export function crc32cUpdateJs(crc: number, buf: Uint8Array, start: number, end: number): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES as [
    Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
  ];
  let c = crc >>> 0;
  let i = start;
  // bytes up to a 4-byte boundary, then 8 bytes a step through a u32 view of the same memory
  while (i < end && ((buf.byteOffset + i) & 3) !== 0) c = t0[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  const steps = (end - i) >>> 3;
  if (steps > 0) {
    const w = new Uint32Array(buf.buffer, buf.byteOffset + i, steps * 2);
    for (let k = 0; k < w.length; k += 2) {
      const a = c ^ w[k]!;
      const b = w[k + 1]!;
      c =
        t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
        t3[b & 0xff]! ^ t2[(b >>> 8) & 0xff]! ^ t1[(b >>> 16) & 0xff]! ^ t0[b >>> 24]!;
    }
    i += steps * 8;
  }
  while (i < end) c = t0[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

export const BCH_CSUM_NONE = 0;
export const BCH_CSUM_CRC32C_NONZERO = 1;
export const BCH_CSUM_CRC64_NONZERO = 2;
export const BCH_CSUM_CRC32C = 5;
export const BCH_CSUM_CRC64 = 6;

export const CSUM_TYPE_NAMES = [
  'none', 'crc32c_nonzero', 'crc64_nonzero', 'chacha20_poly1305_80', 'chacha20_poly1305_128', 'crc32c', 'crc64',
];

/**
 * Checksum of buf[start, end) as bcachefs's bch2_checksum computes it for the unencrypted types;
 * returns the low 32 bits of bch_csum.lo, or null for a type we cannot compute (crc64, encrypted).
 */
export function bchChecksum32(type: number, buf: Uint8Array, start: number, end: number): number | null {
  switch (type) {
    case BCH_CSUM_NONE:
      return 0;
    case BCH_CSUM_CRC32C_NONZERO:
      return (crc32cUpdate(0xffffffff, buf, start, end) ^ 0xffffffff) >>> 0;
    case BCH_CSUM_CRC32C:
      return crc32cUpdate(0, buf, start, end);
    default:
      return null;
  }
}

/** Compares a stored 16-byte bch_csum with a computed 32-bit checksum; null means "cannot verify". */
export function csumMatches(type: number, buf: Uint8Array, csumOff: number, start: number, end: number): boolean | null {
  const computed = bchChecksum32(type, buf, start, end);
  if (computed === null) return null;
  if (readU32(buf, csumOff) !== computed) return false;
  for (let i = 4; i < 16; i++) if (buf[csumOff + i] !== 0) return false;
  return true;
}
