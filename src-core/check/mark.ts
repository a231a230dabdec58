// Marking (btree_gc.c bch2_mark_superblocks and bch2_gc_mark_key, buckets.c bch2_mark_key): superblock
// and journal buckets first, then every key gc visits: bch2_check_fix_ptrs (per pointer: gen missing, gen
// in the future, stale dirty), the key version, the replicas entry, oldest_gen, and the marking itself,
// which abandons the rest of a key at the first pointer it cannot count.
//
// This is the hot loop: pointers are decoded into typed scratch arrays, and nothing is allocated per key
// unless it is reported.
import { btreePtrEntriesStart, btreePtrFromKey } from '../format/btree-ptr.js';
import type { BtreeNode } from '../btree/node.js';
import type { KeyTable } from '../format/bkey.js';
import { bposToText } from '../format/bpos.js';
import {
  BCH_DATA_btree, BCH_DATA_cached, BCH_DATA_journal, BCH_DATA_sb, BCH_DATA_user, KEY_TYPE_btree_ptr, KEY_TYPE_btree_ptr_v2,
  KEY_TYPE_extent, KEY_TYPE_inode, KEY_TYPE_reflink_v, KEY_TYPE_reservation, KEY_TYPE_stripe, btreeName,
} from '../format/names.js';
import {
  ExtentEntryIter, BCH_EXTENT_ENTRY_ptr, BCH_EXTENT_ENTRY_stripe_ptr, EXTENT_ENTRY_INVALID,
} from '../format/values.js';
import {
  BCH_REPLICAS_MAX, MARK_GEN_NEWER, MARK_STALE_CACHED, MARK_STALE_DIRTY, MARK_TOO_STALE, MARK_TYPE_MIXED, genCmp, type DevBuckets,
} from './buckets.js';
import { ptrTarget, type Gc } from './context.js';
import type { FindingLocation } from './findings.js';
import * as M from './messages.js';

const MAX_PTRS = 32;

/** bch2_mark_superblocks: the superblock layout's sectors as sb, each journal bucket as journal. */
export function markSuperblocks(g: Gc): void {
  const sb = g.fs.sb;
  const d = g.devs[sb.devIdx];
  if (!d) return;
  const layout = sb.layout;
  const markRange = (start: number, end: number, type: number): void => {
    let b = d.bucketOf(start);
    do {
      const sectors = Math.min((b + 1) * d.bucketSize, end) - start;
      markMetadataBucket(g, d, b, type, sectors);
      b++;
      start += sectors;
    } while (start < end);
  };
  for (let i = 0; i < layout.nrSuperblocks && i < layout.sbOffsets.length; i++) {
    const offset = layout.sbOffsets[i]!;
    if (offset === 8) markRange(0, 8, BCH_DATA_sb);
    markRange(offset, offset + 2 ** layout.sbMaxSizeBits, BCH_DATA_sb);
  }
  for (const b of sb.journalBuckets[sb.devIdx] ?? []) markMetadataBucket(g, d, b, BCH_DATA_journal, d.bucketSize);
}

function markMetadataBucket(g: Gc, d: DevBuckets, b: number, type: number, sectors: number): void {
  if (b >= d.nbuckets) {
    g.limitations.push(`superblock or journal bucket ${d.dev}:${b} lies beyond the device's ${d.nbuckets} buckets`);
    return;
  }
  const r = d.markMetadata(b, type, sectors);
  if (!r.conflict && !r.overflow) return;
  const text = r.conflict
    ? M.logMetadataBucketConflict(r.conflict, type)
    : `bucket ${d.dev}:${b} gen ${d.gen[b]} data type ${M.dataTypeName(type)} sector count overflow: ${r.oldSectors} + ${sectors} > U16_MAX`;
  g.out.report('metadata_bucket_conflict', { text }, { id: `${d.dev}:${b}`, at: { dev: d.dev, bucket: b }, log: text });
}

