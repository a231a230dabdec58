// A node that reads as "wrong btree node": its seq or range disagrees with its parent's btree_ptr_v2, yet
// every bset's checksum holds and its keys lie in the pointer's range. bcachefs 2021 calls it unreadable and
// its fsck -y drops the pointer (wrongseq-extents-b3: 6,179 of 6,367 extents lost); we make node and pointer
// agree and keep the node. Only that case is planned here: a node that is really unreadable (bad magic, bad
// checksum, keys outside the range) is the node planners' (older copies, or dropping the pointer).
import { btreePtrFromKey } from '../btree/fs.js';
import { readU64 } from '../format/bytes.js';
import { bposCmp, bposToText } from '../format/bpos.js';
import { btreeName } from '../format/names.js';
import { encodeBtreePtrV2, readBtreePtrV2Value } from '../format/encode-value.js';
import type { NodeEdit } from '../format/encode-node.js';
import type { FieldChange } from '../journal/plan.js';
import type { Finding } from '../check/findings.js';
import { EditsByNode, nodeGeometry, readNodeAtSector } from './edit.js';
import { liveIndexAt, within } from './topology-nodes.js';
import type { PlanContext, RepairFix } from './types.js';

export const WRONG_NODE_CLASS = 'btree_node_unreadable';

/** The node read errors that mean "this is not the node the pointer expects", not damage to its content. */
const WRONG_NODE_CODES = new Set(['wrong_seq', 'wrong_min_key', 'wrong_max_key']);

