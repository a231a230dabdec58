// Bucket and usage accounting for mark and sweep (buckets.c, btree_gc.c bch2_gc_done).
//
// Two copies of each bucket's state are kept, as bcachefs does: what the alloc btree says (bcachefs's
// bucket array 0, read by bch2_alloc_read) and what marking every reference recomputes (array 1, "gc").
// Both are typed arrays sized from the member's nbuckets. Device and filesystem usage are not accumulated
// per mark: bcachefs's incremental updates (bch2_dev_usage_update) sum a function of each bucket's final
// state, so they are computed once from the gc arrays at the end.
import type { Finding, FindingList } from './findings.js';
import {
  msgBucketField, msgDevField, msgFsField, replicasEntryText, dataTypeName, logMetadataBucketConflict,
} from './messages.js';
import {
  BCH_DATA_btree, BCH_DATA_cached, BCH_DATA_journal, BCH_DATA_parity, BCH_DATA_sb, BCH_DATA_user, BCH_DATA_TYPES,
} from '../format/names.js';

export const BCH_DATA_NR = BCH_DATA_TYPES.length;
export const BCH_REPLICAS_MAX = 4;
export const BUCKET_GC_GEN_MAX = 96;
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

// ---- replicas entries (replicas.c) ----

export interface ReplicasEntry {
  dataType: number;
  nrRequired: number;
  devs: number[];
}

/** Identity of a replicas entry; devs in ascending order. */
export function entryKey(dataType: number, nrRequired: number, devs: readonly number[]): string {
  return `${dataType}/${nrRequired}/${devs.join(',')}`;
}

/**
 * bcachefs's in-memory replicas table (struct bch_replicas_cpu): entries with their devices sorted, laid
 * out in eytzinger0 order of a memcmp sort. gc_done walks them in that array order.
 */
export class ReplicasTable {
  readonly entries: ReplicasEntry[];
  private readonly index = new Map<string, number>();
  /** index of the entry {type, 1 required, [dev]} by type * 256 + dev, -1 when absent (the common case, fast) */
  private readonly single = new Int32Array(BCH_DATA_NR * 256).fill(-1);

  constructor(list: readonly ReplicasEntry[]) {
    const uniq = new Map<string, ReplicasEntry>();
    for (const e of list) {
      const devs = [...e.devs].sort((a, b) => a - b);
      const k = entryKey(e.dataType, e.nrRequired, devs);
      if (!uniq.has(k)) uniq.set(k, { dataType: e.dataType, nrRequired: e.nrRequired, devs });
    }
    const sorted = [...uniq.values()];
    const width = 3 + Math.max(0, ...sorted.map((e) => e.devs.length));
    const bytes = (e: ReplicasEntry): number[] => {
      const a = [e.dataType, e.devs.length, e.nrRequired, ...e.devs];
      while (a.length < width) a.push(0);
      return a;
    };
    sorted.sort((x, y) => {
      const a = bytes(x);
      const b = bytes(y);
      for (let i = 0; i < width; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return 0;
    });
    this.entries = eytzinger0Layout(sorted);
    this.entries.forEach((e, i) => {
      this.index.set(entryKey(e.dataType, e.nrRequired, e.devs), i);
      if (e.nrRequired === 1 && e.devs.length === 1 && e.dataType < BCH_DATA_NR) this.single[e.dataType * 256 + e.devs[0]!] = i;
    });
  }

  get nr(): number {
    return this.entries.length;
  }

  /** bch2_replicas_entry_idx (devices need not be sorted) */
  find(dataType: number, nrRequired: number, devs: readonly number[]): number {
    if (devs.length === 1 && nrRequired === 1 && dataType < BCH_DATA_NR) return this.single[dataType * 256 + devs[0]!]!;
    const sorted = devs.length > 1 ? [...devs].sort((a, b) => a - b) : devs;
    return this.index.get(entryKey(dataType, nrRequired, sorted)) ?? -1;
  }

  findSingle(dataType: number, dev: number): number {
    return this.single[dataType * 256 + dev]!;
  }
}

/** The array eytzinger0_sort makes of a sorted list: an implicit BST (children 2i+1, 2i+2) whose in-order walk is sorted. */
export function eytzinger0Layout<T>(sorted: readonly T[]): T[] {
  const out = new Array<T>(sorted.length);
  let next = 0;
  const fill = (i: number): void => {
    if (i >= sorted.length) return;
    fill(2 * i + 1);
    out[i] = sorted[next++]!;
    fill(2 * i + 2);
  };
  fill(0);
  return out;
}

// ---- filesystem usage (struct bch_fs_usage) ----

export class FsUsage {
  hidden = 0;
  btree = 0;
  data = 0;
  cached = 0;
  reserved = 0;
  nrInodes = 0;
  readonly persistentReserved = [0, 0, 0, 0];
  readonly replicas: Float64Array;

  constructor(nrReplicas: number) {
    this.replicas = new Float64Array(nrReplicas);
  }

