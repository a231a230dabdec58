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
  // SipHash state v0..v3 and its partial-block buffer, as SIPHASH_CTX
  private v = new Uint32Array(8);
  private buf = new Uint8Array(8);
  private bytes = 0;
  // crc state
  private ch = 0;
  private cl = 0;

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
      const dv = new DataView(SEED.buffer);
      dv.setUint32(0, seedLo, true);
      dv.setUint32(4, seedHi, true);
      const d = createHash('sha256').update(SEED).digest();
      this.k0l = d.readUInt32LE(0);
      this.k0h = d.readUInt32LE(4);
      this.k1l = d.readUInt32LE(8);
      this.k1h = d.readUInt32LE(12);
    }
  }

  /** True for the types bcachefs knows (others make it BUG()). */
  knownType(): boolean {
    return this.type >= BCH_STR_HASH_CRC32C && this.type <= BCH_STR_HASH_SIPHASH;
  }

  /** bch2_dirent_hash of name bytes buf[off, off + len): the hash, at least 2 ([0, 2) is kept for dots). */
  dirent(buf: Uint8Array, off: number, len: number): void {
    this.init();
    this.update(buf, off, len);
    this.end();
    if (this.hi === 0 && this.lo < 2) this.lo = 2;
  }

  /** bch2_xattr_hash: the type byte, then the name (two updates: SipHash's partial-block handling shows). */
  xattr(xType: number, buf: Uint8Array, off: number, len: number): void {
    this.init();
    SEED[0] = xType;
    this.update(SEED, 0, 1);
    this.update(buf, off, len);
    this.end();
  }

  private init(): void {
    switch (this.type) {
      case BCH_STR_HASH_CRC32C:
        seedBytes(this.k0h, this.k0l);
        this.cl = crc32cUpdate(0xffff_ffff, SEED, 0, 8);
        break;
      case BCH_STR_HASH_CRC64:
        this.ch = 0xffff_ffff;
        this.cl = 0xffff_ffff;
        seedBytes(this.k0h, this.k0l);
        this.crc64(SEED, 0, 8);
        break;
      default: {
        const v = this.v;
        v[0] = 0x736f6d65 ^ this.k0h;
        v[1] = 0x70736575 ^ this.k0l;
        v[2] = 0x646f7261 ^ this.k1h;
        v[3] = 0x6e646f6d ^ this.k1l;
        v[4] = 0x6c796765 ^ this.k0h;
        v[5] = 0x6e657261 ^ this.k0l;
        v[6] = 0x74656462 ^ this.k1h;
        v[7] = 0x79746573 ^ this.k1l;
        this.buf.fill(0);
        this.bytes = 0;
      }
    }
  }

  private update(src: Uint8Array, off: number, len: number): void {
    if (this.type === BCH_STR_HASH_CRC32C) {
      this.cl = crc32cUpdate(this.cl, src, off, off + len);
      return;
    }
    if (this.type === BCH_STR_HASH_CRC64) {
      this.crc64(src, off, len);
      return;
    }
    // SipHash_Update, as written in siphash.c
    if (len === 0) return;
    const buf = this.buf;
    const used = this.bytes & 7;
    this.bytes = (this.bytes + len) >>> 0;
    let p = off;
    if (used > 0) {
      const left = 8 - used;
      if (len < left) {
        buf.set(src.subarray(p, p + len), used);
        return;
      }
      buf.set(src.subarray(p, p + left), used);
      this.compress(le32(buf, 4), le32(buf, 0), 2);
      len -= left;
      p += left;
    }
    while (len >= 8) {
      this.compress(le32(src, p + 4), le32(src, p), 2);
      len -= 8;
      p += 8;
    }
    // siphash.c copies the tail to buf[used], not buf[0]: after a partial block this misplaces the bytes,
    // and names hashed in two updates (xattrs) depend on it
    if (len > 0) buf.set(src.subarray(p, p + len), used);
  }

  private end(): void {
    if (this.type === BCH_STR_HASH_CRC32C) {
      this.hi = 0;
      this.lo = this.cl >>> 0;
      return;
    }
    let hi: number;
    let lo: number;
    if (this.type === BCH_STR_HASH_CRC64) {
      hi = this.ch;
      lo = this.cl;
    } else {
      // SipHash_End
      const buf = this.buf;
      const used = this.bytes & 7;
      buf.fill(0, used, 7);
      buf[7] = this.bytes & 0xff;
      this.compress(le32(buf, 4), le32(buf, 0), 2);
      this.v[5] = (this.v[5]! ^ 0xff) >>> 0;
      this.compress(0, 0, 4, true);
      const v = this.v;
      hi = (v[0]! ^ v[2]! ^ v[4]! ^ v[6]!) >>> 0;
      lo = (v[1]! ^ v[3]! ^ v[5]! ^ v[7]!) >>> 0;
    }
    // >> 1
    this.lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    this.hi = hi >>> 1;
  }

  private crc64(src: Uint8Array, off: number, len: number): void {
    let hi = this.ch;
    let lo = this.cl;
    for (let i = off; i < off + len; i++) {
      const t = ((hi >>> 24) ^ src[i]!) & 0xff;
      hi = (CRC64_HI[t]! ^ ((hi << 8) | (lo >>> 24))) >>> 0;
      lo = (CRC64_LO[t]! ^ (lo << 8)) >>> 0;
    }
    this.ch = hi;
    this.cl = lo;
  }

  /**
   * SipHash_CRounds with message word m = (mh, ml): v3 ^= m, `rounds` SipRounds, v0 ^= m. With `bare`, only
   * the rounds (the finalisation).
   */
  private compress(mh: number, ml: number, rounds: number, bare = false): void {
    const v = this.v;
    let v0h = v[0]!, v0l = v[1]!, v1h = v[2]!, v1l = v[3]!, v2h = v[4]!, v2l = v[5]!, v3h = v[6]!, v3l = v[7]!;
    if (!bare) {
      v3h ^= mh;
      v3l ^= ml;
    }
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
    if (!bare) {
      v0h ^= mh;
      v0l ^= ml;
    }
    v[0] = v0h;
    v[1] = v0l;
    v[2] = v1h;
    v[3] = v1l;
    v[4] = v2h;
    v[5] = v2l;
    v[6] = v3h;
    v[7] = v3l;
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
