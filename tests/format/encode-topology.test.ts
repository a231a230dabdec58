// Topology damage put right with in-place rewrites of a node header and its parent's pointer, checked with
// the real bcachefs 2021: the range of the damaged child is set from the evidence (the parent's range for the
// last child, the previous sibling's max_key for the next one's min_key, the pointer's seq for the node's),
// every extent of the clean base image is there again, and the real fsck -n must then find nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { openFilesystem } from '../../src-core/open.js';
import { parseBtreeNode, type BtreeNode } from '../../src-core/btree/node.js';
import { btreePtrFromKey, forEachKey } from '../../src-core/btree/fs.js';
import { bposSuccessor, bposToText, POS_MAX, type Bpos } from '../../src-core/format/bpos.js';
import { BTREE_ID_extents } from '../../src-core/format/names.js';
import type { BtreePtr } from '../../src-core/format/values.js';
import { encodeBtreePtrV2, readBtreePtrV2Value } from '../../src-core/format/encode-value.js';
import { rewriteNode, type NodeEdit } from '../../src-core/format/encode-node.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFixtureText, PROJECT_ROOT } from '../helpers/fixtures.js';
import { copyImage, expectFsckClean, realFsck, removeImages, toolMissing, walkNodes, writeAt } from './encode-helpers.js';

afterAll(removeImages);

/** A node and its parent as read from the image (bytes copied), with the parent's pointer to it. */
interface Family {
  node: BtreeNode;
  nodeBuf: Uint8Array;
  ptr: BtreePtr;
  parent: BtreeNode;
  parentBuf: Uint8Array;
  /** offset in the parent of the pointer key to the node, and of the previous sibling's pointer's max_key */
  ptrKeyOff: number;
  prevMax?: Bpos;
  geo: { nodeBytes: number; blockBytes: number };
}

function family(img: string, sector: number): Family {
  const o = openFilesystem(img);
  try {
    let out: Family | undefined;
    const geo = { nodeBytes: o.fs.sb.btreeNodeSize * 512, blockBytes: o.fs.sb.blockSize * 512 };
    walkNodes(o.fs, BTREE_ID_extents, (parent) => {
      if (out || parent.level === 0 || !parent.readable) return;
      const t = parent.keys;
      for (let k = 0; k < parent.liveCount; k++) {
        const ptr = btreePtrFromKey(t, parent.live[k]!)!;
        if (ptr.ptrs[0]?.offset !== sector) continue;
        const nodeBuf = new Uint8Array(o.dev.read(sector * 512, geo.nodeBytes));
        // read the node as its own header says (its pointer may be the damaged side), to find its bsets
        const self: BtreePtr = { ...ptr, seq: new DataView(nodeBuf.buffer).getBigUint64(136, true), flags: 1 };
        const node = parseBtreeNode(o.fs.sb, nodeBuf, { btreeId: BTREE_ID_extents, level: parent.level - 1, ptr: self });
        const prev = k > 0 ? btreePtrFromKey(t, parent.live[k - 1]!)!.maxKey : undefined;
        out = { node, nodeBuf, ptr, parent, parentBuf: new Uint8Array(parent.buf), ptrKeyOff: t.keyOff[parent.live[k]!]!, geo };
        if (prev) out.prevMax = prev;
        return;
      }
    });
    if (!out) throw new Error(`no extents node at sector ${sector} under an interior node`);
    return out;
  } finally {
    o.close();
  }
}

/** The positions of every extent our reader lists. */
function extentPositions(img: string): string[] {
  const o = openFilesystem(img);
  try {
    const out: string[] = [];
    forEachKey(o.fs, BTREE_ID_extents, (t, r) => out.push(bposToText(t.pos(r))));
    return out;
  } finally {
    o.close();
  }
}

const BASE_FIXTURE: Record<string, string> = {
  B1: 'clean-default-64m', B2: 'clean-32k-depth2', B4: 'clean-default-128m-depth2', B5: 'clean-64k-128m', B6: 'clean-32k-256m-alloc-depth2',
};

