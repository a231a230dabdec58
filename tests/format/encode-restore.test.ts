// An unreadable leaf restored from an older copy of it, end to end with the real bcachefs 2021: the device is
// scanned for node headers of the same btree and level whose range covers the lost one (btree nodes are copy
// on write), the newest such copy's live keys inside the lost range, with pointers not stale, are written as a
// new node (new seq) where the lost one was, and the parent's pointer takes the new seq.
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openFilesystem } from '../../src-core/open.js';
import { parseBtreeNode, type BtreeNode } from '../../src-core/btree/node.js';
import { forEachKey } from '../../src-core/btree/fs.js';
import { readU64 } from '../../src-core/format/bytes.js';
import { bposCmp, bposToText, readBpos, type Bpos } from '../../src-core/format/bpos.js';
import { BTREE_ID_alloc, KEY_TYPE_extent, btreeIdByName } from '../../src-core/format/names.js';
import { ExtentEntryIter, BCH_EXTENT_ENTRY_ptr, type BtreePtr } from '../../src-core/format/values.js';
import { bkeyFields } from '../../src-core/format/encode-key.js';
import { encodeBtreePtrV2, readBtreePtrV2Value } from '../../src-core/format/encode-value.js';
import { newNode, type NewNode } from '../../src-core/format/encode-new-node.js';
import { readFixtureText } from '../helpers/fixtures.js';
import { alloc, copyImage, expectFsckClean, realFsck, removeImages, rewriteKey, toolMissing, walkNodes, writeAt } from './encode-helpers.js';

afterAll(removeImages);

/** A position as bcachefs prints it (inode:offset:snapshot, U32_MAX) back to a Bpos. */
function parseBpos(p: string): Bpos {
  const [i, o, sn] = p.split(':');
  return { inode: BigInt(i!), offset: BigInt(o!), snapshot: sn === 'U32_MAX' ? 0xffffffff : Number(sn) };
}

const BASE_FIXTURE: Record<string, string> = { B2: 'clean-32k-depth2', B5: 'clean-64k-128m', B6: 'clean-32k-256m-alloc-depth2' };

