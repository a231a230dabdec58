// An unreadable leaf brought back from older copies of it (older-copies.ts): the newest copy covering each
// part of the lost range gives its live keys there, except keys with a pointer that is stale against
// today's bucket gens (the bucket was reused since); they go into a new node in the lost node's place.
// What no copy holds (keys added after the newest copy was written) is lost, and the plan says so.
import type { Filesystem } from '../btree/fs.js';
import type { CheckResult } from '../check/index.js';
import { genCmp } from '../check/buckets.js';
import { bposCmp, bposToText } from '../format/bpos.js';
import type { BkeyFormat } from '../format/bkey.js';
import { bkeyFormatFor } from '../format/encode-new-node.js';
import { bkeyFields, type BkeyFields } from '../format/encode-key.js';
import { KEY_TYPE_extent, KEY_TYPE_reflink_v } from '../format/names.js';
import { bkeyValToText } from '../format/print.js';
import { BCH_EXTENT_ENTRY_ptr, ExtentEntryIter } from '../format/values.js';
import { handRangeToSibling, rangeText, writeNewNode, type LostNode } from './nodes-lost.js';
import { readCopy, spansFor, type FoundNode } from './older-copies.js';
import { survivingBsets } from './nodes-tail.js';
import type { RepairFix } from './types.js';

interface Restored {
  keys: { fields: BkeyFields; value: Uint8Array }[];
  texts: string[];
  rejected: string[];
  evidence: string[];
  nodeSeq: number;
  journalSeq: bigint;
  /** the newest journal seq of the lost node's own surviving bsets, when some were read */
  tailSeq?: bigint;
}

/** The gen a pointer into bucket b must carry today: the alloc key's where it was read, else the recomputed one. */
function bucketGen(check: CheckResult, dev: number, b: number): number | undefined {
  const d = check.gc.devs[dev];
  if (!d || b >= d.nbuckets) return undefined;
  return d.aGenValid[b] && !d.aUnknown[b] ? d.aGen[b]! : d.genValid[b] ? d.gen[b]! : undefined;
}

/** Why a copy's key cannot come back, or undefined: a pointer into a bucket reused since (gen moved on). */
function staleReason(check: CheckResult, it: ExtentEntryIter, bucketSize: number): string | undefined {
  for (let e = it.next(); e >= 0; e = it.next()) {
    if (e !== BCH_EXTENT_ENTRY_ptr) continue;
    const b = Math.floor(it.ptrOffset / bucketSize);
    const g = bucketGen(check, it.ptrDev, b);
    if (g === undefined) return `pointer into bucket ${it.ptrDev}:${b}, which does not exist`;
    if (genCmp(g, it.ptrGen) > 0 && !it.ptrCached) return `stale: pointer gen ${it.ptrGen}, bucket ${it.ptrDev}:${b} is at gen ${g}`;
  }
  return undefined;
}

function restoreKeys(fs: Filesystem, check: CheckResult, lost: LostNode, found: readonly FoundNode[]): Restored {
  const spans = spansFor(found, lost.btreeId, lost.level, lost.minKey, lost.maxKey, new Set([lost.sector]));
  const bucketSize = fs.sb.members[fs.sb.devIdx]!.bucketSize;
  const it = new ExtentEntryIter();
  const out: Restored = { keys: [], texts: [], rejected: [], evidence: [], nodeSeq: 0, journalSeq: 0n };
  const formats: BkeyFormat[] = [];
  for (const s of spans) {
    const n = readCopy(fs, s.copy.sector);
    if (!n) continue;
    formats.push(n.format);
    const t = n.keys;
    let taken = 0;
    for (let k = 0; k < n.liveCount; k++) {
      const r = n.live[k]!;
      const pos = t.pos(r);
      if (bposCmp(pos, s.min) < 0 || bposCmp(pos, s.max) > 0) continue;
      let why: string | undefined;
      if (t.type[r] === KEY_TYPE_extent || t.type[r] === KEY_TYPE_reflink_v) {
        it.set(t.buf, t.valOff[r]! + (t.type[r] === KEY_TYPE_reflink_v ? 8 : 0), t.valOff[r]! + t.valLen[r]!, t.size[r]!);
        why = staleReason(check, it, bucketSize);
      }
      const text = bkeyValToText(t, r);
      if (why) {
        out.rejected.push(`${text} (${why})`);
        continue;
      }
      out.keys.push({ fields: bkeyFields(t, r), value: new Uint8Array(t.value(r)) });
      out.texts.push(text);
      taken++;
    }
    if (s.copy.nodeSeq > out.nodeSeq) out.nodeSeq = s.copy.nodeSeq;
    if (s.copy.journalSeq > out.journalSeq) out.journalSeq = s.copy.journalSeq;
    out.evidence.push(
      `older copy at sector ${s.copy.sector} (node seq ${s.copy.nodeSeq}, journal seq ${s.copy.journalSeq}, range ${rangeText(s.copy.minKey, s.copy.maxKey)}, ` +
        `every checksum valid) is the newest covering ${rangeText(s.min, s.max)}: ${taken} live keys there`,
    );
  }
  addSurvivingBsets(fs, check, lost, out, formats);
  return out;
}

