// Rewriting a node in place (encode-node.ts rewriteNode), proved with the real bcachefs 2021: the damaged key
// of an injected fixture is put back to what the evidence says it was, the node's bytes are written over a
// copy of the image with plain fs.writeSync (tests only: the product writes through its journal), and the real
// `fsck -n` must then find nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { openFilesystem } from '../../src-core/open.js';
import { BTREE_ID_alloc, BTREE_ID_dirents, BTREE_ID_inodes, BCH_DATA_journal, BCH_DATA_sb, BCH_DATA_user } from '../../src-core/format/names.js';
import { encodeAllocV2, encodeDirent, withInodeFields } from '../../src-core/format/encode-value.js';
import { BCH_INODE_FIELDS, direntName, inodeUnpack } from '../../src-core/format/values.js';
import { readFileSync } from 'node:fs';
import { appendBset } from '../../src-core/format/encode-node.js';
import { superblockCopy } from '../../src-core/format/encode-sb.js';
import { resolve } from 'node:path';
import { readFixtureText, PROJECT_ROOT } from '../helpers/fixtures.js';
import {
  alloc, bucketPos, copyImage, expectFsckClean, findKey, pointersInto, realFsck, removeImages, rewriteKey, setAlloc, toolMissing, walkNodes,
  writeAt, wrongGen,
} from './encode-helpers.js';

afterAll(removeImages);

const injection = (fx: string): Record<string, unknown> & { bucket: number; old: number; new: number } =>
  JSON.parse(readFixtureText(fx, 'injections.json')!)[0];

describe.skipIf(toolMissing)('rewriting an alloc key in place, then the real fsck -n', () => {
  it('alloc-datatype-b2: data_type put back to what fsck -n says it should be: exit 0', { timeout: 120_000 }, () => {
    const fx = 'alloc-datatype-b2';
    const m = /bucket 0:(\d+) gen \d+ data type \w+ has wrong data_type: got (\d+), should be (\d+)/.exec(readFixtureText(fx, 'fsck-n.txt')!);
    expect(m, 'fsck-n.txt names the wrong data_type').not.toBeNull();
    expect(Number(m![1])).toBe(injection(fx).bucket);
    const img = copyImage(fx);
    expect(realFsck(img).exit, 'the damaged copy fails fsck -n first').toBe(4);
    expect(setAlloc(img, Number(m![1]), { dataType: Number(m![3]) }).dataType).toBe(Number(m![2]));
    expectFsckClean(img);
  });

  it('alloc-datatype-b2 again, the corrected key in a bset appended to the node instead: exit 0', { timeout: 120_000 }, () => {
    const fx = 'alloc-datatype-b2';
    const img = copyImage(fx);
    const pos = bucketPos(injection(fx).bucket);
    const f = findKey(img, BTREE_ID_alloc, 0, pos);
    const before = alloc(f.value);
    const value = encodeAllocV2({ ...before, dataType: BCH_DATA_user });
    const next = appendBset(f.buf, f.bsets, [{ fields: f.fields, value }], f.journalSeq, f.geo);
    // the bytes already written are untouched: the new bset lies after them
    const last = f.bsets[f.bsets.length - 1]!;
    const writtenEnd = last.byteOffset + last.sectors * 512;
    expect(Buffer.from(next.subarray(0, writtenEnd))).toEqual(Buffer.from(f.buf.subarray(0, writtenEnd)));
    writeAt(img, f.sector * 512 + writtenEnd, next.subarray(writtenEnd));
    const after = findKey(img, BTREE_ID_alloc, 0, pos);
    expect(after.bsets.length).toBe(f.bsets.length + 1);
    expect(after.bsets[after.bsets.length - 1]!.byteOffset).toBe(writtenEnd);
    expect(after.bsets.every((b) => b.csumOk)).toBe(true);
    expect(alloc(after.value)).toEqual({ ...before, dataType: BCH_DATA_user });
    expectFsckClean(img);
  });

  it.each(['alloc-sectors-b2', 'alloc-sectors-b6'])('%s: dirty_sectors put back to what fsck -n says: exit 0', { timeout: 120_000 }, (fx) => {
    const m = /bucket 0:(\d+) gen \d+ data type \w+ has wrong dirty_sectors: got (\d+), should be (\d+)/.exec(readFixtureText(fx, 'fsck-n.txt')!);
    expect(m).not.toBeNull();
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(4);
    expect(setAlloc(img, Number(m![1]), { dirtySectors: Number(m![3]) }).dirtySectors).toBe(Number(m![2]));
    expectFsckClean(img);
  });

  it('alloc-oldest-gen-b3: oldest_gen put back to the injected key\'s old value (fsck -n does not check it): still exit 0', { timeout: 120_000 }, () => {
    const fx = 'alloc-oldest-gen-b3';
    const inj = injection(fx);
    expect(inj.field).toMatch(/oldest_gen/);
    const img = copyImage(fx);
    expect(setAlloc(img, inj.bucket, { oldestGen: inj.old }).oldestGen).toBe(inj.new);
    expectFsckClean(img);
  });
});

