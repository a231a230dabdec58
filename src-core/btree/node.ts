// Reading and validating one btree node the way btree_io.c's bch2_btree_node_read_done does: header
// checks, every bset written to the node (checksums, seq, block offsets), key validation, then a merge of
// all bsets in which the newest key at a position wins and deleted keys drop out.
import { readU16, readU32, readU64, csumMatches, CSUM_TYPE_NAMES } from '../format/bytes.js';
import { readBpos, bposCmp, bposToText, U32_MAX, type Bpos } from '../format/bpos.js';
import { KeyTable, decodeKey, readBkeyFormat, bkeyFormatInvalid, bposToParts, type BkeyFormat, BKEY_U64s } from '../format/bkey.js';
import type { BtreePtr } from '../format/values.js';
import { BTREE_PTR_RANGE_UPDATED } from '../format/values.js';
import {
  KEY_TYPE_deleted, KEY_TYPE_btree_ptr, KEY_TYPE_btree_ptr_v2, KEY_TYPE_error, KEY_TYPE_extent,
  KEY_TYPE_reservation, KEY_TYPE_reflink_p, KEY_TYPE_inline_data, KEY_TYPE_inode, KEY_TYPE_inode_generation,
  KEY_TYPE_hash_whiteout, KEY_TYPE_dirent, KEY_TYPE_xattr, KEY_TYPE_alloc, KEY_TYPE_alloc_v2, KEY_TYPE_quota,
  KEY_TYPE_stripe, KEY_TYPE_reflink_v, KEY_TYPE_indirect_inline_data, BCH_BKEY_TYPES,
} from '../format/names.js';
import type { Superblock } from '../format/superblock.js';
import { bkeyToText, bkeyValToText } from '../format/print.js';

export const BTREE_NODE_HEADER_BYTES = 136; // struct btree_node up to its first bset
export const BSET_HEADER_BYTES = 24;
export const BTREE_NODE_ENTRY_HEADER_BYTES = 40; // csum + struct bset
export const BSET_VERSION_OLD = 3;

/** bcachefs's btree_err_type: how a read error is treated. */
export type BtreeErrType = 'fixable' | 'want_retry' | 'must_retry' | 'fatal';

export interface BtreeNodeError {
  type: BtreeErrType;
  /** b->written when the error was found (sectors into the node) */
  nodeOffset: number;
  /** u64s of the bset being checked, when there was one */
  bsetU64s?: number;
  /** the reason, in bcachefs's words ("bad magic", "invalid checksum", ...) */
  msg: string;
  /** our short code for it */
  code: string;
}

export interface BsetInfo {
  /** byte offset of the bset's container (btree_node or btree_node_entry) within the node */
  byteOffset: number;
  sectors: number;
  seq: bigint;
  journalSeq: bigint;
  flags: number;
  version: number;
  u64s: number;
  csumType: number;
  /** null: checksum type we cannot verify */
  csumOk: boolean | null;
  /** byte range of the keys */
  keysStart: number;
  keysEnd: number;
}

export interface BtreeNode {
  btreeId: number;
  level: number;
  /** device sector of the node (ptr offset) */
  sector: number;
  dev: number;
  buf: Uint8Array;
  magic: bigint;
  flags: bigint;
  seq: bigint; // the first bset's seq (BTREE_NODE_SEQ is in flags)
  nodeSeqFlag: number; // BTREE_NODE_SEQ
  headerBtreeId: number;
  headerLevel: number;
  minKey: Bpos;
  maxKey: Bpos;
  format: BkeyFormat;
  bsets: BsetInfo[];
  written: number; // sectors
  /** every key of every bset, in bset order (rows also hold the key's bset index) */
  keys: KeyTable;
  /** rows of `keys` that survive the merge, in key order */
  live: Int32Array;
  liveCount: number;
  errors: BtreeNodeError[];
  /** false when bcachefs would fail the read (must_retry / fatal with a single replica): "unreadable" */
  readable: boolean;
}

