// The data behind the UI's pictures of the damage (the renderer draws them; this reads the disk):
//  * keyRangeMap: for a topology finding, the parent node's range and each child's [min_key, max_key] from
//    its pointer, with the child's own header range and first/last key, and the same after the repair;
//  * bucketMap: a device's buckets aggregated to at most N cells (data type, state, findings' buckets);
//  * hexView: bytes of a node with its decoded structure (header fields, bsets, keys) as byte ranges.
import { BtreeWalk } from '../btree/walk.js';
import { BTREE_NODE_HEADER_BYTES, BSET_HEADER_BYTES, type BtreeNode } from '../btree/node.js';
import type { Filesystem } from '../btree/fs.js';
import { bposCmp, bposEq, bposSuccessor, bposToText, readBpos, type Bpos } from '../format/bpos.js';
import { btreePtrFromKey } from '../format/btree-ptr.js';
import { BCH_DATA_TYPES } from '../format/names.js';
import type { BtreePtr } from '../format/values.js';
import type { GcState } from '../check/result.js';
import type { Finding } from '../check/findings.js';
import { OpsError } from './disk.js';
import type { BucketCell, BucketMap, CellState, HexField, HexRequest, HexView, KeyRangeMap, RangeChild } from './ui-types.js';

export type { BucketCell, BucketMap, HexField, HexRequest, HexView, KeyRangeMap, RangeChild };

// ---------------------------------------------------------------- key-range map

const TOPOLOGY_KINDS = new Set(['set_node_min_key', 'set_node_max_key', 'drop_node_pointer']);

export function isTopologyFinding(f: Finding): boolean {
  return TOPOLOGY_KINDS.has(f.repair.kind) && f.location.btree_id !== undefined && f.location.level !== undefined;
}

/** The node of btree `btreeId` at `level` stored at `sector`, found by walking down to that level. */
function findNode(fs: Filesystem, btreeId: number, level: number, sector: number): { node: BtreeNode; children: BtreePtr[] } | null {
  const w = new BtreeWalk(fs, btreeId, { depth: level });
  for (let s = w.next(); s; s = w.next()) {
    if (s.repeat || s.level !== level || s.node.sector !== sector) continue;
    const children: BtreePtr[] = [];
    for (let k = 0; k < s.keys.count; k++) {
      const p = btreePtrFromKey(s.keys.table(k), s.keys.row(k));
      if (p) children.push(p);
    }
    return { node: s.node, children };
  }
  return null;
}

function joinOf(prevMax: Bpos | undefined, min: Bpos): RangeChild['join'] {
  if (!prevMax) return 'first';
  const next = bposSuccessor(prevMax);
  if (next && bposEq(next, min)) return 'ok';
  return next && bposCmp(min, next) > 0 ? 'gap' : 'overlap';
}

function childRows(fs: Filesystem, btreeId: number, level: number, ptrs: BtreePtr[], from: number, to: number, subject: number, mins: Bpos[]): RangeChild[] {
  const rows: RangeChild[] = [];
  for (let i = from; i < to; i++) {
    const p = ptrs[i]!;
    const d = p.ptrs[0];
    const row: RangeChild = {
      index: i,
      node: d ? `${d.dev}:${d.offset}` : '?',
      min: bposToText(mins[i]!),
      max: bposToText(p.maxKey),
      join: joinOf(i > 0 ? ptrs[i - 1]!.maxKey : undefined, mins[i]!),
      subject: i === subject,
    };
    if (Math.abs(i - subject) <= 1) {
      const n = fs.readNodeAt(btreeId, level - 1, p);
      if (n.buf.length && n.readable) row.header = { min: bposToText(n.minKey), max: bposToText(n.maxKey) };
      if (n.liveCount > 0) {
        row.firstKey = bposToText(n.keys.pos(n.live[0]!));
        row.lastKey = bposToText(n.keys.pos(n.live[n.liveCount - 1]!));
      }
    }
    rows.push(row);
  }
  return rows;
}

