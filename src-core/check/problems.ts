// The mark and sweep classes of the problem table (btree_gc.c, btree_io.c, buckets.c): per class what it
// means, how bcachefs 2021 reports it, its message and explanation builders, the repair bcachefs would make
// and where that falls short. The machinery (decide, composition) is in ../problems.ts, which folds these in.
import type { ProblemRow, ProblemTable, Repair, ValueKind } from '../problems.js';
import * as M from './messages.js';

/** One row, its input type inferred (a local helper: ../problems.ts imports this file). */
function problem<I>(row: ProblemRow<I>): ProblemRow<I> {
  return row;
}

// ---------------------------------------------------------------- the inputs of the builders

/** A node read problem (btree_io.c btree_err) */
interface NodeErrInput {
  /** the "error validating btree node ..." text */
  text: string;
  /** bcachefs's reason ("bad magic", ...) */
  msg: string;
}
interface NodeInput {
  btree: string;
  level: number;
  sector: number;
  /** the pointer to the node, as printed */
  keyText: string;
}
interface UnreadableInput extends NodeInput {
  /** why it cannot be read */
  reason: string;
  /** found while reading the leaves gc skips (bcachefs's fsck pass then stops) */
  inLeaves: boolean;
}
interface PtrInput {
  dev: number;
  bucket: number;
  ptrDataType: number;
  ptrGen: number;
  bucketGen: number;
  cached: boolean;
  /** a btree node pointer (interior key or root) */
  btreePtr: boolean;
  isRoot: boolean;
}
interface MarkInput {
  dev: number;
  bucket: number;
  bucketGen: number;
  /** bucket_data_type ?: ptr_data_type */
  dataType: number;
  bucketDataType: number;
  ptrDataType: number;
  ptrGen: number;
  bucketSectors: number;
  sectors: number;
  keyText: string;
}
interface TopologyMinInput {
  btree: string;
  level: number;
  prevText: string | null;
  nodeStartText: string;
  curText: string;
  minKeyText: string;
  expectedText: string | null;
  gap: boolean;
}
interface TopologyMaxInput {
  btree: string;
  level: number;
  curText: string;
  endText: string;
  expectedText: string;
}
interface BucketInput {
  dev: number;
  bucket: number;
  gen: number;
  dataType: number;
  field: string;
  got: number;
  should: number;
}
interface UsageInput {
  /** "dev 0 has wrong ..." or "fs has wrong ..." */
  dev?: number;
  what: string;
  got: number;
  should: number;
}

const ROOTS_CANNOT = 'none: bcachefs 2021 "cannot update btree roots yet"';
const USAGE_REPAIR: Repair = {
  kind: 'rewrite_usage',
  description: 'bcachefs replaces the in-memory usage with the recomputed value; it is written at the next unmount (clean section)',
};
const BUCKET_REPAIR: Repair = {
  kind: 'rewrite_alloc_key',
  description: 'bcachefs rewrites the alloc key with the recomputed value (bch2_alloc_write after gc)',
};
const MARK_REPAIR: Repair = {
  kind: 'none',
  description: 'nothing by itself: fsck -y fixes the pointer in bch2_check_fix_ptrs first, so this message does not appear there',
};

function markRow(summary: string, message: (i: MarkInput) => string, explain: (i: MarkInput) => string): ProblemRow<MarkInput> {
  return { summary, severity: 'error', reported: 'need_fsck', values: 'gen', message, explain, repair: MARK_REPAIR };
}

/** The two root range classes: bcachefs 2021 says the same of both and repairs neither. */
function rootRangeRow(summary: string, message: (posText: string) => string): ProblemRow<NodeInput & { posText: string }> {
  return {
    summary,
    severity: 'error',
    reported: 'mustfix_fsck_err',
    values: 'pos',
    message: (i) => message(i.posText),
    explain: (i) => `the root node of ${i.btree} does not cover the whole key space; bcachefs prints this as a must-fix error (", fixing" even with -n) and then stops`,
    repair: { kind: 'unimplemented', description: 'none: bcachefs 2021 says "repair unimplemented" and stops mark and sweep' },
  };
}

/** A missing or future bucket gen: a cached pointer is dropped (not in a root), a dirty one sets the bucket's gen. */
function ptrGenRepair(setGenDescription: string): (i: PtrInput) => Repair {
  return (i) =>
    i.isRoot && i.cached
      ? { kind: 'unimplemented', description: ROOTS_CANNOT }
      : i.cached
        ? { kind: 'drop_stale_ptr', description: 'bcachefs drops the cached pointer' }
        : { kind: 'set_bucket_gen_from_ptr', description: setGenDescription };
}

