// Buckets as buckets.c keeps them for mark and sweep: two copies of each bucket's state, as bcachefs does:
// what the alloc btree says (bcachefs's bucket array 0, read by bch2_alloc_read) and what marking every
// reference recomputes (array 1, "gc"). Both are typed arrays sized from the member's nbuckets. Device usage
// is not accumulated per mark: bcachefs's incremental updates (bch2_dev_usage_update) sum a function of
// each bucket's final state, so it is computed once from the gc arrays at the end.
import { BCH_DATA_cached, BCH_DATA_TYPES } from '../format/names.js';

export const BCH_DATA_NR = BCH_DATA_TYPES.length;
export const BCH_REPLICAS_MAX = 4;
const BUCKET_GC_GEN_MAX = 96;
export const U16_MAX = 0xffff;

/** gen_cmp: gens are compared as a signed 8-bit difference (so they may wrap). */
export function genCmp(a: number, b: number): number {
  return (((a - b) & 0xff) << 24) >> 24;
}
/** gen_after: how far a is after b, 0 if it is not. */
export function genAfter(a: number, b: number): number {
  const r = genCmp(a, b);
  return r > 0 ? r : 0;
}

// results of markPtr (check_bucket_ref / __mark_pointer)
export const MARK_OK = 0;
export const MARK_STALE_CACHED = 1;
export const MARK_GEN_NEWER = -1;
export const MARK_TOO_STALE = -2;
export const MARK_STALE_DIRTY = -3;
export const MARK_TYPE_MIXED = -4;
export const MARK_OVERFLOW = -5;

export class DevBuckets {
  // alloc btree view (bcachefs's bucket array 0)
  readonly aGen: Uint8Array;
  readonly aDataType: Uint8Array;
  readonly aDirty: Uint16Array;
  readonly aCached: Uint16Array;
  readonly aOldestGen: Uint8Array;
  readonly aGenValid: Uint8Array;
  /** 1 where the alloc key could not be read (its leaf is unreadable): no comparison is possible */
  readonly aUnknown: Uint8Array;
  // recomputed (gc) view
  readonly gen: Uint8Array;
  readonly dataType: Uint8Array;
  readonly dirty: Uint16Array;
  readonly cached: Uint16Array;
  readonly stripe: Uint8Array;
  readonly oldestGen: Uint8Array;
  readonly genValid: Uint8Array;
  /** floor(sector / bucketSize) by multiplication when bucketSize is a power of two */
  private readonly shift: number;

  constructor(readonly dev: number, readonly nbuckets: number, readonly bucketSize: number, readonly firstBucket: number) {
    this.aGen = new Uint8Array(nbuckets);
    this.aDataType = new Uint8Array(nbuckets);
    this.aDirty = new Uint16Array(nbuckets);
    this.aCached = new Uint16Array(nbuckets);
    this.aOldestGen = new Uint8Array(nbuckets);
    this.aGenValid = new Uint8Array(nbuckets);
    this.aUnknown = new Uint8Array(nbuckets);
    this.gen = new Uint8Array(nbuckets);
    this.dataType = new Uint8Array(nbuckets);
    this.dirty = new Uint16Array(nbuckets);
    this.cached = new Uint16Array(nbuckets);
    this.stripe = new Uint8Array(nbuckets);
    this.oldestGen = new Uint8Array(nbuckets);
    this.genValid = new Uint8Array(nbuckets);
    this.shift = bucketSize > 0 && (bucketSize & (bucketSize - 1)) === 0 ? 31 - Math.clz32(bucketSize) : -1;
  }

  /** sector_to_bucket */
  bucketOf(sector: number): number {
    return this.shift >= 0 ? Math.floor(sector / (1 << this.shift)) : Math.floor(sector / this.bucketSize);
  }

  /** bch2_alloc_read_fn: one alloc key into the alloc view. */
  setAlloc(b: number, gen: number, dataType: number, dirty: number, cached: number, oldestGen: number): void {
    this.aGen[b] = gen;
    this.aDataType[b] = dataType & 7; // a 3-bit field in struct bucket_mark
    this.aDirty[b] = dirty & 0xffff;
    this.aCached[b] = cached & 0xffff;
    this.aOldestGen[b] = oldestGen;
    this.aGenValid[b] = 1;
  }

