// Free buckets for new nodes, against the real `bcachefs list -b alloc` of every clean fixture (its data types
// for the superblock and journal buckets, and the buckets it shows empty), and against every live pointer.
import { afterAll, describe, expect, it } from 'vitest';
import { forEachPointer } from './encode-helpers.js';
import { forEachKey } from '../../src-core/btree/fs.js';
import { BCH_DATA_journal, BCH_DATA_sb, BCH_DATA_TYPES, BTREE_ID_alloc } from '../../src-core/format/names.js';
import { allocUnpack, newAllocUnpacked } from '../../src-core/format/values.js';
import { freeBuckets, reservedBuckets, type BucketAlloc } from '../../src-core/format/buckets.js';
import { cleanFixtures, closeFixtures, expectedListLines, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);

/** bucket -> (data type, dirty, cached) as the real tool listed the alloc btree. */
function realAlloc(fx: string): Map<number, { dataType: string; dirty: number; cached: number }> {
  const out = new Map<number, { dataType: string; dirty: number; cached: number }>();
  for (const l of expectedListLines(fx, 'list/alloc.keys.txt')!) {
    const m = /type alloc_v2 (POS_MIN|0:(\d+):0) .* data_type (\w+) .* dirty_sectors (\d+) cached_sectors (\d+)/.exec(l);
    expect(m, l).not.toBeNull();
    out.set(m![1] === 'POS_MIN' ? 0 : Number(m![2]), { dataType: m![3]!, dirty: Number(m![4]), cached: Number(m![5]) });
  }
  return out;
}

describe.each(cleanFixtures())('%s', (fx) => {
  it('reserved buckets are the sb and journal buckets the real tool lists; free buckets are empty there and hold no live pointer', { timeout: 60_000 }, () => {
    const { fs } = openFixture(fx);
    const sb = fs.sb;
    const real = realAlloc(fx);
    const reserved = reservedBuckets(sb);
    for (const [b, type] of reserved) expect(real.get(b)?.dataType, `bucket ${b}`).toBe(BCH_DATA_TYPES[type]);
    for (const [b, r] of real) {
      if (r.dataType === 'sb') expect(reserved.get(b), `bucket ${b}`).toBe(BCH_DATA_sb);
      if (r.dataType === 'journal') expect(reserved.get(b), `bucket ${b}`).toBe(BCH_DATA_journal);
    }

    const alloc: BucketAlloc[] = [];
    const a = newAllocUnpacked();
    forEachKey(fs, BTREE_ID_alloc, (t, r) => {
      expect(allocUnpack(t.type[r]!, t.buf, t.valOff[r]!, t.valLen[r]!, a)).toBe(true);
      alloc.push({ dev: t.inodeLo[r]!, bucket: t.offsetLo[r]!, ...a, stripe: a.stripe });
    });
    const free = freeBuckets(sb, alloc);
    expect(free.length).toBeGreaterThan(0);
    for (const f of free) {
      const r = real.get(f.bucket);
      if (r) expect([r.dataType, r.dirty, r.cached], `bucket ${f.bucket}`).toEqual(['none', 0, 0]);
    }
    expect(freeBuckets(sb, alloc, { limit: 2, exclude: (b) => b === free[0]!.bucket })).toEqual(free.slice(1, 3));

    // no live node or extent pointer lies in a free bucket
    const bucketSize = sb.members[sb.devIdx]!.bucketSize;
    const freeSet = new Set(free.map((f) => f.bucket));
    const hits: string[] = [];
    let ptrs = 0;
    forEachPointer(fs, (p) => {
      if (!p.root) ptrs++;
      if (!freeSet.has(Math.floor(p.offset / bucketSize))) return;
      hits.push(p.root ? `root of btree ${p.btreeId}` : `btree ${p.btreeId} level ${p.level} pointer to sector ${p.offset}`);
    });
    expect(ptrs).toBeGreaterThan(0);
    expect(hits).toEqual([]);
  });
});