function parseBpos(text: string | undefined, fallback: Bpos): Bpos {
  const m = text && /^(\d+):(\d+):(\d+|U32_MAX)$/.exec(text);
  if (!m) return fallback;
  return { inode: BigInt(m[1]!), offset: BigInt(m[2]!), snapshot: m[3] === 'U32_MAX' ? 0xffff_ffff : Number(m[3]) };
}

/** The node one level up whose pointers include the node at `sector` (null for a root). */
function findParent(fs: Filesystem, btreeId: number, level: number, sector: number): { node: BtreeNode; children: BtreePtr[] } | null {
  const w = new BtreeWalk(fs, btreeId, { depth: level + 1 });
  for (let s = w.next(); s; s = w.next()) {
    if (s.repeat || s.level !== level + 1) continue;
    const children: BtreePtr[] = [];
    for (let k = 0; k < s.keys.count; k++) {
      const p = btreePtrFromKey(s.keys.table(k), s.keys.row(k));
      if (p) children.push(p);
    }
    if (children.some((p) => p.ptrs[0]?.offset === sector)) return { node: s.node, children };
  }
  return null;
}

/**
 * The key-range map of a topology finding; null for other findings. A finding about a node's children (a gap,
 * an overlap) maps that node's children; one about the node itself (unreadable, empty: its pointer would be
 * dropped) maps its parent's children, the node among them.
 */
export function keyRangeMap(fs: Filesystem, f: Finding): KeyRangeMap | null {
  if (!isTopologyFinding(f)) return null;
  const l = f.location;
  if (!l.node) return null;
  const ofNode = f.repair.kind === 'drop_node_pointer';
  const level = ofNode ? l.level! + 1 : l.level!;
  const found = ofNode ? findParent(fs, l.btree_id!, l.level!, l.node.sector) : findNode(fs, l.btree_id!, level, l.node.sector);
  if (!found && ofNode) return null; // a root has no parent to map
  if (!found) throw new OpsError('NOT_FOUND', `The node at sector ${l.node.sector} (${l.btree} level ${l.level}) was not found walking the btree; run the check again.`);
  const { node, children } = found;
  const childSector = ofNode ? l.node.sector : l.child?.sector;
  let subject = children.findIndex((p) => p.ptrs[0]?.offset === childSector);
  if (subject < 0) subject = 0;
  const mins = children.map((p, i) => p.minKey ?? (i === 0 ? node.minKey : bposSuccessor(children[i - 1]!.maxKey) ?? p.maxKey));
  const from = Math.max(0, subject - 4);
  const to = Math.min(children.length, subject + 5);
  const rows = childRows(fs, l.btree_id!, level, children, from, to, subject, mins);

  // after the repair: the key the finding's repair sets, on the subject child
  const params = f.repair.params;
  let after: RangeChild[] | null = null;
  let afterNote: string | null = null;
  if (params?.min_key || params?.max_key) {
    const newMins = [...mins];
    const newPtrs = children.map((p) => ({ ...p }));
    if (params.min_key) {
      newMins[subject] = parseBpos(params.min_key.text, mins[subject]!);
      afterNote = `min_key of node ${rows.find((r) => r.subject)?.node} set to ${params.min_key.text} (in its header and in the parent's pointer)`;
    }
    if (params.max_key) {
      newPtrs[subject] = { ...newPtrs[subject]!, maxKey: parseBpos(params.max_key.text, children[subject]!.maxKey) };
      afterNote = `max_key of node ${rows.find((r) => r.subject)?.node} set to ${params.max_key.text}`;
    }
    after = rows.map((r) => {
      const i = r.index;
      return {
        ...r,
        min: bposToText(newMins[i]!),
        max: bposToText(newPtrs[i]!.maxKey),
        join: joinOf(i > 0 ? newPtrs[i - 1]!.maxKey : undefined, newMins[i]!),
        ...(r.header && i === subject ? { header: { min: bposToText(newMins[i]!), max: bposToText(newPtrs[i]!.maxKey) } } : {}),
      };
    });
  }
  return {
    btree: l.btree ?? String(l.btree_id),
    level,
    parent: { node: `${node.dev}:${node.sector}`, min: bposToText(node.minKey), max: bposToText(node.maxKey) },
    children: rows,
    hiddenBefore: from,
    hiddenAfter: children.length - to,
    after,
    afterNote,
  };
}