function bucketRow(summary: string, values: ValueKind): ProblemRow<BucketInput> {
  return {
    summary,
    severity: 'error',
    reported: 'fsck_err',
    values,
    message: (i) => M.msgBucketField(i.dev, i.bucket, i.gen, i.dataType, i.field, i.got, i.should),
    explain: (i) => `the alloc key of bucket ${i.dev}:${i.bucket} says ${i.field} ${i.got}; marking every pointer into it gives ${i.should}`,
    repair: BUCKET_REPAIR,
  };
}

function usageRow(summary: string): ProblemRow<UsageInput> {
  return {
    summary,
    severity: 'error',
    reported: 'fsck_err',
    values: 'count',
    message: (i) => (i.dev !== undefined ? M.msgDevField(i.dev, i.what, i.got, i.should) : M.msgFsField(i.what, i.got, i.should)),
    explain: (i) =>
      i.dev !== undefined
        ? `device ${i.dev}'s ${i.what} recorded at unmount is ${i.got}; the buckets as recomputed give ${i.should}`
        : `the filesystem's ${i.what} recorded at unmount is ${i.got}; recomputed from the btrees it is ${i.should}`,
    repair: USAGE_REPAIR,
  };
}

// ---------------------------------------------------------------- the mark and sweep classes (btree_gc.c)