  /** update_replicas: the per-entry count and the per-type total */
  addReplicas(idx: number, dataType: number, sectors: number): void {
    this.addByType(dataType, sectors);
    this.replicas[idx] = this.replicas[idx]! + sectors;
  }

  /** fs_usage_data_type_to_base */
  addByType(dataType: number, sectors: number): void {
    if (dataType === BCH_DATA_btree) this.btree += sectors;
    else if (dataType === BCH_DATA_user || dataType === BCH_DATA_parity) this.data += sectors;
    else if (dataType === BCH_DATA_cached) this.cached += sectors;
  }
}

/** What the superblock's clean section (or the journal) recorded at unmount: bcachefs's usage_base. */
export interface RecordedUsage {
  nrInodes: number;
  keyVersion: bigint;
  persistentReserved: number[];
  /** data_usage entries, in the order found */
  replicas: { entry: ReplicasEntry; sectors: number }[];
  /** dev_usage entries by device index */
  devs: Map<number, DevUsage>;
  /** recorded values too large to compare exactly (above 2^53: certainly damaged) */
  oversized: string[];
}

export function emptyRecordedUsage(): RecordedUsage {
  return { nrInodes: 0, keyVersion: 0n, persistentReserved: [0, 0, 0, 0], replicas: [], devs: new Map(), oversized: [] };
}

/**
 * bcachefs's usage_base after journal_replay_early + bch2_fs_usage_initialize: the recorded counters, with
 * hidden/btree/data/cached/reserved derived from them.
 */
export function recordedFsUsage(rec: RecordedUsage, table: ReplicasTable, bucketSizes: Map<number, number>): FsUsage {
  const u = new FsUsage(table.nr);
  u.nrInodes = rec.nrInodes;
  for (let i = 0; i < BCH_REPLICAS_MAX; i++) {
    u.persistentReserved[i] = rec.persistentReserved[i] ?? 0;
    u.reserved += u.persistentReserved[i]!;
  }
  for (const r of rec.replicas) {
    const idx = table.find(r.entry.dataType, r.entry.nrRequired, r.entry.devs);
    if (idx >= 0) u.replicas[idx] = r.sectors;
  }
  for (let i = 0; i < table.nr; i++) u.addByType(table.entries[i]!.dataType, u.replicas[i]!);
  for (const [dev, du] of rec.devs) {
    const bs = bucketSizes.get(dev);
    if (bs !== undefined) u.hidden += (du.d[BCH_DATA_sb]!.buckets + du.d[BCH_DATA_journal]!.buckets) * bs;
  }
  return u;
}

// ---- bch2_gc_done ----

const BUCKET_REPAIR = {
  kind: 'rewrite_alloc_key' as const,
  description: 'bcachefs rewrites the alloc key with the recomputed value (bch2_alloc_write after gc)',
};
const USAGE_REPAIR = {
  kind: 'rewrite_usage' as const,
  description: 'bcachefs replaces the in-memory usage with the recomputed value; it is written at the next unmount (clean section)',
};

export interface GcDoneInput {
  devs: DevBuckets[];
  gcFs: FsUsage;
  recorded: RecordedUsage;
  recordedFs: FsUsage;
  table: ReplicasTable;
}

/**
 * Compares the recomputed state with the alloc keys and the recorded usage, emitting findings in the
 * order bch2_gc_done prints them: every bucket (gen, data_type, stripe, dirty_sectors, cached_sectors),
 * then the device counters, per device; then the filesystem counters and replicas entries.
 */
export function gcDone(inp: GcDoneInput, out: FindingList): void {
  for (const d of inp.devs) {
    compareBuckets(d, out);
    compareDevUsage(d, inp.recorded.devs.get(d.dev) ?? newDevUsage(), out);
  }
  compareFsUsage(inp, out);
}

function bucketFinding(
  out: FindingList, d: DevBuckets, b: number, field: string, cls: Finding['class'], gen: number, dt: number, got: number, should: number,
): void {
  out.add(
    {
      class: cls,
      severity: 'error',
      dev: d.dev,
      bucket: b,
      field,
      expected: should,
      actual: got,
      repair: BUCKET_REPAIR,
      fsck_message: msgBucketField(d.dev, b, gen, dt, field, got, should),
      fsck_disposition: 'not fixing',
      explanation: `the alloc key of bucket ${d.dev}:${b} says ${field} ${got}; marking every pointer into it gives ${should}`,
    },
    `${d.dev}:${b}`,
  );
}

function compareBuckets(d: DevBuckets, out: FindingList): void {
  for (let b = 0; b < d.nbuckets; b++) {
    if (d.aUnknown[b]) continue;
    // a fast path: nothing differs
    let gen = d.aGen[b]!;
    let dt = d.aDataType[b]!;
    if (gen === d.gen[b] && dt === d.dataType[b] && d.aDirty[b] === d.dirty[b] && d.aCached[b] === d.cached[b] && !d.stripe[b]) {
      if (genAfter(d.aOldestGen[b]!, gen)) oldestGenFinding(d, b, out);
      continue;
    }
    if (gen !== d.gen[b]) {
      bucketFinding(out, d, b, 'gen', 'bucket_gen', gen, dt, gen, d.gen[b]!);
      gen = d.gen[b]!;
    }
    if (dt !== d.dataType[b]) {
      bucketFinding(out, d, b, 'data_type', 'bucket_data_type', gen, dt, dt, d.dataType[b]!);
      dt = d.dataType[b]!;
    }
    // bch2_alloc_read does not load the stripe bit, so the alloc view's is always 0
    if (d.stripe[b]) bucketFinding(out, d, b, 'stripe', 'bucket_stripe', gen, dt, 0, d.stripe[b]!);
    if (d.aDirty[b] !== d.dirty[b]) bucketFinding(out, d, b, 'dirty_sectors', 'bucket_dirty_sectors', gen, dt, d.aDirty[b]!, d.dirty[b]!);
    if (d.aCached[b] !== d.cached[b]) bucketFinding(out, d, b, 'cached_sectors', 'bucket_cached_sectors', gen, dt, d.aCached[b]!, d.cached[b]!);
    if (genAfter(d.aOldestGen[b]!, d.aGen[b]!)) oldestGenFinding(d, b, out);
  }
}

function oldestGenFinding(d: DevBuckets, b: number, out: FindingList): void {
  out.add(
    {
      class: 'bucket_oldest_gen',
      severity: 'warning',
      dev: d.dev,
      bucket: b,
      field: 'oldest_gen',
      expected: d.oldestGen[b]!,
      actual: d.aOldestGen[b]!,
      repair: { kind: 'rewrite_alloc_key', description: 'bcachefs 2021 copies the recomputed oldest_gen over it without a message (bch2_gc_done)' },
      fsck_message: null,
      fsck_disposition: null,
      explanation:
        `the alloc key of bucket ${d.dev}:${b} has oldest_gen ${d.aOldestGen[b]} newer than its gen ${d.aGen[b]}, which cannot be; ` +
        `the pointers give ${d.oldestGen[b]}. 2021 bcachefs replaces it silently, so this is a warning, not an fsck error`,
    },
    `${d.dev}:${b}`,
  );
}

function compareDevUsage(d: DevBuckets, rec: DevUsage, out: FindingList): void {
  const gc = devUsageFromBuckets(d);
  const field = (what: string, got: number, should: number): void => {
    if (got === should) return;
    out.add(
      {
        class: 'dev_usage',
        severity: 'error',
        dev: d.dev,
        field: what,
        expected: should,
        actual: got,
        repair: USAGE_REPAIR,
        fsck_message: msgDevField(d.dev, what, got, should),
        fsck_disposition: 'not fixing',
        explanation: `device ${d.dev}'s ${what} recorded at unmount is ${got}; the buckets as recomputed give ${should}`,
      },
      `dev${d.dev}:${what}`,
    );
  };
  field('buckets_ec', rec.bucketsEc, gc.bucketsEc);
  field('buckets_unavailable', rec.bucketsUnavailable, gc.bucketsUnavailable);
  for (let i = 0; i < BCH_DATA_NR; i++) {
    const r = rec.d[i] ?? { buckets: 0, sectors: 0, fragmented: 0 };
    const g = gc.d[i]!;
    const name = dataTypeName(i);
    field(`${name} buckets`, r.buckets, g.buckets);
    field(`${name} sectors`, r.sectors, g.sectors);
    field(`${name} fragmented`, r.fragmented, g.fragmented);
  }
}

function compareFsUsage(inp: GcDoneInput, out: FindingList): void {
  const got = inp.recordedFs;
  const gc = inp.gcFs;
  const field = (what: string, cls: 'fs_usage' | 'fs_replicas_usage', g: number, s: number): void => {
    if (g === s) return;
    out.add(
      {
        class: cls,
        severity: 'error',
        field: what,
        expected: s,
        actual: g,
        repair: USAGE_REPAIR,
        fsck_message: msgFsField(what, g, s),
        fsck_disposition: 'not fixing',
        explanation: `the filesystem's ${what} recorded at unmount is ${g}; recomputed from the btrees it is ${s}`,
      },
      `fs:${what}`,
    );
  };
  field('hidden', 'fs_usage', got.hidden, gc.hidden);
  field('btree', 'fs_usage', got.btree, gc.btree);
  field('data', 'fs_usage', got.data, gc.data);
  field('cached', 'fs_usage', got.cached, gc.cached);
  field('reserved', 'fs_usage', got.reserved, gc.reserved);
  field('nr_inodes', 'fs_usage', got.nrInodes, gc.nrInodes);
  for (let i = 0; i < BCH_REPLICAS_MAX; i++) field(`persistent_reserved[${i}]`, 'fs_usage', got.persistentReserved[i]!, gc.persistentReserved[i]!);
  for (let i = 0; i < inp.table.nr; i++) {
    field(replicasEntryText(inp.table.entries[i]!), 'fs_replicas_usage', got.replicas[i]!, gc.replicas[i]!);
  }
}

export { logMetadataBucketConflict };
