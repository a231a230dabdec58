// Encoders for struct jset_entry (journal.ts decodes them): the entries of the superblock's clean section and
// of journal writes. A repair rewrites btree_root entries (a root that moved) and the usage entries (recomputed).
import { writeU16, writeU32, writeU64 } from './encode-key.js';
import {
  BCH_JSET_ENTRY_btree_root, BCH_JSET_ENTRY_data_usage, BCH_JSET_ENTRY_dev_usage, BCH_JSET_ENTRY_usage, JSET_ENTRY_HEADER_BYTES,
  type DataUsageEntry, type DevUsageEntry, type FsUsageEntry,
} from './journal.js';

/** struct jset_entry (u64s, btree_id, level, type, pad[3]) followed by the payload, zero-padded to u64s. */
export function encodeJsetEntry(type: number, btreeId: number, level: number, payload: Uint8Array): Uint8Array {
  const u64s = Math.ceil(payload.length / 8);
  const out = new Uint8Array(JSET_ENTRY_HEADER_BYTES + u64s * 8);
  writeU16(out, 0, u64s);
  out[2] = btreeId;
  out[3] = level;
  out[4] = type;
  out.set(payload, JSET_ENTRY_HEADER_BYTES);
  return out;
}

/** A btree_root entry: the root's unpacked btree_ptr(_v2) key (encodeKey with no format). */
export function encodeBtreeRootEntry(btreeId: number, level: number, key: Uint8Array): Uint8Array {
  return encodeJsetEntry(BCH_JSET_ENTRY_btree_root, btreeId, level, key);
}

/** jset_entry_usage, jset_entry_data_usage (with its bch_replicas_entry) or jset_entry_dev_usage. */
export function encodeUsageEntry(e: FsUsageEntry | DataUsageEntry | DevUsageEntry): Uint8Array {
  if (e.kind === 'usage') {
    const p = new Uint8Array(8);
    writeU64(p, 0, e.v);
    return encodeJsetEntry(BCH_JSET_ENTRY_usage, e.usageType, e.index, p);
  }
  if (e.kind === 'data_usage') {
    const p = new Uint8Array(11 + e.devs.length);
    writeU64(p, 0, e.v);
    p[8] = e.dataType;
    p[9] = e.devs.length;
    p[10] = e.nrRequired;
    p.set(e.devs, 11);
    return encodeJsetEntry(BCH_JSET_ENTRY_data_usage, 0, 0, p);
  }
  const p = new Uint8Array(24 + 24 * e.d.length);
  writeU32(p, 0, e.dev);
  writeU64(p, 8, e.bucketsEc);
  writeU64(p, 16, e.bucketsUnavailable);
  e.d.forEach((d, i) => {
    writeU64(p, 24 + 24 * i, d.buckets);
    writeU64(p, 32 + 24 * i, d.sectors);
    writeU64(p, 40 + 24 * i, d.fragmented);
  });
  return encodeJsetEntry(BCH_JSET_ENTRY_dev_usage, 0, 0, p);
}
