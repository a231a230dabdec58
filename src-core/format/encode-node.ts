// Btree nodes: struct btree_node's header, the bset headers, whole-node encoding with every bset's checksum,
// and rewriting a node in place with a few key or header edits.
//
// Why in place (same location, same seq, checksums recomputed) rather than appending a bset or writing a
// new node: bcachefs 2021 reads a node through its parent's btree_ptr_v2 (device offset and seq) and checks
// the header's magic, btree id, level, min/max key against the pointer and each bset's own checksum; nothing
// else ties the bytes to the rest of the filesystem (the pointer's sectors_written is 0 on every 2021 node).
// A node rewritten in place with its seq kept is therefore read exactly like one bcachefs wrote, and every
// fixture's damage was injected that way and is read so by the real tool. It is also the only way to change
// what an appended bset cannot: the header's min/max key, or a key without leaving the old one behind in an
// older bset. Appending (appendBset: a new btree_node_entry whose keys win the merge) needs free room in the
// node and a journal seq bcachefs accepts, and writing a new node needs a free bucket, alloc and parent
// updates: both are for adding keys, not for correcting them. What makes in place sound is the caller's part: the
// journal must hold nothing that replays over the edited keys (a clean filesystem has nothing to replay; an
// unclean one is replayed first: on unclean-b2 the real fsck never sees a rewritten key the journal also
// holds, see tests/format/encode-rewrite.test.ts), and the write goes through the repair journal so a torn
// write can be undone.
import { readU16, readU32, readU64 } from './bytes.js';
import { readBpos, bposCmp, type Bpos } from './bpos.js';
import { KeyTable, decodeKey, readBkeyFormat, type BkeyFormat } from './bkey.js';
import {
  writeBkeyFormat, writeBpos, writeChecksum, writeU16, writeU32, writeU64, bkeyFields, encodeKey, copyBytes, type BkeyFields,
} from './encode-key.js';
import { withPtrGen } from './encode-value.js';
import { BTREE_PTR_V2_HEADER_BYTES } from './values.js';
import { KEY_TYPE_btree_ptr, KEY_TYPE_btree_ptr_v2, KEY_TYPE_extent, KEY_TYPE_reflink_v } from './names.js';

export const NODE_HEADER_BYTES = 136; // struct btree_node up to its first bset
const BSET_BYTES = 24;

/** The keys do not fit in one node: the caller splits them over more nodes (repair/insert.ts). */
export class NodeFullError extends RangeError {}

/** struct btree_node after its csum (the csum is computed over these and the first bset). */
export interface NodeHeader {
  magic: bigint;
  /** BTREE_NODE_ID bits 0-3, BTREE_NODE_LEVEL 4-7, NEW_EXTENT_OVERWRITE bit 8, BTREE_NODE_SEQ 32-63 */
  flags: bigint;
  minKey: Bpos;
  maxKey: Bpos;
  /** the unused _ptr field, kept as found */
  ptr: bigint;
  format: BkeyFormat;
}

export function readNodeHeader(buf: Uint8Array): NodeHeader {
  return {
    magic: readU64(buf, 16), flags: readU64(buf, 24), minKey: readBpos(buf, 32), maxKey: readBpos(buf, 52),
    ptr: readU64(buf, 72), format: readBkeyFormat(buf, 80),
  };
}

export function writeNodeHeader(buf: Uint8Array, h: NodeHeader): void {
  writeU64(buf, 16, h.magic);
  writeU64(buf, 24, h.flags);
  writeBpos(buf, 32, h.minKey);
  writeBpos(buf, 52, h.maxKey);
  writeU64(buf, 72, h.ptr);
  writeBkeyFormat(buf, 80, h.format);
}

/** struct bset. */
export interface BsetHeader {
  seq: bigint;
  journalSeq: bigint;
  /** BSET_CSUM_TYPE bits 0-3, BIG_ENDIAN bit 4, SEPARATE_WHITEOUTS bit 5 */
  flags: number;
  version: number;
  u64s: number;
}

export function readBsetHeader(buf: Uint8Array, off: number): BsetHeader {
  return { seq: readU64(buf, off), journalSeq: readU64(buf, off + 8), flags: readU32(buf, off + 16), version: readU16(buf, off + 20), u64s: readU16(buf, off + 22) };
}

export function writeBsetHeader(buf: Uint8Array, off: number, h: BsetHeader): void {
  writeU64(buf, off, h.seq);
  writeU64(buf, off + 8, h.journalSeq);
  writeU32(buf, off + 16, h.flags);
  writeU16(buf, off + 20, h.version);
  writeU16(buf, off + 22, h.u64s);
}

