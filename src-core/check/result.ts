// What a check takes and gives back: options (progress, cancellation), the findings, and the gc state a
// repair planner works from, so that it needs no second run.
import type { CancellationToken } from '../base/cancellation.js';
import type { FsckPassName } from '../fsck/classes.js';
import type { Policy } from '../problems.js';
import type { DevBuckets, DevUsage } from './buckets.js';
import type { Finding } from './findings.js';
import type { ReplicasTable } from './replicas.js';
import type { CheckReuse, WrittenRange } from './reuse.js';
import type { CheckStats } from './stats.js';
import type { FsUsage, RecordedUsage } from './usage.js';

export type { CheckStats };

export type CheckPhase = 'superblock' | 'roots' | 'alloc' | 'btrees' | 'gc_done' | 'leaves' | 'fsck' | 'done';

export interface CheckProgress {
  phase: CheckPhase;
  /** btree being walked, in the btrees phase */
  btree?: string;
  /** the fsck.c pass running, in the fsck phase */
  pass?: FsckPassName;
  nodesDone: number;
  bytesRead: number;
  /** estimate of the metadata bytes to read (btree nodes in use per the alloc info), 0 when unknown */
  estimatedTotalBytes: number;
}

/**
 * The state mark and sweep ends with (bch2_gc before bch2_gc_done copies it over), complete only when the
 * check was not cancelled.
 */
export interface GcState {
  /**
   * Buckets by device index (only the opened device; other members are undefined). Each holds both views
   * as typed arrays indexed by bucket: the alloc view as read from the alloc btree (aGen, aDataType, aDirty,
   * aCached, aOldestGen, aGenValid; aUnknown marks buckets whose alloc leaf was unreadable) and the gc
   * view recomputed from every pointer (gen, dataType, dirty, cached, stripe, oldestGen, genValid).
   */
  devs: (DevBuckets | undefined)[];
  /** per device index: the counters recomputed from the gc view, and those recorded at unmount */
  devUsage: Map<number, { gc: DevUsage; recorded: DevUsage }>;
  /** filesystem usage: recomputed, and recorded (as bch2_fs_usage_initialize derives it) */
  fsUsage: { gc: FsUsage; recorded: FsUsage };
  /** the replicas entries, in bcachefs's in-memory order: index i is FsUsage.replicas[i] */
  replicas: ReplicasTable;
  /** the raw recorded counters (clean section, or the journal after an unclean shutdown) */
  recorded: RecordedUsage;
  /** BCH_COMPAT_alloc_info as gc ends with it: false when the superblock does not claim it, or the alloc root was unreadable */
  allocInfoValid: boolean;
}

export interface CheckResult {
  findings: Finding[];
  stats: CheckStats;
  /** true when the token cancelled the check: findings (and gc) are those found up to then */
  aborted: boolean;
  /** things the checker could not examine, in words */
  limitations: string[];
  gc: GcState;
  /** with CheckOptions.reusable: what a check after a few rewritten nodes can take over (reuse.ts) */
  reuse?: CheckReuse;
  /** with CheckOptions.since: whether this check took over parts of that one */
  reused?: boolean;
}

export interface CheckOptions {
  onProgress?: (p: CheckProgress) => void;
  /** polled at every node: the check stops with what it found */
  token?: CancellationToken;
  /** device name as bcachefs prints it in "error validating btree node on NAME" (default: none printed) */
  devName?: string;
  /**
   * also read the leaves mark and sweep does not visit (dirents, xattrs, quotas), and run bcachefs's later
   * fsck passes, which read them (src-core/fsck); default true
   */
  readAllLeaves?: boolean;
  /** how reports are decided (default 'check', as fsck -n) */
  policy?: Policy;
  /** keep what a later check of this filesystem with a few nodes rewritten can take over (CheckResult.reuse) */
  reusable?: boolean;
  /**
   * a check of this filesystem before `writes` were laid over it (made with reusable): where the writes
   * cannot have changed a part's inputs, that part's results are taken over (reuse.ts); the findings are
   * those a full check gives
   */
  since?: { check: CheckResult; writes: readonly WrittenRange[] };
}