/** The lost node's own later bsets laid over what the copies gave: newer, they win at their positions, and their deletions delete. */
function addSurvivingBsets(fs: Filesystem, check: CheckResult, lost: LostNode, out: Restored, copyFormats: BkeyFormat[]): void {
  const formats = [...(out.keys.length ? [bkeyFormatFor(out.keys.map((k) => k.fields), [lost.minKey, lost.maxKey])] : []), ...copyFormats];
  const tail = survivingBsets(fs, lost, formats);
  if (!tail) return;
  const bucketSize = fs.sb.members[fs.sb.devIdx]!.bucketSize;
  const it = new ExtentEntryIter();
  const byPos = new Map<string, { fields: BkeyFields; value: Uint8Array; text: string }>();
  out.keys.forEach((k, i) => byPos.set(bposToText(k.fields.pos), { ...k, text: out.texts[i]! }));
  const t = tail.node.keys;
  let added = 0;
  let deleted = 0;
  for (let r = 0; r < t.n; r++) {
    const pos = bposToText(t.pos(r));
    if (t.whiteout(r)) {
      if (byPos.delete(pos)) deleted++;
      continue;
    }
    const text = bkeyValToText(t, r);
    if (t.type[r] === KEY_TYPE_extent) {
      it.set(t.buf, t.valOff[r]!, t.valOff[r]! + t.valLen[r]!, t.size[r]!);
      const why = staleReason(check, it, bucketSize);
      if (why) {
        out.rejected.push(`${text} (${why})`);
        continue;
      }
    }
    byPos.set(pos, { fields: bkeyFields(t, r), value: new Uint8Array(t.value(r)), text });
    added++;
  }
  const merged = [...byPos.values()].sort((a, b) => bposCmp(a.fields.pos, b.fields.pos));
  out.keys = merged.map(({ fields, value }) => ({ fields, value }));
  out.texts = merged.map((k) => k.text);
  if (tail.newestJournalSeq > out.journalSeq) out.journalSeq = tail.newestJournalSeq;
  out.tailSeq = tail.newestJournalSeq;
  out.evidence.push(
    `${tail.offsets.length} later bsets of the lost node itself survive (at bytes ${tail.offsets.join(', ')}, the pointer's seq, checksums valid, ` +
      `journal seq up to ${tail.newestJournalSeq}): ${added} keys from them override the copies', ${deleted} copy keys they delete are left out`,
  );
}

/**
 * The fix for an unreadable leaf: restored from older copies where they hold keys of its range (the
 * siblings-take-over fallback as the alternative), else only the fallback.
 */
export function planLostLeaf(fs: Filesystem, check: CheckResult, lost: LostNode, found: readonly FoundNode[]): RepairFix | undefined {
  const r = restoreKeys(fs, check, lost, found);
  const why = `the ${lost.btree} leaf at sector ${lost.sector} (${rangeText(lost.minKey, lost.maxKey)}) cannot be read: ${lost.finding.log_message?.split('\n').pop()?.trim() ?? 'unreadable'}`;
  const unknown = r.keys.length
    ? r.tailSeq !== undefined
      ? 'keys of the lost node\'s destroyed first bset that no older copy holds: they cannot be listed'
      : `any key written to the lost node after journal seq ${r.journalSeq} (the newest copy's): the node is unreadable, so they cannot be listed`
    : 'every key of the lost node: no older copy of its range was found, and the node is unreadable, so they cannot be listed';
  const dropEvidence = [why, r.keys.length ? `dropping it loses the ${r.keys.length} keys older copies still hold` : 'no older copy of its range was found on the device'];
  const drop = handRangeToSibling(fs, lost, [...r.texts, ...r.rejected, unknown], dropEvidence);
  if (!r.keys.length) return drop;
  const fix: RepairFix = {
    id: `restore-node:${lost.btree}:${lost.sector}`,
    title: `Restore the unreadable ${lost.btree} leaf at sector ${lost.sector} from older copies${r.tailSeq !== undefined ? ' and its own surviving bsets' : ''} (${r.keys.length} keys)`,
    resolves: [lost.finding.id],
    writes: writeNewNode(fs, lost, r.keys, r.nodeSeq + 1, r.journalSeq, 'restore'),
    summary: `new ${lost.btree} leaf (min_key ${rangeText(lost.minKey, lost.maxKey)}) written at sector ${lost.sector} with ${r.keys.length} keys ` +
      `from older copies; the parent's btree_ptr_v2 seq set to the new node's`,
    evidence: [
      why,
      ...r.evidence,
      ...(r.rejected.length ? [`${r.rejected.length} keys of the copies not brought back: their pointers are stale against today's bucket gens`] : []),
      'written in the lost node\'s own place: its bucket is already btree data with these sectors, so alloc and usage stay as they are',
    ],
    lost: [...r.rejected, unknown],
    kept: [`${r.keys.length} keys of ${rangeText(lost.minKey, lost.maxKey)} come back from older copies; bcachefs 2021 fsck -y drops the node's pointer and loses them all`],
    alternatives: drop ? [drop] : [],
    dependsOn: [],
  };
  return fix;
}