describe.skipIf(toolMissing)('rewriting a pointer gen or a bucket gen in place, as the evidence says, then the real fsck -n', () => {
  it.each([
    ['gen-future-b2', 'pointer'], ['gen-future-b3', 'pointer'], ['gen-wrap-b2', 'pointer'], ['btree-gen-future-extents-b3', 'pointer'],
    ['stale-b2', 'bucket'], ['stale-b6', 'bucket'],
  ])('%s: the %s gen is the wrong one; put back: exit 0', { timeout: 120_000 }, (fx, expected) => {
    const bucket = injection(fx).bucket;
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(4);
    const a = alloc(findKey(img, BTREE_ID_alloc, 0, bucketPos(bucket)).value);
    const ptrs = pointersInto(img, bucket);
    expect(ptrs.length).toBeGreaterThan(0);
    const w = wrongGen(ptrs, a);
    expect('bucketGen' in w ? 'bucket' : 'pointer').toBe(expected);
    if ('bucketGen' in w) {
      expect(a.dataType).toBe(BCH_DATA_user);
      setAlloc(img, bucket, { gen: w.bucketGen });
    } else {
      rewriteKey(img, w.ptr.btreeId, w.ptr.level, w.ptr.pos, (f) => ({ kind: 'ptrGen', keyOffset: f.keyOff, ptr: 0, gen: w.gen }));
      const left = pointersInto(img, bucket);
      expect(left.every((p) => p.gen === a.gen)).toBe(true);
    }
    expectFsckClean(img);
  });
});

describe.skipIf(toolMissing)('the primary superblock rewritten from a backup, then the real fsck -n', () => {
  it('clean-default-64m with its primary zeroed: the backup\'s copy for sector 8 written there: the real tool reads the primary again, exit 0', { timeout: 120_000 }, () => {
    const img = copyImage('clean-default-64m');
    writeAt(img, 8 * 512, new Uint8Array(4096));
    // the real tool falls back to the backup too, and says so (its exit is 0 either way)
    expect(realFsck(img).out).toMatch(/error reading default superblock/);
    const o = openFilesystem(img);
    let primary: Uint8Array;
    try {
      expect(o.fs.sbRead.usedBackup).toBe(true);
      primary = superblockCopy(o.fs.sb.bytes, 8);
    } finally {
      o.close();
    }
    writeAt(img, 8 * 512, primary);
    const o2 = openFilesystem(img);
    try {
      expect(o2.fs.sbRead.usedBackup).toBe(false);
      expect(o2.fs.sb.sector).toBe(8);
      expect(o2.fs.sb.offset).toBe(8);
    } finally {
      o2.close();
    }
    expectFsckClean(img);
    expect(realFsck(img).out).not.toMatch(/error reading default superblock/);
  });
});