/** The btree node types' allowed key types (bkey_methods.c bch2_key_types_allowed), by btree id; [8] = interior. */
const KEY_TYPES_ALLOWED: number[] = [
  (1 << KEY_TYPE_error) | (1 << KEY_TYPE_extent) | (1 << KEY_TYPE_reservation) | (1 << KEY_TYPE_reflink_p) | (1 << KEY_TYPE_inline_data),
  (1 << KEY_TYPE_inode) | (1 << KEY_TYPE_inode_generation),
  (1 << KEY_TYPE_hash_whiteout) | (1 << KEY_TYPE_dirent),
  (1 << KEY_TYPE_hash_whiteout) | (1 << KEY_TYPE_xattr),
  (1 << KEY_TYPE_alloc) | (1 << KEY_TYPE_alloc_v2),
  1 << KEY_TYPE_quota,
  1 << KEY_TYPE_stripe,
  (1 << KEY_TYPE_reflink_v) | (1 << KEY_TYPE_indirect_inline_data),
  (1 << KEY_TYPE_btree_ptr) | (1 << KEY_TYPE_btree_ptr_v2),
];
const BTREE_ID_IS_EXTENTS = (1 << 0) | (1 << 7);
const BTREE_ID_HAS_SNAPSHOTS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3);
const BKEY_BTREE_PTR_VAL_U64s_MAX = 9;

export function btreeHasSnapshots(btreeId: number): boolean {
  return ((1 << btreeId) & BTREE_ID_HAS_SNAPSHOTS) !== 0;
}
export function btreeIsExtents(btreeId: number): boolean {
  return ((1 << btreeId) & BTREE_ID_IS_EXTENTS) !== 0;
}

/** What __bch2_bkey_invalid allows in one kind of node (keyRules makes it once per node, not per key). */
export interface KeyRules {
  /** bit per key type allowed (deleted always is) */
  allowed: number;
  interior: boolean;
  extents: boolean;
  snapshots: boolean;
}

export function keyRules(btreeId: number, level: number): KeyRules {
  const interior = level > 0;
  return {
    allowed: (1 << KEY_TYPE_deleted) | (KEY_TYPES_ALLOWED[interior ? 8 : btreeId] ?? 0),
    interior,
    extents: !interior && btreeIsExtents(btreeId),
    snapshots: btreeHasSnapshots(btreeId),
  };
}

/** __bch2_bkey_invalid for row i of t in a node with these rules: the reason the key is invalid, or undefined. */
export function bkeyInvalid(t: KeyTable, i: number, rules: KeyRules): string | undefined {
  const u64s = t.u64s[i]!;
  if (u64s < BKEY_U64s) return 'u64s too small';
  const type = t.type[i]!;
  if (!(rules.allowed & (1 << type)) || type >= BCH_BKEY_TYPES.length) return 'invalid key type for this btree';
  if (rules.interior) {
    if (u64s - BKEY_U64s > BKEY_BTREE_PTR_VAL_U64s_MAX) return 'value too big';
    if (t.size[i] !== 0) return 'nonzero size field';
    return undefined;
  }
  const size = t.size[i]!;
  if (rules.extents) {
    if ((size === 0) !== t.whiteout(i)) return 'bad size field';
    if (t.offsetHi[i] === 0 && size > t.offsetLo[i]!) return 'size greater than offset';
  } else if (size !== 0) {
    return 'nonzero size field';
  }
  const snap = t.snapshot[i]!;
  if (!rules.snapshots && snap !== 0) return 'nonzero snapshot';
  if (rules.snapshots && snap !== U32_MAX) return 'invalid snapshot field';
  // bkey_cmp: inode and offset only
  if (t.offsetLo[i] === 0xffffffff && t.offsetHi[i] === 0xffffffff && t.inodeLo[i] === 0xffffffff && t.inodeHi[i] === 0xffffffff) {
    return 'POS_MAX key';
  }
  return undefined;
}

