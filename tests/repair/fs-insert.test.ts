// repair/insert.ts on a btree of depth 3 (clean-32k-128m-dirents-depth3: dirents root at level 2, 32 KiB
// nodes): so many keys into one leaf's range that the leaf splits into more nodes than its level-1 parent has
// room for, so the parent is split too and the root takes the new pointers. The writes are laid on a copy,
// then the alloc and usage planners set the new nodes' buckets (as the pipeline's next rounds do), and then:
// every key reads back in order through our reader, our check finds no btree-level problem, and the real
// mark and sweep (fsck -n) finds nothing. The keys are dirents of an inode that does not exist, so the real
// fsck's fs passes do complain about them; only its btree and allocation passes are asked here.
import { afterAll, describe, expect, it } from 'vitest';
import { openSync, writeSync, closeSync } from 'node:fs';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem, forEachKey } from '../../src-core/btree/fs.js';
import { checkFilesystem } from '../../src-core/check/index.js';
import { U32_MAX } from '../../src-core/format/bpos.js';
import { encodeDirent } from '../../src-core/format/encode-value.js';
import { freeBuckets, type BucketAlloc } from '../../src-core/format/buckets.js';
import { BTREE_ID_dirents, KEY_TYPE_dirent } from '../../src-core/format/names.js';
import { allocKeys, allocPlanner } from '../../src-core/repair/alloc.js';
import { EditsByNode } from '../../src-core/repair/edit.js';
import { insertKeys, type NewKey } from '../../src-core/repair/insert.js';
import { planRepair } from '../../src-core/repair/pipeline.js';
import { usagePlanner } from '../../src-core/repair/usage.js';
import type { RepairFix } from '../../src-core/repair/types.js';
import type { PlannedWrite } from '../../src-core/journal/plan.js';
import { copyImage, realFsck, removeImages, toolMissing } from './core-helpers.js';

afterAll(removeImages);

const DIR = 999_999n; // no such inode: the keys only need a range of their own
const N = 30_000;

function writeAll(img: string, writes: readonly PlannedWrite[]): void {
  const fd = openSync(img, 'r+');
  try {
    for (const w of writes) writeSync(fd, w.new, 0, w.new.length, w.offset);
  } finally {
    closeSync(fd);
  }
}

describe('inserting keys where the leaf and its parent have no room', () => {
  it('splits the leaf into new nodes in free buckets and the level-1 parent too; bcachefs reads the result', { timeout: 300_000 }, async () => {
    const img = copyImage('clean-32k-128m-dirents-depth3');
    let writes: PlannedWrite[] = [];
    let words: string[] = [];
    let before = 0;
    {
      const dev = openDevice(img);
      try {
        const fs = new Filesystem(dev);
        const check = await checkFilesystem(fs, { devName: 'image.img' });
        expect(check.findings).toEqual([]);
        forEachKey(fs, BTREE_ID_dirents, () => void before++);
        // free buckets as the pipeline's claimFreeBucket gives them: empty in the alloc btree and in gc's marking
        const d = check.gc.devs[fs.sb.devIdx]!;
        const alloc: BucketAlloc[] = [...allocKeys(fs)].map(([bucket, k]) => ({ dev: fs.sb.devIdx, bucket, ...k.value, stripe: 0 }));
        const free = freeBuckets(fs.sb, alloc, { exclude: (b) => d.dirty[b]! > 0 || d.cached[b]! > 0 || d.dataType[b]! !== 0 }).map((b) => b.bucket);
        const ctx = { fs, check, token: { isCancellationRequested: false }, claimFreeBucket: () => free.shift(), noRepair: () => undefined };
        const name = (i: number): Uint8Array => new TextEncoder().encode(`${String(i).padStart(6, '0')}_${'x'.repeat(240)}`);
        const keys: NewKey[] = Array.from({ length: N }, (_, i) => ({
          fields: { type: KEY_TYPE_dirent, needsWhiteout: false, pos: { inode: DIR, offset: BigInt(i + 1), snapshot: U32_MAX }, size: 0, versionHi: 0, versionLo: 0n },
          value: encodeDirent(4098n, 8, name(i)), change: { field: `dirent ${DIR}:${i + 1}`, before: '(none)', after: 'new' },
        }));
        const edits = new EditsByNode(fs);
        const r = insertKeys(ctx, edits, BTREE_ID_dirents, keys, 'test');
        if (typeof r === 'string') throw new Error(r);
        words = r.words;
        writes = [...r.writes, ...edits.all.map((e) => e.write(fs, 'test'))];
      } finally {
        dev.close();
      }
    }
    expect(words.some((w) => /level 0, .* split into \d+ nodes/.test(w))).toBe(true);
    expect(words.some((w) => /level 1, .* split into \d+ nodes/.test(w)), words.join('\n')).toBe(true);
    writeAll(img, writes);
    // the new nodes' buckets: the alloc and usage planners' rounds, as in a plan
    const dev = openDevice(img);
    let fixes: RepairFix[];
    try {
      fixes = (await planRepair(dev, { devName: 'image.img', planners: [allocPlanner, usagePlanner] })).fixes;
    } finally {
      dev.close();
    }
    writeAll(img, fixes.flatMap((f) => f.writes));
    const d2 = openDevice(img);
    try {
      const fs = new Filesystem(d2);
      const after = await checkFilesystem(fs, { devName: 'image.img' });
      expect(after.findings.filter((f) => f.stage !== 'fsck').map((f) => f.id)).toEqual([]);
      let count = 0;
      let last = 0n;
      let ordered = true;
      forEachKey(fs, BTREE_ID_dirents, (t, row) => {
        count++;
        if (t.inodeLo[row] !== Number(DIR)) return;
        const o = BigInt(t.offsetLo[row]!);
        if (o !== last + 1n) ordered = false;
        last = o;
      });
      expect(count).toBe(before + N);
      expect(ordered && last === BigInt(N)).toBe(true);
    } finally {
      d2.close();
    }
    if (toolMissing) return;
    const r = realFsck(img);
    const gc = /starting mark and sweep\n([\s\S]*?)starting fsck\n/.exec(r.out);
    expect(gc, r.out).not.toBeNull();
    expect(gc![1], 'mark and sweep on the image with the split nodes').toBe('');
  });
});