/** A node as data: its header, and each bset's header and key bytes (u64s is recomputed on encoding). */
export interface NodeImage {
  header: NodeHeader;
  bsets: { header: BsetHeader; keys: Uint8Array }[];
}

/** Where the reader (btree/node.ts, BsetInfo) found each bset: its byte offset in the node and its sectors. */
export interface BsetSpan {
  byteOffset: number;
  sectors: number;
}

export interface NodeGeometry {
  /** btree_node_size in bytes */
  nodeBytes: number;
  /** block size in bytes: every bset write is rounded up to it */
  blockBytes: number;
}

function bsetHeaderOffset(byteOffset: number): number {
  return byteOffset === 0 ? NODE_HEADER_BYTES : byteOffset + 16;
}

/** The node's header and bsets as the reader located them (keys as stored, invalid ones included). */
export function readNodeImage(buf: Uint8Array, spans: readonly BsetSpan[]): NodeImage {
  return {
    header: readNodeHeader(buf),
    bsets: spans.map((s) => {
      const hdr = bsetHeaderOffset(s.byteOffset);
      const header = readBsetHeader(buf, hdr);
      const start = hdr + BSET_BYTES;
      return { header, keys: copyBytes(buf, start, Math.min(buf.length, start + header.u64s * 8)) };
    }),
  };
}

/**
 * Encodes a node: the header, the first bset after it, each later bset as a btree_node_entry at the next
 * block boundary (as bcachefs writes them), every checksum computed with its bset's csum type. `base` (the
 * node as it was) supplies the bytes outside the bsets; where the old bsets reached further than the new
 * ones (old written bytes, `oldWritten`), the rest is zeroed so no stale bset with this seq is left to read.
 */
export function encodeNode(img: NodeImage, geo: NodeGeometry, base?: Uint8Array, oldWritten = 0): { bytes: Uint8Array; offsets: number[]; written: number } {
  const out = base ? copyBytes(base, 0, geo.nodeBytes) : new Uint8Array(geo.nodeBytes);
  if (out.length < geo.nodeBytes) throw new RangeError(`node buffer of ${out.length} bytes is smaller than the node size ${geo.nodeBytes}`);
  writeNodeHeader(out, img.header);
  const offsets: number[] = [];
  let end = 0;
  img.bsets.forEach((b, i) => {
    if (b.keys.length % 8) throw new RangeError(`bset ${i}: key bytes are not whole u64s`);
    const off = i === 0 ? 0 : Math.ceil(end / geo.blockBytes) * geo.blockBytes;
    const hdr = bsetHeaderOffset(off);
    const keysStart = hdr + BSET_BYTES;
    end = keysStart + b.keys.length;
    if (end > geo.nodeBytes) throw new NodeFullError(`bset ${i} would end at byte ${end}, past the end of the ${geo.nodeBytes}-byte node`);
    writeBsetHeader(out, hdr, { ...b.header, u64s: b.keys.length / 8 });
    out.set(b.keys, keysStart);
    writeChecksum(b.header.flags & 0xf, out, off, i === 0 ? 16 : off + 16, end);
    offsets.push(off);
  });
  const written = Math.ceil(end / geo.blockBytes) * geo.blockBytes;
  if (oldWritten > written) out.fill(0, written, Math.min(oldWritten, geo.nodeBytes));
  return { bytes: out, offsets, written };
}

/** A change to a node. Keys are named by their byte offset in the node as read (KeyTable.keyOff). */
export type NodeEdit =
  | { kind: 'value'; keyOffset: number; value: Uint8Array }
  | { kind: 'pos'; keyOffset: number; pos: Bpos }
  /** the gen of the ptr-th pointer entry of an extent, btree_ptr(_v2) or reflink_v value */
  | { kind: 'ptrGen'; keyOffset: number; ptr: number; gen: number }
  | { kind: 'minKey'; pos: Bpos }
  | { kind: 'maxKey'; pos: Bpos }
  /** the node's seq, which every bset carries and the parent's btree_ptr_v2 must equal */
  | { kind: 'seq'; seq: bigint }
  /** removes the key from its bset (a later bset left empty is dropped: bcachefs rejects empty bsets) */
  | { kind: 'delete'; keyOffset: number }
  /** adds a key to bset `bset` (0 = first) at its place in position order; none may sit at its position */
  | { kind: 'insert'; bset: number; fields: BkeyFields; value: Uint8Array };

