// rewriteNode's mechanics on real nodes, read back with our node reader: bsets that grow push the later
// bsets to the next block boundary and shrinking back leaves no stale bset behind; header min/max edits are
// what the reader checks against the pointer; position and pointer-gen edits; what it refuses.
import { afterAll, describe, expect, it } from 'vitest';
import { walkNodes } from './encode-helpers.js';
import { parseBtreeNode, type BtreeNode } from '../../src-core/btree/node.js';
import type { BtreePtr } from '../../src-core/format/values.js';
import { decodePtrs, BTREE_PTR_V2_HEADER_BYTES } from '../../src-core/format/values.js';
import { bposSuccessor, type Bpos } from '../../src-core/format/bpos.js';
import { BTREE_ID_NR, KEY_TYPE_btree_ptr_v2 } from '../../src-core/format/names.js';
import { appendBset, rewriteNode, type NodeEdit } from '../../src-core/format/encode-node.js';
import { bkeyFields } from '../../src-core/format/encode-key.js';
import { closeFixtures, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);

const FX = 'clean-32k-depth2';

interface Picked {
  buf: Uint8Array;
  node: BtreeNode;
  ptr: BtreePtr;
}

/** The first node (in walk order) that satisfies pred, re-parsed over its own copy of the bytes. */
function pick(pred: (n: BtreeNode) => boolean): Picked {
  const { fs } = openFixture(FX);
  let out: Picked | undefined;
  for (let id = 0; id < BTREE_ID_NR && !out; id++) {
    walkNodes(fs, id, (node, ptr) => {
      if (out || !node.readable || !pred(node)) return;
      const buf = new Uint8Array(node.buf);
      out = { buf, ptr, node: parseBtreeNode(fs.sb, buf, { btreeId: node.btreeId, level: node.level, ptr }) };
    });
  }
  if (!out) throw new Error(`${FX} has no node of the kind this test needs`);
  return out;
}

function reparse(p: Picked, buf: Uint8Array, ptr: BtreePtr = p.ptr): BtreeNode {
  return parseBtreeNode(openFixture(FX).fs.sb, buf, { btreeId: p.node.btreeId, level: p.node.level, ptr });
}

function geo(): { nodeBytes: number; blockBytes: number } {
  const sb = openFixture(FX).fs.sb;
  return { nodeBytes: sb.btreeNodeSize * 512, blockBytes: sb.blockSize * 512 };
}

/** Every key of the node, in bset order, as (position text, value hex). */
function keyList(n: BtreeNode): string[] {
  const t = n.keys;
  const out: string[] = [];
  for (let r = 0; r < t.n; r++) out.push(`${t.bset[r]} ${t.pos(r).inode}:${t.pos(r).offset}:${t.pos(r).snapshot} ${Buffer.from(t.value(r)).toString('hex')}`);
  return out;
}

function rowAt(n: BtreeNode, pos: Bpos): number {
  const t = n.keys;
  for (let r = 0; r < t.n; r++) if (t.cmpBpos(r, pos) === 0) return r;
  throw new Error('key not found');
}

