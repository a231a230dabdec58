// An unreadable interior node rebuilt over its children: they are usually intact, so the nodes of that
// btree one level down found on the device (older-copies.ts) whose ranges tile the lost range, the newest
// for each part, get a btree_ptr_v2 each (as node_scan.c's found_btree_node_to_key makes them) in a new
// node written where the lost one was. Rebuilt only when the found children cover the range exactly, each
// with its own whole range (a child that would need its range cut is a topology repair of its own); else
// the range goes to a sibling and everything below the node is lost.
import type { Filesystem } from '../btree/fs.js';
import type { CheckResult } from '../check/index.js';
import { bposCmp, bposEq, bposSuccessor } from '../format/bpos.js';
import { encodeBtreePtrV2, encodeExtentPtr } from '../format/encode-value.js';
import { KEY_TYPE_btree_ptr_v2 } from '../format/names.js';
import { handRangeToSibling, rangeText, writeNewNode, type LostNode } from './nodes-lost.js';
import { spansFor, type FoundNode } from './older-copies.js';
import type { RepairFix } from './types.js';

export function planLostInterior(fs: Filesystem, check: CheckResult, lost: LostNode, found: readonly FoundNode[]): RepairFix | undefined {
  const spans = spansFor(found, lost.btreeId, lost.level - 1, lost.minKey, lost.maxKey, new Set([lost.sector]));
  const why = `the ${lost.btree} level ${lost.level} node at sector ${lost.sector} (${rangeText(lost.minKey, lost.maxKey)}) cannot be read`;
  let next: typeof lost.minKey | undefined = lost.minKey;
  let tiles = spans.length > 0;
  for (const s of spans) {
    if (!next || !bposEq(s.min, next) || !bposEq(s.min, s.copy.minKey) || !bposEq(s.max, s.copy.maxKey)) tiles = false;
    next = bposSuccessor(s.max);
  }
  if (!tiles || bposCmp(spans[spans.length - 1]!.max, lost.maxKey) !== 0) {
    return handRangeToSibling(fs, lost, [`every key below the lost node (${rangeText(lost.minKey, lost.maxKey)}): its children found on the device do not cover its range`], [why]);
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
  return {
    id: `rebuild-interior:${lost.btree}:${lost.sector}`,
    title: `Rebuild the unreadable ${lost.btree} level ${lost.level} node at sector ${lost.sector} over its ${keys.length} children found on the device`,
    resolves: [lost.finding.id],
    writes: writeNewNode(fs, lost, keys, nodeSeq, journalSeq, 'interior'),
    summary: `new ${lost.btree} level ${lost.level} node (${rangeText(lost.minKey, lost.maxKey)}) at sector ${lost.sector} with a btree_ptr_v2 to each ` +
      'child found; the parent\'s btree_ptr_v2 seq set to the new node\'s',
    evidence: [
      why,
      ...spans.map((s) => `level ${lost.level - 1} node at sector ${s.copy.sector} (node seq ${s.copy.nodeSeq}, journal seq ${s.copy.journalSeq}, ${s.copy.liveKeys} keys) ` +
        `is the newest node found for ${rangeText(s.min, s.max)}, every checksum valid`),
      'the children tile the lost range exactly, each with its own range, so no child needs its range changed',
    ],
    lost: [],
    kept: [`every key below the lost node, in ${keys.length} child nodes; bcachefs 2021 drops the pointer and loses them all`],
    alternatives: [],
    dependsOn: [],
  };
}