/** The extent positions `bcachefs list` printed for the clean image the fixture was made from (CASE.md names it). */
function baseExtentPositions(fx: string): string[] {
  const base = /Base image: `(B\d)\.img`/.exec(readFixtureText(fx, 'CASE.md')!)![1]!;
  const text = BASE_FIXTURE[base]
    ? readFixtureText(BASE_FIXTURE[base]!, 'list/extents.keys.txt')!
    : gunzipSync(readFileSync(resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-base-keys', base, 'extents.keys.txt.gz'))).toString('latin1');
  return text.split('\n').filter((l) => l.startsWith('u64s')).map((l) => / type \w+ (\S+) len /.exec(l)![1]!);
}

/** Rewrites the node and its parent's pointer to it in place. */
function fix(img: string, f: Family, nodeEdits: NodeEdit[], ptrEdits: (v: ReturnType<typeof readBtreePtrV2Value>) => NodeEdit[]): void {
  writeAt(img, f.node.sector * 512, rewriteNode(f.nodeBuf, f.node.bsets, nodeEdits, f.geo));
  const val = f.parent.keys.value(f.parent.keys.keyOff.indexOf(f.ptrKeyOff));
  writeAt(img, f.parent.sector * 512, rewriteNode(f.parentBuf, f.parent.bsets, ptrEdits(readBtreePtrV2Value(val)), f.geo));
}

const injection = (fx: string) => JSON.parse(readFixtureText(fx, 'injections.json')!)[0];

describe.skipIf(toolMissing)('topology put right in place, then the real fsck -n', () => {
  it('maxkey-extents-b2 (the real fsck -n segfaults on it): the last child\'s max_key and its pointer set back to the parent\'s max_key: exit 0', { timeout: 120_000 }, () => {
    const fx = 'maxkey-extents-b2';
    const img = copyImage(fx);
    const before = realFsck(img);
    expect(before.exit).toBe(139);
    const f = family(img, injection(fx).child.sector);
    expect(f.parent.maxKey).toEqual(POS_MAX);
    expect(f.node.errors).toEqual([]);
    // the parent's range ends at POS_MAX, so its last child must too: the child's keys all lie below it
    fix(img, f, [{ kind: 'maxKey', pos: f.parent.maxKey }], () => [{ kind: 'pos', keyOffset: f.ptrKeyOff, pos: f.parent.maxKey }]);
    expect(extentPositions(img), 'every extent of the clean base image').toEqual(baseExtentPositions(fx));
    expectFsckClean(img);
  });

  it.each(['gap-extents-b2', 'overlap-extents-b4'])('%s: the child\'s min_key (header and pointer) set to the successor of the previous sibling\'s max_key: exit 0', { timeout: 120_000 }, (fx) => {
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(4);
    const f = family(img, injection(fx).child.sector);
    const start = bposSuccessor(f.prevMax!)!;
    // the child's first key lies after the corrected start, so no key falls outside its range
    const first = f.node.keys.pos(f.node.live[0]!);
    expect(first.inode > start.inode || (first.inode === start.inode && first.offset >= start.offset)).toBe(true);
    fix(img, f, [{ kind: 'minKey', pos: start }], (v) => [{ kind: 'value', keyOffset: f.ptrKeyOff, value: encodeBtreePtrV2({ ...v, minKey: start }) }]);
    expect(extentPositions(img), 'every extent of the clean base image').toEqual(baseExtentPositions(fx));
    expectFsckClean(img);
  });

  it('wrongseq-extents-b3 (unreadable, exit 8): the node\'s seq set back to its pointer\'s (checksum valid, keys intact): exit 0, every extent back', { timeout: 120_000 }, () => {
    const fx = 'wrongseq-extents-b3';
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(8);
    const inj = injection(fx);
    const f = family(img, inj.child.sector);
    expect(f.node.seq).toBe(BigInt(inj.new));
    expect(f.ptr.seq).toBe(BigInt(inj.old));
    expect(f.node.bsets.every((b) => b.csumOk)).toBe(true);
    writeAt(img, f.node.sector * 512, rewriteNode(f.nodeBuf, f.node.bsets, [{ kind: 'seq', seq: f.ptr.seq! }], f.geo));
    expect(extentPositions(img), 'every extent of the clean base image').toEqual(baseExtentPositions(fx));
    expectFsckClean(img);
  });
});
