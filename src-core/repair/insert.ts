// Inserting keys into a btree, for every planner that adds keys (dirents in lost+found, a recreated inode).
// A leaf with room takes its new keys in place (edit.ts: the node rewritten, seq kept). A leaf without room
// is split as bcachefs's btree_split does it, into as many nodes as its keys need, each about two thirds
// full: the last part is written where the leaf was (a new seq, as nodes-lost.ts writes a node in a lost
// node's place), the others as new nodes (format/encode-new-node.ts) in free buckets the plan claims
// (PlanContext.claimFreeBucket), and the parent takes a pointer to each new node and the new seq and min_key
// of the old one; a parent without room is split the same way. A new node's bucket is then btree data with
// the alloc key and the usage still saying free: the check after the round finds exactly that, and the
// alloc and usage planners (which run before the fs-level ones) set them, as for every other node move.
// Not done: splitting the root (a new root means a new btree_root entry in the journal).
import { createHash } from 'node:crypto';
import { btreePtrFromKey, type Filesystem } from '../btree/fs.js';
import { BtreeWalk } from '../btree/walk.js';
import type { BtreeNode } from '../btree/node.js';
import { bposCmp, bposSuccessor, bposToText, type Bpos } from '../format/bpos.js';
import { bkeyFields, copyBytes, encodeKey, type BkeyFields } from '../format/encode-key.js';
import { newNode } from '../format/encode-new-node.js';
import { NodeFullError, NODE_HEADER_BYTES, readNodeHeader, rewriteNode, type NodeEdit } from '../format/encode-node.js';
import { encodeBtreePtrV2, encodeExtentPtr, readBtreePtrV2Value } from '../format/encode-value.js';
import { btreeName, KEY_TYPE_btree_ptr_v2 } from '../format/names.js';
import type { FieldChange, PlannedWrite } from '../journal/plan.js';
import { allocKeys, type AllocKeyAt } from './alloc.js';
import { nodeGeometry, readNodeAtSector, type EditsByNode } from './edit.js';
import type { PlanContext } from './types.js';

export interface NewKey {
  fields: BkeyFields;
  value: Uint8Array;
  /** the change in the plan's terms */
  change: FieldChange;
}

export interface Inserted {
  /** the new nodes and the split nodes written in their place (the in-place edits went into the caller's EditsByNode) */
  writes: PlannedWrite[];
  /** the splits, in words (empty when every leaf had room) */
  words: string[];
  /** the buckets that now hold a new node */
  buckets: number[];
}

/** Where a node of the btree is in the tree: its level, range and parent. */
interface Place {
  level: number;
  min: Bpos;
  max: Bpos;
  readable: boolean;
  parent: number | undefined;
}

/** Changes waiting for one node: keys to add, keys to remove and new values of keys it has (by byte offset). */
interface Pending {
  inserts: NewKey[];
  deletes: Map<number, FieldChange>;
  values: Map<number, { value: Uint8Array; change: FieldChange }>;
}

/** A key to remove in the same fix (a key that moves: removed here, inserted at its new position). */
export interface GoneKey {
  sector: number;
  keyOffset: number;
  change: FieldChange;
}

/** Part of a bset's keys start after the node header and the bset header. */
const FIRST_KEY_BYTE = NODE_HEADER_BYTES + 24;
const FILL = 2 / 3;

function placesOf(fs: Filesystem, btreeId: number): Map<number, Place> {
  const out = new Map<number, Place>();
  const w = new BtreeWalk(fs, btreeId);
  for (let s = w.next(); s; s = w.next()) {
    if (s.repeat) continue;
    const n = s.node;
    out.set(n.sector, {
      level: s.level, min: n.readable ? n.minKey : s.ptr.minKey ?? n.minKey, max: n.readable ? n.maxKey : s.ptr.maxKey, readable: n.readable, parent: s.parent?.sector,
    });
  }
  return out;
}

/** A bset seq for a node this repair writes: bcachefs picks a random one; ours is derived, so a plan is reproducible. */
function seqFor(sector: number, old: bigint, salt: string): bigint {
  const v = createHash('sha256').update(`${sector}:${old}:${salt}`).digest().readBigUInt64LE(0) | 1n;
  return v === old ? v ^ 2n : v;
}

