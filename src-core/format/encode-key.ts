// Encoders for the little-endian scalars, bpos, bkey_format and keys (packed and unpacked): the inverse of
// bytes.ts, bpos.ts and bkey.ts. They run on the few keys a repair rewrites, so 64-bit fields are bigints.
import { bchChecksum32, CSUM_TYPE_NAMES, u64FromHiLo } from './bytes.js';
import { U32_MAX, U64_MAX, type Bpos } from './bpos.js';
import {
  BKEY_NR_FIELDS, BKEY_U64s, KEY_FORMAT_CURRENT, KEY_FORMAT_LOCAL_BTREE, BKEY_FIELD_OFFSET, type BkeyFormat, type KeyTable,
} from './bkey.js';

/**
 * A copy of b[start, end) in a fresh Uint8Array. Not b.slice(): the device hands out Node Buffers, whose
 * slice() is a view, and an encoder must never write into the bytes it was given.
 */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  return new Uint8Array(b.subarray(start, end));
}

export function writeU16(buf: Uint8Array, off: number, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${v} does not fit a u16 (byte ${off})`);
  buf[off] = v & 0xff;
  buf[off + 1] = v >>> 8;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new RangeError(`${v} does not fit a u32 (byte ${off})`);
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = v >>> 24;
}

export function writeU64(buf: Uint8Array, off: number, v: bigint): void {
  if (v < 0n || v > U64_MAX) throw new RangeError(`${v} does not fit a u64 (byte ${off})`);
  writeU32(buf, off, Number(v & 0xffff_ffffn));
  writeU32(buf, off + 4, Number(v >> 32n));
}

/** struct bpos in its on-disk order: snapshot, offset, inode. */
export function writeBpos(buf: Uint8Array, off: number, p: Bpos): void {
  writeU32(buf, off, p.snapshot);
  writeU64(buf, off + 4, p.offset);
  writeU64(buf, off + 12, p.inode);
}

/** Stores a checksum of buf[start, end) in the 16-byte struct bch_csum at csumOff (crc32c types: lo = crc, hi = 0). */
export function writeChecksum(type: number, buf: Uint8Array, csumOff: number, start: number, end: number): void {
  const c = bchChecksum32(type, buf, start, end);
  if (c === null) {
    throw new Error(`cannot compute a ${CSUM_TYPE_NAMES[type] ?? `type ${type}`} checksum: only none, crc32c_nonzero and crc32c are supported, so this structure cannot be rewritten by this tool (a filesystem with crc64 metadata checksums is read-only here)`);
  }
  buf.fill(0, csumOff, csumOff + 16);
  writeU32(buf, csumOff, c);
}

export const BKEY_FORMAT_BYTES = 56;

export function writeBkeyFormat(buf: Uint8Array, off: number, f: BkeyFormat): void {
  buf[off] = f.keyU64s;
  buf[off + 1] = f.nrFields;
  for (let i = 0; i < BKEY_NR_FIELDS; i++) {
    buf[off + 2 + i] = f.bitsPerField[i]!;
    writeU64(buf, off + 8 + 8 * i, f.fieldOffset[i]!);
  }
}

/** The fields of a struct bkey (position, size, version, type), independent of how the key is stored. */
export interface BkeyFields {
  type: number;
  needsWhiteout: boolean;
  pos: Bpos;
  size: number;
  versionHi: number;
  versionLo: bigint;
}

/** Row i of a decoded KeyTable as BkeyFields. */
export function bkeyFields(t: KeyTable, i: number): BkeyFields {
  return {
    type: t.type[i]!,
    needsWhiteout: t.needsWhiteout[i] === 1,
    pos: t.pos(i),
    size: t.size[i]!,
    versionHi: t.versionHi[i]!,
    versionLo: u64FromHiLo(t.versionLoHi[i]!, t.versionLoLo[i]!),
  };
}

/** Field values in enum bch_bkey_fields order (inode, offset, snapshot, size, version.hi, version.lo). */
function fieldValues(k: BkeyFields): bigint[] {
  return [k.pos.inode, k.pos.offset, BigInt(k.pos.snapshot), BigInt(k.size), BigInt(k.versionHi), k.versionLo];
}

/**
 * bch2_bkey_pack_key: the key part (key_u64s u64s, header included) of k packed in fmt, for a value of
 * valU64s u64s; undefined when a field does not fit the format (the key must then be stored unpacked).
 */
export function packKey(k: BkeyFields, valU64s: number, fmt: BkeyFormat): Uint8Array | undefined {
  const total = fmt.keyU64s * 64;
  const u64s = fmt.keyU64s + valU64s;
  if (u64s > 0xff) return undefined;
  const vals = fieldValues(k);
  let x = 0n;
  let top = total; // the stream runs from the key's highest bit downwards
  for (let f = 0; f < BKEY_NR_FIELDS; f++) {
    const bits = fmt.bitsPerField[f]!;
    const v = vals[f]! - fmt.fieldOffset[f]!;
    if (v < 0n || v >> BigInt(bits) !== 0n) return undefined;
    top -= bits;
    x |= v << BigInt(top);
  }
  // an extent packs only if its start does too (so that a trimmed copy still packs)
  if (k.pos.offset - BigInt(k.size) < fmt.fieldOffset[BKEY_FIELD_OFFSET]!) return undefined;
  if (top < 24) throw new RangeError('bkey format fields overlap the key header: the format is invalid');
  x |= BigInt(u64s | (KEY_FORMAT_LOCAL_BTREE << 8) | (k.needsWhiteout ? 0x8000 : 0) | (k.type << 16));
  const out = new Uint8Array(fmt.keyU64s * 8);
  for (let i = 0; i < out.length; i++) out[i] = Number((x >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** The 40-byte unpacked struct bkey for a value of valU64s u64s. */
export function unpackedKey(k: BkeyFields, valU64s: number): Uint8Array {
  const u64s = BKEY_U64s + valU64s;
  if (u64s > 0xff) throw new RangeError(`a key of ${u64s} u64s does not fit the 8-bit u64s field`);
  const out = new Uint8Array(BKEY_U64s * 8);
  out[0] = u64s;
  out[1] = KEY_FORMAT_CURRENT | (k.needsWhiteout ? 0x80 : 0);
  out[2] = k.type;
  writeU64(out, 4, k.versionLo);
  writeU32(out, 12, k.versionHi);
  writeU32(out, 16, k.size);
  writeBpos(out, 20, k.pos);
  return out;
}

/**
 * A whole key (key part and value). With a format it is packed when every field fits, as bcachefs does
 * (bch2_bkey_pack), otherwise unpacked. The value is padded with zeros to a whole number of u64s.
 */
export function encodeKey(k: BkeyFields, value: Uint8Array, fmt: BkeyFormat | null): Uint8Array {
  const valU64s = Math.ceil(value.length / 8);
  const head = (fmt && packKey(k, valU64s, fmt)) ?? unpackedKey(k, valU64s);
  const out = new Uint8Array(head.length + valU64s * 8);
  out.set(head, 0);
  out.set(value, head.length);
  return out;
}
