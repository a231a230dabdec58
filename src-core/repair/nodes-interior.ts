// An interior node rebuilt over its children: when a node is unreadable or reads with no keys, its children
// are usually intact, so the nodes of that btree one level down found on the device (older-copies.ts) whose
// ranges tile the node's range, the newest for each part and none that a live node already points to, get a
// btree_ptr_v2 each (as node_scan.c's found_btree_node_to_key makes them) in a new node written where the
// node was. Rebuilt only when the found children cover the range exactly, each with its own whole range (a
// child that would need its range cut is a topology repair of its own); else the range goes to a sibling
// (an unreadable node here, an empty one in topology.ts) and everything below the node is lost.
import { BtreeWalk, btreePtrFromKey, type Filesystem } from '../btree/fs.js';
import type { CheckResult } from '../check/index.js';
import { bposCmp, bposEq, bposSuccessor } from '../format/bpos.js';
import { encodeBtreePtrV2, encodeExtentPtr } from '../format/encode-value.js';
import { KEY_TYPE_btree_ptr_v2 } from '../format/names.js';
import { handRangeToSibling, rangeText, writeNewNode, type LostNode } from './nodes-lost.js';
import { spansFor, type FoundNode } from './older-copies.js';
import type { RepairFix } from './types.js';

/** Why the node needs rebuilding, for the evidence: unreadable, or read with no keys (btree_node_empty). */
export function whyRebuild(lost: LostNode): string {
  const state = lost.finding.class === 'btree_node_empty' ? 'has no keys' : 'cannot be read';
  return `the ${lost.btree} level ${lost.level} node at sector ${lost.sector} (${rangeText(lost.minKey, lost.maxKey)}) ${state}`;
}

/** Sectors of the nodes at `level` that the btree's live nodes point to (only interior nodes are read). */
function reachedAt(fs: Filesystem, btreeId: number, level: number): Set<number> {
  const out = new Set<number>();
  const w = new BtreeWalk(fs, btreeId, { depth: level + 1 });
  for (let s = w.next(); s; s = w.next()) {
    if (s.repeat || s.level !== level + 1) continue;
    for (let k = 0; k < s.keys.count; k++) {
      const p = btreePtrFromKey(s.keys.table(k), s.keys.row(k))?.ptrs[0];
      if (p) out.add(p.offset);
    }
  }
  return out;
}

/** Why no rebuild was planned, and how many nodes were found in the range (their keys are what the fallback loses). */
export interface NoRebuild {
  reason: string;
  found: number;
}

/** The fix writing a new node over `lost`'s range with a pointer to each child found, or why there is none. */
export function rebuildOverChildren(fs: Filesystem, check: CheckResult, lost: LostNode, found: readonly FoundNode[]): { fix: RepairFix; found: number } | NoRebuild {
  const exclude = reachedAt(fs, lost.btreeId, lost.level - 1);
  exclude.add(lost.sector);
  const spans = spansFor(found, lost.btreeId, lost.level - 1, lost.minKey, lost.maxKey, exclude);
  const children = `${lost.btree} level ${lost.level - 1} nodes`;
  const range = rangeText(lost.minKey, lost.maxKey);
  if (!spans.length) return { reason: `no ${children} that no live node points to were found on the device in ${range}`, found: 0 };
  let next: typeof lost.minKey | undefined = lost.minKey;
  let tiles = true;
  for (const s of spans) {
    if (!next || !bposEq(s.min, next) || !bposEq(s.min, s.copy.minKey) || !bposEq(s.max, s.copy.maxKey)) tiles = false;
    next = bposSuccessor(s.max);
  }
  if (!tiles || bposCmp(spans[spans.length - 1]!.max, lost.maxKey) !== 0) {
    return { reason: `the ${spans.length} ${children} found on the device in ${range} do not cover it exactly, each with its own range`, found: spans.length };
  }
  const d = check.gc.devs[fs.sb.devIdx];
  const keys = spans.map((s) => {
    const b = d ? d.bucketOf(s.copy.sector) : 0;
    const gen = d ? (d.aGenValid[b] ? d.aGen[b]! : d.gen[b]!) : 0;
    return {
      fields: { type: KEY_TYPE_btree_ptr_v2, needsWhiteout: false, pos: s.copy.maxKey, size: 0, versionHi: 0, versionLo: 0n },
      value: encodeBtreePtrV2({
        memPtr: 0n, seq: s.copy.seq, sectorsWritten: 0, flags: 0, minKey: s.copy.minKey,
        entries: encodeExtentPtr({ dev: fs.sb.devIdx, offset: s.copy.sector, gen, cached: false }),
      }),
    };
  });
  const journalSeq = spans.reduce((m, s) => (s.copy.journalSeq > m ? s.copy.journalSeq : m), 0n);
  const nodeSeq = 1 + spans.reduce((m, s) => Math.max(m, s.copy.nodeSeq), 0);
  const state = lost.finding.class === 'btree_node_empty' ? 'empty' : 'unreadable';
  const fix: RepairFix = {
    id: `rebuild-interior:${lost.btree}:${lost.sector}`,
    title: `Rebuild the ${state} ${lost.btree} level ${lost.level} node at sector ${lost.sector} over its ${keys.length} children found on the device`,
    resolves: [lost.finding.id],
    writes: writeNewNode(fs, lost, keys, nodeSeq, journalSeq, 'interior'),
    summary: `new ${lost.btree} level ${lost.level} node (${range}) at sector ${lost.sector} with a btree_ptr_v2 to each ` +
      'child found; the parent\'s btree_ptr_v2 seq set to the new node\'s',
    evidence: [
      whyRebuild(lost),
      ...spans.map((s) => `level ${lost.level - 1} node at sector ${s.copy.sector} (node seq ${s.copy.nodeSeq}, journal seq ${s.copy.journalSeq}, ${s.copy.liveKeys} keys) ` +
        `is the newest node found for ${rangeText(s.min, s.max)}, every checksum valid, and no live node points to it`),
      'the children tile the range exactly, each with its own range, so no child needs its range changed',
    ],
    lost: [],
    kept: [`every key below the node, in ${keys.length} child nodes; bcachefs 2021 drops the pointer and loses them all`],
    alternatives: [],
    dependsOn: [],
  };
  return { fix, found: spans.length };
}

export function planLostInterior(fs: Filesystem, check: CheckResult, lost: LostNode, found: readonly FoundNode[]): RepairFix | undefined {
  const r = rebuildOverChildren(fs, check, lost, found);
  if ('fix' in r) return r.fix;
  return handRangeToSibling(fs, lost, [`every key below the lost node (${rangeText(lost.minKey, lost.maxKey)}): ${r.reason}`], [whyRebuild(lost)]);
}
