// What is left of a lost node itself: when only its first blocks are destroyed (the header and the start of
// the first bset), the bsets appended later (btree_node_entry at block boundaries, each with its own
// checksum and the node's seq) are often intact, and they are the node's newest keys, newer than any older
// copy. Their packed keys need the node's key format, which was in the destroyed header: the format an
// older copy of the range had, or the one bcachefs computes for those keys (bch2_btree_calc_format), is
// tried, and accepted only if every key then decodes, validates, lies inside the node's range and is in
// order (the checksums already say the bytes are as written).
import type { Filesystem } from '../btree/fs.js';
import { parseBtreeNode, type BtreeNode } from '../btree/node.js';
import { bchChecksum32, readU16, readU32, readU64 } from '../format/bytes.js';
import type { BkeyFormat } from '../format/bkey.js';
import { encodeNode, readBsetHeader } from '../format/encode-node.js';
import { KEY_TYPE_btree_ptr_v2 } from '../format/names.js';
import { nodeGeometry } from './edit.js';
import type { LostNode } from './nodes-lost.js';

export interface SurvivingBsets {
  /** the later bsets read as a node: its key table holds every key of them, in bset order */
  node: BtreeNode;
  /** byte offsets of the bsets in the lost node */
  offsets: number[];
  newestJournalSeq: bigint;
}

export function survivingBsets(fs: Filesystem, lost: LostNode, formats: readonly BkeyFormat[]): SurvivingBsets | undefined {
  const geo = nodeGeometry(fs);
  const seq = lost.ptr.seq;
  if (seq === undefined) return undefined;
  const buf = new Uint8Array(fs.dev.read(lost.sector * 512, geo.nodeBytes));
  const bsets: { header: ReturnType<typeof readBsetHeader>; keys: Uint8Array }[] = [];
  const offsets: number[] = [];
  for (let off = geo.blockBytes; off + 40 <= geo.nodeBytes; off += geo.blockBytes) {
    if (readU64(buf, off + 16) !== seq) continue;
    const end = off + 40 + readU16(buf, off + 38) * 8;
    if (end > geo.nodeBytes || bchChecksum32(readU32(buf, off + 32) & 0xf, buf, off + 16, end) !== readU32(buf, off)) continue;
    bsets.push({ header: readBsetHeader(buf, off + 16), keys: buf.slice(off + 40, end) });
    offsets.push(off);
    off = Math.ceil(end / geo.blockBytes) * geo.blockBytes - geo.blockBytes;
  }
  if (!bsets.length) return undefined;
  const first = { header: { ...bsets[0]!.header, journalSeq: 0n, u64s: 0 }, keys: new Uint8Array(0) };
  const flags = BigInt(lost.btreeId) | (BigInt(lost.level) << 4n) | (1n << 8n);
  const ptr = {
    type: KEY_TYPE_btree_ptr_v2, maxKey: lost.maxKey, minKey: lost.minKey, seq, sectorsWritten: 0, flags: 0, raw: new Uint8Array(0),
    ptrs: [{ dev: fs.sb.devIdx, offset: lost.sector, gen: 0, cached: false }],
  };
  for (const format of formats) {
    const img = encodeNode({ header: { magic: fs.sb.bsetMagic, flags, minKey: lost.minKey, maxKey: lost.maxKey, ptr: 0n, format }, bsets: [first, ...bsets] }, geo);
    const node = parseBtreeNode(fs.sb, img.bytes, { btreeId: lost.btreeId, level: lost.level, ptr });
    if (node.readable && node.errors.length === 0 && node.bsets.length === bsets.length + 1) {
      return { node, offsets, newestJournalSeq: bsets.reduce((m, b) => (b.header.journalSeq > m ? b.header.journalSeq : m), 0n) };
    }
  }
  return undefined;
}
