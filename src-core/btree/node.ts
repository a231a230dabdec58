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

/** __bch2_bkey_invalid for row i of t; `nodeType` is the btree id, or 8 for interior nodes. */
export function bkeyInvalid(t: KeyTable, i: number, btreeId: number, level: number): string | undefined {
  const nodeType = level > 0 ? 8 : btreeId;
  if (t.u64s[i]! < BKEY_U64s) return 'u64s too small';
  const type = t.type[i]!;
  if (!(((1 << KEY_TYPE_deleted) | (KEY_TYPES_ALLOWED[nodeType] ?? 0)) & (1 << type)) || type >= BCH_BKEY_TYPES.length) {
    return 'invalid key type for this btree';
  }
  if (nodeType === 8 && t.u64s[i]! - BKEY_U64s > BKEY_BTREE_PTR_VAL_U64s_MAX) return 'value too big';
  if (nodeType !== 8 && btreeIsExtents(btreeId)) {
    if ((t.size[i] === 0) !== t.whiteout(i)) return 'bad size field';
    if (t.offsetHi[i] === 0 && t.size[i]! > t.offsetLo[i]!) return 'size greater than offset';
  } else if (t.size[i] !== 0) {
    return 'nonzero size field';
  }
  if (nodeType !== 8) {
    const snap = t.snapshot[i]!;
    if (!btreeHasSnapshots(btreeId) && snap !== 0) return 'nonzero snapshot';
    if (btreeHasSnapshots(btreeId) && snap !== U32_MAX) return 'invalid snapshot field';
    // bkey_cmp: inode and offset only
    if (t.inodeHi[i] === 0xffffffff && t.inodeLo[i] === 0xffffffff && t.offsetHi[i] === 0xffffffff && t.offsetLo[i] === 0xffffffff) {
      return 'POS_MAX key';
    }
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
      if (readU64(buf, hdr) !== node.seq) break;
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
    if (readU64(buf, off + 16) === node.seq) {
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
    const invalid = bkeyInvalid(t, row, node.btreeId, node.level) ??
      (!rangeUpdated ? keyOutsideNode(t, row, minParts, maxParts) : undefined);
    if (invalid) {
      // bcachefs: "invalid bkey: %s\n%s" with the key printed into a 160-byte buffer
      const text = bkeyValToText(t, row).slice(0, 159);
      t.n--;
      err('fixable', 'invalid_bkey', `invalid bkey: ${invalid}\n${text}`, bset.u64s);
      p += u64s * 8;
      continue;
    }
    // bkey_iter_cmp: by position, and at one position a deleted key comes before a live one
    const order = prev >= 0 ? t.cmpPos(prev, row) || Number(t.whiteout(row)) - Number(t.whiteout(prev)) : -1;
    if (order > 0) {
      // bcachefs: "keys out of order: %s > %s", each key header printed into an 80-byte buffer
      const text = `keys out of order: ${bkeyToText(t, prev).slice(0, 79)} > ${bkeyToText(t, row).slice(0, 79)}`;
      t.n--;
      err('fixable', 'keys_out_of_order', text, bset.u64s);
      p += u64s * 8;
      continue;
    }
    prev = row;
    p += u64s * 8;
  }
}

function keyOutsideNode(t: KeyTable, row: number, minParts: Uint32Array, maxParts: Uint32Array): string | undefined {
  if (t.cmpParts(row, minParts) < 0) return 'key before start of btree node';
  if (t.cmpParts(row, maxParts) > 0) return 'key past end of btree node';
  return undefined;
}

/**
 * bch2_key_sort_fix_overlapping: merge the bsets by position; of the keys at one position only the newest
 * survives (the later bset, and within a bset the later key); deleted keys are dropped.
 */
function mergeBsets(node: BtreeNode): void {
  const t = node.keys;
  const n = t.n;
  if (node.live.length < n) node.live = new Int32Array(Math.max(n, 64));
  const live = node.live;
  let out = 0;
  const emit = (row: number): void => {
    if (!t.whiteout(row)) live[out++] = row;
  };
  // bset boundaries (rows are in bset order); bsets without keys take no part
  const starts: number[] = [];
  const ends: number[] = [];
  for (let r = 0; r < n; ) {
    const s = t.bset[r];
    starts.push(r);
    while (r < n && t.bset[r] === s) r++;
    ends.push(r);
  }
  const nsets = starts.length;
  if (nsets <= 1) {
    for (let i = 0; i < n; i++) if (i + 1 === n || t.cmpPos(i, i + 1) !== 0) emit(i);
  } else {
    const cur = starts;
    for (;;) {
      // the smallest position among the heads; ties go to the newest bset (the others are dropped)
      let best = -1;
      for (let s = 0; s < nsets; s++) {
        if (cur[s]! >= ends[s]!) continue;
        if (best < 0 || t.cmpPos(cur[s]!, cur[best]!) <= 0) best = s;
      }
      if (best < 0) break;
      let row = cur[best]!;
      for (let s = 0; s < nsets; s++) {
        if (s === best) continue;
        while (cur[s]! < ends[s]! && t.cmpPos(cur[s]!, row) === 0) cur[s] = cur[s]! + 1;
      }
      cur[best] = row + 1;
      // within one bset too, the later of two keys at a position wins
      while (cur[best]! < ends[best]! && t.cmpPos(cur[best]!, row) === 0) {
        row = cur[best]!;
        cur[best] = row + 1;
      }
      emit(row);
    }
  }
  node.liveCount = out;
}

