// Usage and replicas (dev_usage, fs_usage, fs_replicas_usage, replicas_not_marked): where bcachefs keeps them
// for a cleanly unmounted filesystem, the superblock. The clean section's usage entries are rewritten from what
// mark and sweep recomputes, a missing replicas entry is added to the replicas field, and every superblock copy
// is written (each with its own offset and checksum). bcachefs 2021 (bch2_gc_done) corrects the same counters
// in memory and writes them at the next clean unmount; we write them now, so the disk reads clean as it is.
import type { Filesystem } from '../btree/fs.js';
import type { CheckResult, Finding } from '../check/index.js';
import { encodeJsetEntry, encodeUsageEntry } from '../format/encode-jset.js';
import { encodeCleanField, encodeReplicasField, encodeSuperblock, sbFieldsOf, superblockCopy } from '../format/encode-sb.js';
import { decodeUsageEntry, type DevUsageEntry } from '../format/journal.js';
import { BCH_DATA_TYPES } from '../format/names.js';
import { BCH_SB_FIELD_clean, BCH_SB_FIELD_replicas, BCH_SB_FIELD_replicas_v0, type ReplicasEntry } from '../format/superblock.js';
import type { FieldChange, PlannedWrite } from '../journal/plan.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

const USAGE_CLASSES = ['dev_usage', 'fs_usage', 'fs_replicas_usage'] as const;
const REPLICAS_CLASSES = ['replicas_not_marked'] as const;

const big = (n: number): bigint => BigInt(Math.round(n));
const replicasText = (e: ReplicasEntry): string => `${BCH_DATA_TYPES[e.dataType] ?? e.dataType}: ${e.nrRequired}/${e.devs.length} [${e.devs.join(' ')}]`;

/** The clean section's entries with every usage entry recomputed (others kept as they are), and what changed. */
function cleanEntries(fs: Filesystem, check: CheckResult, changes: FieldChange[]): Uint8Array[] {
  const clean = fs.sb.cleanSection!;
  const gc = check.gc;
  const g = gc.fsUsage.gc;
  const out: Uint8Array[] = [];
  const seen = new Set<number>();
  for (const e of clean.entries) {
    const u = decodeUsageEntry(e);
    if (!u) {
      out.push(encodeJsetEntry(e.type, e.btreeId, e.level, e.buf.subarray(e.start, e.end)));
      continue;
    }
    if (u.kind === 'usage') {
      const v = u.usageType === 0 && u.index < 4 ? big(g.persistentReserved[u.index]!) : u.usageType === 1 ? big(g.nrInodes) : u.v;
      if (v !== u.v) changes.push({ field: `clean section usage ${u.usageType === 1 ? 'nr_inodes' : `persistent_reserved[${u.index}]`}`, before: String(u.v), after: String(v) });
      out.push(encodeUsageEntry({ ...u, v }));
    } else if (u.kind === 'data_usage') {
      const i = gc.replicas.find(u.dataType, u.nrRequired, [...u.devs].sort((a, b) => a - b));
      if (i >= 0) seen.add(i);
      const v = i >= 0 ? big(g.replicas[i]!) : 0n;
      if (v !== u.v) changes.push({ field: `clean section replicas usage ${replicasText({ dataType: u.dataType, nrRequired: u.nrRequired, devs: u.devs })}`, before: String(u.v), after: String(v) });
      out.push(encodeUsageEntry({ ...u, v }));
    } else {
      const d = gc.devUsage.get(u.dev)?.gc;
      if (!d) {
        out.push(encodeUsageEntry(u));
        continue;
      }
      const next: DevUsageEntry = {
        ...u, bucketsEc: big(d.bucketsEc), bucketsUnavailable: big(d.bucketsUnavailable),
        d: u.d.map((x, t) => (d.d[t] ? { buckets: big(d.d[t].buckets), sectors: big(d.d[t].sectors), fragmented: big(d.d[t].fragmented) } : x)),
      };
      const name = (t: number): string => BCH_DATA_TYPES[t] ?? String(t);
      if (next.bucketsUnavailable !== u.bucketsUnavailable) changes.push({ field: `dev ${u.dev} buckets_unavailable`, before: String(u.bucketsUnavailable), after: String(next.bucketsUnavailable) });
      if (next.bucketsEc !== u.bucketsEc) changes.push({ field: `dev ${u.dev} buckets_ec`, before: String(u.bucketsEc), after: String(next.bucketsEc) });
      next.d.forEach((x, t) => {
        const o = u.d[t]!;
        for (const k of ['buckets', 'sectors', 'fragmented'] as const) {
          if (x[k] !== o[k]) changes.push({ field: `dev ${u.dev} ${name(t)} ${k}`, before: String(o[k]), after: String(x[k]) });
        }
      });
      out.push(encodeUsageEntry(next));
    }
  }
  // replicas entries in use with no usage entry yet
  gc.replicas.entries.forEach((e, i) => {
    if (seen.has(i) || !g.replicas[i]) return;
    changes.push({ field: `clean section replicas usage ${replicasText(e)}`, before: '(none)', after: String(big(g.replicas[i]!)) });
    out.push(encodeUsageEntry({ kind: 'data_usage', v: big(g.replicas[i]!), dataType: e.dataType, nrRequired: e.nrRequired, devs: e.devs }));
  });
  return out;
}

