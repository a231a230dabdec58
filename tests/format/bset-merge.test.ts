// The merge of a node's bsets (bch2_key_sort_fix_overlapping) and the order rule of bkey_iter_cmp, on a
// node built by hand: the fixtures only hold nodes without repeated positions or whiteouts.
import { afterAll, describe, expect, it } from 'vitest';
import { parseBtreeNode } from '../../src-core/btree/node.js';
import { bchChecksum32 } from '../../src-core/format/bytes.js';
import { KEY_TYPE_alloc_v2, KEY_TYPE_btree_ptr_v2 } from '../../src-core/format/names.js';
import { POS_MAX, POS_MIN } from '../../src-core/format/bpos.js';
import { closeFixtures, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);
const SEQ = 0x1234n;

/** An unpacked alloc key at 0:offset:0: deleted (5 u64s) or alloc_v2 with one value u64 holding `tag`. */
function key(offset: number, deleted: boolean, tag = 0): Buffer {
  const k = Buffer.alloc(deleted ? 40 : 48);
  k[0] = deleted ? 5 : 6;
  k[1] = 1; // KEY_FORMAT_CURRENT
  k[2] = deleted ? 0 : KEY_TYPE_alloc_v2;
  k.writeUInt32LE(offset, 24);
  if (!deleted) k[41] = tag; // alloc_v2: nr_fields 0, gen = tag
  return k;
}

/** A 3-block alloc leaf whose first bset holds `a` and whose second (at block 1) holds `b`. */
function node(bsetMagic: bigint, a: Buffer[], b: Buffer[]): Uint8Array {
  const buf = Buffer.alloc(3 * 4096);
  buf.writeBigUInt64LE(bsetMagic, 16);
  buf.writeBigUInt64LE(4n | (1n << 32n), 24); // btree id alloc, level 0, BTREE_NODE_SEQ 1
  buf.fill(0xff, 52, 72); // max_key POS_MAX
  buf[80] = 5; // bkey_format: key_u64s 5, 6 fields of full width, offsets 0
  buf[81] = 6;
  buf.set([64, 64, 32, 32, 32, 64], 82);
  const first = Buffer.concat(a);
  buf.writeBigUInt64LE(SEQ, 136);
  buf.writeUInt32LE(1, 152); // crc32c_nonzero
  buf.writeUInt16LE(13, 156);
  buf.writeUInt16LE(first.length / 8, 158);
  first.copy(buf, 160);
  buf.writeUInt32LE(bchChecksum32(1, buf, 16, 160 + first.length)!, 0);
  const second = Buffer.concat(b);
  buf.writeBigUInt64LE(SEQ, 4096 + 16);
  buf.writeUInt32LE(1, 4096 + 32);
  buf.writeUInt16LE(13, 4096 + 36);
  buf.writeUInt16LE(second.length / 8, 4096 + 38);
  second.copy(buf, 4096 + 40);
  buf.writeUInt32LE(bchChecksum32(1, buf, 4096 + 16, 4096 + 40 + second.length)!, 4096);
  return buf;
}

/** An alloc leaf with one bset per 4 KiB block: bsets[0] in the node header's bset, the others after it. */
function nodeOfBsets(bsetMagic: bigint, bsets: Buffer[][]): Uint8Array {
  const buf = Buffer.from(node(bsetMagic, bsets[0]!, []).subarray(0, 4096));
  const out = Buffer.alloc(bsets.length * 4096);
  buf.copy(out);
  for (let i = 1; i < bsets.length; i++) {
    const keys = Buffer.concat(bsets[i]!);
    const base = i * 4096;
    out.writeBigUInt64LE(SEQ, base + 16);
    out.writeUInt32LE(1, base + 32);
    out.writeUInt16LE(13, base + 36);
    out.writeUInt16LE(keys.length / 8, base + 38);
    keys.copy(out, base + 40);
    out.writeUInt32LE(bchChecksum32(1, out, base + 16, base + 40 + keys.length)!, base);
  }
  return out;
}

describe('bset merge', () => {
  const sb = () => openFixture('clean-default-64m').fs.sb;
  const ptr = { type: KEY_TYPE_btree_ptr_v2, maxKey: POS_MAX, minKey: POS_MIN, seq: SEQ, sectorsWritten: 0, flags: 0, ptrs: [{ dev: 0, offset: 0, gen: 0, cached: false }], raw: new Uint8Array(0) };

  it('keeps only the newest key at a position, across and within bsets, and drops whiteouts', () => {
    const buf = node(sb().bsetMagic, [key(1, false, 1), key(2, false, 2), key(2, false, 3), key(3, true)], [key(1, true), key(4, false, 4)]);
    const n = parseBtreeNode(sb(), buf, { btreeId: 4, level: 0, ptr });
    expect(n.errors).toEqual([]);
    expect(n.bsets).toHaveLength(2);
    const live = Array.from(n.live.subarray(0, n.liveCount), (r) => [n.keys.offsetLo[r], n.keys.buf[n.keys.valOff[r]! + 1]]);
    // 0:1 whiteouted by the newer bset; of the two 0:2 keys the later wins; 0:3 is a whiteout
    expect(live).toEqual([[2, 3], [4, 4]]);
  });

  it('equals a plain model of the merge on random nodes of 1 to 12 bsets with repeats and whiteouts', () => {
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (let c = 0; c < 300; c++) {
      const nb = 1 + rand(12);
      const bsets: Buffer[][] = [];
      const model = new Map<number, [boolean, number]>(); // offset -> [deleted, tag], newest last
      for (let b = 0; b < nb; b++) {
        // sorted positions, at one position whiteouts before live keys; tags tell the keys apart
        const ks: [number, boolean, number][] = [];
        const count = b === 0 ? rand(60) : rand(12);
        for (let i = 0; i < count; i++) ks.push([rand(b === 0 ? 80 : 40), rand(4) === 0, 1 + rand(250)]);
        ks.sort((x, y) => x[0] - y[0] || Number(y[1]) - Number(x[1]));
        bsets.push(ks.map(([o, d, tag]) => key(o, d, tag)));
        for (const [o, d, tag] of ks) model.set(o, [d, tag]);
      }
      const n = parseBtreeNode(sb(), nodeOfBsets(sb().bsetMagic, bsets), { btreeId: 4, level: 0, ptr });
      expect(n.errors.filter((e) => e.code !== 'empty_bset')).toEqual([]);
      const live = Array.from(n.live.subarray(0, n.liveCount), (r) => [n.keys.offsetLo[r], n.keys.buf[n.keys.valOff[r]! + 1]]);
      const want = [...model].filter(([, [d]]) => !d).sort((x, y) => x[0] - y[0]).map(([o, [, tag]]) => [o, tag]);
      expect(live).toEqual(want);
    }
  });

  it('a deleted key after a live one at the same position is out of order (bkey_iter_cmp)', () => {
    const buf = node(sb().bsetMagic, [key(5, false, 1), key(5, true)], []);
    const n = parseBtreeNode(sb(), buf, { btreeId: 4, level: 0, ptr });
    expect(n.errors.map((e) => e.code)).toContain('keys_out_of_order');
    expect(n.readable).toBe(true);
  });
});
