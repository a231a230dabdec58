// bcachefs's hash of dirent and xattr names (str_hash.h, dirent.c, xattr.c at a76f36fc6). A name's key
// offset in its directory is this hash, moved on by linear probing past occupied slots. The hash is keyed
// per directory by the inode's bi_hash_seed; its type is in the inode's bi_flags (INODE_STR_HASH).
// SipHash works on u64s: here they are (hi, lo) u32 halves, so the per-dirent loop needs no BigInt.
import { createHash } from 'node:crypto';
import { crc32cUpdate } from '../format/bytes.js';

// enum bch_str_hash_type
export const BCH_STR_HASH_CRC32C = 0;
export const BCH_STR_HASH_CRC64 = 1;
export const BCH_STR_HASH_SIPHASH_OLD = 2;
export const BCH_STR_HASH_SIPHASH = 3;

/** INODE_STR_HASH: bits 20-24 of bi_flags */
export function inodeStrHashType(biFlags: number): number {
  return (biFlags >>> 20) & 0xf;
}

// crc64_be (ECMA-182, big-endian) table, as (hi, lo) halves
const CRC64_HI = new Uint32Array(256);
const CRC64_LO = new Uint32Array(256);
{
  const POLY_HI = 0x42f0e1eb;
  const POLY_LO = 0xa9ea3693;
  for (let i = 0; i < 256; i++) {
    let hi = i << 24;
    let lo = 0;
    for (let b = 0; b < 8; b++) {
      const top = hi & 0x8000_0000;
      hi = ((hi << 1) | (lo >>> 31)) >>> 0;
      lo = (lo << 1) >>> 0;
      if (top) {
        hi = (hi ^ POLY_HI) >>> 0;
        lo = (lo ^ POLY_LO) >>> 0;
      }
    }
    CRC64_HI[i] = hi >>> 0;
    CRC64_LO[i] = lo;
  }
}

const SEED = new Uint8Array(8);
/** an xattr's type byte and name, as one message */
const XATTR = new Uint8Array(1 + 255);
const LAST = new Uint8Array(8);

/**
 * The hash of one directory's (or one inode's xattrs') names. `setInfo` is bch2_hash_info_init; each hash
 * leaves its u64 result in (hi, lo). One instance is reused for every key: it allocates nothing per name.
 */
export class StrHash {
  type = BCH_STR_HASH_SIPHASH;
  /** the result of the last hash */
  hi = 0;
  lo = 0;
  // crc key (bi_hash_seed) and siphash key k0, k1
  private k0h = 0;
  private k0l = 0;
  private k1h = 0;
  private k1l = 0;

  /** bch2_hash_info_init: `type` from the inode's bi_flags, the key from its bi_hash_seed (u32 halves). */
  setInfo(type: number, seedHi: number, seedLo: number): void {
    this.type = type;
    this.k0h = seedHi >>> 0;
    this.k0l = seedLo >>> 0;
    // the union's other 8 bytes are zero-initialised
    this.k1h = 0;
    this.k1l = 0;
    if (type === BCH_STR_HASH_SIPHASH_OLD) {
      // the key is the first 16 bytes of sha256(bi_hash_seed)
      seedBytes(seedHi, seedLo);
      const d = createHash('sha256').update(SEED).digest();
      this.k0l = d.readUInt32LE(0);
      this.k0h = d.readUInt32LE(4);
      this.k1l = d.readUInt32LE(8);
      this.k1h = d.readUInt32LE(12);
    }
  }

  /** bch2_dirent_hash of name bytes buf[off, off + len): the hash, at least 2 ([0, 2) is kept for dots). */
  dirent(buf: Uint8Array, off: number, len: number): void {
    if (this.type === BCH_STR_HASH_CRC32C || this.type === BCH_STR_HASH_CRC64) {
      this.crc(buf, off, len);
    } else {
      // the last block: the tail bytes, then the length in the top byte
      const full = len & ~7;
      let tl = 0;
      let th = (len & 0xff) << 24;
      for (let i = len - 1; i >= full; i--) {
        const b = buf[off + i]!;
        if (i - full >= 4) th |= b << (8 * (i - full - 4));
        else tl |= b << (8 * (i - full));
      }
      this.sip(buf, off, full >>> 3, th >>> 0, tl >>> 0);
    }
    if (this.hi === 0 && this.lo < 2) this.lo = 2;
  }

  /**
   * bch2_xattr_hash: the type byte, then the name, in two updates. siphash.c's update copies the tail left
   * after completing a partial block to buf[used] instead of buf[0]: for names of 7 bytes or more, the last
   * block keeps the type byte in front, has the tail from byte 1 on, and the end's padding zeroes from byte
   * (1 + len) % 8 on.
   */
  xattr(xType: number, buf: Uint8Array, off: number, len: number): void {
    XATTR[0] = xType;
    for (let i = 0; i < len; i++) XATTR[1 + i] = buf[off + i]!;
    if (this.type === BCH_STR_HASH_CRC32C || this.type === BCH_STR_HASH_CRC64) {
      this.crc(XATTR, 0, 1 + len);
      return;
    }
    const total = 1 + len;
    const full = total & ~7;
    const used = total & 7;
    const last = LAST.fill(0);
    if (len < 7) {
      for (let i = 0; i < total; i++) last[i] = XATTR[i]!;
    } else if (used > 0) {
      last[0] = xType;
      for (let i = 1; i < used; i++) last[i] = XATTR[full + i - 1]!;
    }
    last[7] = total & 0xff;
    this.sip(XATTR, 0, full >>> 3, le32(last, 4), le32(last, 0));
  }

