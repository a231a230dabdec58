// Topology damage put right with in-place rewrites of a node header and its parent's pointer, checked with
// the real bcachefs 2021: the range of the damaged child is set from the evidence (the parent's range for the
// last child, the previous sibling's max_key for the next one's min_key, the pointer's seq for the node's),
// every extent of the clean base image is there again, and the real fsck -n must then find nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { openFilesystem } from '../../src-core/open.js';
import { parseBtreeNode, type BtreeNode } from '../../src-core/btree/node.js';
import { btreePtrFromKey, forEachKey } from '../../src-core/btree/fs.js';
import { bposSuccessor, bposToText, type Bpos } from '../../src-core/format/bpos.js';
import { BTREE_ID_alloc, BTREE_ID_extents, btreeIdByName } from '../../src-core/format/names.js';
import type { BtreePtr } from '../../src-core/format/values.js';
import { encodeBtreePtrV2, readBtreePtrV2Value } from '../../src-core/format/encode-value.js';
import { rewriteNode, type NodeEdit } from '../../src-core/format/encode-node.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFixtureText, PROJECT_ROOT } from '../helpers/fixtures.js';
import {
  alloc, bucketPos, copyImage, expectFsckClean, findKey, pointersInto, realFsck, removeImages, setAlloc, toolMissing, walkNodes, writeAt, wrongGen,
} from './encode-helpers.js';
import { bchChecksum32 } from '../../src-core/format/bytes.js';

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
  isLast: boolean;
  geo: { nodeBytes: number; blockBytes: number };
}

function family(img: string, btreeId: number, sector: number): Family {
  const o = openFilesystem(img);
  try {
    let out: Family | undefined;
    const geo = { nodeBytes: o.fs.sb.btreeNodeSize * 512, blockBytes: o.fs.sb.blockSize * 512 };
    walkNodes(o.fs, btreeId, (parent) => {
      if (out || parent.level === 0 || !parent.readable) return;
      const t = parent.keys;
      for (let k = 0; k < parent.liveCount; k++) {
        const ptr = btreePtrFromKey(t, parent.live[k]!)!;
        if (ptr.ptrs[0]?.offset !== sector) continue;
        const nodeBuf = new Uint8Array(o.dev.read(sector * 512, geo.nodeBytes));
        // read the node as its own header says (its pointer may be the damaged side), to find its bsets
        const self: BtreePtr = { ...ptr, seq: new DataView(nodeBuf.buffer).getBigUint64(136, true), flags: 1 };
        const node = parseBtreeNode(o.fs.sb, nodeBuf, { btreeId, level: parent.level - 1, ptr: self });
        const prev = k > 0 ? btreePtrFromKey(t, parent.live[k - 1]!)!.maxKey : undefined;
        out = {
          node, nodeBuf, ptr, parent, parentBuf: new Uint8Array(parent.buf), ptrKeyOff: t.keyOff[parent.live[k]!]!, geo,
          isLast: k === parent.liveCount - 1,
        };
        if (prev) out.prevMax = prev;
        return;
      }
    });
    if (!out) throw new Error(`no node of btree ${btreeId} at sector ${sector} under an interior node`);
    return out;
  } finally {
    o.close();
  }
}

/** The positions of every key of a btree our reader lists. */
function positions(img: string, btreeId: number): string[] {
  const o = openFilesystem(img);
  try {
    const out: string[] = [];
    forEachKey(o.fs, btreeId, (t, r) => out.push(bposToText(t.pos(r))));
    return out;
  } finally {
    o.close();
  }
}

const BASE_FIXTURE: Record<string, string> = {
  B1: 'clean-default-64m', B2: 'clean-32k-depth2', B4: 'clean-default-128m-depth2', B5: 'clean-64k-128m', B6: 'clean-32k-256m-alloc-depth2',
  B7: 'clean-32k-128m-dirents-depth3',
};