describe.skipIf(toolMissing)('an unreadable leaf restored from an older copy', () => {
  it.each(['zeronode-extents-b2', 'zeronode-inodes-b5', 'zeronode-alloc-b6'])('%s (exit 8): the newest older copy covering the lost range gives its keys back as a new node in place (b2: all of them, and exit 0)', { timeout: 180_000 }, (fx) => {
    const inj = JSON.parse(readFixtureText(fx, 'injections.json')!)[0];
    const id = btreeIdByName(inj.btree);
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(8);
    const o = openFilesystem(img);
    let lost: { ptr: BtreePtr; parentLevel: number } | undefined;
    let copy: BtreeNode | undefined;
    const gens = new Map<number, number>();
    const sb = o.fs.sb;
    const bucketSize = sb.members[sb.devIdx]!.bucketSize;
    try {
      walkNodes(o.fs, id, (node, ptr, parent) => {
        if (!node.readable && node.sector === inj.child.sector) lost = { ptr, parentLevel: parent!.level };
      });
      expect(lost, 'the walk meets the unreadable leaf').toBeDefined();
      const lostMin = lost!.ptr.minKey!;
      const lostMax = lost!.ptr.maxKey;
      forEachKey(o.fs, BTREE_ID_alloc, (t, r) => gens.set(t.offsetLo[r]!, alloc(t.value(r)).gen));
      // every 4 KiB block with this filesystem's node magic is a node header, live or an older copy
      const nodeBytes = sb.btreeNodeSize * 512;
      for (let off = 0; off + nodeBytes <= o.dev.size; off += 4096) {
        const head = o.dev.read(off, 160);
        if (readU64(head, 16) !== sb.bsetMagic || Number(readU64(head, 24) & 0xffn) !== id) continue;
        const buf = new Uint8Array(o.dev.read(off, nodeBytes));
        const self: BtreePtr = { type: 18, maxKey: lostMax, seq: readU64(buf, 136), sectorsWritten: 0, flags: 1, minKey: lostMin, ptrs: [{ dev: 0, offset: off / 512, gen: 0, cached: false }], raw: new Uint8Array(0) };
        const n = parseBtreeNode(sb, buf, { btreeId: id, level: 0, ptr: self });
        if (!n.readable || bposCmp(readBpos(buf, 32), lostMin) > 0 || bposCmp(readBpos(buf, 52), lostMax) < 0) continue;
        if (!copy || n.nodeSeqFlag > copy.nodeSeqFlag) copy = n;
      }
    } finally {
      o.close();
    }
    expect(copy, 'an older copy covers the lost range').toBeDefined();
    // on zeronode-extents-b2, the copy ../shared/docs/older-node-copies.md names: the node the lost one was split from
    if (fx === 'zeronode-extents-b2') expect(copy!.sector).toBe(30400);
    // its live keys inside the lost range whose pointers are not stale against today's bucket gens
    const t = copy!.keys;
    const it2 = new ExtentEntryIter();
    const keys: NewNode['keys'][number][] = [];
    let stale = 0;
    for (let k = 0; k < copy!.liveCount; k++) {
      const r = copy!.live[k]!;
      if (t.cmpBpos(r, lost!.ptr.minKey!) < 0 || t.cmpBpos(r, lost!.ptr.maxKey) > 0) continue;
      let ok = true;
      if (t.type[r] === KEY_TYPE_extent) {
        it2.set(t.buf, t.valOff[r]!, t.valOff[r]! + t.valLen[r]!, t.size[r]!);
        for (let e = it2.next(); e >= 0; e = it2.next()) {
          if (e === BCH_EXTENT_ENTRY_ptr && gens.get(Math.floor(it2.ptrOffset / bucketSize)) !== it2.ptrGen) ok = false;
        }
      }
      if (ok) keys.push({ fields: bkeyFields(t, r), value: new Uint8Array(t.value(r)) });
      else stale++;
    }
    expect(stale).toBe(0);
    expect(keys.length).toBeGreaterThan(0);
    const seq = randomBytes(8).readBigUInt64LE() | 1n;
    const bytes = newNode({
      magic: sb.bsetMagic, btreeId: id, level: 0, nodeSeq: inj.child.node_seq, seq, minKey: lost!.ptr.minKey!, maxKey: lost!.ptr.maxKey,
      journalSeq: copy!.bsets.reduce((m, b) => (b.journalSeq > m ? b.journalSeq : m), 0n), version: sb.version, csumType: sb.metaCsumType, keys,
    }, { nodeBytes: sb.btreeNodeSize * 512, blockBytes: sb.blockSize * 512 });
    // the lost node's own place (its bucket is already counted as btree); the parent pointer takes the seq
    writeAt(img, inj.child.sector * 512, bytes);
    rewriteKey(img, id, lost!.parentLevel, lost!.ptr.maxKey, (f) => ({
      kind: 'value', keyOffset: f.keyOff, value: encodeBtreePtrV2({ ...readBtreePtrV2Value(f.value), seq }),
    }));
    const baseFx = BASE_FIXTURE[/Base image: `(B\d)\.img`/.exec(readFixtureText(fx, 'CASE.md')!)![1]!]!;
    const base = readFixtureText(baseFx, `list/${inj.btree}.keys.txt`)!.split('\n').filter((l) => l.startsWith('u64s')).map((l) => / type \w+ (\S+) len /.exec(l)![1]!);
    const o2 = openFilesystem(img);
    const now: string[] = [];
    try {
      forEachKey(o2.fs, id, (tt, r) => now.push(bposToText(tt.pos(r))));
    } finally {
      o2.close();
    }
    if (fx === 'zeronode-extents-b2') {
      expect(now, 'every key of the clean base image').toEqual(base);
      expectFsckClean(img);
      return;
    }
    // an older copy lacks what was added after it was written: nothing else is missing, nothing foreign
    // comes back, and what is missing is what a plan must say is lost (or rebuild from other evidence)
    const have = new Set(now);
    const missing = base.filter((p) => !have.has(p));
    const baseSet = new Set(base);
    expect(now.filter((p) => !baseSet.has(p)), 'keys not in the base image').toEqual([]);
    expect(missing.length).toBeGreaterThan(0);
    const inLost = (p: string): boolean => bposCmp(parseBpos(p), lost!.ptr.minKey!) >= 0 && bposCmp(parseBpos(p), lost!.ptr.maxKey) <= 0;
    expect(missing.filter((p) => !inLost(p)), 'missing keys outside the lost range').toEqual([]);
    const r = realFsck(img);
    const errors = r.out.split('\n').filter((l) => /not fixing|run fsck|Unreadable|error/.test(l));
    console.log(`${fx}: ${keys.length} keys restored from the older copy at sector ${copy!.sector}; still missing: ${missing.join(' ')}; real fsck -n exit ${r.exit}: ${errors.slice(0, 4).join(' | ')}`);
  });
});
