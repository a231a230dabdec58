// Older copies of btree nodes. Nodes are copy on write: a split, merge or rewrite writes a new node and the
// old one stays in its bucket until the bucket is reused. Newer bcachefs (btree/node_scan.c) reconstructs
// btrees from them: it reads every bucket at btree-node-size strides, keeps what has the filesystem's node
// magic and validates, and when copies overlap the newer one (BTREE_NODE_SEQ, then the bsets' journal seq)
// wins for the range it covers. This is that scan and that choice, for the range of one lost node.
// The scan reads the disk (minus the buckets that hold user data or superblock/journal): `plan` runs it,
// with progress and cancellation; `check` never does.
import type { CancellationToken } from '../base/cancellation.js';
import type { Filesystem } from '../btree/fs.js';
import { parseBtreeNode, type BtreeNode } from '../btree/node.js';
import type { GcState } from '../check/result.js';
import { readU64 } from '../format/bytes.js';
import { bposCmp, bposSuccessor, readBpos, U32_MAX, U64_MAX, type Bpos } from '../format/bpos.js';
import type { NodeIdentity } from '../format/encode-new-node.js';
import { BCH_DATA_cached, BCH_DATA_journal, BCH_DATA_sb, BCH_DATA_user } from '../format/names.js';
import type { BtreePtr } from '../format/values.js';

/** A node header found on the device whose node validates (checksums, keys) as a node of its own range. */
export interface FoundNode extends NodeIdentity {
  sector: number;
  liveKeys: number;
}

export class ScanCancelled extends Error {
  constructor() {
    super('the scan for older btree node copies was cancelled; nothing was planned from it');
  }
}

export interface ScanOptions {
  token?: CancellationToken;
  /** buckets done of buckets to scan */
  onProgress?: (done: number, total: number) => void;
}

/** Buckets whose recomputed state holds user data or metadata that is not btree: no node copy survives there. */
function skipBucket(gc: GcState | undefined, dev: number, b: number): boolean {
  const d = gc?.devs[dev];
  if (!d) return false;
  const t = d.dataType[b]!;
  return t === BCH_DATA_user || t === BCH_DATA_cached || t === BCH_DATA_sb || t === BCH_DATA_journal;
}

/**
 * Every node on the superblock's device, read as node_scan.c reads them: at btree-node-size strides inside
 * each bucket, the first block for the magic, then the whole node, parsed against a pointer made from its
 * own header (so only checksums and keys decide). Nodes whose bsets carry a journal seq past the newest
 * one the filesystem has are left out: bcachefs would not trust them either.
 */
export function scanForNodes(fs: Filesystem, gc: GcState | undefined, opts: ScanOptions = {}): FoundNode[] {
  const sb = fs.sb;
  const m = sb.members[sb.devIdx]!;
  const nodeSectors = sb.btreeNodeSize;
  const blockBytes = sb.blockSize * 512;
  const newestJournal = newestJournalSeq(fs);
  const out: FoundNode[] = [];
  const total = m.nbuckets - m.firstBucket;
  let done = 0;
  for (let b = m.firstBucket; b < m.nbuckets; b++, done++) {
    if (opts.token?.isCancellationRequested) throw new ScanCancelled();
    if ((done & 63) === 0) opts.onProgress?.(done, total);
    if (skipBucket(gc, sb.devIdx, b)) continue;
    for (let s = 0; s + nodeSectors <= m.bucketSize; s += nodeSectors) {
      const sector = b * m.bucketSize + s;
      if ((sector + nodeSectors) * 512 > fs.dev.size) break;
      const head = fs.dev.read(sector * 512, blockBytes);
      if (readU64(head, 16) !== sb.bsetMagic) continue;
      const n = readCopy(fs, sector);
      if (!n) continue;
      const journalSeq = n.bsets.reduce((x, bs) => (bs.journalSeq > x ? bs.journalSeq : x), 0n);
      if (newestJournal !== undefined && journalSeq > newestJournal) continue;
      out.push({
        sector, btreeId: n.btreeId, level: n.level, nodeSeq: n.nodeSeqFlag, seq: n.seq, minKey: n.minKey, maxKey: n.maxKey, journalSeq, liveKeys: n.liveCount,
      });
    }
  }
  opts.onProgress?.(total, total);
  return out;
}

