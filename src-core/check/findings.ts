// What the checker reports: one Finding per problem, in the order bcachefs's mark and sweep (btree_gc.c,
// 2021) would print its messages.

/**
 * error:   bcachefs 2021 reports this during recovery / mark and sweep (an fsck error, or the node read
 *          error that stops it).
 * warning: a real inconsistency that 2021 bcachefs does not report (it repairs it silently, or had already
 *          stopped), or damage it only logs (a bad checksum on a node it still uses).
 * info:    worth knowing, nothing to repair.
 */
export type Severity = 'error' | 'warning' | 'info';

export const FINDING_CLASSES = {
  // node reads (btree_io.c)
  btree_root_unreadable: 'the btree root node cannot be read',
  btree_node_unreadable: 'a btree node cannot be read (bad magic, wrong seq/btree/level/range, I/O error)',
  btree_node_read_error: 'a btree node read found damage bcachefs only logs and works around (bad checksum, ...)',
  btree_node_fixable: 'a btree node read found damage bcachefs repairs on read (invalid keys, bad bsets)',
  alloc_info_unreadable: 'part of the alloc btree cannot be read: bcachefs stops before mark and sweep',
  // topology (btree_gc.c)
  btree_root_bad_min_key: 'btree root min_key is not POS_MIN',
  btree_root_bad_max_key: 'btree root max_key is not POS_MAX',
  topology_min_key: "a child's min_key does not follow its previous sibling (gap or overlap)",
  topology_max_key: "the last child's max_key is not its parent's max_key",
  btree_node_empty: 'an interior node has no children',
  // pointers and gens (bch2_check_fix_ptrs)
  ptr_gen_missing: 'pointer into a bucket that has no alloc key',
  ptr_gen_future: "pointer gen newer than its bucket's gen",
  ptr_stale_dirty: "dirty pointer gen older than its bucket's gen",
  ptr_bad_location: 'pointer to a device or bucket that does not exist',
  key_version_newer: 'key version newer than the one recorded in the superblock',
  replicas_not_marked: 'superblock replicas section lacks the entry for a key',
  // marking (buckets.c check_bucket_ref)
  mark_ptr_gen_newer: 'marking: pointer gen newer than bucket gen (pointer not counted)',
  mark_ptr_too_stale: 'marking: pointer more than 96 gens behind its bucket (pointer not counted)',
  mark_stale_dirty_ptr: 'marking: stale dirty pointer (pointer not counted)',
  mark_data_type_mixed: 'marking: different types of data in the same bucket (pointer not counted)',
  mark_sector_overflow: 'marking: bucket sector count would overflow 16 bits (pointer not counted)',
  metadata_bucket_conflict: 'superblock/journal marking met a bucket already marked with another type',
  // gc_done (bch2_gc_done) and gc_gens
  bucket_gen: "alloc key's gen differs from the recomputed one",
  bucket_data_type: "alloc key's data_type differs from what the pointers say",
  bucket_stripe: "alloc key's stripe differs from what the stripes say",
  bucket_dirty_sectors: "alloc key's dirty_sectors differs from the sum of its pointers",
  bucket_cached_sectors: "alloc key's cached_sectors differs from the sum of its cached pointers",
  bucket_oldest_gen: "alloc key's oldest_gen is newer than its gen (2021 bcachefs replaces it silently)",
  dev_usage: 'device usage recorded at unmount differs from the recomputed one',
  fs_usage: 'filesystem usage recorded at unmount differs from the recomputed one',
  fs_replicas_usage: 'per-replicas-entry usage recorded at unmount differs from the recomputed one',
} as const;
export type FindingClass = keyof typeof FINDING_CLASSES;

/** What bcachefs does about it (with -y, or what it would do if it could). */
export type RepairKind =
  | 'none'
  | 'unimplemented'
  | 'drop_node_pointer'
  | 'set_node_min_key'
  | 'set_node_max_key'
  | 'set_bucket_gen_from_ptr'
  | 'drop_stale_ptr'
  | 'update_btree_ptr_gen'
  | 'set_key_version'
  | 'mark_replicas'
  | 'rewrite_alloc_key'
  | 'rewrite_usage'
  | 'fix_on_read';

export interface Repair {
  kind: RepairKind;
  /** what bcachefs would do, in words */
  description: string;
}