/** Where pointer entries start in a value of this key type. */
function ptrEntriesStart(type: number): number {
  if (type === KEY_TYPE_extent || type === KEY_TYPE_btree_ptr) return 0;
  if (type === KEY_TYPE_btree_ptr_v2) return BTREE_PTR_V2_HEADER_BYTES;
  if (type === KEY_TYPE_reflink_v) return 8;
  throw new RangeError(`a key of type ${type} has no pointers`);
}

/** Decodes one key (its own copy) into a one-row table; undefined if it cannot be decoded. */
function decodeOne(bytes: Uint8Array, fmt: BkeyFormat): KeyTable | undefined {
  const t = new KeyTable(1);
  const copy = copyBytes(bytes);
  t.reset(copy);
  return decodeKey(t, t.push(), copy, 0, fmt) ? t : undefined;
}

/**
 * Rewrites a node in place (see the top of this file for why that is sound): applies the edits to the keys
 * and header of `buf` (the node as read, `spans` its bsets as btree/node.ts found them) and returns the new
 * node bytes, same seq, every checksum recomputed. An edited or inserted key is packed in the node's format
 * when it fits, else stored unpacked, as bcachefs stores every key (the round trip test checks that choice).
 * Keys and bsets not edited keep their bytes; the caller keeps the parent pointer (min_key, position) in
 * step with a header edit.
 */
export function rewriteNode(buf: Uint8Array, spans: readonly BsetSpan[], edits: readonly NodeEdit[], geo: NodeGeometry): Uint8Array {
  if (!spans.length) throw new RangeError('the node has no bsets to rewrite');
  const img = readNodeImage(buf, spans);
  const fmt = img.header.format;
  // each bset's keys split into single keys, each remembered by its offset in the node
  const sets = img.bsets.map((b, i) => {
    const start = bsetHeaderOffset(spans[i]!.byteOffset) + BSET_BYTES;
    const keys: KeyBytes[] = [];
    for (let p = 0; p < b.keys.length; ) {
      const u64s = b.keys[p]!;
      const len = u64s === 0 || p + u64s * 8 > b.keys.length ? b.keys.length - p : u64s * 8; // an unreadable tail stays as it is
      keys.push({ off: start + p, bytes: b.keys.subarray(p, p + len) });
      p += len;
    }
    return keys;
  });
  const find = (keyOffset: number): { set: number; idx: number } => {
    for (let s = 0; s < sets.length; s++) {
      const idx = sets[s]!.findIndex((k) => k.off === keyOffset);
      if (idx >= 0) return { set: s, idx };
    }
    throw new RangeError(`no key starts at byte ${keyOffset} of this node`);
  };
  for (const e of edits) {
    if (e.kind === 'minKey') {
      img.header.minKey = e.pos;
      continue;
    }
    if (e.kind === 'maxKey') {
      img.header.maxKey = e.pos;
      continue;
    }
    if (e.kind === 'seq') {
      if (e.seq === 0n) throw new RangeError('a bset seq of 0 reads as a bad btree header');
      for (const b of img.bsets) b.header.seq = e.seq;
      continue;
    }
    if (e.kind === 'insert') continue;
    const { set, idx } = find(e.keyOffset);
    const key = sets[set]![idx]!;
    if (e.kind === 'delete') {
      sets[set]!.splice(idx, 1);
      continue;
    }
    const t = decodeOne(key.bytes, fmt);
    if (!t) throw new RangeError(`the key at byte ${e.keyOffset} cannot be decoded, so it cannot be edited`);
    const fields = bkeyFields(t, 0);
    let value = copyBytes(t.value(0));
    if (e.kind === 'value') value = copyBytes(e.value);
    else if (e.kind === 'pos') fields.pos = e.pos;
    else value = withPtrGen(value, ptrEntriesStart(fields.type), e.ptr, e.gen);
    key.bytes = encodeKey(fields, value, fmt);
    if (e.kind === 'pos') checkOrder(sets[set]!, idx, fmt);
  }
  insertKeys(sets, edits, fmt);
  // a later bset whose keys were all deleted goes (the first one holds the header and stays, even empty)
  for (let i = img.bsets.length - 1; i > 0; i--) {
    if (sets[i]!.length === 0) {
      img.bsets.splice(i, 1);
      sets.splice(i, 1);
    }
  }
  img.bsets.forEach((b, i) => {
    const parts = sets[i]!;
    const keys = new Uint8Array(parts.reduce((n, k) => n + k.bytes.length, 0));
    let p = 0;
    for (const k of parts) {
      keys.set(k.bytes, p);
      p += k.bytes.length;
    }
    b.keys = keys;
  });
  const last = spans[spans.length - 1]!;
  return encodeNode(img, geo, buf, last.byteOffset + last.sectors * 512).bytes;
}

