// check_inodes' inode table: its unpacker (no BigInt, one-byte varints inline) agrees with the reference
// unpacker of src-core/format/values.ts on every inode of the fixtures and on made-up values of both encodings;
// on an unclean filesystem it deletes what bcachefs deleted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forEachKey } from '../../src-core/btree/fs.js';
import { FindingList } from '../../src-core/check/findings.js';
import { BTREE_ID_inodes, KEY_TYPE_inode } from '../../src-core/format/names.js';
import { BCH_INODE_FIELDS, inodeUnpack } from '../../src-core/format/values.js';
import { FsckContext } from '../../src-core/fsck/context.js';
import { InodeTable } from '../../src-core/fsck/inode-table.js';
import { checkInodes } from '../../src-core/fsck/inodes.js';
import { NEVER_CANCELLED } from '../../src-core/base/cancellation.js';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';
import { PROJECT_ROOT, allFixtures, closeFixtures, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);
const field = (name: string): number => BCH_INODE_FIELDS.findIndex(([n]) => n === name);
const F = { size: field('bi_size'), sectors: field('bi_sectors'), nlink: field('bi_nlink'), dir: field('bi_dir'), dirOff: field('bi_dir_offset') };
const u64 = (hi: number, lo: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);

/** Pushes val; whether the row (or the refusal) agrees with inodeUnpack's fields. */
function agree(t: InodeTable, val: Uint8Array, inum: number): boolean {
  const ref = inodeUnpack(val);
  const r = t.push(0, inum, val, 0, val.length);
  if (!ref) return r === -1;
  return r >= 0 && t.mode[r] === ref.mode &&
    u64(t.sizeHi[r]!, t.sizeLo[r]!) === ref.fields[F.size] &&
    u64(t.sectorsHi[r]!, t.sectorsLo[r]!) === ref.fields[F.sectors] &&
    BigInt(t.nlink[r]!) === ref.fields[F.nlink] &&
    u64(t.dirHi[r]!, t.dirLo[r]!) === ref.fields[F.dir] &&
    u64(t.dirOffHi[r]!, t.dirOffLo[r]!) === ref.fields[F.dirOff];
}

