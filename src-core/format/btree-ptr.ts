// Btree node pointers (btree_ptr, btree_ptr_v2 keys): the one place their values are decoded. Interior
// nodes, root entries and journal keys all hold them; readers, the walk's read-ahead and the checker's
// marking take what they need from here.
import { KeyTable, decodeKey, BKEY_U64s } from './bkey.js';
import { KEY_TYPE_btree_ptr, KEY_TYPE_btree_ptr_v2 } from './names.js';
import { decodePtrs, btreePtrV2Header, BTREE_PTR_V2_HEADER_BYTES, type BtreePtr } from './values.js';
import { bkeyValToText, type KeyTextOptions } from './print.js';

/**
 * Where the extent entries (the device pointers) of row i's value start: after the v2 header for
 * btree_ptr_v2, at the value for btree_ptr; -1 if the row is not a btree pointer or too short for its header.
 * The entries end at valOff + valLen.
 */
export function btreePtrEntriesStart(t: KeyTable, i: number): number {
  const type = t.type[i]!;
  if (type === KEY_TYPE_btree_ptr) return t.valOff[i]!;
  if (type !== KEY_TYPE_btree_ptr_v2 || t.valLen[i]! < BTREE_PTR_V2_HEADER_BYTES) return -1;
  return t.valOff[i]! + BTREE_PTR_V2_HEADER_BYTES;
}

/** Builds a BtreePtr (with its unpacked raw key) from row i of t; undefined if it is not a btree pointer. */
export function btreePtrFromKey(t: KeyTable, i: number): BtreePtr | undefined {
  const start = btreePtrEntriesStart(t, i);
  if (start < 0) return undefined;
  const type = t.type[i]!;
  const valLen = t.valLen[i]!;
  const raw = new Uint8Array(BKEY_U64s * 8 + valLen);
  const dv = new DataView(raw.buffer);
  raw[0] = BKEY_U64s + valLen / 8;
  raw[1] = 1; // KEY_FORMAT_CURRENT
  raw[2] = type;
  dv.setUint32(4, t.versionLoLo[i]!, true);
  dv.setUint32(8, t.versionLoHi[i]!, true);
  dv.setUint32(12, t.versionHi[i]!, true);
  dv.setUint32(16, t.size[i]!, true);
  dv.setUint32(20, t.snapshot[i]!, true);
  dv.setUint32(24, t.offsetLo[i]!, true);
  dv.setUint32(28, t.offsetHi[i]!, true);
  dv.setUint32(32, t.inodeLo[i]!, true);
  dv.setUint32(36, t.inodeHi[i]!, true);
  raw.set(t.buf.subarray(t.valOff[i]!, t.valOff[i]! + valLen), BKEY_U64s * 8);
  const val = raw.subarray(BKEY_U64s * 8);
  const ptr: BtreePtr = { type, maxKey: t.pos(i), sectorsWritten: 0, flags: 0, ptrs: [], raw };
  if (type === KEY_TYPE_btree_ptr_v2) {
    const h = btreePtrV2Header(val);
    ptr.seq = h.seq;
    ptr.sectorsWritten = h.sectorsWritten;
    ptr.flags = h.flags;
    ptr.minKey = h.minKey;
  }
  ptr.ptrs = decodePtrs(val, start - t.valOff[i]!, val.length);
  return ptr;
}

/** A one-row KeyTable holding a pointer's unpacked key (for roots, which live outside any node). */
export function btreePtrTable(ptr: BtreePtr): KeyTable {
  const t = new KeyTable(1);
  t.reset(ptr.raw);
  decodeKey(t, t.push(), ptr.raw, 0, null);
  return t;
}

/** A pointer's key as bcachefs prints it (bch2_bkey_val_to_text). */
export function btreePtrToText(ptr: BtreePtr, opts: KeyTextOptions = {}): string {
  return bkeyValToText(btreePtrTable(ptr), 0, opts);
}