/** The node at `sector` parsed against its own header (btree id, level, range, seq); undefined if it does not validate. */
export function readCopy(fs: Filesystem, sector: number): BtreeNode | undefined {
  const sb = fs.sb;
  const buf = new Uint8Array(fs.dev.read(sector * 512, sb.btreeNodeSize * 512));
  const flags = readU64(buf, 24);
  const btreeId = Number(flags & 0xfn);
  const level = Number((flags >> 4n) & 0xfn);
  const self: BtreePtr = {
    type: 18, maxKey: readBpos(buf, 52), seq: readU64(buf, 136), sectorsWritten: 0, flags: 0, minKey: readBpos(buf, 32),
    ptrs: [{ dev: sb.devIdx, offset: sector, gen: 0, cached: false }], raw: new Uint8Array(0),
  };
  const n = parseBtreeNode(sb, buf, { btreeId, level, ptr: self });
  return n.readable && n.bsets.every((b) => b.csumOk !== false) ? n : undefined;
}

/** The newest journal seq the filesystem has: the clean section's, or the newest journal entry read. */
function newestJournalSeq(fs: Filesystem): bigint | undefined {
  let seq = fs.sb.cleanSection?.journalSeq;
  for (const j of fs.journal.jsets) if (!j.error && (seq === undefined || j.seq > seq)) seq = j.seq;
  return seq;
}

/** found_btree_node_cmp_time: the newer of two copies. */
export function newerFirst(a: FoundNode, b: FoundNode): number {
  return b.nodeSeq - a.nodeSeq || (b.journalSeq > a.journalSeq ? 1 : b.journalSeq < a.journalSeq ? -1 : 0);
}

/** A part of the lost range and the copy whose keys stand for it (the newest copy that covers it). */
export interface CopySpan {
  copy: FoundNode;
  min: Bpos;
  max: Bpos;
}

/**
 * Which copy speaks for which part of [min, max], as handle_overwrites decides: copies newest first, each
 * taking what newer ones left of its range. A key is restored only from the copy whose span holds it (an
 * older copy's key at a place a newer copy covers was deleted or overwritten since).
 */
export function spansFor(found: readonly FoundNode[], btreeId: number, level: number, min: Bpos, max: Bpos, exclude: ReadonlySet<number>): CopySpan[] {
  const copies = found
    .filter((f) => f.btreeId === btreeId && f.level === level && !exclude.has(f.sector) && bposCmp(f.maxKey, min) >= 0 && bposCmp(f.minKey, max) <= 0)
    .sort(newerFirst);
  let free: { min: Bpos; max: Bpos }[] = [{ min, max }];
  const out: CopySpan[] = [];
  for (const c of copies) {
    const next: { min: Bpos; max: Bpos }[] = [];
    for (const r of free) {
      const lo = bposCmp(c.minKey, r.min) > 0 ? c.minKey : r.min;
      const hi = bposCmp(c.maxKey, r.max) < 0 ? c.maxKey : r.max;
      if (bposCmp(lo, hi) > 0) {
        next.push(r);
        continue;
      }
      out.push({ copy: c, min: lo, max: hi });
      if (bposCmp(r.min, lo) < 0) next.push({ min: r.min, max: predecessor(lo) });
      if (bposCmp(hi, r.max) < 0) next.push({ min: successor(hi), max: r.max });
    }
    free = next;
    if (!free.length) break;
  }
  return out.sort((a, b) => bposCmp(a.min, b.min));
}

/** bpos_predecessor (the range before a span ends just below its start). */
function predecessor(p: Bpos): Bpos {
  if (p.snapshot > 0) return { ...p, snapshot: p.snapshot - 1 };
  if (p.offset > 0n) return { inode: p.inode, offset: p.offset - 1n, snapshot: U32_MAX };
  return { inode: p.inode - 1n, offset: U64_MAX, snapshot: U32_MAX };
}

function successor(p: Bpos): Bpos {
  return bposSuccessor(p) ?? p;
}