describe.skipIf(toolMissing)('why an unclean filesystem is replayed before any in-place rewrite', () => {
  it('unclean-b2: a btree key the journal also holds is replaced by the journal\'s on replay, so the real fsck -n never sees the rewrite; one it does not hold is seen', { timeout: 120_000 }, () => {
    const gz = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-unclean', 'unclean-b2', 'image.img.gz');
    const probe = copyImage('unclean-b2', gz);
    const o = openFilesystem(probe);
    let inJournal: number | undefined;
    let notInJournal: number | undefined;
    try {
      expect(o.fs.sb.clean).toBe(false);
      const jk = o.fs.journalKeys;
      const journaled = new Set(o.fs.journalRows(BTREE_ID_alloc, 0).map((r) => Number(jk.table.pos(r).offset)));
      expect(journaled.size).toBeGreaterThan(0);
      // two buckets holding data (not the superblock's), one whose alloc key the journal holds too
      walkNodes(o.fs, BTREE_ID_alloc, (node) => {
        for (let k = 0; node.level === 0 && k < node.liveCount; k++) {
          const r = node.live[k]!;
          const b = Number(node.keys.pos(r).offset);
          const a = alloc(node.keys.value(r));
          if (a.dataType === BCH_DATA_sb || a.dataType === BCH_DATA_journal) continue;
          if (journaled.has(b)) inJournal ??= b;
          else if (a.dirtySectors > 0) notInJournal ??= b;
        }
      });
    } finally {
      o.close();
    }
    expect(inJournal).toBeDefined();
    expect(notInJournal).toBeDefined();
    const wrongType = (bucket: number): { exit: number | null; out: string } => {
      const img = copyImage('unclean-b2', gz);
      setAlloc(img, bucket, { dataType: BCH_DATA_sb });
      return realFsck(img);
    };
    const hidden = wrongType(inJournal!);
    expect(hidden.exit, hidden.out).toBe(0);
    const seen = wrongType(notInJournal!);
    expect(seen.exit, seen.out).toBe(4);
    expect(seen.out).toMatch(new RegExp(`bucket 0:${notInJournal} .*wrong data_type`));
  });
});

describe.skipIf(toolMissing)('inode and dirent fields put back in place, then the real fsck -n', () => {
  const FS = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-fs');
  const FIELD: Record<string, string> = { 'inode-nlink': 'bi_nlink', 'inode-sectors': 'bi_sectors', 'inode-size': 'bi_size' };
  it.each(['inode-nlink-b2', 'inode-sectors-b5', 'inode-size-b4', 'dirent-dtype-b6', 'dirent-inum-b5'])('%s: the injected field back to its old value: exit 0', { timeout: 120_000 }, (fx) => {
    const inj = JSON.parse(readFileSync(resolve(FS, fx, 'injections.json'), 'utf8'))[0];
    const img = copyImage(fx, resolve(FS, fx, 'image.img.gz'));
    expect(realFsck(img).exit).toBe(4);
    if (inj.btree === 'inodes') {
      const field = FIELD[inj.kind]!;
      const idx = BCH_INODE_FIELDS.findIndex(([n]) => n === field);
      const pos = { inode: 0n, offset: BigInt(inj.inode), snapshot: 0xffffffff };
      rewriteKey(img, BTREE_ID_inodes, 0, pos, (f) => {
        expect(inodeUnpack(f.value)!.fields[idx]).toBe(BigInt(inj.new));
        return { kind: 'value', keyOffset: f.keyOff, value: withInodeFields(f.value, { [field]: BigInt(inj.old) }) };
      });
    } else {
      const [inode, offset] = (inj.key_pos as string).split(':');
      const pos = { inode: BigInt(inode!), offset: BigInt(offset!), snapshot: 0xffffffff };
      rewriteKey(img, BTREE_ID_dirents, 0, pos, (f) => {
        let inum = new DataView(f.value.buffer, f.value.byteOffset).getBigUint64(0, true);
        let type = f.value[8]!;
        if (inj.kind === 'dirent-dtype') type = expectAndReturn(type, inj.new, inj.old);
        else inum = BigInt(expectAndReturn(Number(inum), inj.new, inj.old));
        return { kind: 'value', keyOffset: f.keyOff, value: encodeDirent(inum, type, direntName(f.value)) };
      });
    }
    expectFsckClean(img);
  });
});

/** Checks a field holds the injected value and gives the one to restore. */
function expectAndReturn(now: number, injected: number, old: number): number {
  expect(now).toBe(injected);
  return old;
}