  /** crc32c(~0, seed) then the bytes, or crc64_be the same way, then bch2_str_hash_end. */
  private crc(src: Uint8Array, off: number, len: number): void {
    seedBytes(this.k0h, this.k0l);
    if (this.type === BCH_STR_HASH_CRC32C) {
      this.hi = 0;
      this.lo = crc32cUpdate(crc32cUpdate(0xffff_ffff, SEED, 0, 8), src, off, off + len);
      return;
    }
    let hi = 0xffff_ffff;
    let lo = 0xffff_ffff;
    for (let pass = 0; pass < 2; pass++) {
      const b = pass === 0 ? SEED : src;
      const s = pass === 0 ? 0 : off;
      const e = pass === 0 ? 8 : off + len;
      for (let i = s; i < e; i++) {
        const t = ((hi >>> 24) ^ b[i]!) & 0xff;
        hi = (CRC64_HI[t]! ^ ((hi << 8) | (lo >>> 24))) >>> 0;
        lo = (CRC64_LO[t]! ^ (lo << 8)) >>> 0;
      }
    }
    // >> 1
    this.lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    this.hi = hi >>> 1;
  }

  /**
   * SipHash-2-4 (siphash.c) of `blocks` 8-byte blocks at src[off..] and a last block (th, tl), then >> 1
   * (bch2_str_hash_end). u64s are (hi, lo) halves in locals; the round is written once: a block is its
   * two rounds, the finalisation four more.
   */
  private sip(src: Uint8Array, off: number, blocks: number, th: number, tl: number): void {
    let v0h = 0x736f6d65 ^ this.k0h, v0l = 0x70736575 ^ this.k0l;
    let v1h = 0x646f7261 ^ this.k1h, v1l = 0x6e646f6d ^ this.k1l;
    let v2h = 0x6c796765 ^ this.k0h, v2l = 0x6e657261 ^ this.k0l;
    let v3h = 0x74656462 ^ this.k1h, v3l = 0x79746573 ^ this.k1l;
    for (let b = 0; b <= blocks + 1; b++) {
      let mh = 0;
      let ml = 0;
      let rounds = 2;
      if (b < blocks) {
        const p = off + 8 * b;
        ml = src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24);
        mh = src[p + 4]! | (src[p + 5]! << 8) | (src[p + 6]! << 16) | (src[p + 7]! << 24);
      } else if (b === blocks) {
        mh = th;
        ml = tl;
      } else {
        v2l ^= 0xff;
        rounds = 4;
      }
      v3h ^= mh;
      v3l ^= ml;
      for (let r = 0; r < rounds; r++) {
        let t: number;
        // v0 += v1; v2 += v3 (lo halves as unsigned for the carry)
        t = ((v0l >>> 0) + (v1l >>> 0)) >>> 0;
        v0h = (v0h + v1h + (t < v0l >>> 0 ? 1 : 0)) | 0;
        v0l = t;
        t = ((v2l >>> 0) + (v3l >>> 0)) >>> 0;
        v2h = (v2h + v3h + (t < v2l >>> 0 ? 1 : 0)) | 0;
        v2l = t;
        // v1 = rol(v1, 13); v3 = rol(v3, 16)
        t = (v1h << 13) | (v1l >>> 19);
        v1l = (v1l << 13) | (v1h >>> 19);
        v1h = t;
        t = (v3h << 16) | (v3l >>> 16);
        v3l = (v3l << 16) | (v3h >>> 16);
        v3h = t;
        // v1 ^= v0; v3 ^= v2; v0 = rol(v0, 32)
        v1h ^= v0h;
        v1l ^= v0l;
        v3h ^= v2h;
        v3l ^= v2l;
        t = v0h;
        v0h = v0l;
        v0l = t;
        // v2 += v1; v0 += v3
        t = ((v2l >>> 0) + (v1l >>> 0)) >>> 0;
        v2h = (v2h + v1h + (t < v2l >>> 0 ? 1 : 0)) | 0;
        v2l = t;
        t = ((v0l >>> 0) + (v3l >>> 0)) >>> 0;
        v0h = (v0h + v3h + (t < v0l >>> 0 ? 1 : 0)) | 0;
        v0l = t;
        // v1 = rol(v1, 17); v3 = rol(v3, 21)
        t = (v1h << 17) | (v1l >>> 15);
        v1l = (v1l << 17) | (v1h >>> 15);
        v1h = t;
        t = (v3h << 21) | (v3l >>> 11);
        v3l = (v3l << 21) | (v3h >>> 11);
        v3h = t;
        // v1 ^= v2; v3 ^= v0; v2 = rol(v2, 32)
        v1h ^= v2h;
        v1l ^= v2l;
        v3h ^= v0h;
        v3l ^= v0l;
        t = v2h;
        v2h = v2l;
        v2l = t;
      }
      v0h ^= mh;
      v0l ^= ml;
    }
    const hi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
    const lo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
    this.lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    this.hi = hi >>> 1;
  }
}

function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function seedBytes(hi: number, lo: number): void {
  SEED[0] = lo;
  SEED[1] = lo >>> 8;
  SEED[2] = lo >>> 16;
  SEED[3] = lo >>> 24;
  SEED[4] = hi;
  SEED[5] = hi >>> 8;
  SEED[6] = hi >>> 16;
  SEED[7] = hi >>> 24;
}
