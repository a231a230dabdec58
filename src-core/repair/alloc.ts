// Alloc keys: where each bucket's key sits, and the planner that rewrites a key from the recomputed gc state
// (bucket_gen / bucket_data_type / dirty / cached sectors / oldest_gen). It runs after the pointer and gen
// repairs (a later round), so the state it copies is the one those repairs leave. Like bch2_gc_done + bch2_alloc_write
// it takes gc's view; unlike them it writes each changed alloc leaf once, in place, through the journal.
import type { Filesystem } from '../btree/fs.js';
import { BtreeWalk } from '../btree/walk.js';
import type { Finding } from '../check/index.js';
import type { AllocFields } from '../check/findings.js';
import { encodeAllocV2 } from '../format/encode-value.js';
import { BCH_DATA_TYPES, BTREE_ID_alloc, KEY_TYPE_alloc_v2 } from '../format/names.js';
import { allocUnpack, newAllocUnpacked, type AllocUnpacked } from '../format/values.js';
import { EditsByNode, liveRowAt } from './edit.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

/** Where one bucket's alloc key is: its leaf and byte offset, and the key as it reads. */
export interface AllocKeyAt {
  sector: number;
  keyOffset: number;
  type: number;
  value: AllocUnpacked;
}

/** The alloc keys of the opened device, by bucket (keys only in the journal are not here: they cannot be rewritten in place). */
export function allocKeys(fs: Filesystem): Map<number, AllocKeyAt> {
  const out = new Map<number, AllocKeyAt>();
  if (fs.roots[BTREE_ID_alloc]?.fake) return out;
  const w = new BtreeWalk(fs, BTREE_ID_alloc);
  for (let s = w.next(); s; s = w.next()) {
    if (s.repeat || s.node.level !== 0 || !s.node.readable) continue;
    const n = s.node;
    const t = n.keys;
    for (let k = 0; k < n.liveCount; k++) {
      const row = n.live[k]!;
      const p = t.pos(row);
      if (p.inode !== BigInt(fs.sb.devIdx)) continue;
      const v = newAllocUnpacked();
      const val = t.value(row);
      allocUnpack(t.type[row]!, val, 0, val.length, v);
      out.set(Number(p.offset), { sector: n.sector, keyOffset: t.keyOff[row]!, type: t.type[row]!, value: v });
    }
  }
  return out;
}

const dt = (t: number): string => BCH_DATA_TYPES[t] ?? String(t);

/** The alloc key fields, as text for the changes list. */
function fieldsText(a: AllocUnpacked): Record<string, string> {
  return {
    gen: String(a.gen), oldest_gen: String(a.oldestGen), data_type: dt(a.dataType),
    dirty_sectors: String(a.dirtySectors), cached_sectors: String(a.cachedSectors),
  };
}

/**
 * Adds the rewrite of bucket `bucket`'s alloc key to `edits` with `change` applied; undefined when done, else
 * why it cannot be (no key in a node, an old alloc v1 key).
 */
export function editAllocKey(fs: Filesystem, edits: EditsByNode, keys: Map<number, AllocKeyAt>, bucket: number, change: Partial<AllocUnpacked>): string | undefined {
  const at = keys.get(bucket);
  if (!at) return `bucket ${fs.sb.devIdx}:${bucket} has no alloc key in a btree node (absent, or only in the journal): nothing to rewrite in place`;
  if (at.type !== KEY_TYPE_alloc_v2) return `bucket ${fs.sb.devIdx}:${bucket}'s alloc key is type ${at.type}, not alloc_v2: rewriting it would change its type`;
  const e = edits.at(BTREE_ID_alloc, 0, at.sector);
  if (liveRowAt(e.node, at.keyOffset) < 0) return `the alloc key of bucket ${bucket} is no longer at byte ${at.keyOffset} of node ${at.sector}`;
  const before = at.value;
  const after = { ...before, ...change };
  const b = fieldsText(before);
  const a = fieldsText(after);
  for (const f of Object.keys(a)) {
    if (a[f] !== b[f]) e.changes.push({ field: `alloc ${fs.sb.devIdx}:${bucket} ${f}`, before: b[f]!, after: a[f]! });
  }
  e.edits.push({ kind: 'value', keyOffset: at.keyOffset, value: encodeAllocV2(after) });
  at.value = after; // a second change to the same key in this plan starts from this one
  return undefined;
}

const ALLOC_CLASSES = ['bucket_gen', 'bucket_data_type', 'bucket_dirty_sectors', 'bucket_cached_sectors', 'bucket_oldest_gen', 'bucket_stripe'] as const;

function planAlloc(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  const keys = allocKeys(fs);
  // one fix per alloc leaf: every bucket of that leaf with a finding
  const byBucket = new Map<number, { fields: AllocFields; findings: Finding[] }>();
  for (const f of findings) {
    const b = f.location.bucket;
    const fields = f.repair.params?.alloc;
    if (b === undefined || f.location.dev !== fs.sb.devIdx || !fields) {
      ctx.noRepair(f.id, 'the finding names no bucket of the opened device with recomputed fields');
      continue;
    }
    const e = byBucket.get(b) ?? { fields, findings: [] };
    e.findings.push(f);
    byBucket.set(b, e);
  }
  const leaves = new Map<number, { edits: EditsByNode; buckets: number[]; findings: Finding[] }>();
  for (const [b, { fields, findings: fb }] of byBucket) {
    const at = keys.get(b);
    const leaf = at?.sector ?? -1;
    const l = leaves.get(leaf) ?? { edits: new EditsByNode(fs), buckets: [], findings: [] };
    const why = editAllocKey(fs, l.edits, keys, b, {
      gen: fields.gen, oldestGen: fields.oldest_gen, dataType: fields.data_type, dirtySectors: fields.dirty_sectors, cachedSectors: fields.cached_sectors,
    });
    if (why) {
      for (const f of fb) ctx.noRepair(f.id, why);
      continue;
    }
    l.buckets.push(b);
    l.findings.push(...fb);
    leaves.set(leaf, l);
  }
  const out: RepairFix[] = [];
  for (const [leaf, l] of leaves) {
    const buckets = l.buckets.map((b) => `${fs.sb.devIdx}:${b}`).join(', ');
    const writes = l.edits.all.map((e) => e.write(fs, `alloc keys of bucket${l.buckets.length > 1 ? 's' : ''} ${buckets}`));
    out.push({
      id: `alloc:${leaf}`,
      title: `Rewrite the alloc key${l.buckets.length > 1 ? 's' : ''} of bucket${l.buckets.length > 1 ? 's' : ''} ${buckets} from the recomputed state`,
      summary: `alloc btree leaf at sector ${leaf}: bch_alloc_v2 fields set to what mark and sweep recomputes from every pointer`,
      resolves: l.findings.map((f) => f.id),
      writes,
      evidence: l.findings.map((f) => `${f.id}: ${f.field ?? f.class} is ${f.actual}, the pointers into the bucket say ${f.expected}`),
      lost: [], kept: [], alternatives: [], dependsOn: [],
    });
  }
  return out;
}

export const allocPlanner: Planner = { name: 'alloc keys', classes: ALLOC_CLASSES, order: 40, plan: planAlloc };