/** The fix for one btree_node_unreadable finding, or why there is none (undefined: not a wrong-node case). */
export function planWrongNode(ctx: PlanContext, f: Finding): RepairFix | string | undefined {
  const loc = f.location;
  if (loc.btree_id === undefined || loc.level === undefined || !loc.node || !loc.parent || loc.key?.source !== 'bset' || loc.key.byte_offset === undefined) return undefined;
  const { fs } = ctx;
  const id = loc.btree_id;
  const parent = readNodeAtSector(fs, id, loc.level + 1, loc.parent.sector);
  const k = liveIndexAt(parent, loc.key.byte_offset);
  const row = k >= 0 ? parent.live[k]! : -1;
  const ptr = row >= 0 ? btreePtrFromKey(parent.keys, row) : undefined;
  if (!ptr?.minKey || ptr.seq === undefined) return undefined;
  const asPointed = fs.readNodeAt(id, loc.level, ptr);
  const wrong = asPointed.errors.find((e) => e.type === 'must_retry' || e.type === 'fatal');
  if (!wrong || !WRONG_NODE_CODES.has(wrong.code)) return undefined;
  const node = readNodeAtSector(fs, id, loc.level, loc.node.sector);
  if (!node.readable || node.errors.length) return `the node at sector ${node.sector} has read errors of its own (${node.errors.map((e) => e.msg).join('; ')}): it is not only a wrong-node mismatch`;
  if (node.headerBtreeId !== id || node.headerLevel !== loc.level) return `the node at sector ${node.sector} says btree ${node.headerBtreeId} level ${node.headerLevel}: another node, not this one`;
  if (!node.bsets.every((b) => b.csumOk === true)) return `a bset of the node at sector ${node.sector} fails its checksum: its content is not evidence`;
  const first = node.liveCount ? node.keys.pos(node.live[0]!) : undefined;
  const last = node.liveCount ? node.keys.pos(node.live[node.liveCount - 1]!) : undefined;
  if (!within(first, ptr.minKey, ptr.maxKey) || !within(last, ptr.minKey, ptr.maxKey)) {
    return `the keys of the node at sector ${node.sector} (${first && bposToText(first)} .. ${last && bposToText(last)}) do not lie in its pointer's range ${bposToText(ptr.minKey)} .. ${bposToText(ptr.maxKey)}: it is another node`;
  }
  const where = `${btreeName(id)} level ${loc.level} node ${node.sector}`;
  const evidence = [
    `reading it through its pointer: ${wrong.msg}`,
    `every bset checksum holds (${node.bsets.length} bsets), btree id and level are the pointer's`,
    `its ${node.liveCount} keys (${first ? `${bposToText(first)} .. ${bposToText(last!)}` : 'none'}) lie in the pointer's range ${bposToText(ptr.minKey)} .. ${bposToText(ptr.maxKey)}`,
  ];
  // the node's header is set to what the pointer says: the parent's pointer agrees with its siblings
  const edits: { edit: NodeEdit; change: FieldChange }[] = [];
  if (node.seq !== ptr.seq) edits.push({ edit: { kind: 'seq', seq: ptr.seq }, change: { field: 'bset seq (every bset of the node)', before: node.seq.toString(16), after: ptr.seq.toString(16) } });
  if (bposCmp(node.minKey, ptr.minKey) !== 0) edits.push({ edit: { kind: 'minKey', pos: ptr.minKey }, change: { field: 'btree_node.min_key', before: bposToText(node.minKey), after: bposToText(ptr.minKey) } });
  if (bposCmp(node.maxKey, ptr.maxKey) !== 0) edits.push({ edit: { kind: 'maxKey', pos: ptr.maxKey }, change: { field: 'btree_node.max_key', before: bposToText(node.maxKey), after: bposToText(ptr.maxKey) } });
  if (!edits.length) return undefined;
  const e = new EditsByNode(fs);
  const n = e.at(id, loc.level, node.sector);
  for (const x of edits) n.add(x.edit, x.change);
  // later bsets still carrying the pointer's seq show that the first bset's seq is the damaged one
  const blockBytes = nodeGeometry(fs).blockBytes;
  let later = 0;
  for (let off = node.written * 512; off + 40 <= node.buf.length; off += blockBytes) if (readU64(node.buf, off + 16) === ptr.seq) later++;
  if (later) evidence.push(`${later} later bset(s) of the node carry the pointer's seq ${ptr.seq.toString(16)}: the node's first bset is what changed`);
  const kept = [`the node's ${node.liveCount} keys stay; bcachefs 2021 (fsck -y) drops the pointer to a node it cannot read and loses them all`];
  const fix: RepairFix = {
    id: `topology:${f.id}`, title: `make ${where} agree with its pointer`,
    summary: `${edits.map((x) => `${x.change.field} ${x.change.before} -> ${x.change.after}`).join('; ')} (node rewritten in place)`,
    evidence, lost: [], kept, alternatives: [], dependsOn: [], resolves: [f.id],
    writes: [n.write(fs, `${where}: header set to its pointer's`)],
  };
  // the other side: the pointer takes the node's seq (only a seq mismatch, and only when no later bset says otherwise)
  if (edits.length === 1 && edits[0]!.edit.kind === 'seq' && !later) {
    const a = new EditsByNode(fs);
    const p = a.at(id, loc.level + 1, parent.sector);
    const v = readBtreePtrV2Value(parent.keys.value(row));
    p.add({ kind: 'value', keyOffset: parent.keys.keyOff[row]!, value: encodeBtreePtrV2({ ...v, seq: node.seq }) },
      { field: `btree_ptr_v2.seq of the pointer to node ${node.sector}`, before: v.seq.toString(16), after: node.seq.toString(16) });
    fix.alternatives.push({
      ...fix, id: `topology:${f.id}:ptr`, title: `set the pointer to ${where} to the node's seq`,
      summary: `btree_ptr_v2.seq in node ${parent.sector}: ${v.seq.toString(16)} -> ${node.seq.toString(16)}`,
      evidence: [...evidence, 'when the pointer is the side that changed'], alternatives: [],
      writes: [p.write(fs, `pointer to node ${node.sector}: seq set to the node's`)],
    });
  }
  return fix;
}

/** Every wrong-node fix for the findings of the class; the other unreadable nodes are left to the node planners. */
export function wrongNodeFixes(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const out: RepairFix[] = [];
  for (const f of findings) {
    if (f.class !== WRONG_NODE_CLASS) continue;
    const r = planWrongNode(ctx, f);
    if (typeof r === 'string') ctx.noRepair(f.id, r);
    else if (r) out.push(r);
  }
  return out;
}
