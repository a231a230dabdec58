// What the node planners share about one lost (unreadable) node: where it is, the parent pointer to it and
// its siblings, and the two ways a lost node's place is filled: a new node written over it (restored or
// rebuilt keys), or its range handed to a sibling when nothing can be brought back.
import { createHash } from 'node:crypto';
import { btreePtrFromKey, type Filesystem } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import type { Finding } from '../check/index.js';
import { bposToText, type Bpos } from '../format/bpos.js';
import type { BkeyFields } from '../format/encode-key.js';
import { newNode } from '../format/encode-new-node.js';
import { encodeBtreePtrV2, readBtreePtrV2Value } from '../format/encode-value.js';
import { btreeName } from '../format/names.js';
import type { BtreePtr } from '../format/values.js';
import type { PlannedWrite } from '../journal/plan.js';
import { NodeEdits, liveRowAt, nodeGeometry, readNodeAtSector } from './edit.js';
import type { RepairFix } from './types.js';

export interface LostNode {
  finding: Finding;
  btreeId: number;
  btree: string;
  level: number;
  sector: number;
  parent: BtreeNode;
  /** the parent's live row pointing at the lost node */
  row: number;
  ptr: BtreePtr;
  minKey: Bpos;
  maxKey: Bpos;
}

/** The lost node a node finding names, with its parent as it reads now; undefined for a root (no parent). */
export function lostNodeOf(fs: Filesystem, f: Finding): LostNode | undefined {
  const loc = f.location;
  if (loc.btree_id === undefined || loc.level === undefined || !loc.node || !loc.parent || loc.key?.byte_offset === undefined) return undefined;
  const parent = readNodeAtSector(fs, loc.btree_id, loc.level + 1, loc.parent.sector);
  const row = liveRowAt(parent, loc.key.byte_offset);
  const ptr = row >= 0 ? btreePtrFromKey(parent.keys, row) : undefined;
  if (!ptr?.minKey || ptr.ptrs[0]?.offset !== loc.node.sector) return undefined;
  return {
    finding: f, btreeId: loc.btree_id, btree: btreeName(loc.btree_id), level: loc.level, sector: loc.node.sector, parent, row, ptr,
    minKey: ptr.minKey, maxKey: ptr.maxKey,
  };
}

export function rangeText(min: Bpos, max: Bpos): string {
  return `${bposToText(min)} .. ${bposToText(max)}`;
}

/** A new bset seq for a node written in a lost node's place: bcachefs picks a random one; ours is derived, so a plan is reproducible. */
function freshSeq(lost: LostNode, salt: string): bigint {
  const h = createHash('sha256').update(`${lost.sector}:${lost.ptr.seq ?? 0n}:${salt}`).digest();
  const v = h.readBigUInt64LE(0) | 1n;
  return v === lost.ptr.seq ? v ^ 2n : v;
}

/**
 * A new node with `keys` over the lost node's range, written where the lost node was, and the parent's
 * pointer given the new node's seq (bcachefs reads a node only if its bset seq is the pointer's).
 * Why in the lost node's place and not in a free bucket: that bucket is already counted as btree data with
 * exactly this node's sectors and the pointer's gen is its gen, so nothing in the alloc btree or the usage
 * changes; a free bucket would need an alloc key, a usage update and the old bucket freed, three more
 * writes for the same result. The node's later blocks (bsets of the lost node under the old seq) are left
 * as they are: a bset whose seq is not the node's is not read.
 */
export function writeNewNode(
  fs: Filesystem, lost: LostNode, keys: readonly { fields: BkeyFields; value: Uint8Array }[], nodeSeq: number, journalSeq: bigint, salt: string,
): PlannedWrite[] {
  const sb = fs.sb;
  const geo = nodeGeometry(fs);
  const seq = freshSeq(lost, salt);
  const bytes = newNode({
    magic: sb.bsetMagic, btreeId: lost.btreeId, level: lost.level, nodeSeq, seq, minKey: lost.minKey, maxKey: lost.maxKey,
    journalSeq, version: sb.version, csumType: sb.metaCsumType, keys,
  }, geo);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  end = Math.max(geo.blockBytes, Math.ceil(end / geo.blockBytes) * geo.blockBytes);
  const old = new Uint8Array(fs.dev.read(lost.sector * 512, end));
  const node: PlannedWrite = {
    offset: lost.sector * 512, old, new: bytes.slice(0, end),
    target: { kind: 'node', btree: lost.btree, level: lost.level, sector: lost.sector, what: `new node over ${rangeText(lost.minKey, lost.maxKey)}` },
    changes: [{ field: 'node', before: lost.finding.class === 'btree_node_empty' ? 'no keys' : 'unreadable', after: `${keys.length} keys, seq ${seq.toString(16)}, node seq ${nodeSeq}` }],
  };
  const p = new NodeEdits(lost.parent);
  const v = readBtreePtrV2Value(lost.parent.keys.value(lost.row));
  p.add(
    { kind: 'value', keyOffset: lost.parent.keys.keyOff[lost.row]!, value: encodeBtreePtrV2({ ...v, seq }) },
    { field: `btree_ptr_v2 ${bposToText(lost.maxKey)} seq`, before: v.seq.toString(16), after: seq.toString(16) },
  );
  return [node, p.write(fs, `pointer to the new node at sector ${lost.sector}`)];
}