  /** bch2_gc_start: gc gens start from the alloc gens, everything else from zero. */
  startGc(): void {
    this.gen.set(this.aGen);
    this.oldestGen.set(this.aGen);
    this.genValid.set(this.aGenValid);
    this.dataType.fill(0);
    this.dirty.fill(0);
    this.cached.fill(0);
    this.stripe.fill(0);
  }

  /**
   * check_bucket_ref + __mark_pointer on the gc view. Returns MARK_OK (counted), MARK_STALE_CACHED (not
   * counted, not an error) or a negative MARK_* error (not counted; the bucket is unchanged, so the caller
   * can read its state to print bcachefs's message).
   */
  markPtr(b: number, ptrGen: number, cached: boolean, sectors: number, ptrDataType: number): number {
    const bucketGen = this.gen[b]!;
    if (genAfter(ptrGen, bucketGen)) return MARK_GEN_NEWER;
    if (genCmp(bucketGen, ptrGen) > BUCKET_GC_GEN_MAX) return MARK_TOO_STALE;
    if (bucketGen !== ptrGen) return cached ? MARK_STALE_CACHED : MARK_STALE_DIRTY;
    const bdt = this.dataType[b]!;
    if (bdt && ptrDataType && bdt !== ptrDataType) return MARK_TYPE_MIXED;
    if (cached) {
      const s = this.cached[b]! + sectors;
      if (s > U16_MAX) return MARK_OVERFLOW;
      this.cached[b] = s;
    } else {
      const s = this.dirty[b]! + sectors;
      if (s > U16_MAX) return MARK_OVERFLOW;
      this.dirty[b] = s;
    }
    this.dataType[b] = this.dirty[b]! || this.cached[b]! ? ptrDataType : 0;
    return MARK_OK;
  }

  /**
   * __bch2_mark_metadata_bucket (superblock and journal buckets). Returns the previous data type when it
   * was a different one (bcachefs logs "different types of data in same bucket"), else 0; `overflow` is
   * set when the sector count saturated.
   */
  markMetadata(b: number, type: number, sectors: number): { conflict: number; overflow: boolean; oldSectors: number } {
    const old = this.dataType[b]!;
    const oldSectors = this.dirty[b]!;
    let s = oldSectors + sectors;
    const overflow = s > U16_MAX;
    if (overflow) s = U16_MAX;
    this.dirty[b] = s;
    this.dataType[b] = type;
    return { conflict: old && old !== type ? old : 0, overflow, oldSectors };
  }

  /** the oldest_gen part of bch2_gc_mark_key */
  notePtrGen(b: number, ptrGen: number): void {
    if (genAfter(this.oldestGen[b]!, ptrGen)) this.oldestGen[b] = ptrGen;
  }
}

export interface DevUsage {
  bucketsEc: number;
  bucketsUnavailable: number;
  d: { buckets: number; sectors: number; fragmented: number }[];
}

export function newDevUsage(): DevUsage {
  return { bucketsEc: 0, bucketsUnavailable: 0, d: Array.from({ length: BCH_DATA_NR }, () => ({ buckets: 0, sectors: 0, fragmented: 0 })) };
}

/** bucket_type(): a bucket holding only cached data counts as cached. */
function bucketType(dataType: number, dirty: number, cached: number): number {
  return cached && !dirty ? BCH_DATA_cached : dataType;
}

/** What bch2_dev_usage_update accumulates, summed over the final gc state of every bucket. */
export function devUsageFromBuckets(d: DevBuckets): DevUsage {
  const u = newDevUsage();
  const bs = d.bucketSize;
  for (let b = 0; b < d.nbuckets; b++) {
    const dirty = d.dirty[b]!;
    const cached = d.cached[b]!;
    const dt = d.dataType[b]!;
    const st = d.stripe[b]!;
    const bt = bucketType(dt, dirty, cached);
    if (bt) u.d[bt]!.buckets++;
    u.bucketsEc += st;
    if (dirty || st) u.bucketsUnavailable++;
    u.d[dt]!.sectors += dirty;
    u.d[BCH_DATA_cached]!.sectors += cached;
    const used = dirty + cached;
    if (used) u.d[dt]!.fragmented += Math.max(0, bs - used);
  }
  return u;
}

