// The text bcachefs 2021 prints for each error the checker reproduces, built from structured inputs.
// Key texts come from the format layer (bkeyValToText: what bch2_bkey_val_to_text prints, with " stale"
// marks computed against the alloc gens). Buffer sizes matter: bcachefs formats keys into fixed char
// arrays (snprintf-truncated), and bch2_fsck_err formats the whole message into 512 bytes.
import { BCH_DATA_TYPES } from '../format/names.js';

type Num = number | bigint;

/** What fits a C char buf[size] filled with scnprintf: at most size - 1 characters. */
export function pbuf(s: string, size: number): string {
  return s.length > size - 1 ? s.slice(0, size - 1) : s;
}

/** bch2_fsck_err formats the message into a 512-byte buffer before adding its disposition. */
export function fsckBuf(s: string): string {
  return pbuf(s, 512);
}

/** bch2_data_types[] (out-of-range values print as "(null)" in C; we print the number). */
export function dataTypeName(t: number): string {
  return BCH_DATA_TYPES[t] ?? String(t);
}

/** A replicas entry as bch2_replicas_entry_to_text prints it: "user: 1/1 [0]". */
export function replicasEntryText(e: { dataType: number; nrRequired: number; devs: readonly number[] }): string {
  return `${dataTypeName(e.dataType)}: ${e.nrRequired}/${e.devs.length} [${e.devs.join(' ')}]`;
}

// ---- topology (btree_gc.c bch2_gc_check_topology, bch2_gc_btree_init*) ----

/**
 * "btree node with incorrect min_key ...". `prevKeyText` null means the first child: bcachefs then prints
 * "start of node: <node min_key>".
 */
export function msgTopologyMinKey(btree: string, level: number, prevKeyText: string | null, nodeStartText: string, curKeyText: string): string {
  const buf1 = pbuf(prevKeyText === null ? `start of node: ${nodeStartText}` : prevKeyText, 200);
  return fsckBuf(`btree node with incorrect min_key at btree ${btree} level ${level}:\n  prev ${buf1}\n  cur ${pbuf(curKeyText, 200)}`);
}

export function msgTopologyMaxKey(btree: string, level: number, curKeyText: string, expectedText: string): string {
  return fsckBuf(`btree node with incorrect max_key at btree ${btree} level ${level}:\n  ${pbuf(curKeyText, 200)}\n  expected ${pbuf(expectedText, 200)}`);
}

/** `childLevel` is the level of the node that could not be read (the parent's level - 1). */
export function msgUnreadableNode(btree: string, childLevel: number, keyText: string): string {
  return fsckBuf(`Unreadable btree node at btree ${btree} level ${childLevel}:\n  ${pbuf(keyText, 200)}`);
}

/** bch2_btree_repair_topology_recurse: printed only by the topology repair pass (fsck -y after a topology error). */
export function msgEmptyInteriorNode(btree: string, level: number, keyText: string): string {
  return fsckBuf(`empty interior btree node at btree ${btree} level ${level}\n  ${pbuf(keyText, 200)}`);
}

export function msgRootBadMinKey(posText: string): string {
  return fsckBuf(`btree root with incorrect min_key: ${pbuf(posText, 100)}`);
}

export function msgRootBadMaxKey(posText: string): string {
  return fsckBuf(`btree root with incorrect max_key: ${pbuf(posText, 100)}`);
}

/** recovery.c read_btree_roots: printed with " (repair unimplemented)" (no FSCK_CAN_FIX: see problems.ts). */
export function msgErrorReadingRoot(btree: string): string {
  return fsckBuf(`error reading btree root ${btree}`);
}

// ---- bch2_check_fix_ptrs ----

export function msgPtrGenMissing(dev: number, bucket: number, ptrDataType: number, ptrGen: number): string {
  return fsckBuf(`bucket ${dev}:${bucket} data type ${dataTypeName(ptrDataType)} ptr gen ${ptrGen} missing in alloc btree`);
}

export function msgPtrGenFuture(dev: number, bucket: number, ptrDataType: number, ptrGen: number, bucketGen: number): string {
  return fsckBuf(`bucket ${dev}:${bucket} data type ${dataTypeName(ptrDataType)} ptr gen in the future: ${ptrGen} > ${bucketGen}`);
}

export function msgPtrStaleDirty(dev: number, bucket: number, ptrDataType: number, ptrGen: number, bucketGen: number): string {
  return fsckBuf(`bucket ${dev}:${bucket} data type ${dataTypeName(ptrDataType)} stale dirty ptr: ${ptrGen} < ${bucketGen}`);
}

// ---- bch2_gc_mark_key ----

export function msgKeyVersionNewer(version: Num | string, recorded: Num | string): string {
  return fsckBuf(`key version number higher than recorded: ${version} > ${recorded}`);
}