/** What the parent (or the root entry) says about the node to be read. */
export interface NodeExpect {
  btreeId: number;
  level: number;
  ptr: BtreePtr;
}


/**
 * Validates and indexes a node image. `keys` may be a reused KeyTable (the hot walk passes one per level);
 * without it a new one is made.
 */
export function parseBtreeNode(sb: Superblock, buf: Uint8Array, expect: NodeExpect, keys?: KeyTable): BtreeNode {
  const nodeSectors = sb.btreeNodeSize;
  const blockBytes = sb.blockSize * 512;
  const ptr = expect.ptr;
  const p0 = ptr.ptrs[0];
  const t = keys ?? new KeyTable(256);
  t.reset(buf);
  const node: BtreeNode = {
    btreeId: expect.btreeId,
    level: expect.level,
    sector: p0?.offset ?? 0,
    dev: p0?.dev ?? 0,
    buf,
    magic: 0n,
    flags: 0n,
    seq: 0n,
    nodeSeqFlag: 0,
    headerBtreeId: -1,
    headerLevel: -1,
    minKey: ptr.minKey ?? { inode: 0n, offset: 0n, snapshot: 0 },
    maxKey: ptr.maxKey,
    format: readBkeyFormat(new Uint8Array(56), 0),
    bsets: [],
    written: 0,
    keys: t,
    live: new Int32Array(0),
    liveCount: 0,
    errors: [],
    readable: true,
  };
  const err = (type: BtreeErrType, code: string, msg: string, bsetU64s?: number): boolean => {
    const e: BtreeNodeError = { type, code, msg, nodeOffset: node.written };
    if (bsetU64s !== undefined) e.bsetU64s = bsetU64s;
    node.errors.push(e);
    if (type === 'must_retry' || type === 'fatal') node.readable = false;
    return !node.readable;
  };

  if (buf.length < BTREE_NODE_HEADER_BYTES + BSET_HEADER_BYTES) {
    err('must_retry', 'short_read', 'short read');
    return node;
  }
  node.magic = readU64(buf, 16);
  node.flags = readU64(buf, 24);
  node.headerBtreeId = Number(node.flags & 0xfn);
  node.headerLevel = Number((node.flags >> 4n) & 0xfn);
  node.nodeSeqFlag = Number(node.flags >> 32n);
  node.seq = readU64(buf, BTREE_NODE_HEADER_BYTES);
  // for the scans below, which compare it with every bset (and every block after the last)
  const seqLo = readU32(buf, BTREE_NODE_HEADER_BYTES);
  const seqHi = readU32(buf, BTREE_NODE_HEADER_BYTES + 4);
  if (node.magic !== sb.bsetMagic && err('must_retry', 'bad_magic', 'bad magic')) return node;
  if (node.seq === 0n && err('must_retry', 'bad_header', 'bad btree header')) return node;
  if (ptr.seq !== undefined && node.seq !== ptr.seq &&
      err('must_retry', 'wrong_seq', `got wrong btree node (seq ${node.seq.toString(16)} want ${ptr.seq.toString(16)})`)) {
    return node;
  }

  const rangeUpdated = ptr.seq !== undefined && (ptr.flags & BTREE_PTR_RANGE_UPDATED) !== 0;
  while (node.written < nodeSectors) {
    const first = node.written === 0;
    const base = node.written * 512;
    let hdr: number; // offset of struct bset
    let csumStart: number;
    let keysStart: number;
    if (first) {
      hdr = BTREE_NODE_HEADER_BYTES;
      csumStart = 16;
      keysStart = hdr + BSET_HEADER_BYTES;
    } else {
      if (base + BTREE_NODE_ENTRY_HEADER_BYTES > buf.length) break;
      hdr = base + 16;
      csumStart = base + 16;
      keysStart = base + BTREE_NODE_ENTRY_HEADER_BYTES;
      if (readU32(buf, hdr) !== seqLo || readU32(buf, hdr + 4) !== seqHi) break;
    }
    const u64s = readU16(buf, hdr + 22);
    const flags = readU32(buf, hdr + 16);
    const version = readU16(buf, hdr + 20);
    const csumType = flags & 0xf;
    const keysEnd = keysStart + u64s * 8;
    const sectors = Math.ceil((keysEnd - base) / blockBytes) * (blockBytes / 512);

    if (csumType >= CSUM_TYPE_NAMES.length || csumType === 3 || csumType === 4) {
      err('want_retry', 'unknown_csum_type', `unknown checksum type ${csumType}`, u64s);
    }
    let csumOk: boolean | null = null;
    if (keysEnd <= buf.length) {
      csumOk = csumMatches(csumType, buf, base, csumStart, keysEnd);
      if (csumOk === false) err('want_retry', 'bad_csum', 'invalid checksum', u64s);
    }
    if (first && node.level === 0 && btreeIsExtents(expect.btreeId) && ((node.flags >> 8n) & 1n) === 0n) {
      if (err('fatal', 'no_new_extent_overwrite', 'btree node does not have NEW_EXTENT_OVERWRITE set')) return node;
    }
    // validate_bset
    if ((version !== BSET_VERSION_OLD && version < 9) || version >= 14) {
      if (err('fatal', 'bset_version', 'unsupported bset version', u64s)) return node;
    }
    if (version < sb.versionMin) err('fixable', 'bset_version_old', `bset version ${version} older than superblock version_min ${sb.versionMin}`, u64s);
    if (version > sb.version) err('fixable', 'bset_version_new', `bset version ${version} newer than superblock version ${sb.version}`, u64s);
    if ((flags >>> 5) & 1) {
      if (err('fatal', 'separate_whiteouts', 'BSET_SEPARATE_WHITEOUTS no longer supported', u64s)) return node;
    }
    const bset: BsetInfo = {
      byteOffset: base, sectors, seq: readU64(buf, hdr), journalSeq: readU64(buf, hdr + 8), flags, version, u64s,
      csumType, csumOk, keysStart, keysEnd,
    };
    if (node.written + sectors > nodeSectors || keysEnd > buf.length) {
      err('fixable', 'bset_past_end', 'bset past end of btree node', u64s);
      bset.keysEnd = keysStart; // bcachefs sets u64s = 0
      node.bsets.push(bset);
      node.written = nodeSectors;
      break;
    }
    if (!first && u64s === 0) err('fixable', 'empty_bset', 'empty bset', u64s);
    if (first) {
      if (node.headerBtreeId !== expect.btreeId && err('must_retry', 'wrong_btree_id', 'incorrect btree id', u64s)) return node;
      if (node.headerLevel !== expect.level && err('must_retry', 'wrong_level', 'incorrect level', u64s)) return node;
      const hMin = readBpos(buf, 32);
      const hMax = readBpos(buf, 52);
      node.minKey = hMin;
      node.maxKey = hMax;
      if (ptr.seq !== undefined) {
        if (rangeUpdated) {
          node.minKey = ptr.minKey!;
          node.maxKey = ptr.maxKey;
        }
        if (bposCmp(node.minKey, ptr.minKey!) !== 0 &&
            err('must_retry', 'wrong_min_key', `incorrect min_key: got ${bposToText(hMin)} should be ${bposToText(ptr.minKey!)}`)) {
          return node;
        }
      }
      if (bposCmp(node.maxKey, ptr.maxKey) !== 0 && err('must_retry', 'wrong_max_key', `incorrect max key ${bposToText(hMax)}`, u64s)) return node;
      node.format = readBkeyFormat(buf, 80);
      const fe = bkeyFormatInvalid(node.format);
      if (fe && err('fatal', 'bad_format', `invalid bkey format: ${fe}`, u64s)) return node;
    }
    node.bsets.push(bset);
    decodeBsetKeys(node, bset, node.bsets.length - 1, rangeUpdated, err);
    node.written += sectors;
  }
  // A bset with our seq further on means writes we did not reach: bcachefs asks for a retry.
  for (let off = node.written * 512; off + BTREE_NODE_ENTRY_HEADER_BYTES <= buf.length; off += blockBytes) {
    if (readU32(buf, off + 16) === seqLo && readU32(buf, off + 20) === seqHi) {
      err('want_retry', 'bset_after_last', 'found bset signature after last bset');
      break;
    }
  }
  mergeBsets(node);
  return node;
}