type KeyBytes = { off: number; bytes: Uint8Array };

function keyPos(k: KeyBytes | undefined, fmt: BkeyFormat): Bpos | undefined {
  const t = k && decodeOne(k.bytes, fmt);
  return t ? t.pos(0) : undefined;
}

/** Keys within a bset must stay in ascending order (bcachefs drops keys out of order). */
function checkOrder(keys: KeyBytes[], idx: number, fmt: BkeyFormat): void {
  const me = keyPos(keys[idx], fmt)!;
  const prev = keyPos(keys[idx - 1], fmt);
  const next = keyPos(keys[idx + 1], fmt);
  if ((prev && bposCmp(prev, me) > 0) || (next && bposCmp(me, next) > 0)) {
    throw new RangeError('the new position would put the key out of order in its bset; move it by rewriting the bset in order instead');
  }
}

/**
 * The insert edits, each bset's at once (their positions sorted, the bset's decoded once): a key goes
 * before the first key positioned after it; a whiteout (deleted key) at its position gives way to it.
 */
function insertKeys(sets: KeyBytes[][], edits: readonly NodeEdit[], fmt: BkeyFormat): void {
  const bySet = new Map<number, { pos: Bpos; key: KeyBytes }[]>();
  for (const e of edits) {
    if (e.kind !== 'insert') continue;
    if (!sets[e.bset]) throw new RangeError(`the node has no bset ${e.bset}`);
    const l = bySet.get(e.bset) ?? [];
    l.push({ pos: e.fields.pos, key: { off: -1, bytes: encodeKey(e.fields, e.value, fmt) } });
    bySet.set(e.bset, l);
  }
  for (const [bset, adds] of bySet) {
    adds.sort((a, b) => bposCmp(a.pos, b.pos));
    for (let i = 1; i < adds.length; i++) {
      if (bposCmp(adds[i - 1]!.pos, adds[i]!.pos) === 0) throw new RangeError(`two keys to insert in bset ${bset} have the same position`);
    }
    const keys = sets[bset]!;
    const out: KeyBytes[] = [];
    let a = 0;
    for (const k of keys) {
      const t = decodeOne(k.bytes, fmt);
      const p = t?.pos(0);
      while (p && a < adds.length && bposCmp(adds[a]!.pos, p) < 0) out.push(adds[a++]!.key);
      if (t && p && a < adds.length && bposCmp(adds[a]!.pos, p) === 0) {
        if (!t.whiteout(0)) throw new RangeError(`bset ${bset} already holds a key at this position: edit or delete that key instead`);
        out.push(adds[a++]!.key); // the whiteout goes, the new key takes its place
        continue;
      }
      out.push(k);
    }
    while (a < adds.length) out.push(adds[a++]!.key);
    sets[bset] = out;
  }
}

/**
 * Appends a bset holding `keys` (ascending positions; packed in the node's format where they fit) to a node,
 * as a btree_node_entry at the next block boundary after the last bset: the node's seq, the first bset's
 * version and checksum type, and `journalSeq`, which must be one the journal has reached and not blacklisted
 * (on a clean filesystem, the clean section's journal_seq). When bcachefs merges the bsets the appended keys
 * win over older ones at their positions, and a deleted key hides one. The bytes already written stay as
 * they are.
 */
export function appendBset(
  buf: Uint8Array, spans: readonly BsetSpan[], keys: readonly { fields: BkeyFields; value: Uint8Array }[], journalSeq: bigint, geo: NodeGeometry,
): Uint8Array {
  if (!spans.length) throw new RangeError('the node has no first bset to append to');
  if (!keys.length) throw new RangeError('bcachefs rejects an empty bset: give at least one key');
  for (let i = 1; i < keys.length; i++) {
    if (bposCmp(keys[i - 1]!.fields.pos, keys[i]!.fields.pos) >= 0) throw new RangeError('the keys of a bset must have strictly ascending positions');
  }
  const img = readNodeImage(buf, spans);
  const first = img.bsets[0]!.header;
  const encoded = keys.map((k) => encodeKey(k.fields, k.value, img.header.format));
  const bytes = new Uint8Array(encoded.reduce((n, k) => n + k.length, 0));
  let p = 0;
  for (const k of encoded) {
    bytes.set(k, p);
    p += k.length;
  }
  img.bsets.push({ header: { seq: first.seq, journalSeq, flags: first.flags, version: first.version, u64s: 0 }, keys: bytes });
  return encodeNode(img, geo, buf).bytes;
}