/** bch2_gc_mark_key for every key gc visits, with the pointer scratch it decodes into. */
export class Marker {
  private readonly it = new ExtentEntryIter();
  // bkey_for_each_ptr_decode results of the key being marked
  private readonly pDev = new Uint8Array(MAX_PTRS);
  // buckets and sector counts are small integers: Int32/Uint32 keep them unboxed in the hot loop
  private readonly pBucket = new Int32Array(MAX_PTRS);
  private readonly pGen = new Uint8Array(MAX_PTRS);
  private readonly pCached = new Uint8Array(MAX_PTRS);
  private readonly pSectors = new Uint32Array(MAX_PTRS);
  private readonly pOffset = new Float64Array(MAX_PTRS);
  private readonly pEc = new Uint8Array(MAX_PTRS);
  private readonly keyVersionHi: number;
  private readonly keyVersionLo: number;
  private readonly btreeNodeSectors: number;

  constructor(private readonly g: Gc) {
    const kv = g.recorded.keyVersion;
    this.keyVersionHi = Number((kv >> 32n) & 0xffffffffn);
    this.keyVersionLo = Number(kv & 0xffffffffn);
    this.btreeNodeSectors = g.fs.sb.btreeNodeSize;
  }

  /**
   * Decodes the pointers of row `row` into the scratch arrays (bkey_for_each_ptr_decode); returns how many.
   * Btree pointers count a whole node's sectors, extents their (compressed) size.
   */
  private decodePtrs(t: KeyTable, row: number, start: number, end: number, isBtree: boolean): number {
    const it = this.it;
    it.set(t.buf, start, end, t.size[row]!);
    let n = 0;
    let ec = 0;
    for (;;) {
      const e = it.next();
      if (e < 0) {
        if (e === EXTENT_ENTRY_INVALID) return n; // bcachefs would have rejected the key on read
        break;
      }
      if (e === BCH_EXTENT_ENTRY_stripe_ptr) {
        ec = 1;
        continue;
      }
      if (e !== BCH_EXTENT_ENTRY_ptr) continue;
      if (n === MAX_PTRS) break;
      this.pDev[n] = it.ptrDev;
      this.pOffset[n] = it.ptrOffset;
      this.pGen[n] = it.ptrGen;
      this.pCached[n] = it.ptrCached ? 1 : 0;
      this.pEc[n] = ec;
      ec = 0;
      if (isBtree) this.pSectors[n] = this.btreeNodeSectors;
      else {
        const size = t.size[row]!;
        const cs = it.crcCompressedSize;
        const us = it.crcUncompressedSize;
        this.pSectors[n] = cs === us ? size : Math.ceil((size * cs) / us);
      }
      n++;
    }
    return n;
  }