function decodeBsetKeys(
  node: BtreeNode, bset: BsetInfo, bsetIdx: number, rangeUpdated: boolean,
  err: (type: BtreeErrType, code: string, msg: string, bsetU64s?: number) => boolean,
): void {
  const t = node.keys;
  const buf = node.buf;
  const minParts = bposToParts(node.minKey);
  const maxParts = bposToParts(node.maxKey);
  const rules = keyRules(node.btreeId, node.level);
  let prev = -1;
  for (let p = bset.keysStart; p < bset.keysEnd; ) {
    const u64s = buf[p]!;
    if (u64s === 0 || p + u64s * 8 > bset.keysEnd) {
      err('fixable', 'key_past_end', 'key extends past end of bset', bset.u64s);
      bset.keysEnd = p;
      break;
    }
    const fmtByte = buf[p + 1]! & 0x7f;
    if (fmtByte > 1) {
      err('fixable', 'bad_key_format', `invalid bkey format ${fmtByte}`, bset.u64s);
      p += u64s * 8;
      continue;
    }
    const row = t.push();
    if (!decodeKey(t, row, buf, p, node.format)) {
      t.n--;
      err('fixable', 'invalid_bkey', 'invalid bkey: u64s too small', bset.u64s);
      p += u64s * 8;
      continue;
    }
    t.bset[row] = bsetIdx;
    t.superseded[row] = 0;
    const c = prev >= 0 ? t.cmpPos(prev, row) : -1;
    // a key after an accepted one lies after the node's min_key already
    const invalid = bkeyInvalid(t, row, rules) ??
      (!rangeUpdated ? keyOutsideNode(t, row, c < 0 && prev >= 0 ? null : minParts, maxParts) : undefined);
    if (invalid) {
      // bcachefs: "invalid bkey: %s\n%s" with the key printed into a 160-byte buffer
      const text = bkeyValToText(t, row).slice(0, 159);
      t.n--;
      err('fixable', 'invalid_bkey', `invalid bkey: ${invalid}\n${text}`, bset.u64s);
      p += u64s * 8;
      continue;
    }
    // bkey_iter_cmp: by position, and at one position a deleted key comes before a live one
    const order = c || Number(t.whiteout(row)) - Number(t.whiteout(prev));
    if (prev >= 0 && order > 0) {
      // bcachefs: "keys out of order: %s > %s", each key header printed into an 80-byte buffer
      const text = `keys out of order: ${bkeyToText(t, prev).slice(0, 79)} > ${bkeyToText(t, row).slice(0, 79)}`;
      t.n--;
      err('fixable', 'keys_out_of_order', text, bset.u64s);
      p += u64s * 8;
      continue;
    }
    if (prev >= 0 && c === 0) t.superseded[prev] = 1;
    prev = row;
    p += u64s * 8;
  }
}

