// The state one check carries through btree_gc.c's sections (struct bch_fs's gc part): the buckets, the
// usage being recomputed, the findings, and the node reads with their counters, progress and cancellation.
// Each section (recovery.ts, alloc.ts, mark.ts, topology.ts, gc.ts, gc-done.ts, leaves.ts) works on it.
import type { Filesystem, NodeStep, WalkStep } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import { NEVER_CANCELLED, type CancellationToken } from '../base/cancellation.js';
import type { KeyTable } from '../format/bkey.js';
import { u64HiLoToString } from '../format/bytes.js';
import { bposToText, type Bpos } from '../format/bpos.js';
import { btreeName } from '../format/names.js';
import { bkeyValToText } from '../format/print.js';
import type { BtreePtr } from '../format/values.js';
import { DevBuckets, genAfter } from './buckets.js';
import { CheckAborted, FindingList, type KeyLocation, type NodeAddr, type PosParts } from './findings.js';
import { ReplicasTable, type ReplicasEntry } from './replicas.js';
import { CheckReuse } from './reuse.js';
import type { FsckPassName } from '../fsck/classes.js';
import type { InodeFeed } from '../fsck/inodes.js';
import type { ExtentFeed } from '../fsck/extents.js';
import type { CheckOptions, CheckPhase } from './result.js';
import { FsUsage, readRecordedUsage, type RecordedUsage } from './usage.js';

const YIELD_EVERY_NODES = 32;

export class Gc {
  readonly out: FindingList;
  readonly limitations: string[] = [];
  readonly devs: (DevBuckets | undefined)[] = [];
  readonly recorded: RecordedUsage;
  readonly table: ReplicasTable;
  /** the filesystem usage marking recomputes */
  readonly gcFs: FsUsage;
  /** BCH_COMPAT_alloc_info: gc_done prints its messages only with it */
  allocInfoValid: boolean;
  readonly devName: string | null;
  readonly token: CancellationToken;
  /** root nodes by btree id, as read_btree_roots read them */
  readonly rootNodes: (BtreeNode | undefined)[] = [];
  /** nodes whose read problems were already reported (a node read for the alloc info is not reported again in gc) */
  readonly reportedNodes = new Set<string>();
  nodesRead = 0;
  bytesRead = 0;
  keysVisited = 0;
  ptrsMarked = 0;
  estimatedTotalBytes = 0;
  private phase: CheckPhase = 'superblock';
  /** btree being walked, for progress */
  btree: string | undefined;
  /** fed the inodes btree's nodes as gc walks them (check_inodes' table), when the fsck passes will run */
  inodeFeed: InodeFeed | undefined;
  /** fed the extents btree's nodes as gc walks them (check_extents' summary), when the fsck passes will run */
  extentFeed: ExtentFeed | undefined;
  /** what this check keeps for the next one (CheckOptions.reusable) */
  readonly keep: CheckReuse | undefined;
  private nodesSinceYield = 0;
  private readonly notedLimitations = new Set<string>();
  /** the " stale" mark of key texts: against the alloc gens (bucket array 0), as bcachefs prints it */
  readonly staleFn = (dev: number, offset: number, gen: number): boolean => {
    const d = this.devs[dev];
    if (!d) return false;
    const b = d.bucketOf(offset);
    return b < d.nbuckets && genAfter(d.aGen[b]!, gen) > 0;
  };

  constructor(readonly fs: Filesystem, readonly opts: CheckOptions) {
    const sb = fs.sb;
    this.out = new FindingList(opts.policy ?? 'check');
    this.devName = opts.devName ?? null;
    this.token = opts.token ?? NEVER_CANCELLED;
    this.keep = opts.reusable ? new CheckReuse() : undefined;
    this.allocInfoValid = (sb.compat[0]! & 1n) !== 0n; // BCH_COMPAT_alloc_info
    for (const m of sb.members) {
      if (!m.exists) continue;
      if (m.index !== sb.devIdx) {
        this.limitations.push(`device ${m.index} of this filesystem is not open: pointers to it are not checked`);
        continue;
      }
      this.devs[m.index] = new DevBuckets(m.index, m.nbuckets, m.bucketSize, m.firstBucket);
    }
    this.recorded = readRecordedUsage(fs);
    this.limitations.push(...this.recorded.oversized);
    const entries: ReplicasEntry[] = [...sb.replicas, ...this.recorded.replicas.map((r) => r.entry)];
    this.table = new ReplicasTable(entries);
    this.gcFs = new FsUsage(this.table.nr);
    if (!sb.clean) this.limitations.push('filesystem was not cleanly unmounted: usage recorded in the journal is used, journal keys are laid over the btrees');
  }

  // ---------------------------------------------------------------- progress and cancellation

  progress(phase: CheckPhase, pass?: FsckPassName): void {
    this.phase = phase;
    this.opts.onProgress?.({
      phase,
      ...(this.btree !== undefined ? { btree: this.btree } : {}),
      ...(pass !== undefined ? { pass } : {}),
      nodesDone: this.nodesRead,
      bytesRead: this.bytesRead,
      estimatedTotalBytes: this.estimatedTotalBytes,
    });
  }