/**
 * Plans inserting `keys` (none at a position the btree holds, unless `deletes` removes that key) into btree
 * `btreeId`, and removing the leaf keys `deletes`: in-place edits and parent edits go into `edits` (with
 * whatever the caller edits there already), the rest is returned; or a sentence saying why they cannot be.
 */
export function insertKeys(
  ctx: PlanContext, edits: EditsByNode, btreeId: number, keys: readonly NewKey[], salt: string, deletes: readonly GoneKey[] = [],
): Inserted | string {
  const fs = ctx.fs;
  const places = placesOf(fs, btreeId);
  const leaves = [...places].filter(([, p]) => p.level === 0).sort((a, b) => bposCmp(a[1].min, b[1].min));
  const sorted = [...keys].sort((a, b) => bposCmp(a.fields.pos, b.fields.pos));
  let pending = new Map<number, Pending>();
  let l = 0;
  for (const k of sorted) {
    while (l < leaves.length && bposCmp(leaves[l]![1].max, k.fields.pos) < 0) l++;
    const leaf = leaves[l];
    if (!leaf || bposCmp(leaf[1].min, k.fields.pos) > 0) return `no ${btreeName(btreeId)} leaf covers ${bposToText(k.fields.pos)}`;
    if (!leaf[1].readable) return `the ${btreeName(btreeId)} leaf at sector ${leaf[0]} that covers ${bposToText(k.fields.pos)} is unreadable`;
    pendingAt(pending, leaf[0]).inserts.push(k);
  }
  for (const d of deletes) {
    if (places.get(d.sector)?.level !== 0) return `there is no ${btreeName(btreeId)} leaf at sector ${d.sector} to remove a key from`;
    pendingAt(pending, d.sector).deletes.set(d.keyOffset, d.change);
  }
  const out: Inserted = { writes: [], words: [], buckets: [] };
  const claim = bucketClaimer(ctx);
  for (let level = 0; pending.size; level++) {
    const next = new Map<number, Pending>();
    for (const [sector, p] of pending) {
      const mine: [NodeEdit, FieldChange][] = [
        ...[...p.deletes].map(([keyOffset, c]): [NodeEdit, FieldChange] => [{ kind: 'delete', keyOffset }, c]),
        ...[...p.values].map(([keyOffset, v]): [NodeEdit, FieldChange] => [{ kind: 'value', keyOffset, value: v.value }, v.change]),
        ...p.inserts.map((k): [NodeEdit, FieldChange] => [{ kind: 'insert', bset: 0, fields: k.fields, value: k.value }, k.change]),
      ];
      const had = edits.all.find((e) => e.node.btreeId === btreeId && e.node.sector === sector);
      const node = had?.node ?? readNodeAtSector(fs, btreeId, level, sector);
      // new keys go into the newest bset, so they win over any older key at their position
      for (const [e] of mine) if (e.kind === 'insert') e.bset = node.bsets.length - 1;
      const room = fits(fs, node, [...(had?.edits ?? []), ...mine.map(([e]) => e)]);
      if (typeof room === 'string') return room;
      if (room) {
        const e = edits.at(btreeId, level, sector);
        for (const [m, c] of mine) e.add(m, c);
        continue;
      }
      const place = places.get(sector)!;
      if (had) return `the ${btreeName(btreeId)} node at sector ${sector} must be split and is also edited by this fix`;
      if (place.parent === undefined) return `the ${btreeName(btreeId)} root node (sector ${sector}) has no room for ${p.inserts.length} more keys, and splitting a root is not implemented`;
      const why = split(fs, node, place, p, claim, salt, out, pendingAt(next, place.parent));
      if (why) return why;
    }
    pending = next;
  }
  return out;
}

function pendingAt(m: Map<number, Pending>, sector: number): Pending {
  let p = m.get(sector);
  if (!p) {
    p = { inserts: [], deletes: new Map(), values: new Map() };
    m.set(sector, p);
  }
  return p;
}