// ---------------------------------------------------------------- bucket map

const TYPE_STATE: CellState[] = ['free', 'sb', 'journal', 'btree', 'user', 'cached', 'parity'];

/** The buckets of device `dev` in at most `maxCells` cells, from the last check's gc state. */
export function bucketMap(gc: GcState, findings: readonly Finding[], dev: number, maxCells: number): BucketMap {
  const d = gc.devs[dev];
  if (!d) throw new OpsError('NOT_FOUND', `Device ${dev} has no buckets in the last check (is it a member of this filesystem?).`);
  const n = d.nbuckets;
  const cellsN = Math.max(1, Math.min(n, Math.floor(maxCells)));
  const perCell = Math.ceil(n / cellsN);
  const flaggedSet = new Set<number>();
  for (const f of findings) if (f.location.bucket !== undefined && (f.location.dev ?? 0) === dev) flaggedSet.add(f.location.bucket);
  const counts: Record<string, number> = {};
  const cells: BucketCell[] = [];
  const byType = new Uint32Array(TYPE_STATE.length);
  for (let first = 0; first < n; first += perCell) {
    const last = Math.min(n, first + perCell) - 1;
    byType.fill(0);
    let mismatched = 0;
    let flagged = 0;
    let unknown = 0;
    let sectors = 0;
    for (let b = first; b <= last; b++) {
      const t = d.dataType[b]!;
      byType[t < TYPE_STATE.length ? t : 0]!++;
      sectors += d.dirty[b]! + d.cached[b]!;
      if (d.aUnknown[b]) unknown++;
      else if (d.aGen[b] !== d.gen[b] || d.aDataType[b] !== t || d.aDirty[b] !== d.dirty[b] || d.aCached[b] !== d.cached[b]) mismatched++;
    }
    for (const b of flaggedSet) if (b >= first && b <= last) flagged++;
    let best = 0;
    for (let t = 1; t < byType.length; t++) if (byType[t]! > byType[best]!) best = t;
    // a cell with any used bucket shows the use, not "free"
    if (best === 0) for (let t = 1; t < byType.length; t++) if (byType[t]! > 0 && (best === 0 || byType[t]! > byType[best]!)) best = t;
    const state: CellState = flagged || mismatched ? 'damaged' : unknown ? 'unknown' : TYPE_STATE[best]!;
    counts[state] = (counts[state] ?? 0) + 1;
    const cell: BucketCell = { first, last, state, mismatched, flagged, sectors };
    if (first === last) {
      const name = (t: number): string => BCH_DATA_TYPES[t] ?? String(t);
      cell.bucket = {
        gen: [d.aGen[first]!, d.gen[first]!],
        oldest_gen: [d.aOldestGen[first]!, d.oldestGen[first]!],
        data_type: [name(d.aDataType[first]!), name(d.dataType[first]!)],
        dirty_sectors: [d.aDirty[first]!, d.dirty[first]!],
        cached_sectors: [d.aCached[first]!, d.cached[first]!],
      };
    }
    cells.push(cell);
  }
  return { dev, buckets: n, bucketSize: d.bucketSize, perCell, cells, flagged: [...flaggedSet].sort((a, b) => a - b).map((b) => `${dev}:${b}`), counts };
}

// ---------------------------------------------------------------- hex view