export interface Finding {
  /** stable across runs: class and location (plus #n when one location has several of the same class) */
  id: string;
  class: FindingClass;
  severity: Severity;
  /** btree name ("extents", ...) where the problem sits */
  btree?: string;
  /** level of the key or node concerned (the parent's level for a bad child pointer) */
  level?: number;
  /** device sector of the node holding the key, or of the node itself */
  node_sector?: number;
  /** the key as bcachefs prints it (bch2_bkey_val_to_text) */
  key?: string;
  /** device and bucket for bucket findings */
  dev?: number;
  bucket?: number;
  /** field concerned, for usage/bucket findings ("dirty_sectors", "user sectors", ...) */
  field?: string;
  expected?: number | string | null;
  actual?: number | string | null;
  repair: Repair;
  /**
   * The exact text bcachefs 2021 prints for this error during fsck (continuation lines joined with "\n",
   * without the option-dependent ", not fixing"/", fixing"); null when bcachefs prints no fsck error for it.
   */
  fsck_message: string | null;
  /** what `fsck -n` appends to fsck_message (", not fixing" → 'not fixing'); null if the text carries its own suffix */
  fsck_disposition: 'not fixing' | 'fixing' | null;
  /** a log line bcachefs prints for it that is not an fsck error ("error validating btree node ...") */
  log_message?: string;
  /** why it is an error, and why the severity is what it is */
  explanation: string;
  /**
   * where bcachefs 2021's own repair of this is known to fall short (it aborted, crashed, went read-only or
   * left errors behind on the fixtures with this damage): read it before trusting fsck -y
   */
  known_2021_shortfall?: string;
  /**
   * where bcachefs 2021 would report it: during recovery before mark and sweep (root and alloc reads),
   * during mark and sweep, or only later in the fsck passes (leaves gc does not visit)
   */
  stage: FindingStage;
}

export type FindingStage = 'recovery' | 'gc' | 'fsck';

export type CheckPhase = 'superblock' | 'roots' | 'alloc' | 'btrees' | 'gc_done' | 'leaves' | 'done';

export interface CheckProgress {
  phase: CheckPhase;
  /** btree being walked, in the btrees phase */
  btree?: string;
  nodesDone: number;
  bytesRead: number;
  /** estimate of the metadata bytes to read (btree nodes in use per the alloc info), 0 when unknown */
  estimatedTotalBytes: number;
}

export interface CheckStats {
  nodesRead: number;
  bytesRead: number;
  keysVisited: number;
  ptrsMarked: number;
  buckets: number;
  ms: number;
}

export interface CheckResult {
  findings: Finding[];
  stats: CheckStats;
  /** true when the signal aborted the check: findings are those found up to then */
  aborted: boolean;
  /** things the checker could not examine, in words */
  limitations: string[];
}

export interface CheckOptions {
  onProgress?: (p: CheckProgress) => void;
  signal?: AbortSignal;
  /** device name as bcachefs prints it in "error validating btree node on NAME" (default: none printed) */
  devName?: string;
  /**
   * also read the leaves mark and sweep does not visit (dirents, xattrs, quotas), and run bcachefs's later
   * fsck passes, which read them (src-core/fsck); default true
   */
  readAllLeaves?: boolean;
}

export class CheckAborted extends Error {
  constructor() {
    super('check aborted');
  }
}

/**
 * What the 2021 `fsck -y` did on the fixtures with this kind of damage (their fsck-y.txt / fsck-after.txt).
 */
export const KNOWN_2021_SHORTFALL: Partial<Record<FindingClass, string>> = {
  topology_min_key:
    "bcachefs 2021's topology repair often fails on gaps and overlaps: on the fixtures it aborted (bpos_successor assertion, exit 134), " +
    'stopped with an error (exit 8), or finished with errors left (exit 5, then 4 on a second fsck), dropping whole leaves whose buckets ' +
    'it then marked free',
  topology_max_key:
    "bcachefs 2021's fsck -n crashes (segfault, exit 139) after reporting this; its fsck -y fixed it on one fixture, and on others stopped " +
    'with an error (exit 8) or left a filesystem whose next fsck crashed again',
  btree_node_unreadable:
    "bcachefs 2021's repair drops the pointer to the unreadable node, losing its keys; on the fixtures it then stopped with an I/O error in " +
    'its fsck pass (exit 8) or aborted (exit 134), and a second fsck still failed',
  btree_root_unreadable: 'bcachefs 2021 cannot repair an unreadable root ("repair unimplemented")',
  alloc_info_unreadable: 'bcachefs 2021 stops recovery before mark and sweep, with fsck -n and -y alike (exit 8)',
};

/** Collects findings and gives them stable ids. */
export class FindingList {
  readonly items: Finding[] = [];
  private readonly seen = new Map<string, number>();
  /** the stage given to findings added from now on */
  stage: FindingStage = 'gc';

  add(f: Omit<Finding, 'id' | 'stage'>, location: string): Finding {
    const base = `${f.class}:${location}`;
    const n = (this.seen.get(base) ?? 0) + 1;
    this.seen.set(base, n);
    const full: Finding = { id: n === 1 ? base : `${base}#${n}`, ...f, stage: this.stage };
    const shortfall = f.known_2021_shortfall ?? KNOWN_2021_SHORTFALL[f.class];
    if (shortfall) full.known_2021_shortfall = shortfall;
    this.items.push(full);
    return full;
  }
}

/** The line(s) `fsck -n` prints for a finding, as they appear in its output. */
export function fsckPrintedText(f: Finding): string | null {
  if (f.fsck_message === null) return null;
  return f.fsck_disposition ? `${f.fsck_message}, ${f.fsck_disposition}` : f.fsck_message;
}
