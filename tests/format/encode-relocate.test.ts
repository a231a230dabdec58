// Writing a node into a free bucket, end to end with the real bcachefs 2021: a leaf of a clean image is copied
// into a bucket freeBuckets picked, its parent's btree_ptr_v2 pointed at the copy, both buckets' alloc keys and
// the clean section's device usage updated (superblock rewritten in every layout slot); the real fsck -n must
// find nothing, and our reader must see every key as before.
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openFilesystem } from '../../src-core/open.js';
import type { Bpos } from '../../src-core/format/bpos.js';
import { forEachKey } from '../../src-core/btree/fs.js';
import { BTREE_ID_alloc, BTREE_ID_extents, BCH_DATA_btree, BCH_DATA_none } from '../../src-core/format/names.js';
import { decodePtrs, BTREE_PTR_V2_HEADER_BYTES } from '../../src-core/format/values.js';
import { decodeUsageEntry, BCH_JSET_ENTRY_dev_usage, type DevUsageEntry } from '../../src-core/format/journal.js';
import { BCH_SB_FIELD_clean } from '../../src-core/format/superblock.js';
import { encodeBtreePtrV2, encodeExtentPtr, readBtreePtrV2Value } from '../../src-core/format/encode-value.js';
import { encodeUsageEntry } from '../../src-core/format/encode-jset.js';
import { encodeCleanField, encodeSuperblock, sbFieldsOf, superblockCopy } from '../../src-core/format/encode-sb.js';
import { devUsageAfter, freeBuckets, type BucketAlloc } from '../../src-core/format/buckets.js';
import { newNode, type NewNode } from '../../src-core/format/encode-new-node.js';
import { bkeyFields } from '../../src-core/format/encode-key.js';
import {
  alloc, bucketPos, copyImage, expectFsckClean, findKey, removeImages, rewriteKey, setAlloc, toolMissing, walkNodes, writeAt,
} from './encode-helpers.js';

afterAll(removeImages);

const FX = 'clean-32k-depth2';

/** Every alloc key of the image as BucketAlloc. */
function allocStates(img: string): BucketAlloc[] {
  const o = openFilesystem(img);
  try {
    const out: BucketAlloc[] = [];
    forEachKey(o.fs, BTREE_ID_alloc, (t, r) => out.push({ dev: t.inodeLo[r]!, bucket: t.offsetLo[r]!, ...alloc(t.value(r)) }));
    return out;
  } finally {
    o.close();
  }
}

function extentKeys(img: string): string[] {
  const o = openFilesystem(img);
  try {
    const out: string[] = [];
    forEachKey(o.fs, BTREE_ID_extents, (t, r) => out.push(`${t.pos(r).inode}:${t.pos(r).offset} ${Buffer.from(t.value(r)).toString('hex')}`));
    return out;
  } finally {
    o.close();
  }
}