/**
 * The fallback when nothing of the lost node can be brought back (bcachefs 2021's own repair, made so that
 * the siblings stay contiguous): the previous sibling takes the lost range (its max_key becomes the lost
 * node's; the parent's pointer at the lost max_key now points to it, its old pointer goes), or, for a first
 * child, the next sibling (its min_key becomes the lost node's). Undefined for an only child.
 */
export function handRangeToSibling(fs: Filesystem, lost: LostNode, lostKeys: string[], evidence: string[]): RepairFix | undefined {
  const par = lost.parent;
  let k = 0;
  while (k < par.liveCount && par.live[k] !== lost.row) k++;
  const prevRow = k > 0 ? par.live[k - 1]! : -1;
  const nextRow = k + 1 < par.liveCount ? par.live[k + 1]! : -1;
  const sib = prevRow >= 0 ? prevRow : nextRow;
  const sibPtr = sib >= 0 ? btreePtrFromKey(par.keys, sib) : undefined;
  if (!sibPtr?.ptrs[0] || !sibPtr.minKey) return undefined;
  const sibNode = new NodeEdits(readNodeAtSector(fs, lost.btreeId, lost.level, sibPtr.ptrs[0].offset));
  const p = new NodeEdits(par);
  const off = (row: number): number => par.keys.keyOff[row]!;
  if (sib === prevRow) {
    sibNode.add({ kind: 'maxKey', pos: lost.maxKey }, { field: 'max_key', before: bposToText(sibPtr.maxKey), after: bposToText(lost.maxKey) });
    deleteAt(p, prevRow, bposToText(sibPtr.maxKey));
    p.add(
      { kind: 'value', keyOffset: off(lost.row), value: par.keys.value(prevRow).slice() },
      { field: `btree_ptr_v2 ${bposToText(lost.maxKey)}`, before: `-> sector ${lost.sector}`, after: `-> sector ${sibPtr.ptrs[0].offset}` },
    );
  } else {
    sibNode.add({ kind: 'minKey', pos: lost.minKey }, { field: 'min_key', before: bposToText(sibPtr.minKey), after: bposToText(lost.minKey) });
    const v = readBtreePtrV2Value(par.keys.value(nextRow));
    p.add({ kind: 'value', keyOffset: off(nextRow), value: encodeBtreePtrV2({ ...v, minKey: lost.minKey }) },
      { field: `btree_ptr_v2 ${bposToText(sibPtr.maxKey)} min_key`, before: bposToText(v.minKey), after: bposToText(lost.minKey) });
    deleteAt(p, lost.row, bposToText(lost.maxKey));
  }
  const who = sib === prevRow ? 'previous' : 'next';
  return {
    id: `drop-node:${lost.btree}:${lost.sector}`,
    title: `Drop the unreadable ${lost.btree} node at sector ${lost.sector}; its ${who} sibling covers its range`,
    resolves: [lost.finding.id],
    writes: [sibNode.write(fs, `${who} sibling takes ${rangeText(lost.minKey, lost.maxKey)}`), p.write(fs, 'pointer to the unreadable node removed')],
    summary: `parent at sector ${par.sector}: pointer to sector ${lost.sector} removed; the ${who} sibling at sector ${sibPtr.ptrs[0].offset} gets ` +
      `${sib === prevRow ? 'max_key' : 'min_key'} ${bposToText(sib === prevRow ? lost.maxKey : lost.minKey)} (node header and pointer)`,
    evidence,
    lost: lostKeys,
    kept: [],
    alternatives: [],
    dependsOn: [],
  };
}

/** Deletes the key at a row's position from every bset of the node (an older bset's key there would otherwise come back). */
function deleteAt(p: NodeEdits, row: number, posText: string): void {
  const t = p.node.keys;
  for (let r = 0; r < t.n; r++) {
    if (t.cmpPos(r, row) === 0) p.add({ kind: 'delete', keyOffset: t.keyOff[r]! }, { field: `btree_ptr_v2 ${posText}`, before: 'present', after: 'deleted' });
  }
}
