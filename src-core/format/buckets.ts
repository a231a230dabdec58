// Which buckets of a device are free to receive a new btree node: not reserved by the superblock (its copies,
// the layout, the journal buckets, buckets before first_bucket: bch2_mark_dev_superblock) and empty in the
// alloc btree. The alloc btree is what bcachefs allocates from, but on a damaged filesystem it can be wrong:
// the caller also excludes every bucket its mark and sweep found a live pointer into.
import { BCH_DATA_cached, BCH_DATA_journal, BCH_DATA_none, BCH_DATA_sb } from './names.js';
import type { Superblock } from './superblock.js';
import type { DevUsageEntry } from './journal.js';

/** What the alloc key of one bucket says (a bucket without a key is empty, gen 0). */
export interface BucketAlloc {
  dev: number;
  bucket: number;
  gen: number;
  oldestGen: number;
  dataType: number;
  dirtySectors: number;
  cachedSectors: number;
  stripe: number;
}

/** bcachefs's BUCKET_GC_GEN_MAX: a bucket whose gen ran this far ahead of its oldest pointer is not reused. */
const BUCKET_GC_GEN_MAX = 96;

/** The buckets of the superblock's own device that hold superblock copies (data type sb) or the journal. */
export function reservedBuckets(sb: Superblock): Map<number, number> {
  const m = sb.members[sb.devIdx];
  if (!m) throw new RangeError(`the superblock has no member entry for its own device ${sb.devIdx}`);
  const out = new Map<number, number>();
  const markSectors = (start: number, end: number): void => {
    for (let b = Math.floor(start / m.bucketSize); b * m.bucketSize < end; b++) out.set(b, BCH_DATA_sb);
  };
  const max = 2 ** sb.layout.sbMaxSizeBits;
  for (const off of sb.layout.sbOffsets) {
    if (off === 8) markSectors(0, 8); // the sectors before the primary (the layout copy at sector 7)
    markSectors(off, off + max);
  }
  for (const b of sb.journalBuckets[sb.devIdx] ?? []) out.set(b, BCH_DATA_journal);
  return out;
}

/**
 * Free buckets of the superblock's device, in bucket order, with the gen a pointer into each must carry:
 * inside [first_bucket, nbuckets), not reserved, no dirty, cached or stripe data and data type none in the
 * alloc btree (`alloc`: its keys, any order; buckets without a key are empty with gen 0), not `exclude`d,
 * and with a gen not too far ahead of its oldest pointer (bch2_can_invalidate_bucket). At most `limit`.
 */
export function freeBuckets(
  sb: Superblock, alloc: Iterable<BucketAlloc>, opts: { exclude?: (bucket: number) => boolean; limit?: number } = {},
): { bucket: number; gen: number }[] {
  const m = sb.members[sb.devIdx]!;
  const reserved = reservedBuckets(sb);
  const keys = new Map<number, BucketAlloc>();
  for (const a of alloc) if (a.dev === sb.devIdx) keys.set(a.bucket, a);
  const out: { bucket: number; gen: number }[] = [];
  const limit = opts.limit ?? Infinity;
  for (let b = m.firstBucket; b < m.nbuckets && out.length < limit; b++) {
    if (reserved.has(b) || opts.exclude?.(b)) continue;
    const a = keys.get(b);
    if (a) {
      if (a.dataType !== BCH_DATA_none || a.dirtySectors || a.cachedSectors || a.stripe) continue;
      if (((a.gen - a.oldestGen) & 0xff) >= BUCKET_GC_GEN_MAX) continue;
    }
    out.push({ bucket: b, gen: a?.gen ?? 0 });
  }
  return out;
}

type BucketMark = Pick<BucketAlloc, 'dataType' | 'dirtySectors' | 'cachedSectors' | 'stripe'>;

/**
 * bch2_dev_usage_update: the device's usage record (the clean section's dev_usage entry) after one bucket
 * went from `old` to `now`: bucket counts by type, unavailable and erasure-coded buckets, sectors and
 * fragmented sectors. A repair that changes alloc keys applies it per changed bucket, so that the recorded
 * usage agrees with what bcachefs's gc recomputes.
 */
export function devUsageAfter(u: DevUsageEntry, old: BucketMark, now: BucketMark, bucketSize: number): DevUsageEntry {
  const d = u.d.map((x) => ({ ...x }));
  const at = (type: number): DevUsageEntry['d'][number] => {
    const e = d[type];
    if (!e) throw new RangeError(`the dev_usage record has no entry for data type ${type}`);
    return e;
  };
  const type = (m: BucketMark): number => (m.cachedSectors && !m.dirtySectors ? BCH_DATA_cached : m.dataType);
  const unavailable = (m: BucketMark): bigint => (m.dirtySectors || m.stripe ? 1n : 0n);
  const fragmented = (m: BucketMark): bigint => {
    const used = m.dirtySectors + m.cachedSectors;
    return BigInt(used ? Math.max(0, bucketSize - used) : 0);
  };
  if (type(old)) at(type(old)).buckets -= 1n;
  if (type(now)) at(type(now)).buckets += 1n;
  at(old.dataType).sectors -= BigInt(old.dirtySectors);
  at(now.dataType).sectors += BigInt(now.dirtySectors);
  at(BCH_DATA_cached).sectors += BigInt(now.cachedSectors - old.cachedSectors);
  at(old.dataType).fragmented -= fragmented(old);
  at(now.dataType).fragmented += fragmented(now);
  return {
    ...u,
    d,
    bucketsEc: u.bucketsEc + BigInt((now.stripe ? 1 : 0) - (old.stripe ? 1 : 0)),
    bucketsUnavailable: u.bucketsUnavailable + unavailable(now) - unavailable(old),
  };
}
