// bch2_gc_done: the recomputed state against the alloc keys and the recorded usage, in the order bcachefs
// prints its messages: every bucket (gen, data_type, stripe, dirty_sectors, cached_sectors), then the
// device counters, per device; then the filesystem counters and replicas entries.
import type { AllocFields, FindingList, Report } from './findings.js';
import { replicasEntryText, dataTypeName } from './messages.js';
import { BCH_DATA_NR, BCH_REPLICAS_MAX, genAfter, type DevBuckets, type DevUsage } from './buckets.js';
import type { ReplicasTable } from './replicas.js';
import type { FsUsage } from './usage.js';

export interface GcDoneInput {
  devs: DevBuckets[];
  /** per device: the counters recomputed from the gc view, and those recorded at unmount */
  devUsage: Map<number, { gc: DevUsage; recorded: DevUsage }>;
  gcFs: FsUsage;
  recordedFs: FsUsage;
  table: ReplicasTable;
  /**
   * why bcachefs prints nothing for these (the superblock does not claim valid alloc info): they are then
   * warnings without a message
   */
  silent?: string;
}

export function gcDone(inp: GcDoneInput, out: FindingList): void {
  for (const d of inp.devs) {
    compareBuckets(d, out, inp.silent);
    const u = inp.devUsage.get(d.dev)!;
    compareDevUsage(d.dev, u.gc, u.recorded, out, inp.silent);
  }
  compareFsUsage(inp, out);
}

const silence = (silent: string | undefined): Pick<Report, 'silent'> => (silent !== undefined ? { silent } : {});

function compareBuckets(d: DevBuckets, out: FindingList, silent: string | undefined): void {
  const field = (b: number, name: string, cls: 'bucket_gen' | 'bucket_data_type' | 'bucket_stripe' | 'bucket_dirty_sectors' | 'bucket_cached_sectors', gen: number, dt: number, got: number, should: number): void => {
    out.report(cls, { dev: d.dev, bucket: b, gen, dataType: dt, field: name, got, should }, {
      id: `${d.dev}:${b}`,
      at: { dev: d.dev, bucket: b },
      field: name,
      expected: should,
      actual: got,
      params: { alloc: allocFields(d, b) },
      ...silence(silent),
    });
  };
  for (let b = 0; b < d.nbuckets; b++) {
    if (d.aUnknown[b]) continue;
    // a fast path: nothing differs
    let gen = d.aGen[b]!;
    let dt = d.aDataType[b]!;
    if (gen === d.gen[b] && dt === d.dataType[b] && d.aDirty[b] === d.dirty[b] && d.aCached[b] === d.cached[b] && !d.stripe[b]) {
      if (genAfter(d.aOldestGen[b]!, gen)) oldestGenFinding(d, b, out);
      continue;
    }
    // the message shows the alloc key's gen and data type as already corrected by the fields before
    if (gen !== d.gen[b]) {
      field(b, 'gen', 'bucket_gen', gen, dt, gen, d.gen[b]!);
      gen = d.gen[b]!;
    }
    if (dt !== d.dataType[b]) {
      field(b, 'data_type', 'bucket_data_type', gen, dt, dt, d.dataType[b]!);
      dt = d.dataType[b]!;
    }
    // bch2_alloc_read does not load the stripe bit, so the alloc view's is always 0
    if (d.stripe[b]) field(b, 'stripe', 'bucket_stripe', gen, dt, 0, d.stripe[b]!);
    if (d.aDirty[b] !== d.dirty[b]) field(b, 'dirty_sectors', 'bucket_dirty_sectors', gen, dt, d.aDirty[b]!, d.dirty[b]!);
    if (d.aCached[b] !== d.cached[b]) field(b, 'cached_sectors', 'bucket_cached_sectors', gen, dt, d.aCached[b]!, d.cached[b]!);
    if (genAfter(d.aOldestGen[b]!, d.aGen[b]!)) oldestGenFinding(d, b, out);
  }
}

/** What the alloc key should hold after gc: the gc view of the bucket. */
function allocFields(d: DevBuckets, b: number): AllocFields {
  return { gen: d.gen[b]!, oldest_gen: d.oldestGen[b]!, data_type: d.dataType[b]!, dirty_sectors: d.dirty[b]!, cached_sectors: d.cached[b]! };
}

function oldestGenFinding(d: DevBuckets, b: number, out: FindingList): void {
  out.report('bucket_oldest_gen', { dev: d.dev, bucket: b, oldestGen: d.aOldestGen[b]!, gen: d.aGen[b]!, should: d.oldestGen[b]! }, {
    id: `${d.dev}:${b}`,
    at: { dev: d.dev, bucket: b },
    field: 'oldest_gen',
    expected: d.oldestGen[b]!,
    actual: d.aOldestGen[b]!,
    params: { alloc: allocFields(d, b) },
  });
}

function compareDevUsage(dev: number, gc: DevUsage, rec: DevUsage, out: FindingList, silent: string | undefined): void {
  const field = (what: string, got: number, should: number): void => {
    if (got === should) return;
    out.report('dev_usage', { dev, what, got, should }, {
      id: `dev${dev}:${what}`,
      at: { dev },
      field: what,
      expected: should,
      actual: got,
      params: { value: should },
      ...silence(silent),
    });
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
  const field = (what: string, cls: 'fs_usage' | 'fs_replicas_usage', g: number, s: number, replicasIdx?: number): void => {
    if (g === s) return;
    const e = replicasIdx !== undefined ? inp.table.entries[replicasIdx]! : undefined;
    out.report(cls, { what, got: g, should: s }, {
      id: `fs:${what}`,
      at: {},
      field: what,
      expected: s,
      actual: g,
      params: { value: s, ...(e ? { replicas: { data_type: e.dataType, nr_required: e.nrRequired, devs: [...e.devs] } } : {}) },
      ...silence(inp.silent),
    });
  };
  field('hidden', 'fs_usage', got.hidden, gc.hidden);
  field('btree', 'fs_usage', got.btree, gc.btree);
  field('data', 'fs_usage', got.data, gc.data);
  field('cached', 'fs_usage', got.cached, gc.cached);
  field('reserved', 'fs_usage', got.reserved, gc.reserved);
  field('nr_inodes', 'fs_usage', got.nrInodes, gc.nrInodes);
  for (let i = 0; i < BCH_REPLICAS_MAX; i++) field(`persistent_reserved[${i}]`, 'fs_usage', got.persistentReserved[i]!, gc.persistentReserved[i]!);
  for (let i = 0; i < inp.table.nr; i++) {
    field(replicasEntryText(inp.table.entries[i]!), 'fs_replicas_usage', got.replicas[i]!, gc.replicas[i]!, i);
  }
}