export function msgReplicasNotMarked(keyType: number): string {
  return fsckBuf(`superblock not marked as containing replicas (type ${keyType})`);
}

// ---- buckets.c check_bucket_ref: FSCK_NEED_FSCK, printed with " (run fsck to correct)" (see problems.ts) ----

/** `dataType` is the bucket's gc data type if set, else the pointer's (bucket_data_type ?: ptr_data_type). */
export function msgMarkPtrGenNewer(dev: number, bucket: number, bucketGen: number, dataType: number, ptrGen: number, keyText: string): string {
  return fsckBuf(
    `bucket ${dev}:${bucket} gen ${bucketGen} data type ${dataTypeName(dataType)}: ptr gen ${ptrGen} newer than bucket gen\n` +
      `while marking ${pbuf(keyText, 200)}`,
  );
}

export function msgMarkPtrTooStale(dev: number, bucket: number, bucketGen: number, dataType: number, ptrGen: number, keyText: string): string {
  return fsckBuf(
    `bucket ${dev}:${bucket} gen ${bucketGen} data type ${dataTypeName(dataType)}: ptr gen ${ptrGen} too stale\n` +
      `while marking ${pbuf(keyText, 200)}`,
  );
}

export function msgMarkStaleDirtyPtr(dev: number, bucket: number, bucketGen: number, dataType: number, ptrGen: number, keyText: string): string {
  return fsckBuf(
    `bucket ${dev}:${bucket} gen ${bucketGen} data type ${dataTypeName(dataType)}: stale dirty ptr (gen ${ptrGen})\n` +
      `while marking ${pbuf(keyText, 200)}`,
  );
}

export function msgMarkDataTypeMixed(dev: number, bucket: number, bucketGen: number, bucketDataType: number, ptrDataType: number, keyText: string): string {
  return fsckBuf(
    `bucket ${dev}:${bucket} gen ${bucketGen} different types of data in same bucket: ${dataTypeName(bucketDataType)}, ${dataTypeName(ptrDataType)}\n` +
      `while marking ${pbuf(keyText, 200)}`,
  );
}

export function msgMarkSectorOverflow(
  dev: number, bucket: number, bucketGen: number, dataType: number, bucketSectors: number, sectors: number, keyText: string,
): string {
  return fsckBuf(
    `bucket ${dev}:${bucket} gen ${bucketGen} data type ${dataTypeName(dataType)} sector count overflow: ${bucketSectors} + ${sectors} > U16_MAX\n` +
      `while marking ${pbuf(keyText, 200)}`,
  );
}

// ---- bch2_mark_metadata_bucket: bch_err only (bch2_fs_inconsistent), not fsck errors ----

export function logMetadataBucketConflict(oldType: number, newType: number): string {
  return `different types of data in same bucket: ${dataTypeName(oldType)}, ${dataTypeName(newType)}`;
}

// ---- bch2_gc_done's copy_*_field ----

/** copy_bucket_field: gen and data type are the alloc key's (as already corrected by earlier fields). */
export function msgBucketField(dev: number, bucket: number, gen: number, dataType: number, field: string, got: Num, should: Num): string {
  return fsckBuf(`bucket ${dev}:${bucket} gen ${gen} data type ${dataTypeName(dataType)} has wrong ${field}: got ${got}, should be ${should}`);
}

/** copy_dev_field: `what` is "buckets_unavailable", "user sectors", ... */
export function msgDevField(dev: number, what: string, got: Num, should: Num): string {
  return fsckBuf(`dev ${dev} has wrong ${what}: got ${got}, should be ${should}`);
}

/** copy_fs_field: `what` is "btree", "nr_inodes", "persistent_reserved[0]", or a replicas entry's text. */
export function msgFsField(what: string, got: Num, should: Num): string {
  return fsckBuf(`fs has wrong ${what}: got ${got}, should be ${should}`);
}

// ---- btree_io.c btree_err_msg: a bch_err log block (or, for fixable errors, an fsck error) ----

export interface NodeErrText {
  /** the device name, printed only for errors bcachefs reports with a device ("on image.img ") */
  devName: string | null;
  btree: string;
  level: number;
  rootLevel: number;
  keyText: string;
  nodeOffset: number;
  bsetU64s?: number;
  msg: string;
}

export function msgBtreeNodeError(e: NodeErrText): string {
  return (
    `error validating btree node ${e.devName !== null ? `on ${e.devName} ` : ''}at btree ${e.btree} level ${e.level}/${e.rootLevel}\n` +
    `  ${e.keyText}\n  node offset ${e.nodeOffset}${e.bsetU64s !== undefined ? ` bset u64s ${e.bsetU64s}` : ''}: ${e.msg}`
  );
}