describe('the inode unpacker', () => {
  it.each(allFixtures())('agrees with inodeUnpack on every inode of %s', (fx) => {
    const { fs } = openFixture(fx);
    const t = new InodeTable();
    let n = 0;
    const disagree: number[] = [];
    forEachKey(fs, BTREE_ID_inodes, (k, i) => {
      if (k.type[i] !== KEY_TYPE_inode) return;
      if (!agree(t, k.value(i).slice(), 4096 + n)) disagree.push(k.offsetLo[i]!);
      n++;
    });
    expect(disagree).toEqual([]);
    expect(t.n).toBe(n);
    expect(n).toBeGreaterThan(0);
  }, 60_000);

  /** inode_encode_field: a big-endian value whose first byte's highest set bit gives its length */
  function v1Field(v: bigint): number[] {
    const bits = v === 0n ? 0 : v.toString(2).length;
    const BITS = [7, 14, 21, 28, 43, 58, 73, 96];
    const BYTES = [1, 2, 3, 4, 6, 8, 10, 13];
    const shift = BITS.findIndex((b) => bits < b) + 1;
    const bytes = BYTES[shift - 1]!;
    const out: number[] = [];
    for (let i = bytes - 1; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
    out[0]! |= 0x100 >> shift;
    return out;
  }
  /** bch2_varint_encode (new_varint) */
  function v2Field(v: bigint): number[] {
    const bits = v === 0n ? 1 : v.toString(2).length;
    const bytes = Math.ceil(bits / 7);
    if (bytes > 8) return [0xff, ...Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn))];
    const x = (v << BigInt(bytes)) | ((1n << BigInt(bytes - 1)) - 1n);
    return Array.from({ length: bytes }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn));
  }
  function value(v2: boolean, fields: bigint[], mode: number): Uint8Array {
    const body: number[] = [];
    fields.forEach((f, i) => {
      body.push(...(v2 ? v2Field(f) : v1Field(f)));
      if (v2 && BCH_INODE_FIELDS[i]![1] > 64) body.push(0);
    });
    const len = Math.ceil((14 + body.length) / 8) * 8;
    const val = new Uint8Array(len);
    const dv = new DataView(val.buffer);
    dv.setUint32(8, (fields.length << 24) | (v2 ? 0x8000_0000 : 0), true);
    dv.setUint16(12, mode, true);
    val.set(body, 14);
    return val;
  }

  it('agrees with inodeUnpack on made-up values of both encodings, up to 64-bit fields', () => {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
    const t = new InodeTable();
    let inum = 4096;
    for (let i = 0; i < 400; i++) {
      const fields = BCH_INODE_FIELDS.map(([name, bits]) => {
        const w = bits > 64 ? 64 : bits;
        // options (checksum, compression, targets) small; others of any width up to theirs
        if (w <= 16 || name === 'bi_nlink') return BigInt(rnd() % 3);
        const b = rnd() % (w + 1);
        return b === 0 ? 0n : (BigInt(rnd()) << 32n | BigInt(rnd())) & ((1n << BigInt(b)) - 1n);
      });
      for (const v2 of [true, false]) {
        const val = value(v2, fields.slice(0, 1 + (rnd() % fields.length)), 0o100644);
        if (!agree(t, val, inum++)) throw new Error(`disagree on ${Buffer.from(val).toString('hex')}`);
      }
    }
    expect(t.n).toBe(800);
  });

  it('refuses what bcachefs cannot unpack: a field wider than its type, a value cut short', () => {
    const t = new InodeTable();
    const fields = BCH_INODE_FIELDS.map(() => 1n);
    fields[field('bi_nlink')] = 1n << 33n;
    for (const v2 of [true, false]) {
      const bad = value(v2, fields, 0o100644);
      expect(inodeUnpack(bad)).toBeUndefined();
      expect(t.push(0, 5000, bad, 0, bad.length)).toBe(-1);
    }
    const ok = value(true, BCH_INODE_FIELDS.map((_, i) => (i === field('bi_size') ? 300_000n : 1n)), 0o100644);
    expect(t.push(0, 5001, ok, 0, 24)).toBe(-1);
    expect(t.push(0, 5002, ok, 0, ok.length)).toBeGreaterThanOrEqual(0);
  });
});

describe('check_inodes on an unclean filesystem', () => {
  const opened: OpenedFilesystem[] = [];
  afterAll(() => opened.forEach((o) => o.close()));
  it.each(['unclean-b2', 'unclean-b5'])('%s: deletes the unlinked inodes, silently, as bcachefs did (its list -f)', async (fx) => {
    const dir = join(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-unclean', fx);
    const o = openFilesystem(join(dir, 'image.img.gz'));
    opened.push(o);
    const out = new FindingList();
    const ctx = new FsckContext(o.fs, out, NEVER_CANCELLED);
    expect(ctx.clean).toBe(false);
    checkInodes(ctx);
    expect(out.items).toEqual([]);
    // list-f is bcachefs's view after recovery and fsck
    const want = readFileSync(join(dir, 'list-f', 'inodes.keys.txt'), 'latin1').split('\n')
      .filter((l) => / type inode 0:/.test(l)).map((l) => Number(/ 0:(\d+):/.exec(l)![1]));
    const have = Array.from({ length: ctx.inodes.n }, (_, r) => ctx.inodes.inumLo[r]!);
    expect(have).toEqual(want);
    const gone = readFileSync(join(dir, 'list-f', 'inodes.keys.txt'), 'latin1').split('\n')
      .filter((l) => / type inode_generation 0:/.test(l)).map((l) => Number(/ 0:(\d+):/.exec(l)![1]));
    expect(gone.some((i) => ctx.inodeRemoved(0, i))).toBe(true);
    for (const i of want) expect(ctx.inodeRemoved(0, i)).toBe(false);
  });
});