/** Every superblock copy rewritten from `bytes` (the new primary), each write covering the old and new length. */
export function superblockWrites(fs: Filesystem, bytes: Uint8Array, field: string, changes: FieldChange[]): PlannedWrite[] {
  return fs.sb.layout.sbOffsets.map((sector, i) => {
    const copy = superblockCopy(bytes, sector);
    const len = Math.max(copy.length, fs.sb.bytes.length);
    const old = new Uint8Array(fs.dev.read(sector * 512, len));
    const next = Uint8Array.from(old);
    next.set(copy);
    return { offset: sector * 512, old, new: next, target: { kind: 'superblock' as const, sector, field }, ...(i === 0 ? { changes } : {}) };
  });
}

function planUsage(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  if (!fs.sb.cleanSection || fs.rootsFrom !== 'clean') {
    for (const f of findings) ctx.noRepair(f.id, 'the filesystem was not cleanly unmounted: its usage is in the journal, which is replayed first');
    return [];
  }
  if (ctx.check.aborted) return [];
  const changes: FieldChange[] = [];
  const usage = findings.filter((f) => (USAGE_CLASSES as readonly string[]).includes(f.class));
  const marks = findings.filter((f) => (REPLICAS_CLASSES as readonly string[]).includes(f.class));
  const fields = sbFieldsOf(fs.sb);
  // the replicas entries to add (replicas_not_marked), to the replicas field as it is stored
  const add: ReplicasEntry[] = [];
  for (const f of marks) {
    const r = f.repair.params?.replicas;
    if (!r) {
      ctx.noRepair(f.id, 'the finding does not say which replicas entry is missing');
      continue;
    }
    const e = { dataType: r.data_type, nrRequired: r.nr_required, devs: [...r.devs].sort((a, b) => a - b) };
    if (!add.some((x) => replicasText(x) === replicasText(e))) add.push(e);
  }
  if (add.length) {
    const at = fields.findIndex((f) => f.type === BCH_SB_FIELD_replicas || f.type === BCH_SB_FIELD_replicas_v0);
    const type = at >= 0 ? fields[at]!.type : BCH_SB_FIELD_replicas;
    const entries = [...fs.sb.replicas.map((e) => ({ ...e })), ...add];
    for (const e of add) changes.push({ field: 'superblock replicas', before: '(absent)', after: replicasText(e) });
    const f = { type, payload: encodeReplicasField(entries, type) };
    if (at >= 0) fields[at] = f;
    else fields.push(f);
  }
  if (usage.length) {
    const at = fields.findIndex((f) => f.type === BCH_SB_FIELD_clean);
    const clean = fs.sb.cleanSection;
    fields[at] = { type: BCH_SB_FIELD_clean, payload: encodeCleanField(clean.flags, clean.journalSeq, cleanEntries(fs, ctx.check, changes)) };
  }
  if (!changes.length) {
    for (const f of findings) ctx.noRepair(f.id, 'the recomputed usage equals what the superblock records: nothing to write');
    return [];
  }
  let bytes: Uint8Array;
  try {
    bytes = encodeSuperblock(fs.sb.bytes, fields);
  } catch (e) {
    for (const f of findings) ctx.noRepair(f.id, (e as Error).message);
    return [];
  }
  const what = [usage.length ? 'usage entries of the clean section' : '', add.length ? 'replicas field' : ''].filter(Boolean).join(' and ');
  return [{
    id: 'usage:superblock',
    title: `Rewrite the superblock's ${what} from the recomputed state (every copy)`,
    summary: `superblock: ${changes.map((c) => `${c.field} ${c.before} -> ${c.after}`).join('; ')}; all ${fs.sb.layout.sbOffsets.length} copies, checksums recomputed`,
    resolves: findings.map((f) => f.id),
    writes: superblockWrites(fs, bytes, what, changes),
    evidence: findings.map((f) => `${f.id}: recorded ${f.actual}, recomputed from every key ${f.expected}`),
    lost: [], kept: [], alternatives: [], dependsOn: [],
  }];
}

export const usagePlanner: Planner = { name: 'usage and replicas', classes: [...USAGE_CLASSES, ...REPLICAS_CLASSES], order: 50, plan: planUsage };