function keyOutsideNode(t: KeyTable, row: number, minParts: Uint32Array | null, maxParts: Uint32Array): string | undefined {
  if (minParts && t.cmpParts(row, minParts) < 0) return 'key before start of btree node';
  if (t.cmpParts(row, maxParts) > 0) return 'key past end of btree node';
  return undefined;
}

/**
 * bch2_key_sort_fix_overlapping: merge the bsets by position; of the keys at one position only the newest
 * survives (the later bset, and within a bset the later key); deleted keys are dropped.
 *
 * A node is mostly one large bset and smaller ones written after it. The newer bsets are merged with each
 * other first, oldest to newest, then into the first: each key of the newer side is placed by a galloping
 * search and replaces an older key at its position, and the runs of older keys in between are copied
 * without comparing them. Keys replaced within their own bset were marked while decoding (superseded).
 */
function mergeBsets(node: BtreeNode): void {
  const t = node.keys;
  const n = t.n;
  if (t.live.length < n) t.live = new Int32Array(Math.max(n, t.live.length * 2, 64));
  if (mergeA.length < n) {
    const len = Math.max(n, mergeA.length * 2);
    mergeA = new Int32Array(len);
    mergeB = new Int32Array(len);
    mergeC = new Int32Array(len);
  }
  const live = t.live;
  let end0 = 0;
  while (end0 < n && t.bset[end0] === t.bset[0]) end0++;
  if (end0 === n) {
    let out = 0;
    for (let r = 0; r < n; r++) if (!t.superseded[r] && !t.whiteout(r)) live[out++] = r;
    node.live = live;
    node.liveCount = out;
    return;
  }
  // the newer bsets merged with each other, oldest to newest, into `newer`
  let newer = mergeA;
  let spare = mergeB;
  const rows = mergeC;
  let m = 0;
  for (let i = end0; i < n; ) {
    const b = t.bset[i];
    let nn = 0;
    for (; i < n && t.bset[i] === b; i++) if (!t.superseded[i]) rows[nn++] = i;
    if (m === 0) {
      newer.set(rows.subarray(0, nn));
      m = nn;
      continue;
    }
    m = mergeRows(t, newer, m, rows, nn, spare);
    [newer, spare] = [spare, newer];
  }
  // then laid over the first bset's
  let m0 = 0;
  for (let r = 0; r < end0; r++) if (!t.superseded[r]) rows[m0++] = r;
  const o = mergeRows(t, rows, m0, newer, m, spare);
  let out = 0;
  for (let k = 0; k < o; k++) {
    const row = spare[k]!;
    if (!t.whiteout(row)) live[out++] = row;
  }
  node.live = live;
  node.liveCount = out;
}