  /**
   * Marks row `row`, key `k` of `holder` (null: the btree root's own key, at level root + 1) in btree `id`.
   */
  markKey(t: KeyTable, row: number, id: number, level: number, holder: BtreeNode | null, k: number): void {
    const g = this.g;
    g.keysVisited++;
    const type = t.type[row]!;
    // key version (checked after the pointers in bcachefs; versions are almost always 0)
    const vhi = t.versionLoHi[row]!;
    const vlo = t.versionLoLo[row]!;
    const versionNewer = vhi > this.keyVersionHi || (vhi === this.keyVersionHi && vlo > this.keyVersionLo);

    let start = -1;
    let isBtree = false;
    let dataType = BCH_DATA_user;
    switch (type) {
      case KEY_TYPE_extent:
        start = t.valOff[row]!;
        break;
      case KEY_TYPE_reflink_v:
        start = t.valOff[row]! + 8;
        break;
      case KEY_TYPE_btree_ptr:
      case KEY_TYPE_btree_ptr_v2:
        start = btreePtrEntriesStart(t, row);
        if (start < 0) return; // a btree_ptr_v2 too short for its header has no pointers
        isBtree = true;
        dataType = BCH_DATA_btree;
        break;
      case KEY_TYPE_inode:
        if (versionNewer) this.keyVersionFinding(t, row, id, level, holder, k);
        g.gcFs.nrInodes++;
        return;
      case KEY_TYPE_reservation: {
        if (versionNewer) this.keyVersionFinding(t, row, id, level, holder, k);
        const nr = t.valLen[row]! >= 5 ? t.buf[t.valOff[row]! + 4]! : 0;
        const sectors = t.size[row]! * nr;
        const r = Math.min(Math.max(nr, 1), BCH_REPLICAS_MAX);
        g.gcFs.reserved += sectors;
        g.gcFs.persistentReserved[r - 1] = g.gcFs.persistentReserved[r - 1]! + sectors;
        return;
      }
      case KEY_TYPE_stripe:
        if (versionNewer) this.keyVersionFinding(t, row, id, level, holder, k);
        g.noteLimitation('stripes (erasure coding) are not marked by this checker');
        return;
      default:
        if (versionNewer) this.keyVersionFinding(t, row, id, level, holder, k);
        return;
    }
    const end = t.valOff[row]! + t.valLen[row]!;
    if (start > end) return;
    const n = this.decodePtrs(t, row, start, end, isBtree);

    // bch2_check_fix_ptrs
    let ok = true;
    for (let i = 0; i < n; i++) {
      const d = g.devs[this.pDev[i]!];
      const b = d ? d.bucketOf(this.pOffset[i]!) : -1;
      if (!d || b >= d.nbuckets) {
        this.badLocationFinding(t, row, id, level, holder, k, i);
        ok = false;
        continue;
      }
      this.pBucket[i] = b;
      const gen = this.pGen[i]!;
      const cached = this.pCached[i]!;
      const pdt = isBtree ? BCH_DATA_btree : cached ? BCH_DATA_cached : BCH_DATA_user;
      if (d.aUnknown[b] && !d.genValid[b]) {
        // no alloc info (unreadable alloc leaf): take the pointer's gen, as fsck -y would
        d.gen[b] = gen;
        d.oldestGen[b] = gen;
        d.genValid[b] = 1;
      }
      if (!d.genValid[b]) this.ptrFinding('ptr_gen_missing', t, row, id, level, holder, k, d, b, i, pdt, isBtree);
      if (genCmp(gen, d.gen[b]!) > 0) this.ptrFinding('ptr_gen_future', t, row, id, level, holder, k, d, b, i, pdt, isBtree);
      if (!cached && genCmp(gen, d.gen[b]!) < 0) this.ptrFinding('ptr_stale_dirty', t, row, id, level, holder, k, d, b, i, pdt, isBtree);
      if (this.pEc[i]) g.noteLimitation('pointers into erasure-coded stripes are not checked against their stripes');
    }
    if (!ok) return; // bcachefs would have dropped the key when reading its node
    if (versionNewer) this.keyVersionFinding(t, row, id, level, holder, k);

    // replicas marked in the superblock (cached pointers' entries, then the dirty pointers' entry)
    let dirtyDevs = 0;
    let firstDev = -1;
    let marked = true;
    for (let i = 0; i < n; i++) {
      if (this.pCached[i]) {
        if (g.table.findSingle(BCH_DATA_cached, this.pDev[i]!) < 0) marked = false;
      } else if (!this.pEc[i]) {
        if (dirtyDevs === 0) firstDev = this.pDev[i]!;
        dirtyDevs++;
      }
    }
    let replicasIdx = -1;
    if (dirtyDevs === 1) replicasIdx = g.table.find(dataType, 1, [firstDev]);
    else if (dirtyDevs > 1) replicasIdx = g.table.find(dataType, this.anyEc(n) ? 0 : 1, this.dirtyDevList(n));
    if (dirtyDevs && replicasIdx < 0) marked = false;
    if (!marked) this.replicasFinding(t, row, id, level, holder, k, dataType, n, replicasIdx);

    // oldest_gen
    for (let i = 0; i < n; i++) g.devs[this.pDev[i]!]!.notePtrGen(this.pBucket[i]!, this.pGen[i]!);

    // bch2_mark_key → bch2_mark_extent
    let dirtySectors = 0;
    for (let i = 0; i < n; i++) {
      const d = g.devs[this.pDev[i]!]!;
      const b = this.pBucket[i]!;
      const cached = this.pCached[i]! === 1;
      const s = this.pSectors[i]!;
      const r = d.markPtr(b, this.pGen[i]!, cached, s, dataType);
      if (r < 0) {
        this.markFinding(r, t, row, id, level, holder, k, d, b, i, dataType);
        return;
      }
      g.ptrsMarked++;
      if (cached) {
        if (r === MARK_STALE_CACHED) continue;
        const ci = g.table.findSingle(BCH_DATA_cached, d.dev);
        if (ci < 0) return; // "no replicas entry while updating cached sectors" (fatal in bcachefs)
        g.gcFs.addReplicas(ci, BCH_DATA_cached, s);
      } else if (!this.pEc[i]) {
        dirtySectors += s;
      }
    }
    if (dirtyDevs) {
      if (replicasIdx < 0) return; // "no replicas entry for ..." (fatal in bcachefs)
      g.gcFs.addReplicas(replicasIdx, dataType, dirtySectors);
    }
  }