  /** After every node read: stop when cancelled; now and then report progress and let the event loop run. */
  async nodeDone(): Promise<void> {
    if (this.token.isCancellationRequested) throw new CheckAborted();
    if (++this.nodesSinceYield >= YIELD_EVERY_NODES) {
      this.nodesSinceYield = 0;
      this.progress(this.phase);
      await new Promise<void>((r) => setImmediate(r));
      if (this.token.isCancellationRequested) throw new CheckAborted();
    }
  }

  noteLimitation(s: string): void {
    if (this.notedLimitations.has(s)) return;
    this.adoptLimitation(s);
  }

  /** A limitation an earlier check noted in the part this one takes over (reuse.ts). */
  adoptLimitation(s: string): void {
    this.notedLimitations.add(s);
    this.limitations.push(s);
  }

  // ---------------------------------------------------------------- node reads

  /** Reads a node outside a walk (the roots), counted. */
  readNode(btreeId: number, level: number, ptr: BtreePtr, table: KeyTable): BtreeNode {
    this.nodesRead++;
    this.bytesRead += this.fs.sb.btreeNodeSize * 512;
    const node = this.fs.readNodeAt(btreeId, level, ptr, table);
    this.keep?.noteNode(btreeId, node.sector, this.fs.sb.btreeNodeSize * 512);
    return node;
  }

  /**
   * Every step of a section's walk goes through here: it counts what the walk read, notes a second pointer
   * to a node (read once), and polls cancellation. Returns the node step, or undefined for a repeat. The
   * walks start from the root nodes recovery read, so a step without a parent was not read again.
   */
  async visit(s: WalkStep): Promise<NodeStep | undefined> {
    if (s.repeat) {
      this.noteLimitation(`${btreeName(s.btreeId)}: more than one pointer leads to the node at sector ${s.ptr.ptrs[0]?.offset}; it was checked once`);
      return undefined;
    }
    if (s.parent) await this.countRead(s.btreeId, s.node.sector);
    return s;
  }

  /** A node read below a root (by a walk, or by an fsck pass for the leaves section): counted, cancellation polled. */
  async countRead(btreeId: number, sector: number): Promise<void> {
    this.nodesRead++;
    this.bytesRead += this.fs.sb.btreeNodeSize * 512;
    this.keep?.noteNode(btreeId, sector, this.fs.sb.btreeNodeSize * 512);
    await this.nodeDone();
  }

  /** The pointer that led to a step's node, as a finding locates it (for a root: the btree root entry). */
  stepKey(s: NodeStep): KeyLocation {
    return this.keyAt(s.ptrTable, s.ptrRow, s.parent ?? null, s.parent ? s.childIndex : undefined);
  }

  // ---------------------------------------------------------------- what findings say (off the hot path)

  keyText(t: KeyTable, row: number): string {
    return bkeyValToText(t, row, { stale: this.staleFn });
  }

  /** A key of a node (or laid over it from the journal), as a finding locates it. */
  keyAt(t: KeyTable, row: number, holder: BtreeNode | null, index?: number): KeyLocation {
    const source = holder === null ? 'btree_root' : t === this.fs.journalKeys.table ? 'journal' : 'bset';
    return {
      text: this.keyText(t, row),
      pos: rowPos(t, row),
      source,
      ...(source === 'bset' ? { bset: t.bset[row]!, byte_offset: t.keyOff[row]! } : {}),
      ...(index !== undefined ? { index } : {}),
    };
  }

  nodeAddr(node: BtreeNode, ptr?: BtreePtr): NodeAddr {
    return {
      dev: node.dev,
      sector: node.sector,
      ...(node.buf.length ? { seq: node.seq.toString() } : {}),
      ...(ptr?.seq !== undefined ? { ptr_seq: ptr.seq.toString() } : {}),
    };
  }
}

/** The exact position of a key row. */
function rowPos(t: KeyTable, row: number): PosParts {
  return {
    text: bposToText(t.pos(row)),
    inode: u64HiLoToString(t.inodeHi[row]!, t.inodeLo[row]!),
    offset: u64HiLoToString(t.offsetHi[row]!, t.offsetLo[row]!),
    snapshot: t.snapshot[row]!,
  };
}

export function posParts(p: Bpos): PosParts {
  return { text: bposToText(p), inode: p.inode.toString(), offset: p.offset.toString(), snapshot: p.snapshot };
}

/** The node a btree pointer points to (its first device pointer), before it is read. */
export function ptrTarget(ptr: BtreePtr): NodeAddr | undefined {
  const p = ptr.ptrs[0];
  if (!p) return undefined;
  return { dev: p.dev, sector: p.offset, ...(ptr.seq !== undefined ? { ptr_seq: ptr.seq.toString() } : {}) };
}