/**
 * Lays the rows newer[0, nn) over older[0, m) (both in key order; a newer key replaces an older one at
 * its position) into out; returns the count. Each newer key is placed by a galloping search; the older
 * ones between are copied in bulk.
 */
function mergeRows(t: KeyTable, older: Int32Array, m: number, newer: Int32Array, nn: number, out: Int32Array): number {
  let o = 0;
  let k = 0;
  for (let j = 0; j < nn; j++) {
    const row = newer[j]!;
    const at = lowerBound(t, older, k, m, row);
    if (at - k > 16) {
      out.set(older.subarray(k, at), o);
      o += at - k;
      k = at;
    } else {
      while (k < at) out[o++] = older[k++]!;
    }
    if (k < m && t.cmpPos(older[k]!, row) === 0) k++;
    out[o++] = row;
  }
  if (m > k) {
    out.set(older.subarray(k, m), o);
    o += m - k;
  }
  return o;
}

/** merge scratch: one node is merged at a time */
let mergeA = new Int32Array(4096);
let mergeB = new Int32Array(4096);
let mergeC = new Int32Array(4096);

/** The first index in rows[from, end) whose key is not before row's (galloping, then binary search). */
function lowerBound(t: KeyTable, rows: Int32Array, from: number, end: number, row: number): number {
  let lo = from;
  let hi = from;
  let step = 1;
  while (hi < end && t.cmpPos(rows[hi]!, row) < 0) {
    lo = hi + 1;
    hi += step;
    step *= 2;
  }
  if (hi > end) hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t.cmpPos(rows[mid]!, row) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