describe.skipIf(toolMissing)('a node written into a free bucket', () => {
  it.each([
    ['copied as it is', 'copy'],
    ['rebuilt from its live keys as a new node (new seq, format computed from the keys)', 'rebuild'],
  ] as const)(`${FX}: an extents leaf %s into a free bucket, parent, alloc and usage updated: the real fsck -n exits 0`, { timeout: 120_000 }, (_what, mode) => {
    const img = copyImage(FX);
    const keysBefore = extentKeys(img);
    const o = openFilesystem(img);
    let leaf: { sector: number; bytes: Uint8Array; parentLevel: number; maxKey: Bpos; node: NewNode } | undefined;
    const sb = o.fs.sb;
    const nodeSectors = sb.btreeNodeSize;
    const bucketSize = sb.members[sb.devIdx]!.bucketSize;
    const states = allocStates(img);
    const dirty = new Map(states.map((s) => [s.bucket, s.dirtySectors]));
    // a leaf sharing its bucket with other nodes, so that the move changes the recorded usage
    try {
      walkNodes(o.fs, BTREE_ID_extents, (node, ptr, parent) => {
        if (leaf || node.level !== 0 || !parent || !node.readable) return;
        if ((dirty.get(Math.floor(node.sector / bucketSize)) ?? 0) <= nodeSectors) return;
        const t = node.keys;
        const keys = Array.from(node.live.subarray(0, node.liveCount), (r) => ({ fields: bkeyFields(t, r), value: new Uint8Array(t.value(r)) }));
        leaf = {
          sector: node.sector, bytes: new Uint8Array(node.buf), parentLevel: parent.level, maxKey: ptr.maxKey,
          node: {
            magic: sb.bsetMagic, btreeId: BTREE_ID_extents, level: 0, nodeSeq: node.nodeSeqFlag + 1, seq: randomBytes(8).readBigUInt64LE() | 1n,
            minKey: node.minKey, maxKey: node.maxKey, journalSeq: node.bsets.reduce((m, b) => (b.journalSeq > m ? b.journalSeq : m), 0n),
            version: sb.version, csumType: sb.metaCsumType, keys,
          },
        };
      });
    } finally {
      o.close();
    }
    expect(leaf, `${FX} has an extents leaf under an interior node, in a bucket with other nodes`).toBeDefined();
    const withKey = new Set(states.map((s) => s.bucket));
    // a free bucket that has an alloc key to update (one without would need a key inserted)
    const [dest] = freeBuckets(sb, states, { exclude: (b) => !withKey.has(b), limit: 1 });
    expect(dest).toBeDefined();
    const newSector = dest!.bucket * bucketSize;
    const oldBucket = Math.floor(leaf!.sector / bucketSize);

    // 1. the node into the free bucket: its bytes (a node does not record where it lives), or a new node
    const bytes = mode === 'copy' ? leaf!.bytes : newNode(leaf!.node, { nodeBytes: nodeSectors * 512, blockBytes: sb.blockSize * 512 });
    writeAt(img, newSector * 512, bytes);
    // 2. the parent's pointer: the new place and the bucket's gen (and the new node's seq)
    rewriteKey(img, BTREE_ID_extents, leaf!.parentLevel, leaf!.maxKey, (f) => {
      const v = readBtreePtrV2Value(f.value);
      expect(decodePtrs(f.value, BTREE_PTR_V2_HEADER_BYTES, f.value.length).map((p) => p.offset)).toEqual([leaf!.sector]);
      const entries = encodeExtentPtr({ dev: sb.devIdx, offset: newSector, gen: dest!.gen, cached: false });
      const seq = mode === 'copy' ? v.seq : leaf!.node.seq;
      return { kind: 'value', keyOffset: f.keyOff, value: encodeBtreePtrV2({ ...v, seq, entries }) };
    });
    // 3. both buckets' alloc keys: the node's sectors move from the old bucket to the new one
    const oldBefore = alloc(findKey(img, BTREE_ID_alloc, 0, bucketPos(oldBucket)).value);
    const left = oldBefore.dirtySectors - nodeSectors;
    const oldAfter = { ...oldBefore, dirtySectors: left, dataType: left ? BCH_DATA_btree : BCH_DATA_none };
    setAlloc(img, oldBucket, oldAfter);
    const newBefore = setAlloc(img, dest!.bucket, { dataType: BCH_DATA_btree, dirtySectors: nodeSectors });
    const newAfter = { ...newBefore, dataType: BCH_DATA_btree, dirtySectors: nodeSectors };
    // 4. the clean section's dev_usage, then every superblock copy
    const c = sb.cleanSection!;
    let usage = 0;
    const entries = c.entries.map((e) => {
      if (e.type !== BCH_JSET_ENTRY_dev_usage) return e.buf.subarray(e.start - 8, e.end);
      usage++;
      let u = decodeUsageEntry(e) as DevUsageEntry;
      u = devUsageAfter(u, oldBefore, oldAfter, bucketSize);
      u = devUsageAfter(u, newBefore, newAfter, bucketSize);
      const enc = encodeUsageEntry(u);
      expect(Buffer.from(enc), 'the move changes the device usage').not.toEqual(Buffer.from(e.buf.subarray(e.start - 8, e.end)));
      return enc;
    });
    expect(usage).toBe(1);
    const fields = sbFieldsOf(sb).map((f) => (f.type === BCH_SB_FIELD_clean ? { type: f.type, payload: encodeCleanField(c.flags, c.journalSeq, entries) } : f));
    const next = encodeSuperblock(sb.bytes, fields);
    for (const s of sb.layout.sbOffsets) writeAt(img, s * 512, superblockCopy(next, s));

    // our reader follows the parent to the copy and sees every extent as before
    const o2 = openFilesystem(img);
    try {
      let found = false;
      walkNodes(o2.fs, BTREE_ID_extents, (node) => {
        if (node.sector !== newSector) return;
        found = node.readable && node.errors.length === 0;
        if (mode === 'rebuild') expect([node.seq, node.bsets.length, node.nodeSeqFlag]).toEqual([leaf!.node.seq, 1, leaf!.node.nodeSeq]);
      });
      expect(found, 'the moved node is read from its new bucket').toBe(true);
    } finally {
      o2.close();
    }
    expect(extentKeys(img)).toEqual(keysBefore);
    expectFsckClean(img);
  });
});
