// An unreadable alloc leaf rebuilt from the mark and sweep state: what each bucket of its range holds is what
// marking every pointer gives (CheckResult.gc, the state bch2_gc_done would write), so the counts need no
// older copy. An older copy still gives what marking cannot: the gens of buckets no pointer reaches any more,
// and read/write times. A gen comes from the newer of the copy and the pointers.
import type { Filesystem } from '../btree/fs.js';
import type { CheckResult } from '../check/index.js';
import { genCmp } from '../check/buckets.js';
import { bposCmp, type Bpos } from '../format/bpos.js';
import type { BkeyFields } from '../format/encode-key.js';
import { encodeAllocV2 } from '../format/encode-value.js';
import { KEY_TYPE_alloc_v2 } from '../format/names.js';
import { allocUnpack, newAllocUnpacked, type AllocUnpacked } from '../format/values.js';
import { rangeText, writeNewNode, type LostNode } from './nodes-lost.js';
import { readCopy, spansFor, type FoundNode } from './older-copies.js';
import type { RepairFix } from './types.js';

export function planLostAllocLeaf(fs: Filesystem, check: CheckResult, lost: LostNode, found: readonly FoundNode[]): RepairFix | undefined {
  const dev = fs.sb.devIdx;
  const d = check.gc.devs[dev];
  if (!d || check.aborted) return undefined;
  // what older copies say per bucket (newest copy per part of the range)
  const fromCopy = new Map<number, AllocUnpacked>();
  const evidence: string[] = [];
  let nodeSeq = 0;
  let journalSeq = 0n;
  for (const s of spansFor(found, lost.btreeId, 0, lost.minKey, lost.maxKey, new Set([lost.sector]))) {
    const n = readCopy(fs, s.copy.sector);
    if (!n) continue;
    let k0 = 0;
    for (let k = 0; k < n.liveCount; k++) {
      const r = n.live[k]!;
      const pos = n.keys.pos(r);
      if (bposCmp(pos, s.min) < 0 || bposCmp(pos, s.max) > 0 || pos.inode !== BigInt(dev)) continue;
      const a = newAllocUnpacked();
      if (allocUnpack(n.keys.type[r]!, n.keys.buf, n.keys.valOff[r]!, n.keys.valLen[r]!, a)) {
        fromCopy.set(Number(pos.offset), a);
        k0++;
      }
    }
    nodeSeq = Math.max(nodeSeq, s.copy.nodeSeq);
    if (s.copy.journalSeq > journalSeq) journalSeq = s.copy.journalSeq;
    evidence.push(`older copy at sector ${s.copy.sector} (node seq ${s.copy.nodeSeq}, journal seq ${s.copy.journalSeq}) gives gens and times of ${k0} buckets in ${rangeText(s.min, s.max)}`);
  }
  const keys: { fields: BkeyFields; value: Uint8Array }[] = [];
  let fromGc = 0;
  for (let b = 0; b < d.nbuckets; b++) {
    const pos: Bpos = { inode: BigInt(dev), offset: BigInt(b), snapshot: 0 };
    if (bposCmp(pos, lost.minKey) < 0 || bposCmp(pos, lost.maxKey) > 0) continue;
    const c = fromCopy.get(b);
    const marked = d.dataType[b] || d.dirty[b] || d.cached[b] || d.stripe[b];
    if (!c && !marked && !d.gen[b]) continue; // an empty bucket at gen 0 needs no key
    const a = c ? { ...c } : newAllocUnpacked();
    const gcGen = d.gen[b]!;
    if (!c || genCmp(gcGen, a.gen) > 0) a.gen = gcGen;
    if (genCmp(a.oldestGen, a.gen) > 0) a.oldestGen = a.gen;
    a.dataType = d.dataType[b]!;
    a.dirtySectors = d.dirty[b]!;
    a.cachedSectors = d.cached[b]!;
    a.stripe = d.stripe[b]!;
    if (marked) fromGc++;
    keys.push({ fields: { type: KEY_TYPE_alloc_v2, needsWhiteout: false, pos, size: 0, versionHi: 0, versionLo: 0n }, value: encodeAllocV2(a) });
  }
  if (!keys.length) return undefined;
  if (!journalSeq) journalSeq = fs.sb.cleanSection?.journalSeq ?? 0n;
  return {
    id: `rebuild-alloc:${lost.sector}`,
    title: `Rebuild the unreadable alloc leaf at sector ${lost.sector} from mark and sweep (${keys.length} alloc keys)`,
    resolves: [lost.finding.id],
    writes: writeNewNode(fs, lost, keys, nodeSeq + 1, journalSeq, 'alloc'),
    summary: `new alloc leaf (${rangeText(lost.minKey, lost.maxKey)}) at sector ${lost.sector}: ${keys.length} alloc_v2 keys with data_type, dirty and ` +
      `cached sectors as marking every pointer gives them; the parent's btree_ptr_v2 seq set to the new node's`,
    evidence: [
      `the alloc leaf at sector ${lost.sector} cannot be read, so bcachefs 2021 stops before mark and sweep ("error reading allocation information")`,
      `${fromGc} buckets of its range hold data according to mark and sweep over every btree (the alloc btree is not needed for that)`,
      ...evidence,
      'gens: the newer of the older copy\'s and the pointers\' (a bucket\'s gen only grows); oldest_gen kept from the copy, not above gen',
      'written in the lost node\'s own place: its bucket is already btree data with these sectors',
    ],
    lost: [],
    kept: [`every bucket of ${rangeText(lost.minKey, lost.maxKey)} gets its alloc key back; bcachefs 2021 cannot recover without --reconstruct_alloc`],
    alternatives: [],
    dependsOn: [],
  };
}