  private anyEc(n: number): boolean {
    for (let i = 0; i < n; i++) if (this.pEc[i]) return true;
    return false;
  }

  private dirtyDevList(n: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (!this.pCached[i] && !this.pEc[i]) out.push(this.pDev[i]!);
    return out;
  }

  // ---------------------------------------------------------------- findings (few: allocation is fine here)

  /** A key finding's location; `i` is the pointer concerned, if any. */
  private where(t: KeyTable, row: number, id: number, level: number, holder: BtreeNode | null, k: number, i?: number): FindingLocation {
    const g = this.g;
    const ptr = t.type[row] === KEY_TYPE_btree_ptr || t.type[row] === KEY_TYPE_btree_ptr_v2 ? btreePtrFromKey(t, row) : undefined;
    const child = ptr && ptrTarget(ptr);
    return {
      btree_id: id,
      btree: btreeName(id),
      level,
      ...(holder ? { node: g.nodeAddr(holder) } : {}),
      key: g.keyAt(t, row, holder, holder ? k : undefined),
      ...(child ? { child } : {}),
      ...(i !== undefined ? { ptr_index: i, dev: this.pDev[i]!, ...(g.devs[this.pDev[i]!] ? { bucket: g.devs[this.pDev[i]!]!.bucketOf(this.pOffset[i]!) } : {}) } : {}),
    };
  }

  private keyId(t: KeyTable, row: number, id: number, level: number): string {
    return `${btreeName(id)}:${level}:${bposToText(t.pos(row))}`;
  }

  private ptrFinding(
    cls: 'ptr_gen_missing' | 'ptr_gen_future' | 'ptr_stale_dirty', t: KeyTable, row: number, id: number, level: number, holder: BtreeNode | null,
    k: number, d: DevBuckets, b: number, i: number, pdt: number, isBtree: boolean,
  ): void {
    const gen = this.pGen[i]!;
    const bg = d.gen[b]!;
    const cached = this.pCached[i] === 1;
    const f = this.g.out.report(
      cls,
      { dev: d.dev, bucket: b, ptrDataType: pdt, ptrGen: gen, bucketGen: bg, cached, btreePtr: isBtree, isRoot: holder === null },
      {
        id: `${this.keyId(t, row, id, level)}:ptr${i}`,
        at: this.where(t, row, id, level, holder, k, i),
        field: 'gen',
        expected: cls === 'ptr_gen_missing' ? null : bg,
        actual: gen,
      },
    );
    // what the fix sets: the bucket's gen from the pointer's, the pointer's from the bucket's, or a pointer to drop
    const kind = f.repair.kind;
    if (kind === 'set_bucket_gen_from_ptr') f.repair.params = { gen };
    else if (kind === 'update_btree_ptr_gen') f.repair.params = { gen: bg };
    else if (kind === 'drop_stale_ptr') f.repair.params = { drop_ptr: i };
  }