function nodeFields(n: BtreeNode): HexField[] {
  const f: HexField[] = [
    { name: 'header.csum', start: 0, end: 16, value: 'checksum of the first bset' },
    { name: 'header.magic', start: 16, end: 24, value: `0x${n.magic.toString(16)}` },
    { name: 'header.flags', start: 24, end: 32, value: `0x${n.flags.toString(16)} (btree ${n.headerBtreeId}, level ${n.headerLevel}, seq ${n.nodeSeqFlag})` },
    { name: 'header.min_key', start: 32, end: 52, value: bposToText(readBpos(n.buf, 32)) },
    { name: 'header.max_key', start: 52, end: 72, value: bposToText(readBpos(n.buf, 52)) },
    { name: 'header.ptr', start: 72, end: 80, value: '(unused)' },
    { name: 'header.format', start: 80, end: BTREE_NODE_HEADER_BYTES, value: `key_u64s ${n.format.keyU64s}, bits ${n.format.bitsPerField.join(' ')}` },
  ];
  n.bsets.forEach((b, i) => {
    const h = b.keysStart - BSET_HEADER_BYTES;
    f.push({ name: `bset ${i}`, start: i === 0 ? h : b.byteOffset, end: b.keysEnd, value: `seq ${b.seq}, journal_seq ${b.journalSeq}, ${b.u64s} u64s, ${b.sectors} sectors, checksum ${b.csumOk === null ? 'not verified' : b.csumOk ? 'good' : 'BAD'}` });
  });
  for (let r = 0; r < n.keys.n; r++) {
    const start = n.keys.keyOff[r]!;
    f.push({ name: `key@${start}`, start, end: start + n.keys.diskU64s[r]! * 8, value: `${bposToText(n.keys.pos(r))} (bset ${n.keys.bset[r]}, ${n.keys.diskU64s[r]} u64s)` });
  }
  return f;
}

/** A window of a node's bytes with the node's structure. */
export function hexView(fs: Filesystem, req: HexRequest): HexView {
  const bytes = fs.sb.btreeNodeSize * 512;
  // the node as its parent's pointer leads to it (that pointer says what range and seq to expect)
  const n = findNode(fs, req.btreeId, req.level, req.sector)?.node;
  const buf = n?.buf.length ? n.buf : fs.dev.read(req.sector * 512, Math.min(bytes, Math.max(0, fs.dev.size - req.sector * 512)));
  const len = Math.min(4096, Math.max(64, req.length ?? 512));
  const focus = req.focus ?? 0;
  const start = Math.max(0, Math.min(buf.length - len, (focus - (focus % 16)) - 128));
  const window = buf.subarray(Math.max(0, start), Math.max(0, start) + len);
  const fields = (n?.buf.length ? nodeFields(n) : []).filter((x) => x.name.startsWith('header') || (x.end > start && x.start < start + len));
  const damaged = new Set(req.damaged ?? []);
  for (const x of fields) if (damaged.has(x.name)) x.damaged = true;
  return {
    title: `node ${req.dev}:${req.sector} (btree ${req.btreeId} level ${req.level})`,
    deviceOffset: req.sector * 512,
    start: Math.max(0, start),
    hex: Buffer.from(window).toString('hex'),
    fields,
    nodeBytes: bytes,
    writtenBytes: (n?.written ?? 0) * 512,
    errors: n ? n.errors.map((e) => e.msg) : [`no pointer to a node at sector ${req.sector} was found in btree ${req.btreeId} level ${req.level}: the raw sectors are shown`],
  };
}

/** What to show in hex for a finding: its node, the damaged field, and where to centre. */
export function hexRequestFor(f: Finding): HexRequest | null {
  const l = f.location;
  if (l.btree_id === undefined || l.level === undefined) return null;
  const k = f.repair.kind;
  if ((k === 'set_node_min_key' || k === 'set_node_max_key') && l.child) {
    return { btreeId: l.btree_id, level: l.level - 1, dev: l.child.dev, sector: l.child.sector, focus: 32, damaged: [k === 'set_node_min_key' ? 'header.min_key' : 'header.max_key'] };
  }
  if (!l.node) return null;
  const node = { btreeId: l.btree_id, level: l.level, dev: l.node.dev, sector: l.node.sector };
  if (k === 'drop_node_pointer') {
    // about the node itself (unreadable, empty): its header, the magic marked when that is why it was unreadable
    // (the finding's key is the parent's pointer to the node, not a key in it)
    return { ...node, focus: 0, damaged: /bad magic/.test(f.log_message ?? '') ? ['header.magic'] : [] };
  }
  if (l.key?.byte_offset !== undefined) return { ...node, focus: l.key.byte_offset, damaged: [`key@${l.key.byte_offset}`] };
  return { ...node, focus: 0, damaged: ['header.magic'] };
}