/** The key positions `bcachefs list -b btree` printed for the clean image the fixture was made from (CASE.md names it). */
function basePositions(fx: string, btree: string): string[] {
  const base = /Base image: `(B\d)\.img`/.exec(readFixtureText(fx, 'CASE.md')!)![1]!;
  const text = BASE_FIXTURE[base]
    ? readFixtureText(BASE_FIXTURE[base]!, `list/${btree}.keys.txt`)!
    : gunzipSync(readFileSync(resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-base-keys', base, `${btree}.keys.txt.gz`))).toString('latin1');
  return text.split('\n').filter((l) => l.startsWith('u64s')).map((l) => / type \w+ (\S+) len /.exec(l)![1]!);
}

/** Rewrites the node and its parent's pointer to it in place. */
function fix(img: string, f: Family, nodeEdits: NodeEdit[], ptrEdits: (v: ReturnType<typeof readBtreePtrV2Value>) => NodeEdit[]): void {
  writeAt(img, f.node.sector * 512, rewriteNode(f.nodeBuf, f.node.bsets, nodeEdits, f.geo));
  const val = f.parent.keys.value(f.parent.keys.keyOff.indexOf(f.ptrKeyOff));
  writeAt(img, f.parent.sector * 512, rewriteNode(f.parentBuf, f.parent.bsets, ptrEdits(readBtreePtrV2Value(val)), f.geo));
}

const injection = (fx: string) => JSON.parse(readFixtureText(fx, 'injections.json')!)[0];

const CASES = [
  'maxkey-extents-b2', 'maxkey-inodes-b3', 'maxkey-alloc-b6',
  'gap-extents-b2', 'gap-extents-b4', 'gap-inodes-b3', 'gap-alloc-b6', 'gap-dirents-l2-b7',
  'overlap-extents-b2', 'overlap-extents-b4', 'overlap-deep-extents-b2', 'overlap-inodes-b5', 'overlap-dirents-b3',
];

describe.skipIf(toolMissing)('topology put right in place, then the real fsck -n', () => {
  it.each(CASES)('%s: the damaged child\'s range and its pointer set from the evidence: exit 0, every key of the base image there', { timeout: 180_000 }, (fx) => {
    const inj = injection(fx);
    const id = btreeIdByName(inj.btree);
    const img = copyImage(fx);
    const before = realFsck(img);
    expect(before.exit).toBe(Number(readFixtureText(fx, 'fsck-n.exit')));
    const f = family(img, id, inj.child.sector);
    const t = f.node.keys;
    if (inj.kind === 'maxkey') {
      // the last child must end where its parent does; its keys all lie below that
      expect(f.isLast).toBe(true);
      fix(img, f, [{ kind: 'maxKey', pos: f.parent.maxKey }], () => [{ kind: 'pos', keyOffset: f.ptrKeyOff, pos: f.parent.maxKey }]);
    } else {
      // a child starts right after its previous sibling; its first key lies at or after that
      const start = bposSuccessor(f.prevMax!)!;
      if (f.node.liveCount) expect(t.cmpBpos(f.node.live[0]!, start)).toBeGreaterThanOrEqual(0);
      fix(img, f, [{ kind: 'minKey', pos: start }], (v) => [{ kind: 'value', keyOffset: f.ptrKeyOff, value: encodeBtreePtrV2({ ...v, minKey: start }) }]);
    }
    expect(positions(img, id), 'every key of the clean base image').toEqual(basePositions(fx, inj.btree));
    expectFsckClean(img);
  });

  it('wrongseq-extents-b3 (unreadable, exit 8): the node\'s seq set back to its pointer\'s (checksum valid, keys intact): exit 0, every extent back', { timeout: 120_000 }, () => {
    const fx = 'wrongseq-extents-b3';
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(8);
    const inj = injection(fx);
    const f = family(img, BTREE_ID_extents, inj.child.sector);
    expect(f.node.seq).toBe(BigInt(inj.new));
    expect(f.ptr.seq).toBe(BigInt(inj.old));
    expect(f.node.bsets.every((b) => b.csumOk)).toBe(true);
    writeAt(img, f.node.sector * 512, rewriteNode(f.nodeBuf, f.node.bsets, [{ kind: 'seq', seq: f.ptr.seq! }], f.geo));
    expect(positions(img, BTREE_ID_extents), 'every extent of the clean base image').toEqual(basePositions(fx, 'extents'));
    expectFsckClean(img);
  });

  it('multi-gap-stale-sectors-b5 (three faults): the gap closed, the bucket gen and the dirty_sectors put back, one rewrite each: exit 0, every extent there', { timeout: 180_000 }, () => {
    const fx = 'multi-gap-stale-sectors-b5';
    const all = JSON.parse(readFixtureText(fx, 'injections.json')!) as { kind: string; bucket: number; child: { sector: number } }[];
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(4);
    const gap = all.find((i) => i.kind === 'gap')!;
    const f = family(img, BTREE_ID_extents, gap.child.sector);
    const start = bposSuccessor(f.prevMax!)!;
    fix(img, f, [{ kind: 'minKey', pos: start }], (v) => [{ kind: 'value', keyOffset: f.ptrKeyOff, value: encodeBtreePtrV2({ ...v, minKey: start }) }]);
    const stale = all.find((i) => i.kind === 'stale')!.bucket;
    const w = wrongGen(pointersInto(img, stale), alloc(findKey(img, BTREE_ID_alloc, 0, bucketPos(stale)).value));
    expect('bucketGen' in w).toBe(true);
    setAlloc(img, stale, { gen: (w as { bucketGen: number }).bucketGen });
    const sectors = all.find((i) => i.kind === 'alloc-sectors')!.bucket;
    const m = new RegExp(`bucket 0:${sectors} gen \\d+ data type \\w+ has wrong dirty_sectors: got (\\d+), should be (\\d+)`).exec(readFixtureText(fx, 'fsck-n.txt')!);
    expect(m).not.toBeNull();
    setAlloc(img, sectors, { dirtySectors: Number(m![2]) });
    expect(positions(img, BTREE_ID_extents), 'every extent of the clean base image').toEqual(basePositions(fx, 'extents'));
    expectFsckClean(img);
  });

  it('badcsum-extents-b5: a node whose content still has the checksum recorded before the damage, rewritten with no edit: the real tool no longer reports the checksum, exit 0', { timeout: 120_000 }, () => {
    const fx = 'badcsum-extents-b5';
    const inj = injection(fx);
    const img = copyImage(fx);
    expect(realFsck(img).out).toMatch(/invalid checksum/);
    const f = family(img, BTREE_ID_extents, inj.child.sector);
    expect(f.node.bsets[0]!.csumOk).toBe(false);
    // the evidence that the content is right: it checksums to the value stored before the damage
    expect(bchChecksum32(f.node.bsets[0]!.csumType, f.nodeBuf, 16, f.node.bsets[0]!.keysEnd)).toBe(Number(inj.old));
    const next = rewriteNode(f.nodeBuf, f.node.bsets, [], f.geo);
    expect(Buffer.from(next.subarray(16))).toEqual(Buffer.from(f.nodeBuf.subarray(16)));
    writeAt(img, f.node.sector * 512, next);
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
    expect(r.out).not.toMatch(/invalid checksum/);
  });
});