  private markFinding(
    r: number, t: KeyTable, row: number, id: number, level: number, holder: BtreeNode | null, k: number, d: DevBuckets, b: number, i: number, ptrDt: number,
  ): void {
    const bdt = d.dataType[b]!;
    const cached = this.pCached[i] === 1;
    const cls =
      r === MARK_GEN_NEWER ? 'mark_ptr_gen_newer'
      : r === MARK_TOO_STALE ? 'mark_ptr_too_stale'
      : r === MARK_STALE_DIRTY ? 'mark_stale_dirty_ptr'
      : r === MARK_TYPE_MIXED ? 'mark_data_type_mixed'
      : 'mark_sector_overflow';
    const at = this.where(t, row, id, level, holder, k, i);
    this.g.out.report(
      cls,
      {
        dev: d.dev, bucket: b, bucketGen: d.gen[b]!, dataType: bdt || ptrDt, bucketDataType: bdt, ptrDataType: ptrDt, ptrGen: this.pGen[i]!,
        bucketSectors: cached ? d.cached[b]! : d.dirty[b]!, sectors: this.pSectors[i]!, keyText: at.key!.text,
      },
      { id: `${this.keyId(t, row, id, level)}:ptr${i}`, at, expected: d.gen[b]!, actual: this.pGen[i]! },
    );
  }

  private keyVersionFinding(t: KeyTable, row: number, id: number, level: number, holder: BtreeNode | null, k: number): void {
    const v = t.versionLo(row).toString();
    const recorded = this.g.recorded.keyVersion.toString();
    this.g.out.report('key_version_newer', { version: v, recorded }, {
      id: this.keyId(t, row, id, level),
      at: this.where(t, row, id, level, holder, k),
      field: 'version',
      expected: recorded,
      actual: v,
      params: { key_version: v },
    });
  }

  /** `replicasIdx` < 0: the dirty pointers' entry is missing; else a cached pointer's is (the first such is named). */
  private replicasFinding(
    t: KeyTable, row: number, id: number, level: number, holder: BtreeNode | null, k: number, dataType: number, n: number, replicasIdx: number,
  ): void {
    let replicas = { data_type: dataType, nr_required: this.anyEc(n) ? 0 : 1, devs: this.dirtyDevList(n).sort((a, b) => a - b) };
    if (replicasIdx >= 0 || !replicas.devs.length) {
      let i = 0;
      while (i < n && !(this.pCached[i] && this.g.table.findSingle(BCH_DATA_cached, this.pDev[i]!) < 0)) i++;
      replicas = { data_type: BCH_DATA_cached, nr_required: 1, devs: [this.pDev[i]!] };
    }
    this.g.out.report('replicas_not_marked', { keyType: t.type[row]! }, {
      id: this.keyId(t, row, id, level),
      at: this.where(t, row, id, level, holder, k),
      params: { replicas },
    });
  }

  private badLocationFinding(t: KeyTable, row: number, id: number, level: number, holder: BtreeNode | null, k: number, i: number): void {
    const dev = this.pDev[i]!;
    const d = this.g.devs[dev];
    this.g.out.report('ptr_bad_location', { dev, offset: this.pOffset[i]!, nbuckets: d ? d.nbuckets : null }, {
      id: `${this.keyId(t, row, id, level)}:ptr${i}`,
      at: this.where(t, row, id, level, holder, k, i),
    });
  }
}
