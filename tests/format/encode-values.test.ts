// Encoders against the worked examples of ../shared/docs/bcachefs-keys-2021.md (checked there against the
// real `bcachefs list`), field edits on a real inode, and the errors for values that do not fit.
import { afterAll, describe, expect, it } from 'vitest';
import { walkNodes } from './encode-helpers.js';
import { readBkeyFormat } from '../../src-core/format/bkey.js';
import { U32_MAX } from '../../src-core/format/bpos.js';
import { inodeUnpack, BCH_INODE_FIELDS, newAllocUnpacked } from '../../src-core/format/values.js';
import { KEY_TYPE_inode } from '../../src-core/format/names.js';
import { packKey, writeU64, type BkeyFields } from '../../src-core/format/encode-key.js';
import { encodeAllocV2, encodeDirent, encodeExtentPtr, varintEncode, withInodeFields } from '../../src-core/format/encode-value.js';
import { closeFixtures, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array(0)).toString('hex');

/** A bkey_format from key_u64s, bits per field and field offsets. */
function format(keyU64s: number, bits: number[], offsets: bigint[]) {
  const b = new Uint8Array(56);
  b[0] = keyU64s;
  b[1] = 6;
  bits.forEach((x, i) => (b[2 + i] = x));
  offsets.forEach((o, i) => writeU64(b, 8 + 8 * i, o));
  return readBkeyFormat(b, 0);
}

const key = (type: number, inode: bigint, offset: bigint, snapshot: number): BkeyFields =>
  ({ type, needsWhiteout: false, pos: { inode, offset, snapshot }, size: 0, versionHi: 0, versionLo: 0n });

describe('encoders against the documented examples', () => {
  it('varints (example 5 of the keys doc)', () => {
    expect(hex(varintEncode(0n))).toBe('00');
    expect(hex(varintEncode(1n))).toBe('02');
    expect(hex(varintEncode(101n))).toBe('ca');
    expect(hex(varintEncode(501668225n))).toBe('2f30dbbc03');
    expect(hex(varintEncode(4115n))).toBe('4d40');
    expect(hex(varintEncode(7133330273043817092n))).toBe('ff842251de16aefe62');
    expect(varintEncode(0xffff_ffff_ffff_ffffn).length).toBe(9);
    expect(() => varintEncode(-1n)).toThrow(RangeError);
  });

  it('packs keys bit for bit: the default inode format (example 1) and a field straddling words with an offset (example 2)', () => {
    const inodes = format(3, [64, 64, 32, 0, 0, 0], [0n, 0n, 0n, 0n, 0n, 0n]);
    expect(hex(packKey(key(8, 0n, 4096n, U32_MAX), 7, inodes))).toBe('0a000800ffffffff' + '0010000000000000' + '0000000000000000');
    const dirents = format(2, [8, 64, 32, 0, 0, 0], [4104n, 0n, 0n, 0n, 0n, 0n]);
    expect(hex(packKey(key(10, 4104n, 9048281686716555018n, U32_MAX), 4, dirents))).toBe('06000affffffff0a' + '9f691441f4917d00');
    // below the inode offset, or beyond its 8 bits: the key must be stored unpacked
    expect(packKey(key(10, 4103n, 1n, U32_MAX), 4, dirents)).toBeUndefined();
    expect(packKey(key(10, 4104n + 256n, 1n, U32_MAX), 4, dirents)).toBeUndefined();
    // a 0-bit field holds only its offset (example 3)
    const fixedOffset = format(1, [0, 8, 32, 0, 0, 0], [0n, 4758n, 0n, 0n, 0n, 0n]);
    expect(hex(packKey(key(8, 0n, 4758n, U32_MAX), 9, fixedOffset))).toBe('0a0008ffffffff00');
    expect(packKey(key(8, 1n, 4758n, U32_MAX), 9, fixedOffset)).toBeUndefined();
  });

  it('extent pointers (example 4) and dirents', () => {
    expect(hex(encodeExtentPtr({ dev: 0, offset: 9984, gen: 1, cached: false }))).toBe('0170020000000001');
    expect(hex(encodeExtentPtr({ dev: 3, offset: 2 ** 44 - 1, gen: 255, cached: true }))).toBe('f3ffffffffff03ff');
    expect(() => encodeExtentPtr({ dev: 0, offset: 2 ** 44, gen: 0, cached: false })).toThrow(RangeError);
    const d = encodeDirent(4456n, 8, Buffer.from('f000338_xxxxxxxxxxx.dat'));
    expect(hex(d.subarray(0, 9))).toBe('681100000000000008');
    expect(d.length).toBe(32);
    expect(() => encodeDirent(1n, 8, new Uint8Array(0))).toThrow(/non-empty/);
  });

  it('alloc_v2 keeps fields up to the last non-zero one and refuses values wider than their field', () => {
    const a = { ...newAllocUnpacked(), gen: 1, dataType: 4, dirtySectors: 256 };
    // nr_fields 3 (read_time, write_time, dirty_sectors), gen 1, oldest_gen 0, data_type 4, then 00 00 0104
    expect(hex(encodeAllocV2(a))).toBe('030100040000' + '0104');
    expect(hex(encodeAllocV2(newAllocUnpacked()))).toBe('0000000000000000');
    expect(() => encodeAllocV2({ ...a, dirtySectors: 65536 })).toThrow(/16-bit/);
    expect(() => encodeAllocV2({ ...a, gen: 256 })).toThrow(/u8/);
  });
});

describe('inode field edits', () => {
  it('sets bi_size and bi_nlink of a real inode and leaves every other field as it was', () => {
    const { fs } = openFixture('clean-default-64m');
    let val: Uint8Array | undefined;
    walkNodes(fs, 1, (node) => {
      for (let k = 0; k < node.liveCount && !val; k++) {
        const r = node.live[k]!;
        if (node.keys.type[r] === KEY_TYPE_inode) val = new Uint8Array(node.keys.value(r));
      }
    });
    const before = inodeUnpack(val!)!;
    const next = inodeUnpack(withInodeFields(val!, { bi_size: 2n ** 40n, bi_nlink: 3n }))!;
    const idx = (n: string): number => BCH_INODE_FIELDS.findIndex(([f]) => f === n);
    const want = [...before.fields];
    want[idx('bi_size')] = 2n ** 40n;
    want[idx('bi_nlink')] = 3n;
    expect(next.fields).toEqual(want);
    expect(next.mode).toBe(before.mode);
    expect(() => withInodeFields(val!, { bi_nlink: 2n ** 32n })).toThrow(/32 bits/);
    expect(() => withInodeFields(val!, { bi_nothing: 1n })).toThrow(/no inode field/);
  });
});