/** Whether the node takes the edits in place; a string when they cannot be made at all. */
function fits(fs: Filesystem, node: BtreeNode, all: NodeEdit[]): boolean | string {
  try {
    rewriteNode(node.buf, node.bsets, all, nodeGeometry(fs));
    return true;
  } catch (e) {
    if (e instanceof NodeFullError) return false;
    if (e instanceof RangeError) return `the ${btreeName(node.btreeId)} node at sector ${node.sector}: ${e.message}`;
    throw e;
  }
}

type Claim = () => { sector: number; bucket: number; gen: number } | string;

/**
 * Node slots in free buckets with an alloc key in a btree node (the alloc planner can rewrite only such a
 * key): a bucket takes as many nodes as fit in it, one after the other, as bcachefs fills an open bucket.
 */
function bucketClaimer(ctx: PlanContext): Claim {
  let keys: Map<number, AllocKeyAt> | undefined;
  const m = ctx.fs.sb.members[ctx.fs.sb.devIdx]!;
  const slots = Math.floor(m.bucketSize / ctx.fs.sb.btreeNodeSize);
  let open: { bucket: number; gen: number; next: number } | undefined;
  return () => {
    if (!open || open.next === slots) {
      keys ??= allocKeys(ctx.fs);
      for (;;) {
        const b = ctx.claimFreeBucket(ctx.fs.sb.devIdx);
        if (b === undefined) return 'there is no free bucket with an alloc key left for a new btree node';
        const k = keys.get(b);
        if (k) {
          open = { bucket: b, gen: k.value.gen, next: 0 };
          break;
        }
      }
    }
    const sector = open.bucket * m.bucketSize + open.next++ * ctx.fs.sb.btreeNodeSize;
    return { sector, bucket: open.bucket, gen: open.gen };
  };
}

/**
 * Splits `node` with its pending changes over as many nodes as its keys need: the last part where the node
 * is, the others in free buckets; the parent's changes go into `up`. A string says why it cannot.
 */
