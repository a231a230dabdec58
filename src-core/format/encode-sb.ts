// Encoders for struct bch_sb (superblock.ts decodes it): the header fields a repair changes, the variable
// fields (replicas, clean section, any other kept as found), the checksum, and the copy for each layout slot.
import { readU64 } from './bytes.js';
import { copyBytes, writeChecksum, writeU32, writeU64 } from './encode-key.js';
import {
  SB_HEADER_BYTES, BCH_SB_FIELD_replicas_v0, type ReplicasEntry, type Superblock,
} from './superblock.js';

/** struct bch_sb_layout sits in the header at byte 240 (and alone at sector 7). */
const SB_LAYOUT_OFFSET = 240;
const SB_LAYOUT_BYTES = 512;
const SB_FIELD_HEADER_BYTES = 8;

/** One superblock field: its type and its data after the 8-byte struct bch_sb_field (u64s, type). */
export interface SbFieldBytes {
  type: number;
  payload: Uint8Array;
}

/** The fields of a decoded superblock, in order, as stored. */
export function sbFieldsOf(sb: Superblock): SbFieldBytes[] {
  return sb.fields.map((f) => ({ type: f.type, payload: copyBytes(sb.bytes, f.offset + SB_FIELD_HEADER_BYTES, f.offset + f.bytes) }));
}

function csumType(bytes: Uint8Array): number {
  return Number((readU64(bytes, 144) >> 2n) & 0x3fn); // BCH_SB_CSUM_TYPE: flags[0] bits 2-7
}

/** The csum covers everything after the 16-byte csum field up to the end of the last field (csum_vstruct). */
function sealSuperblock(out: Uint8Array): Uint8Array {
  writeChecksum(csumType(out), out, 0, 16, out.length);
  return out;
}

/**
 * A superblock from its 752-byte header (the first SB_HEADER_BYTES of `header`) and its fields: u64s and
 * each field's header are set, each payload zero-padded to u64s, the checksum computed. Refuses a result
 * larger than the layout's sb_max_size_bits allows.
 */
export function encodeSuperblock(header: Uint8Array, fields: readonly SbFieldBytes[]): Uint8Array {
  const sizes = fields.map((f) => Math.ceil(f.payload.length / 8) * 8 + SB_FIELD_HEADER_BYTES);
  const total = SB_HEADER_BYTES + sizes.reduce((a, b) => a + b, 0);
  const max = 512 << header[SB_LAYOUT_OFFSET + 17]!;
  if (total > max) throw new RangeError(`the superblock would be ${total} bytes, more than its layout's ${max}-byte slots: it cannot be written`);
  const out = new Uint8Array(total);
  out.set(header.subarray(0, SB_HEADER_BYTES));
  writeU32(out, 124, (total - SB_HEADER_BYTES) / 8);
  let p = SB_HEADER_BYTES;
  fields.forEach((f, i) => {
    writeU32(out, p, sizes[i]! / 8);
    writeU32(out, p + 4, f.type);
    out.set(f.payload, p + SB_FIELD_HEADER_BYTES);
    p += sizes[i]!;
  });
  return sealSuperblock(out);
}

/**
 * The copy of a superblock written to the layout slot at `sector` (write_one_super): the same bytes with
 * `offset` set to that sector and the checksum recomputed. Use it for the primary (sector 8) and every backup.
 */
export function superblockCopy(bytes: Uint8Array, sector: number): Uint8Array {
  const out = copyBytes(bytes);
  writeU64(out, 104, BigInt(sector));
  return sealSuperblock(out);
}

/** A superblock with header fields a repair changes: seq (bcachefs bumps it on every write) and the clean flag. */
export function withSbHeader(bytes: Uint8Array, change: { seq?: bigint; clean?: boolean }): Uint8Array {
  const out = copyBytes(bytes);
  if (change.seq !== undefined) writeU64(out, 112, change.seq);
  if (change.clean !== undefined) {
    const f0 = readU64(out, 144);
    writeU64(out, 144, change.clean ? f0 | 2n : f0 & ~2n); // BCH_SB_CLEAN: flags[0] bit 1
  }
  return sealSuperblock(out);
}

/** bch_sb_field_replicas(_v0) data: each entry data_type, nr_devs, (nr_required, v1 only), devs. */
export function encodeReplicasField(entries: readonly ReplicasEntry[], type: number): Uint8Array {
  const v0 = type === BCH_SB_FIELD_replicas_v0;
  const parts = entries.map((e) => Uint8Array.from(v0 ? [e.dataType, e.devs.length, ...e.devs] : [e.dataType, e.devs.length, e.nrRequired, ...e.devs]));
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

/** bch_sb_field_clean data: flags, the unused read/write clocks (0), journal_seq, then the jset entries. */
export function encodeCleanField(flags: number, journalSeq: bigint, entries: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(16 + entries.reduce((n, e) => n + e.length, 0));
  writeU32(out, 0, flags);
  writeU64(out, 8, journalSeq);
  let p = 16;
  for (const e of entries) {
    out.set(e, p);
    p += e.length;
  }
  return out;
}

/** The 512-byte layout block (sector 7 holds a copy of the header's layout). */
export function sbLayoutBytes(bytes: Uint8Array): Uint8Array {
  return copyBytes(bytes, SB_LAYOUT_OFFSET, SB_LAYOUT_OFFSET + SB_LAYOUT_BYTES);
}