describe('rewriteNode', () => {
  it('a first bset that outgrows its blocks moves the later bsets; shrinking it back restores every bset byte for byte', () => {
    const p = pick((n) => n.bsets.length >= 2 && n.level === 0 && n.keys.n >= 3 && n.keys.bset[2] === 0);
    const t = p.node.keys;
    const rows = [0, 1, 2];
    const big = (r: number): Uint8Array => new Uint8Array(1600).fill(r + 1);
    const grown = rewriteNode(p.buf, p.node.bsets, rows.map((r) => ({ kind: 'value', keyOffset: t.keyOff[r]!, value: big(r) })), geo());
    const g = reparse(p, grown);
    expect(g.errors).toEqual([]);
    expect(g.bsets.map((b) => b.csumOk)).toEqual(p.node.bsets.map(() => true));
    expect(g.bsets[1]!.byteOffset).toBeGreaterThan(p.node.bsets[1]!.byteOffset);
    expect(g.bsets[1]!.byteOffset % geo().blockBytes).toBe(0);
    const want = keyList(p.node);
    rows.forEach((r) => (want[r] = want[r]!.replace(/ [0-9a-f]*$/, ` ${Buffer.from(big(r)).toString('hex')}`)));
    expect(keyList(g)).toEqual(want);

    const back = rewriteNode(grown, g.bsets, rows.map((r) => ({ kind: 'value', keyOffset: g.keys.keyOff[rowAt(g, t.pos(r))]!, value: t.value(r) })), geo());
    const b = reparse(p, back);
    expect(b.errors, 'no stale bset with this seq is left after the last one').toEqual([]);
    expect(keyList(b)).toEqual(keyList(p.node));
    for (const s of p.node.bsets) {
      expect(Buffer.from(back.subarray(s.byteOffset, s.keysEnd))).toEqual(Buffer.from(p.buf.subarray(s.byteOffset, s.keysEnd)));
    }
  });

  it('header min/max key edits are what the reader then checks against the parent pointer', () => {
    // a leaf whose max_key lies beyond its last key: pull max_key in to that key
    const last = (n: BtreeNode): number => n.live[n.liveCount - 1]!;
    const p = pick((n) => n.level === 0 && n.liveCount > 0 && n.keys.cmpBpos(last(n), n.maxKey) < 0);
    const newMax = p.node.keys.pos(last(p.node));
    const out = rewriteNode(p.buf, p.node.bsets, [{ kind: 'maxKey', pos: newMax }, { kind: 'minKey', pos: p.node.minKey }], geo());
    expect(reparse(p, out).errors.map((e) => e.code)).toEqual(['wrong_max_key']);
    const ptr: BtreePtr = { ...p.ptr, maxKey: newMax };
    const n = reparse(p, out, ptr);
    expect(n.errors).toEqual([]);
    expect(n.maxKey).toEqual(newMax);
    expect(n.liveCount).toBe(p.node.liveCount);
  });

  it('moves a key within the gap before it, and refuses a move that breaks the bset order', () => {
    // dirents: hashed offsets leave room between neighbours
    const p = pick((n) => n.btreeId === 2 && n.level === 0 && n.keys.n > 3 && n.keys.bset[1] === n.keys.bset[3]);
    const t = p.node.keys;
    const prev = t.pos(1);
    const target = bposSuccessor({ ...prev, snapshot: 0xffffffff })!;
    const moved = { ...target, snapshot: 0xffffffff };
    expect(t.cmpBpos(2, moved)).toBeGreaterThan(0);
    const out = rewriteNode(p.buf, p.node.bsets, [{ kind: 'pos', keyOffset: t.keyOff[2]!, pos: moved }], geo());
    const n = reparse(p, out);
    expect(n.errors).toEqual([]);
    expect(n.keys.pos(2)).toEqual(moved);
    expect(Buffer.from(n.keys.value(2))).toEqual(Buffer.from(t.value(2)));
    const bad: NodeEdit = { kind: 'pos', keyOffset: t.keyOff[2]!, pos: t.pos(3) };
    expect(() => rewriteNode(p.buf, p.node.bsets, [{ ...bad, pos: { ...t.pos(3), offset: t.pos(3).offset + 1n } }], geo())).toThrow(/out of order/);
    expect(() => rewriteNode(p.buf, p.node.bsets, [{ kind: 'value', keyOffset: t.keyOff[2]! + 8, value: new Uint8Array(8) }], geo())).toThrow(/no key starts at byte/);
  });

  it('sets the gen of an interior node\'s btree_ptr_v2 pointer', () => {
    const p = pick((n) => n.level > 0 && n.liveCount > 0);
    const t = p.node.keys;
    const row = p.node.live[0]!;
    expect(t.type[row]).toBe(KEY_TYPE_btree_ptr_v2);
    const val = t.value(row);
    const gen = (decodePtrs(val, BTREE_PTR_V2_HEADER_BYTES, val.length)[0]!.gen + 7) & 0xff;
    const out = rewriteNode(p.buf, p.node.bsets, [{ kind: 'ptrGen', keyOffset: t.keyOff[row]!, ptr: 0, gen }], geo());
    const n = reparse(p, out);
    expect(n.errors).toEqual([]);
    const v2 = n.keys.value(n.live[0]!);
    expect(decodePtrs(v2, BTREE_PTR_V2_HEADER_BYTES, v2.length).map((x) => x.gen)).toEqual([gen]);
    expect(() => rewriteNode(p.buf, p.node.bsets, [{ kind: 'ptrGen', keyOffset: t.keyOff[row]!, ptr: 1, gen }], geo())).toThrow(/no pointer 1/);
  });

  it('appends a bset whose deleted key hides an older key, leaving the other keys live', () => {
    const p = pick((n) => n.btreeId === 1 && n.level === 0 && n.liveCount > 2);
    const t = p.node.keys;
    const row = p.node.live[1]!;
    const gone = { ...bkeyFields(t, row), type: 0 };
    const out = rewriteNode(p.buf, p.node.bsets, [], geo());
    expect(Buffer.from(out.subarray(0, p.node.bsets[0]!.keysEnd))).toEqual(Buffer.from(p.buf.subarray(0, p.node.bsets[0]!.keysEnd)));
    const n = reparse(p, appendBset(p.buf, p.node.bsets, [{ fields: gone, value: new Uint8Array(0) }], 1n, geo()));
    expect(n.errors).toEqual([]);
    expect(n.bsets.length).toBe(p.node.bsets.length + 1);
    expect(n.liveCount).toBe(p.node.liveCount - 1);
    for (let k = 0; k < n.liveCount; k++) expect(n.keys.cmpBpos(n.live[k]!, gone.pos)).not.toBe(0);
    expect(() => appendBset(p.buf, p.node.bsets, [], 1n, geo())).toThrow(/empty bset/);
    const two = [{ fields: bkeyFields(t, p.node.live[2]!), value: t.value(p.node.live[2]!) }, { fields: gone, value: new Uint8Array(0) }];
    expect(() => appendBset(p.buf, p.node.bsets, two, 1n, geo())).toThrow(/ascending/);
  });

  it('deletes a key and inserts it back, which gives the node\'s bytes back; a later bset emptied is dropped', () => {
    const p = pick((n) => n.level === 0 && n.bsets.length >= 2 && n.keys.n > 3 && n.keys.bset[2] === 0);
    const t = p.node.keys;
    const fields = bkeyFields(t, 2);
    const without = rewriteNode(p.buf, p.node.bsets, [{ kind: 'delete', keyOffset: t.keyOff[2]! }], geo());
    const w = reparse(p, without);
    expect(w.errors).toEqual([]);
    expect(keyList(w)).toEqual(keyList(p.node).filter((_, i) => i !== 2));
    const back = rewriteNode(without, w.bsets, [{ kind: 'insert', bset: 0, fields, value: t.value(2) }], geo());
    for (const s of p.node.bsets) {
      expect(Buffer.from(back.subarray(s.byteOffset, s.keysEnd))).toEqual(Buffer.from(p.buf.subarray(s.byteOffset, s.keysEnd)));
    }
    expect(() => rewriteNode(p.buf, p.node.bsets, [{ kind: 'insert', bset: 0, fields, value: t.value(2) }], geo())).toThrow(/already holds a key/);

    const lastSet = p.node.bsets.length - 1;
    const rows = Array.from({ length: t.n }, (_, r) => r).filter((r) => t.bset[r] === lastSet);
    const dropped = rewriteNode(p.buf, p.node.bsets, rows.map((r) => ({ kind: 'delete', keyOffset: t.keyOff[r]! })), geo());
    const d = reparse(p, dropped);
    expect(d.errors, 'no empty bset, and nothing stale after the last one').toEqual([]);
    expect(d.bsets.length).toBe(p.node.bsets.length - 1);
    expect(keyList(d)).toEqual(keyList(p.node).filter((_, i) => t.bset[i] !== lastSet));
  });
});
