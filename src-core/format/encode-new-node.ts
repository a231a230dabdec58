// A new btree node from its keys, as bcachefs's bch2_btree_node_alloc and btree_node_set_format make one: the
// key format computed from the keys and the node's range (bch2_btree_calc_format), one bset holding them all.
// For rebuilding a node (over found children, from an older copy's keys) into a free bucket (buckets.ts).
import { bposCmp, type Bpos } from './bpos.js';
import { BKEY_NR_FIELDS, BKEY_FIELD_OFFSET, BKEY_FIELD_SIZE, readBkeyFormat, type BkeyFormat } from './bkey.js';
import { encodeKey, writeBkeyFormat, BKEY_FORMAT_BYTES, type BkeyFields } from './encode-key.js';
import { encodeNode, type NodeGeometry } from './encode-node.js';

const UNPACKED_BITS = [64, 64, 32, 32, 32, 64]; // bch2_bkey_format_current
const KEY_PACKED_BITS_START = 24;

function fls(v: bigint): number {
  let n = 0;
  while (v >> BigInt(n) !== 0n) n++;
  return n;
}

/**
 * bch2_bkey_format_init / _add_pos / _add_key / _done: each field's offset is its smallest value (an extent's
 * start for the offset field) and its width covers the range, size gets 4 spare bits for merging, and spare
 * bits of the last u64 round fields up to whole bytes.
 */
export function bkeyFormatFor(keys: readonly BkeyFields[], range: readonly Bpos[]): BkeyFormat {
  const min = new Array<bigint>(BKEY_NR_FIELDS).fill(0xffff_ffff_ffff_ffffn);
  const max = new Array<bigint>(BKEY_NR_FIELDS).fill(0n);
  const add = (f: number, v: bigint): void => {
    if (v < min[f]!) min[f] = v;
    if (v > max[f]!) max[f] = v;
  };
  const addPos = (p: Bpos): void => {
    add(0, p.inode);
    add(1, p.offset);
    add(2, BigInt(p.snapshot));
  };
  for (const p of range) addPos(p);
  for (const k of keys) {
    addPos(k.pos);
    add(3, BigInt(k.size));
    add(4, BigInt(k.versionHi));
    add(5, k.versionLo);
    add(BKEY_FIELD_OFFSET, k.pos.offset - BigInt(k.size));
  }
  const bits: number[] = [];
  const offsets: bigint[] = [];
  const set = (i: number, b: number, offset: bigint): void => {
    const unpacked = UNPACKED_BITS[i]!;
    b = Math.min(b, unpacked);
    const unpackedMax = (1n << BigInt(unpacked)) - 1n;
    const room = unpackedMax - ((1n << BigInt(b)) - 1n);
    bits[i] = b;
    offsets[i] = b === unpacked ? 0n : offset < room ? offset : room;
  };
  let total = KEY_PACKED_BITS_START;
  for (let i = 0; i < BKEY_NR_FIELDS; i++) {
    if (min[i]! > max[i]!) min[i] = max[i]!;
    set(i, fls(max[i]! - min[i]!), min[i]!);
    total += bits[i]!;
  }
  if (bits[BKEY_FIELD_SIZE]) {
    bits[BKEY_FIELD_SIZE]! += 4;
    total += 4;
  }
  const keyU64s = Math.ceil(total / 64);
  let spare = keyU64s * 64 - total;
  for (let i = 0; i < BKEY_NR_FIELDS; i++) {
    const r = Math.ceil(bits[i]! / 8) * 8 - bits[i]!;
    if (r <= spare) {
      set(i, bits[i]! + r, offsets[i]!);
      spare -= r;
    }
  }
  const buf = new Uint8Array(BKEY_FORMAT_BYTES);
  writeBkeyFormat(buf, 0, { keyU64s, nrFields: BKEY_NR_FIELDS, bitsPerField: bits, fieldOffset: offsets, offHi: new Uint32Array(6), offLo: new Uint32Array(6) });
  return readBkeyFormat(buf, 0);
}

/** What says which node of which btree a node is, and which copy of it: in a new node as in one found on disk. */
export interface NodeIdentity {
  btreeId: number;
  level: number;
  /** BTREE_NODE_SEQ: how many times the node was rewritten (orders copies of one range) */
  nodeSeq: number;
  /** the bset seq, which the parent's btree_ptr_v2 must carry */
  seq: bigint;
  minKey: Bpos;
  maxKey: Bpos;
  /** the newest journal seq of the node's bsets */
  journalSeq: bigint;
}

/**
 * A node to write: its nodeSeq is the replaced node's plus one, its seq random (as bcachefs picks it), its
 * journalSeq the keys' newest (bcachefs keeps it on rewrites), not past the journal.
 */
export interface NewNode extends NodeIdentity {
  /** the filesystem's bset magic (Superblock.bsetMagic) */
  magic: bigint;
  /** the superblock's metadata version */
  version: number;
  /** the bset checksum type: for metadata the superblock's metadata_checksum option number is the type */
  csumType: number;
  /** the node's keys in ascending position order, within [minKey, maxKey] */
  keys: readonly { fields: BkeyFields; value: Uint8Array }[];
}

const BTREE_NODE_NEW_EXTENT_OVERWRITE = 1n << 8n;

/** The bytes of a new node (btree_node_size long, zero after its one bset). */
export function newNode(n: NewNode, geo: NodeGeometry): Uint8Array {
  if (n.btreeId > 15 || n.level > 15) throw new RangeError('btree id and level are 4-bit fields');
  if (!Number.isInteger(n.nodeSeq) || n.nodeSeq < 0 || n.nodeSeq > 0xffff_ffff) throw new RangeError('BTREE_NODE_SEQ is a u32');
  if (n.seq === 0n) throw new RangeError('a bset seq of 0 reads as a bad btree header: pick another');
  n.keys.forEach((k, i) => {
    if ((i > 0 && bposCmp(n.keys[i - 1]!.fields.pos, k.fields.pos) >= 0) || bposCmp(k.fields.pos, n.minKey) < 0 || bposCmp(k.fields.pos, n.maxKey) > 0) {
      throw new RangeError(`key ${i} is out of order or outside the node's range`);
    }
  });
  const format = bkeyFormatFor(n.keys.map((k) => k.fields), [n.minKey, n.maxKey]);
  const encoded = n.keys.map((k) => encodeKey(k.fields, k.value, format));
  const keys = new Uint8Array(encoded.reduce((s, k) => s + k.length, 0));
  let p = 0;
  for (const k of encoded) {
    keys.set(k, p);
    p += k.length;
  }
  const flags = BigInt(n.btreeId) | (BigInt(n.level) << 4n) | BTREE_NODE_NEW_EXTENT_OVERWRITE | (BigInt(n.nodeSeq) << 32n);
  return encodeNode({
    header: { magic: n.magic, flags, minKey: n.minKey, maxKey: n.maxKey, ptr: 0n, format },
    bsets: [{ header: { seq: n.seq, journalSeq: n.journalSeq, flags: n.csumType, version: n.version, u64s: 0 }, keys }],
  }, geo).bytes;
}