export const GC_PROBLEMS = {
  // the superblock (super-io.c bch2_read_super)
  superblock_primary_damaged: problem<{ problems: string; backupSector: number }>({
    summary: 'the primary superblock is damaged; a backup copy was read instead',
    severity: 'warning',
    reported: 'log',
    values: 'none',
    explain: (i) =>
      `the primary superblock (sector 8) cannot be used (${i.problems}); the backup at sector ${i.backupSector} was read. bcachefs 2021 ` +
      'also falls back to a backup ("error reading default superblock") and goes on; a second damaged copy would leave the disk unopenable',
    repair: { kind: 'rewrite_superblock', description: 'bcachefs (fsck -y) writes every superblock copy again when it mounts read-write; fsck -n writes nothing' },
  }),

  // node reads (btree_io.c)
  btree_root_unreadable: problem<NodeInput & { isAlloc: boolean }>({
    summary: 'the btree root node cannot be read',
    severity: 'error',
    reported: 'no_fix',
    values: 'none',
    message: (i) => M.msgErrorReadingRoot(i.btree),
    explain: (i) =>
      `the root node of the ${i.btree} btree cannot be read` +
      (i.isAlloc ? '; bcachefs goes on without alloc info for it' : '; bcachefs stops recovery here, this checker goes on with the other btrees'),
    repair: { kind: 'unimplemented', description: 'none: bcachefs 2021 cannot mount without the root (error reading btree root)' },
    shortfall: 'bcachefs 2021 cannot repair an unreadable root ("repair unimplemented")',
  }),
  btree_node_unreadable: problem<UnreadableInput>({
    summary: 'a btree node cannot be read (bad magic, wrong seq/btree/level/range, I/O error)',
    severity: 'error',
    reported: 'fsck_err',
    values: 'none',
    message: (i) => (i.inLeaves ? null : M.msgUnreadableNode(i.btree, i.level, i.keyText)),
    explain: (i) =>
      i.inLeaves
        ? `the ${i.btree} leaf at sector ${i.sector}: ${i.reason}. Mark and sweep does not read this btree's leaves; bcachefs 2021 finds ` +
          'this only in its fsck pass, which then stops with "error in fsck (-5)"'
        : `the ${i.btree} node at sector ${i.sector} cannot be read: ${i.reason}; nothing it points to is marked`,
    repair: (i) =>
      i.inLeaves
        ? { kind: 'unimplemented', description: 'none in bcachefs 2021: its fsck pass stops at this node ("error in fsck (-5)")' }
        : {
            kind: 'drop_node_pointer',
            description: 'bcachefs (fsck -y) drops the pointer to the node in the topology repair pass; its keys are lost and their buckets become free',
          },
    shortfall:
      "bcachefs 2021's repair drops the pointer to the unreadable node, losing its keys; on the fixtures it then stopped with an I/O error in " +
      'its fsck pass (exit 8) or aborted (exit 134), and a second fsck still failed',
  }),
  btree_node_read_error: problem<NodeErrInput & { inLeaves: boolean; sector: number; btree: string }>({
    summary: 'a btree node read found damage bcachefs only logs and works around (bad checksum, ...)',
    severity: 'warning',
    reported: 'log',
    values: 'none',
    explain: (i) =>
      i.inLeaves
        ? `the ${i.btree} leaf at sector ${i.sector}: ${i.msg}. Mark and sweep does not read this btree's leaves; bcachefs 2021 finds this only in its fsck pass`
        : `reading the node found: ${i.msg}. 2021 bcachefs only logs this (no fsck error, exit 0) and uses the node's keys`,
    repair: (i) => ({
      kind: 'none',
      description: i.inLeaves ? 'bcachefs logs it and uses the node' : 'bcachefs logs it and uses the node (a btree node rewrite would replace it)',
    }),
  }),
  btree_node_fixable: problem<NodeErrInput>({
    summary: 'a btree node read found damage bcachefs repairs on read (invalid keys, bad bsets)',
    severity: 'error',
    reported: 'mustfix_fsck_err',
    values: 'none',
    message: (i) => M.fsckBuf(i.text),
    explain: (i) => `reading the node found: ${i.msg}. bcachefs repairs this while reading (mustfix), so even fsck -n prints ", fixing"`,
    repair: { kind: 'fix_on_read', description: 'bcachefs drops the bad key or bset when it reads the node, and rewrites the node' },
  }),
  alloc_info_unreadable: problem<NodeInput>({
    summary: 'part of the alloc btree cannot be read: bcachefs stops before mark and sweep',
    severity: 'error',
    reported: 'log',
    values: 'none',
    explain: () =>
      'a node of the alloc btree cannot be read, so bcachefs 2021 stops before mark and sweep ("error reading alloc info: -5"). ' +
      'This checker goes on: the buckets it covers are taken at the gens their pointers carry and are not compared',
    repair: {
      kind: 'unimplemented',
      description: 'none in bcachefs 2021: recovery stops ("error reading allocation information"); --reconstruct_alloc rebuilds the alloc btree',
    },
    shortfall: 'bcachefs 2021 stops recovery before mark and sweep, with fsck -n and -y alike (exit 8)',
  }),

  // topology (btree_gc.c)
  btree_root_bad_min_key: rootRangeRow('btree root min_key is not POS_MIN', M.msgRootBadMinKey),
  btree_root_bad_max_key: rootRangeRow('btree root max_key is not POS_MAX', M.msgRootBadMaxKey),
  topology_min_key: problem<TopologyMinInput>({
    summary: "a child's min_key does not follow its previous sibling (gap or overlap)",
    severity: 'error',
    reported: 'fsck_err',
    values: 'pos',
    message: (i) => M.msgTopologyMinKey(i.btree, i.level, i.prevText, i.nodeStartText, i.curText),
    explain: (i) =>
      `child pointer's min_key ${i.minKeyText} should be ${i.expectedText ?? '(none: the previous key is POS_MAX)'}: ` +
      (i.gap ? 'keys in between belong to no node (gap)' : 'it overlaps the previous sibling'),
    repair: {
      kind: 'set_node_min_key',
      description:
        'bcachefs (fsck -y) runs its topology repair: the newer of the two nodes keeps its range and the other is trimmed ' +
        '(set_node_max on the previous sibling, or set_node_min on this one); keys outside the new range are dropped',
    },
    shortfall:
      "bcachefs 2021's topology repair often fails on gaps and overlaps: on the fixtures it aborted (bpos_successor assertion, exit 134), " +
      'stopped with an error (exit 8), or finished with errors left (exit 5, then 4 on a second fsck), dropping whole leaves whose buckets ' +
      'it then marked free',
  }),
  topology_max_key: problem<TopologyMaxInput>({
    summary: "the last child's max_key is not its parent's max_key",
    severity: 'error',
    reported: 'fsck_err',
    values: 'pos',
    message: (i) => M.msgTopologyMaxKey(i.btree, i.level, i.curText, i.expectedText),
    explain: (i) => `the last child ends at ${i.endText} but its parent covers up to ${i.expectedText}`,
    repair: { kind: 'set_node_max_key', description: "bcachefs (fsck -y) extends the last child's max_key to its parent's (set_node_max) in the topology repair pass" },
    shortfall:
      "bcachefs 2021's fsck -n crashes (segfault, exit 139) after reporting this; its fsck -y fixed it on one fixture, and on others stopped " +
      'with an error (exit 8) or left a filesystem whose next fsck crashed again',
  }),
  btree_node_empty: problem<NodeInput>({
    summary: 'an interior node has no children',
    severity: 'warning',
    // printed only by the topology repair pass (fsck -y after a topology error), with ", fixing"
    reported: 'mustfix_fsck_err',
    values: 'count',
    message: (i) => M.msgEmptyInteriorNode(i.btree, i.level, i.keyText),
    explain: (i) =>
      `the ${i.btree} node at sector ${i.sector} (level ${i.level}) points to no children, so its key range holds no keys. ` +
      '2021 bcachefs does not notice it in mark and sweep (fsck -n says nothing); only its topology repair pass prints this message',
    repair: {
      kind: 'drop_node_pointer',
      description: "bcachefs's topology repair pass (fsck -y, run after a topology error) drops the node; an empty root is \"repair unimplemented\"",
    },
  }),

  // pointers and gens (bch2_check_fix_ptrs)
  ptr_gen_missing: problem<PtrInput>({
    summary: 'pointer into a bucket that has no alloc key',
    severity: 'error',
    reported: 'fsck_err',
    values: 'gen',
    message: (i) => M.msgPtrGenMissing(i.dev, i.bucket, i.ptrDataType, i.ptrGen),
    explain: (i) => `bucket ${i.dev}:${i.bucket} has no alloc key, but this key points into it with gen ${i.ptrGen}`,
    repair: ptrGenRepair("bcachefs creates the bucket's gen from the pointer's and rewrites the alloc key"),
  }),
  ptr_gen_future: problem<PtrInput>({
    summary: "pointer gen newer than its bucket's gen",
    severity: 'error',
    reported: 'fsck_err',
    values: 'gen',
    message: (i) => M.msgPtrGenFuture(i.dev, i.bucket, i.ptrDataType, i.ptrGen, i.bucketGen),
    explain: (i) => `the pointer's gen ${i.ptrGen} is ahead of bucket ${i.dev}:${i.bucket}'s gen ${i.bucketGen}: the alloc key is older than the data it describes`,
    repair: ptrGenRepair(
      "bcachefs raises the bucket's gen to the pointer's, zeroes its counts and runs mark and sweep again (other pointers into the bucket then become stale)",
    ),
    shortfall: (i) =>
      i.btreePtr
        ? "for a btree node pointer bcachefs 2021's repair raises the bucket's gen; when the bucket also holds other btree nodes (small " +
          'nodes in larger buckets) their pointers become stale, and fixing those needs a root update it cannot do ("cannot update btree ' +
          'roots yet"): on the fixture fsck -y stopped with an error (exit 8) and left the filesystem with errors'
        : undefined,
  }),
  ptr_stale_dirty: problem<PtrInput>({
    summary: "dirty pointer gen older than its bucket's gen",
    severity: 'error',
    reported: 'fsck_err',
    values: 'gen',
    message: (i) => M.msgPtrStaleDirty(i.dev, i.bucket, i.ptrDataType, i.ptrGen, i.bucketGen),
    explain: (i) => `bucket ${i.dev}:${i.bucket} was reused (gen ${i.bucketGen}) after this dirty pointer (gen ${i.ptrGen}) was written: the data it points to is gone`,
    repair: (i) =>
      i.btreePtr
        ? {
            kind: 'update_btree_ptr_gen',
            description: i.isRoot ? ROOTS_CANNOT : "bcachefs sets the btree node pointer's gen to the bucket's (it never drops node pointers)",
          }
        : { kind: 'drop_stale_ptr', description: 'bcachefs drops the stale pointer from the extent (an extent with no pointer left is deleted)' },
  }),
  ptr_bad_location: problem<{ dev: number; offset: number; nbuckets: number | null }>({
    summary: 'pointer to a device or bucket that does not exist',
    severity: 'warning',
    reported: 'silent',
    values: 'none',
    explain: (i) =>
      i.nbuckets !== null
        ? `pointer to sector ${i.offset} lies past the end of device ${i.dev} (${i.nbuckets} buckets)`
        : `pointer to device ${i.dev}, which is not a member of this filesystem (or not open)`,
    repair: { kind: 'fix_on_read', description: 'bcachefs rejects the key when it reads the node ("invalid bkey", dropped)' },
  }),
  key_version_newer: problem<{ version: string; recorded: string }>({
    summary: 'key version newer than the one recorded in the superblock',
    severity: 'error',
    reported: 'fsck_err',
    values: 'u64',
    message: (i) => M.msgKeyVersionNewer(i.version, i.recorded),
    explain: () => 'the key carries a version number newer than the highest one the superblock recorded',
    repair: { kind: 'set_key_version', description: "bcachefs raises the recorded key version to this key's" },
  }),
  replicas_not_marked: problem<{ keyType: number }>({
    summary: 'superblock replicas section lacks the entry for a key',
    severity: 'error',
    reported: 'fsck_err',
    values: 'none',
    message: (i) => M.msgReplicasNotMarked(i.keyType),
    explain: () => "the superblock's replicas section has no entry for the devices this key's data is on",
    repair: { kind: 'mark_replicas', description: 'bcachefs adds the replicas entry to the superblock' },
  }),

  // marking (buckets.c check_bucket_ref)
  mark_ptr_gen_newer: markRow(
    'marking: pointer gen newer than bucket gen (pointer not counted)',
    (i) => M.msgMarkPtrGenNewer(i.dev, i.bucket, i.bucketGen, i.dataType, i.ptrGen, i.keyText),
    () => 'marking skips this pointer (and the rest of its key): its sectors are missing from the recomputed usage',
  ),
  mark_ptr_too_stale: markRow(
    'marking: pointer more than 96 gens behind its bucket (pointer not counted)',
    (i) => M.msgMarkPtrTooStale(i.dev, i.bucket, i.bucketGen, i.dataType, i.ptrGen, i.keyText),
    () => 'the pointer is more than 96 gens behind its bucket: marking skips it',
  ),
  mark_stale_dirty_ptr: markRow(
    'marking: stale dirty pointer (pointer not counted)',
    (i) => M.msgMarkStaleDirtyPtr(i.dev, i.bucket, i.bucketGen, i.dataType, i.ptrGen, i.keyText),
    () => 'marking skips the stale dirty pointer (and the rest of its key): its sectors are missing from the recomputed usage',
  ),
  mark_data_type_mixed: markRow(
    'marking: different types of data in the same bucket (pointer not counted)',
    (i) => M.msgMarkDataTypeMixed(i.dev, i.bucket, i.bucketGen, i.bucketDataType, i.ptrDataType, i.keyText),
    (i) => `bucket ${i.dev}:${i.bucket} already holds ${M.dataTypeName(i.bucketDataType)} data; a ${M.dataTypeName(i.ptrDataType)} pointer into it is not counted`,
  ),
  mark_sector_overflow: markRow(
    'marking: bucket sector count would overflow 16 bits (pointer not counted)',
    (i) => M.msgMarkSectorOverflow(i.dev, i.bucket, i.bucketGen, i.dataType, i.bucketSectors, i.sectors, i.keyText),
    () => 'the bucket would hold more than 65535 sectors: the pointer is not counted',
  ),
  metadata_bucket_conflict: problem<{ text: string }>({
    summary: 'superblock/journal marking met a bucket already marked with another type',
    severity: 'error',
    reported: 'log',
    values: 'none',
    explain: () => 'the superblock layout or the journal bucket list puts metadata in a bucket used otherwise',
    repair: { kind: 'none', description: 'bcachefs logs it (bch2_fs_inconsistent: the filesystem is flagged as having errors) and goes on' },
  }),

  // gc_done (bch2_gc_done) and gc_gens
  bucket_gen: bucketRow("alloc key's gen differs from the recomputed one", 'gen'),
  bucket_data_type: bucketRow("alloc key's data_type differs from what the pointers say", 'data_type'),
  bucket_stripe: bucketRow("alloc key's stripe differs from what the stripes say", 'count'),
  bucket_dirty_sectors: bucketRow("alloc key's dirty_sectors differs from the sum of its pointers", 'count'),
  bucket_cached_sectors: bucketRow("alloc key's cached_sectors differs from the sum of its cached pointers", 'count'),
  bucket_oldest_gen: problem<{ dev: number; bucket: number; oldestGen: number; gen: number; should: number }>({
    summary: "alloc key's oldest_gen is newer than its gen (2021 bcachefs replaces it silently)",
    severity: 'warning',
    reported: 'silent',
    values: 'gen',
    explain: (i) =>
      `the alloc key of bucket ${i.dev}:${i.bucket} has oldest_gen ${i.oldestGen} newer than its gen ${i.gen}, which cannot be; ` +
      `the pointers give ${i.should}. 2021 bcachefs replaces it silently, so this is a warning, not an fsck error`,
    repair: { kind: 'rewrite_alloc_key', description: 'bcachefs 2021 copies the recomputed oldest_gen over it without a message (bch2_gc_done)' },
  }),
  dev_usage: usageRow('device usage recorded at unmount differs from the recomputed one'),
  fs_usage: usageRow('filesystem usage recorded at unmount differs from the recomputed one'),
  fs_replicas_usage: usageRow('per-replicas-entry usage recorded at unmount differs from the recomputed one'),
} satisfies ProblemTable;