function split(fs: Filesystem, node: BtreeNode, place: Place, p: Pending, claim: Claim, salt: string, out: Inserted, up: Pending): string | undefined {
  const t = node.keys;
  const keys: { fields: BkeyFields; value: Uint8Array }[] = [];
  for (let k = 0; k < node.liveCount; k++) {
    const row = node.live[k]!;
    if (p.deletes.has(t.keyOff[row]!)) continue;
    keys.push({ fields: bkeyFields(t, row), value: p.values.get(t.keyOff[row]!)?.value ?? copyBytes(t.value(row)) });
  }
  keys.push(...p.inserts);
  keys.sort((a, b) => bposCmp(a.fields.pos, b.fields.pos));
  for (let i = 1; i < keys.length; i++) {
    if (bposCmp(keys[i - 1]!.fields.pos, keys[i]!.fields.pos) === 0) return `two keys at ${bposToText(keys[i]!.fields.pos)} in the ${btreeName(node.btreeId)} node at sector ${node.sector}`;
  }
  const geo = nodeGeometry(fs);
  const fmt = readNodeHeader(node.buf).format;
  const sizes = keys.map((k) => encodeKey(k.fields, k.value, fmt).length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const journalSeq = node.bsets.reduce((x, b) => (b.journalSeq > x ? b.journalSeq : x), 0n);
  const first = node.bsets[0]!;
  for (let n = Math.max(2, Math.ceil(total / ((geo.nodeBytes - FIRST_KEY_BYTE) * FILL))); n <= keys.length; n++) {
    const parts = cut(sizes, total, n);
    const ranges = parts.map(([a, b], i) => ({
      min: i === 0 ? place.min : bposSuccessor(keys[parts[i - 1]![1] - 1]!.fields.pos)!,
      max: i === n - 1 ? place.max : keys[b - 1]!.fields.pos,
      keys: keys.slice(a, b),
    }));
    const seqs = ranges.map((_, i) => seqFor(node.sector, node.seq, `${salt}:${i}`));
    let bytes: Uint8Array[];
    try {
      bytes = ranges.map((r, i) => newNode({
        magic: fs.sb.bsetMagic, btreeId: node.btreeId, level: node.level, nodeSeq: node.nodeSeqFlag + 1, seq: seqs[i]!, minKey: r.min, maxKey: r.max,
        journalSeq, version: first.version, csumType: first.csumType, keys: r.keys,
      }, geo));
    } catch (e) {
      if (e instanceof NodeFullError) continue; // a part packs worse in its own format than estimated: one more part
      throw e;
    }
    const parent = readNodeAtSector(fs, node.btreeId, node.level + 1, place.parent!);
    let row = -1;
    for (let k = 0; k < parent.liveCount && row < 0; k++) if (btreePtrFromKey(parent.keys, parent.live[k]!)?.ptrs[0]?.offset === node.sector) row = parent.live[k]!;
    if (row < 0 || parent.keys.type[row] !== KEY_TYPE_btree_ptr_v2) return `the parent at sector ${parent.sector} has no btree_ptr_v2 to the node at sector ${node.sector}`;
    const ptr = readBtreePtrV2Value(parent.keys.value(row));
    const btree = btreeName(node.btreeId);
    const sectors: number[] = [];
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      let sector = node.sector;
      if (!last) {
        const b = claim();
        if (typeof b === 'string') return b;
        sector = b.sector;
        if (!out.buckets.includes(b.bucket)) out.buckets.push(b.bucket);
        up.inserts.push({
          fields: { type: KEY_TYPE_btree_ptr_v2, needsWhiteout: false, pos: ranges[i]!.max, size: 0, versionHi: 0, versionLo: 0n },
          value: encodeBtreePtrV2({ ...ptr, seq: seqs[i]!, minKey: ranges[i]!.min, entries: encodeExtentPtr({ dev: fs.sb.devIdx, offset: sector, gen: b.gen, cached: false }) }),
          change: { field: `btree_ptr_v2 ${bposToText(ranges[i]!.max)}`, before: '(none)', after: `-> new ${btree} node at sector ${sector} (bucket ${b.bucket}, gen ${b.gen})` },
        });
      } else {
        up.values.set(parent.keys.keyOff[row]!, {
          value: encodeBtreePtrV2({ ...ptr, seq: seqs[i]!, minKey: ranges[i]!.min }),
          change: { field: `btree_ptr_v2 ${bposToText(place.max)} seq, min_key`, before: `${ptr.seq.toString(16)}, ${bposToText(ptr.minKey)}`, after: `${seqs[i]!.toString(16)}, ${bposToText(ranges[i]!.min)}` },
        });
      }
      sectors.push(sector);
      out.writes.push(nodeWrite(fs, sector, bytes[i]!, geo.blockBytes, {
        kind: 'node', btree, level: node.level, sector, what: `${last ? 'split node rewritten over' : 'new node over'} ${bposToText(ranges[i]!.min)} .. ${bposToText(ranges[i]!.max)}`,
      }, { field: 'node', before: last ? `${node.liveCount} keys` : '(free bucket)', after: `${ranges[i]!.keys.length} keys, seq ${seqs[i]!.toString(16)}` }));
    }
    out.words.push(`the ${btree} node at sector ${node.sector} (level ${node.level}, ${node.liveCount} keys + ${p.inserts.length} new) split into ${n} nodes at sectors ${sectors.join(', ')}`);
    return undefined;
  }
  return `the ${btreeName(node.btreeId)} node at sector ${node.sector} cannot be split into nodes that hold its keys`;
}

/** [start, end) of n parts of about equal bytes, none empty (n <= sizes.length). */
function cut(sizes: readonly number[], total: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let acc = 0;
  let i = 0;
  for (let j = 1; j < n; j++) {
    // the part ends once it reaches its share, keeping at least one key for each part after it
    while (i < sizes.length - (n - j) && (i < start + 1 || acc < (total * j) / n)) acc += sizes[i++]!;
    out.push([start, i]);
    start = i;
  }
  out.push([start, sizes.length]);
  return out;
}

/** A whole new node as one write: up to its last written block. */
function nodeWrite(fs: Filesystem, sector: number, bytes: Uint8Array, blockBytes: number, target: PlannedWrite['target'], change: FieldChange): PlannedWrite {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  end = Math.max(blockBytes, Math.ceil(end / blockBytes) * blockBytes);
  return { offset: sector * 512, old: new Uint8Array(fs.dev.read(sector * 512, end)), new: bytes.slice(0, end), target, changes: [change] };
}
