// Filesystem usage (struct bch_fs_usage): what gc recomputes, and what the superblock's clean section or
// the journal recorded at unmount (journal_replay_early + bch2_fs_usage_initialize).
import type { Filesystem } from '../btree/fs.js';
import { decodeUsageEntry, BCH_JSET_ENTRY_usage, BCH_JSET_ENTRY_data_usage, BCH_JSET_ENTRY_dev_usage, type JsetEntry } from '../format/journal.js';
import { BCH_DATA_btree, BCH_DATA_cached, BCH_DATA_journal, BCH_DATA_parity, BCH_DATA_sb, BCH_DATA_user } from '../format/names.js';
import { BCH_REPLICAS_MAX, newDevUsage, type DevUsage } from './buckets.js';
import { entryKey, type ReplicasEntry, type ReplicasTable } from './replicas.js';

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

/** Recorded usage (bcachefs's usage_base) from the clean section, or from the journal after an unclean shutdown. */
export function readRecordedUsage(fs: Filesystem): RecordedUsage {
  const rec = emptyRecordedUsage();
  const clean = fs.sb.clean && fs.sb.cleanSection ? fs.sb.cleanSection : undefined;
  const entries: JsetEntry[] = clean ? clean.entries : fs.journal.jsets.flatMap((j) => j.entries);
  for (const e of entries) {
    if (e.type !== BCH_JSET_ENTRY_usage && e.type !== BCH_JSET_ENTRY_data_usage && e.type !== BCH_JSET_ENTRY_dev_usage) continue;
    const u = decodeUsageEntry(e);
    if (!u) continue;
    // usage counters are sectors, buckets and inodes: beyond 2^53 they are damage, and the check says so
    const counter = (v: bigint): number => {
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) rec.oversized.push(`recorded ${u.kind} value ${v} is implausibly large; compared approximately`);
      return Number(v);
    };
    if (u.kind === 'usage') {
      if (u.usageType === 0 && u.index < BCH_REPLICAS_MAX) rec.persistentReserved[u.index] = counter(u.v);
      else if (u.usageType === 1) rec.nrInodes = counter(u.v);
      else if (u.usageType === 2) rec.keyVersion = u.v;
    } else if (u.kind === 'data_usage') {
      const entry = { dataType: u.dataType, nrRequired: u.nrRequired, devs: u.devs };
      const key = (e: ReplicasEntry): string => entryKey(e.dataType, e.nrRequired, [...e.devs].sort((a, b) => a - b));
      const k = key(entry);
      const i = rec.replicas.findIndex((r) => key(r.entry) === k);
      if (i >= 0) rec.replicas[i]!.sectors = counter(u.v);
      else rec.replicas.push({ entry, sectors: counter(u.v) });
    } else {
      const du = newDevUsage();
      du.bucketsEc = counter(u.bucketsEc);
      du.bucketsUnavailable = counter(u.bucketsUnavailable);
      u.d.forEach((x, i) => {
        if (i < du.d.length) du.d[i] = { buckets: counter(x.buckets), sectors: counter(x.sectors), fragmented: counter(x.fragmented) };
      });
      rec.devs.set(u.dev, du);
    }
  }
  return rec;
}
