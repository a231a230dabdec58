// The read-only checker: bcachefs 2021's recovery-time mark and sweep (btree_gc.c bch2_gc with
// initial = true), reproduced step by step so that every fsck error it prints becomes a Finding with the
// same text, in the same order. Nothing is ever written.
//
// Order, as in bch2_fs_recovery + bch2_gc:
//   1. btree roots are read (read_btree_roots), in btree id order;
//   2. the alloc btree is walked into the alloc view of the buckets (bch2_alloc_read);
//   3. gc starts from the alloc gens, marks superblock and journal buckets (bch2_mark_superblocks);
//   4. each btree in gc phase order (stripes, extents, inodes, dirents, xattrs, alloc, quotas, reflink):
//      root min/max, then depth first: every key of a node is marked (bch2_check_fix_ptrs, key version,
//      replicas, bch2_mark_key) and, in interior nodes, checked against its siblings (topology); then its
//      children are read, down to the leaves for btrees with triggers and to level 1 for the others;
//      the root's own key is marked last;
//   5. bch2_gc_done compares buckets, device and filesystem usage.
import type { Filesystem } from '../btree/fs.js';
import { btreePtrFromKey, btreePtrTable, nodeKeysWithJournal, type NodeKeyList } from '../btree/fs.js';
import type { BtreeNode, BtreeNodeError } from '../btree/node.js';
import { KeyTable } from '../format/bkey.js';
import { bposCmp, bposSuccessor, bposToText, POS_MAX, POS_MIN, type Bpos } from '../format/bpos.js';
import { decodeUsageEntry, BCH_JSET_ENTRY_usage, BCH_JSET_ENTRY_data_usage, BCH_JSET_ENTRY_dev_usage, type JsetEntry } from '../format/journal.js';
import {
  BCH_DATA_btree, BCH_DATA_cached, BCH_DATA_journal, BCH_DATA_sb, BCH_DATA_user, BTREE_ID_alloc, KEY_TYPE_alloc, KEY_TYPE_alloc_v2,
  KEY_TYPE_btree_ptr, KEY_TYPE_btree_ptr_v2, KEY_TYPE_extent, KEY_TYPE_inode, KEY_TYPE_reflink_v, KEY_TYPE_reservation,
  KEY_TYPE_stripe, btreeName,
} from '../format/names.js';
import { bkeyValToText } from '../format/print.js';
import {
  ExtentEntryIter, BCH_EXTENT_ENTRY_ptr, BCH_EXTENT_ENTRY_stripe_ptr, EXTENT_ENTRY_INVALID, allocUnpack, newAllocUnpacked,
  BTREE_PTR_V2_HEADER_BYTES, type BtreePtr,
} from '../format/values.js';
import {
  CheckAborted, FindingList, type CheckOptions, type CheckProgress, type CheckResult, type Finding, type Repair,
} from './findings.js';
import * as M from './messages.js';
import { runFsckPasses } from '../fsck/index.js';
import {
  DevBuckets, FsUsage, ReplicasTable, devUsageFromBuckets, emptyRecordedUsage, gcDone, genAfter, genCmp, newDevUsage,
  recordedFsUsage, BCH_REPLICAS_MAX, MARK_GEN_NEWER, MARK_STALE_CACHED, MARK_STALE_DIRTY,
  MARK_TOO_STALE, MARK_TYPE_MIXED, entryKey, type RecordedUsage, type ReplicasEntry,
} from './usage.js';

export * from './findings.js';

/** bch2_gc_btrees' order: btree ids sorted by their gc phase. */
export const GC_BTREE_ORDER = [6, 0, 1, 2, 3, 4, 5, 7];
/** btree_node_type_needs_gc for leaves: extents, inodes, alloc, stripes, reflink have triggers. */
const LEAF_NEEDS_GC = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 6) | (1 << 7);
const MAX_PTRS = 32;
const YIELD_EVERY_NODES = 32;

/** Node errors bcachefs reports without a device (btree_err(..., NULL, ...)). */
const NODE_ERR_WITHOUT_DEV = new Set(['bset_version_old', 'bset_version_new', 'key_past_end', 'bad_key_format', 'invalid_bkey', 'keys_out_of_order']);

export async function checkFilesystem(fs: Filesystem, opts: CheckOptions = {}): Promise<CheckResult> {
  const c = new Checker(fs, opts);
  const t0 = performance.now();
  let aborted = false;
  try {
    await c.run();
  } catch (e) {
    if (e instanceof CheckAborted) aborted = true;
    else throw e;
  }
  return {
    findings: c.out.items,
    aborted,
    limitations: c.limitations,
    stats: {
      nodesRead: c.nodesRead,
      bytesRead: c.bytesRead,
      keysVisited: c.keysVisited,
      ptrsMarked: c.ptrsMarked,
      buckets: c.devs.reduce((n, d) => n + (d ? d.nbuckets : 0), 0),
      ms: performance.now() - t0,
    },
  };
}

/** Recorded usage (bcachefs's usage_base) from the clean section, or from the journal after an unclean shutdown. */
export function readRecordedUsage(fs: Filesystem): RecordedUsage {
  const rec = emptyRecordedUsage();
  const clean = fs.sb.clean && fs.sb.cleanSection ? fs.sb.cleanSection : undefined;
  const entries: JsetEntry[] = clean ? clean.entries : fs.journal.jsets.flatMap((j) => j.entries);
  for (const e of entries) {
    if (e.type !== BCH_JSET_ENTRY_usage && e.type !== BCH_JSET_ENTRY_data_usage && e.type !== BCH_JSET_ENTRY_dev_usage) continue;
    const u = decodeUsageEntry(e);
    if (!u) continue;
    // usage counters are sectors, buckets and inodes: beyond 2^53 they are damage, and the check says so
    const counter = (v: bigint): number => {
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) rec.oversized.push(`recorded ${u.kind} value ${v} is implausibly large; compared approximately`);
      return Number(v);
    };
    if (u.kind === 'usage') {
      if (u.usageType === 0 && u.index < BCH_REPLICAS_MAX) rec.persistentReserved[u.index] = counter(u.v);
      else if (u.usageType === 1) rec.nrInodes = counter(u.v);
      else if (u.usageType === 2) rec.keyVersion = u.v;
    } else if (u.kind === 'data_usage') {
      const entry = { dataType: u.dataType, nrRequired: u.nrRequired, devs: u.devs };
      const key = (e: ReplicasEntry): string => entryKey(e.dataType, e.nrRequired, [...e.devs].sort((a, b) => a - b));
      const k = key(entry);
      const i = rec.replicas.findIndex((r) => key(r.entry) === k);
      if (i >= 0) rec.replicas[i]!.sectors = counter(u.v);
      else rec.replicas.push({ entry, sectors: counter(u.v) });
    } else {
      const du = newDevUsage();
      du.bucketsEc = counter(u.bucketsEc);
      du.bucketsUnavailable = counter(u.bucketsUnavailable);
      u.d.forEach((x, i) => {
        if (i < du.d.length) du.d[i] = { buckets: counter(x.buckets), sectors: counter(x.sectors), fragmented: counter(x.fragmented) };
      });
      rec.devs.set(u.dev, du);
    }
  }
  return rec;
}

class Checker {
  readonly out = new FindingList();
  readonly limitations: string[] = [];
  readonly devs: (DevBuckets | undefined)[] = [];
  nodesRead = 0;
  bytesRead = 0;
  keysVisited = 0;
  ptrsMarked = 0;
  private estimatedTotalBytes = 0;
  private phase: CheckProgress['phase'] = 'superblock';
  private btree: string | undefined;
  private readonly rootNodes: (BtreeNode | undefined)[] = [];
  private readonly levelTables: KeyTable[] = [];
  /** nodes whose read problems were already reported (a node read for the alloc info is not reported again in gc) */
  private readonly reportedNodes = new Set<string>();
  private readonly recorded: RecordedUsage;
  private readonly table: ReplicasTable;
  private readonly gcFs: FsUsage;
  private readonly keyVersionHi: number;
  private readonly keyVersionLo: number;
  private readonly btreeNodeSectors: number;
  private verifyUsage: boolean;
  private readonly devName: string | null;
  private readonly it = new ExtentEntryIter();
  // per-key pointer scratch (bkey_for_each_ptr_decode results)
  private readonly pDev = new Uint8Array(MAX_PTRS);
  private readonly pBucket = new Float64Array(MAX_PTRS);
  private readonly pGen = new Uint8Array(MAX_PTRS);
  private readonly pCached = new Uint8Array(MAX_PTRS);
  private readonly pSectors = new Float64Array(MAX_PTRS);
  private readonly pOffset = new Float64Array(MAX_PTRS);
  private readonly pEc = new Uint8Array(MAX_PTRS);
  private readonly staleFn = (dev: number, offset: number, gen: number): boolean => {
    const d = this.devs[dev];
    if (!d) return false;
    const b = d.bucketOf(offset);
    return b < d.nbuckets && genAfter(d.aGen[b]!, gen) > 0;
  };
  private nodesSinceYield = 0;
  private hasJournalKeys: boolean;

  constructor(readonly fs: Filesystem, readonly opts: CheckOptions) {
    const sb = fs.sb;
    this.devName = opts.devName ?? null;
    this.btreeNodeSectors = sb.btreeNodeSize;
    this.verifyUsage = (sb.compat[0]! & 1n) !== 0n; // BCH_COMPAT_alloc_info
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
    const kv = this.recorded.keyVersion;
    this.keyVersionHi = Number((kv >> 32n) & 0xffffffffn);
    this.keyVersionLo = Number(kv & 0xffffffffn);
    const entries: ReplicasEntry[] = [...sb.replicas, ...this.recorded.replicas.map((r) => r.entry)];
    this.table = new ReplicasTable(entries);
    this.gcFs = new FsUsage(this.table.nr);
    this.hasJournalKeys = fs.journalKeys.table.n > 0;
    if (!sb.clean) this.limitations.push('filesystem was not cleanly unmounted: usage recorded in the journal is used, journal keys are laid over the btrees');
  }

  // ---------------------------------------------------------------- driver

  async run(): Promise<void> {
    this.out.stage = 'recovery';
    this.progress('roots');
    for (let id = 0; id < this.fs.roots.length; id++) this.readRoot(id);
    this.progress('alloc');
    await this.readAllocInfo();
    for (const d of this.devs) if (d) d.startGc();
    this.out.stage = 'gc';
    this.markSuperblocks();
    this.progress('btrees');
    for (const id of GC_BTREE_ORDER) {
      if (id >= this.fs.roots.length) continue;
      this.btree = btreeName(id);
      await this.gcBtree(id);
    }
    this.btree = undefined;
    this.progress('gc_done');
    this.gcDoneAll();
    if (this.opts.readAllLeaves !== false) {
      this.out.stage = 'fsck';
      this.progress('leaves');
      for (let id = 0; id < this.fs.roots.length; id++) {
        if ((LEAF_NEEDS_GC >> id) & 1) continue;
        this.btree = btreeName(id);
        await this.readSkippedLeaves(id);
      }
      this.btree = undefined;
      // bcachefs's fsck passes (src-core/fsck), which also read every leaf
      const signal = this.opts.signal;
      const token = { get isCancellationRequested() { return signal?.aborted === true; } };
      await runFsckPasses(this.fs, this.out, {
        token, keyText: (t, row) => this.keyText(t, row), limitations: this.limitations, inodesExpected: this.gcFs.nrInodes,
      });
    }
    this.progress('done');
  }

  /**
   * Leaves of the btrees mark and sweep does not descend into (dirents, xattrs, quotas): bcachefs 2021 reads
   * them only in its fsck passes, where a damaged leaf stops fsck ("error in fsck (-5)").
   */
  private async readSkippedLeaves(id: number): Promise<void> {
    const root = this.fs.roots[id]!;
    const rootNode = this.rootNodes[id];
    if (root.fake || !rootNode || !rootNode.readable || rootNode.level === 0) return;
    const name = btreeName(id);
    this.fs.beginWalk();
    this.fs.firstVisit(root.ptr);
    const rec = async (node: BtreeNode): Promise<void> => {
      const t = node.keys;
      this.fs.prefetchChildren(node);
      for (let k = 0; k < node.liveCount; k++) {
        const row = node.live[k]!;
        const child = btreePtrFromKey(t, row);
        if (!child || !this.firstVisit(id, child)) continue;
        const level = node.level - 1;
        const cn = this.readNode(id, level, child, this.tableFor(level));
        await this.nodeDone();
        if (level > 0) {
          if (cn.readable) await rec(cn); // interior nodes were checked (and reported) by gc
          continue;
        }
        if (!cn.errors.length) continue;
        const text = this.keyText(t, row);
        const rootLevel = root.level;
        const logs = cn.errors.map((e) => this.nodeErrText(cn, text, rootLevel, e));
        // after the initial gc, a fixable node error no longer repairs on read: the node fails to read
        const unreadable = !cn.readable || cn.errors.some((e) => e.type === 'fixable');
        this.reportedNodes.add(`${cn.btreeId}:${cn.level}:${cn.dev}:${cn.sector}`);
        this.out.add(
          {
            class: unreadable ? 'btree_node_unreadable' : 'btree_node_read_error',
            severity: unreadable ? 'error' : 'warning',
            btree: name,
            level,
            node_sector: cn.sector,
            key: text,
            repair: unreadable
              ? { kind: 'unimplemented', description: 'none in bcachefs 2021: its fsck pass stops at this node ("error in fsck (-5)")' }
              : { kind: 'none', description: 'bcachefs logs it and uses the node' },
            fsck_message: null,
            fsck_disposition: null,
            log_message: logs.join('\n'),
            explanation:
              `the ${name} leaf at sector ${cn.sector}: ${cn.errors.map((e) => e.msg.split('\n')[0]).join('; ')}. ` +
              'Mark and sweep does not read this btree\'s leaves; bcachefs 2021 finds this only in its fsck pass' +
              (unreadable ? ', which then stops with "error in fsck (-5)"' : ''),
          },
          `${name}:${level}:${cn.sector}`,
        );
      }
    };
    await rec(rootNode);
  }

  private progress(phase: CheckProgress['phase']): void {
    this.phase = phase;
    this.opts.onProgress?.({
      phase,
      ...(this.btree !== undefined ? { btree: this.btree } : {}),
      nodesDone: this.nodesRead,
      bytesRead: this.bytesRead,
      estimatedTotalBytes: this.estimatedTotalBytes,
    });
  }

  private async nodeDone(): Promise<void> {
    if (this.opts.signal?.aborted) throw new CheckAborted();
    if (++this.nodesSinceYield >= YIELD_EVERY_NODES) {
      this.nodesSinceYield = 0;
      this.progress(this.phase);
      await new Promise<void>((r) => setImmediate(r));
      if (this.opts.signal?.aborted) throw new CheckAborted();
    }
  }

  /** Descend into each node once per walk (see Filesystem.firstVisit); say so when a node is reached again. */
  private firstVisit(id: number, ptr: BtreePtr): boolean {
    if (this.fs.firstVisit(ptr)) return true;
    this.noteLimitation(`${btreeName(id)}: more than one pointer leads to the node at sector ${ptr.ptrs[0]?.offset}; it was checked once`);
    return false;
  }

  private readNode(btreeId: number, level: number, ptr: BtreePtr, table?: KeyTable): BtreeNode {
    const node = this.fs.readNode(btreeId, level, ptr, table);
    this.nodesRead++;
    this.bytesRead += this.fs.sb.btreeNodeSize * 512;
    return node;
  }

  private tableFor(level: number): KeyTable {
    return (this.levelTables[level] ??= new KeyTable(level ? 256 : 4096));
  }

  private keyText(t: KeyTable, row: number): string {
    return bkeyValToText(t, row, { stale: this.staleFn });
  }

  // ---------------------------------------------------------------- node read problems

  /**
   * Reports what reading a node found (once per node): fixable damage is an fsck error bcachefs prints
   * with ", fixing" even under -n (mustfix_fsck_err during the initial gc); the rest is a bch_err log
   * block. Returns the log text of the error that made the node unreadable, if it is.
   */
  private reportNodeErrors(node: BtreeNode, ptrText: string): string | undefined {
    const key = `${node.btreeId}:${node.level}:${node.dev}:${node.sector}`;
    if (this.reportedNodes.has(key)) return undefined;
    this.reportedNodes.add(key);
    const rootLevel = this.fs.roots[node.btreeId]?.level ?? 0;
    let fatalText: string | undefined;
    for (const e of node.errors) {
      const text = this.nodeErrText(node, ptrText, rootLevel, e);
      const where = {
        btree: btreeName(node.btreeId),
        level: node.level,
        node_sector: node.sector,
        key: ptrText,
      };
      const loc = `${btreeName(node.btreeId)}:${node.level}:${node.sector}:${e.code}`;
      if (e.type === 'fixable') {
        this.out.add(
          {
            class: 'btree_node_fixable',
            severity: 'error',
            ...where,
            field: e.code,
            repair: { kind: 'fix_on_read', description: 'bcachefs drops the bad key or bset when it reads the node, and rewrites the node' },
            fsck_message: M.fsckBuf(text),
            fsck_disposition: 'fixing',
            explanation: `reading the node found: ${e.msg}. bcachefs repairs this while reading (mustfix), so even fsck -n prints ", fixing"`,
          },
          loc,
        );
      } else if (!node.readable && (e.type === 'must_retry' || e.type === 'fatal') && fatalText === undefined) {
        fatalText = text;
      } else {
        this.out.add(
          {
            class: 'btree_node_read_error',
            severity: 'warning',
            ...where,
            field: e.code,
            repair: { kind: 'none', description: 'bcachefs logs it and uses the node (a btree node rewrite would replace it)' },
            fsck_message: null,
            fsck_disposition: null,
            log_message: text,
            explanation: `reading the node found: ${e.msg}. 2021 bcachefs only logs this (no fsck error, exit 0) and uses the node's keys`,
          },
          loc,
        );
      }
    }
    if (!node.readable && fatalText === undefined) fatalText = this.nodeErrText(node, ptrText, rootLevel, { type: 'must_retry', code: 'unknown', msg: 'unreadable', nodeOffset: 0 });
    return fatalText;
  }

  private nodeErrText(node: BtreeNode, ptrText: string, rootLevel: number, e: BtreeNodeError): string {
    return M.msgBtreeNodeError({
      devName: NODE_ERR_WITHOUT_DEV.has(e.code) ? null : this.devName,
      btree: btreeName(node.btreeId),
      level: node.level,
      rootLevel,
      keyText: ptrText,
      nodeOffset: e.nodeOffset,
      ...(e.bsetU64s !== undefined ? { bsetU64s: e.bsetU64s } : {}),
      msg: e.msg,
    });
  }

  // ---------------------------------------------------------------- roots (read_btree_roots)

  private readRoot(id: number): void {
    const root = this.fs.roots[id]!;
    if (root.fake) return;
    const node = this.readNode(id, root.level, root.ptr, new KeyTable(root.level ? 256 : 4096));
    this.rootNodes[id] = node;
    const ptrText = bkeyValToText(btreePtrTable(root.ptr), 0, { stale: this.staleFn });
    const fatal = this.reportNodeErrors(node, ptrText);
    if (!node.readable) {
      this.out.add(
        {
          class: 'btree_root_unreadable',
          severity: 'error',
          btree: btreeName(id),
          level: root.level,
          node_sector: node.sector,
          key: ptrText,
          repair: { kind: 'unimplemented', description: 'none: bcachefs 2021 cannot mount without the root (error reading btree root)' },
          fsck_message: M.msgErrorReadingRoot(btreeName(id)),
          fsck_disposition: null,
          ...(fatal !== undefined ? { log_message: fatal } : {}),
          explanation:
            `the root node of the ${btreeName(id)} btree cannot be read` +
            (id === BTREE_ID_alloc ? '; bcachefs goes on without alloc info for it' : '; bcachefs stops recovery here, this checker goes on with the other btrees'),
        },
        `${btreeName(id)}:${root.level}:${node.sector}`,
      );
    }
  }

  // ---------------------------------------------------------------- alloc info (bch2_alloc_read)

  private async readAllocInfo(): Promise<void> {
    const id = BTREE_ID_alloc;
    const root = this.fs.roots[id]!;
    const rootNode = this.rootNodes[id];
    this.fs.beginWalk();
    this.fs.firstVisit(root.ptr);
    const a = newAllocUnpacked();
    let unreadable = false;
    const loadLeaf = (node: BtreeNode): void => {
      const keys = this.nodeKeyList(node);
      for (let k = 0; k < keys.count; k++) {
        const t = keys.table(k);
        const row = keys.row(k);
        const ty = t.type[row]!;
        if (ty !== KEY_TYPE_alloc && ty !== KEY_TYPE_alloc_v2) continue;
        const d = this.devs[t.inodeLo[row]!];
        if (!d || t.inodeHi[row] !== 0 || t.offsetHi[row] !== 0) continue;
        const b = t.offsetLo[row]!;
        if (b >= d.nbuckets) continue;
        allocUnpack(ty, t.buf, t.valOff[row]!, t.valLen[row]!, a);
        d.setAlloc(b, a.gen, a.dataType, a.dirtySectors, a.cachedSectors, a.oldestGen);
      }
    };
    const markUnknown = (min: Bpos, max: Bpos): void => {
      for (const d of this.devs) {
        if (!d) continue;
        const lo = bposCmp(min, { inode: BigInt(d.dev), offset: 0n, snapshot: 0 }) <= 0 ? 0 : min.inode === BigInt(d.dev) ? Number(min.offset) : d.nbuckets;
        const hi = bposCmp(max, { inode: BigInt(d.dev), offset: BigInt(d.nbuckets), snapshot: 0 }) >= 0 ? d.nbuckets - 1 : max.inode === BigInt(d.dev) ? Number(max.offset) : -1;
        for (let b = Math.max(0, lo); b <= Math.min(hi, d.nbuckets - 1); b++) d.aUnknown[b] = 1;
      }
    };
    const rec = async (node: BtreeNode, ptr: BtreePtr, ptrText: string): Promise<void> => {
      if (!node.readable) {
        if (this.rootNodes[id] === node) {
          // read_btree_roots: bcachefs clears BCH_COMPAT_alloc_info and goes on with an empty alloc btree,
          // so every pointer then has its gen "missing in alloc btree" and gc_done corrects silently
          this.verifyUsage = false;
          unreadable = true;
          return;
        }
        const fatal = this.reportNodeErrors(node, ptrText);
        unreadable = true;
        markUnknown(ptr.minKey ?? POS_MIN, ptr.maxKey);
        this.out.add(
          {
            class: 'alloc_info_unreadable',
            severity: 'error',
            btree: 'alloc',
            level: node.level,
            node_sector: node.sector,
            key: ptrText,
            repair: { kind: 'unimplemented', description: 'none in bcachefs 2021: recovery stops ("error reading allocation information"); --reconstruct_alloc rebuilds the alloc btree' },
            fsck_message: null,
            fsck_disposition: null,
            ...(fatal !== undefined ? { log_message: fatal } : {}),
            explanation:
              'a node of the alloc btree cannot be read, so bcachefs 2021 stops before mark and sweep ("error reading alloc info: -5"). ' +
              'This checker goes on: the buckets it covers are taken at the gens their pointers carry and are not compared',
          },
          `alloc:${node.level}:${node.sector}`,
        );
        return;
      }
      if (this.rootNodes[id] !== node) this.reportNodeErrors(node, ptrText);
      if (node.level === 0) {
        loadLeaf(node);
        return;
      }
      const t = node.keys;
      for (let k = 0; k < node.liveCount; k++) {
        const row = node.live[k]!;
        const child = btreePtrFromKey(t, row);
        if (!child || !this.firstVisit(id, child)) continue;
        const text = this.keyText(t, row);
        const cn = this.readNode(id, node.level - 1, child, this.tableFor(node.level - 1));
        await this.nodeDone();
        await rec(cn, child, text);
        if (unreadable) return; // bch2_btree_and_journal_walk stops at the first error
      }
    };
    if (!root.fake && rootNode) await rec(rootNode, root.ptr, bkeyValToText(btreePtrTable(root.ptr), 0, { stale: this.staleFn }));
    this.applyJournalAllocKeys();
    // estimate of what the walk will read: the sectors of btree-node buckets
    let btreeSectors = 0;
    for (const d of this.devs) {
      if (!d) continue;
      for (let b = 0; b < d.nbuckets; b++) if (d.aDataType[b] === BCH_DATA_btree) btreeSectors += d.aDirty[b]!;
    }
    this.estimatedTotalBytes = btreeSectors * 512;
  }

  private applyJournalAllocKeys(): void {
    if (!this.hasJournalKeys) return;
    const jk = this.fs.journalKeys;
    const a = newAllocUnpacked();
    for (const r of jk.order) {
      if (jk.btreeId[r] !== BTREE_ID_alloc || jk.level[r] !== 0) continue;
      const t = jk.table;
      const ty = t.type[r]!;
      if (ty !== KEY_TYPE_alloc && ty !== KEY_TYPE_alloc_v2) continue;
      const d = this.devs[t.inodeLo[r]!];
      const b = t.offsetLo[r]!;
      if (!d || b >= d.nbuckets) continue;
      allocUnpack(ty, t.buf, t.valOff[r]!, t.valLen[r]!, a);
      d.setAlloc(b, a.gen, a.dataType, a.dirtySectors, a.cachedSectors, a.oldestGen);
    }
  }

  // ---------------------------------------------------------------- superblock and journal buckets

  private markSuperblocks(): void {
    const sb = this.fs.sb;
    const d = this.devs[sb.devIdx];
    if (!d) return;
    const layout = sb.layout;
    const markRange = (start: number, end: number, type: number): void => {
      let b = d.bucketOf(start);
      do {
        const sectors = Math.min((b + 1) * d.bucketSize, end) - start;
        this.markMetadataBucket(d, b, type, sectors);
        b++;
        start += sectors;
      } while (start < end);
    };
    for (let i = 0; i < layout.nrSuperblocks && i < layout.sbOffsets.length; i++) {
      const offset = layout.sbOffsets[i]!;
      if (offset === 8) markRange(0, 8, BCH_DATA_sb);
      markRange(offset, offset + 2 ** layout.sbMaxSizeBits, BCH_DATA_sb);
    }
    for (const b of sb.journalBuckets[sb.devIdx] ?? []) this.markMetadataBucket(d, b, BCH_DATA_journal, d.bucketSize);
  }

  private markMetadataBucket(d: DevBuckets, b: number, type: number, sectors: number): void {
    if (b >= d.nbuckets) {
      this.limitations.push(`superblock or journal bucket ${d.dev}:${b} lies beyond the device's ${d.nbuckets} buckets`);
      return;
    }
    const r = d.markMetadata(b, type, sectors);
    if (r.conflict || r.overflow) {
      const text = r.conflict
        ? M.logMetadataBucketConflict(r.conflict, type)
        : `bucket ${d.dev}:${b} gen ${d.gen[b]} data type ${M.dataTypeName(r.conflict || type)} sector count overflow: ${r.oldSectors} + ${sectors} > U16_MAX`;
      this.out.add(
        {
          class: 'metadata_bucket_conflict',
          severity: 'error',
          dev: d.dev,
          bucket: b,
          repair: { kind: 'none', description: 'bcachefs logs it (bch2_fs_inconsistent: the filesystem is flagged as having errors) and goes on' },
          fsck_message: null,
          fsck_disposition: null,
          log_message: text,
          explanation: 'the superblock layout or the journal bucket list puts metadata in a bucket used otherwise',
        },
        `${d.dev}:${b}`,
      );
    }
  }

  // ---------------------------------------------------------------- gc of one btree (bch2_gc_btree_init)

  private async gcBtree(id: number): Promise<void> {
    const root = this.fs.roots[id]!;
    if (root.fake) return;
    const node = this.rootNodes[id];
    const targetDepth = (LEAF_NEEDS_GC >> id) & 1 ? 0 : 1;
    this.fs.beginWalk();
    this.fs.firstVisit(root.ptr);
    if (node && node.readable) {
      const ptrText = bkeyValToText(btreePtrTable(root.ptr), 0, { stale: this.staleFn });
      if (bposCmp(node.minKey, POS_MIN) !== 0) {
        this.rootRangeFinding(id, node, ptrText, 'min');
      } else if (bposCmp(node.maxKey, POS_MAX) !== 0) {
        this.rootRangeFinding(id, node, ptrText, 'max');
      }
      if (node.level >= targetDepth) await this.gcNode(id, node, targetDepth, ptrText);
    }
    // the root's own key: bch2_gc_mark_key(..., is_root = true)
    const rt = btreePtrTable(root.ptr);
    this.markKey(rt, 0, id, root.level + 1, node?.sector ?? -1, true);
  }

  private rootRangeFinding(id: number, node: BtreeNode, ptrText: string, which: 'min' | 'max'): void {
    const pos = which === 'min' ? node.minKey : node.maxKey;
    this.out.add(
      {
        class: which === 'min' ? 'btree_root_bad_min_key' : 'btree_root_bad_max_key',
        severity: 'error',
        btree: btreeName(id),
        level: node.level,
        node_sector: node.sector,
        key: ptrText,
        expected: which === 'min' ? 'POS_MIN' : 'POS_MAX',
        actual: bposToText(pos),
        repair: { kind: 'unimplemented', description: 'none: bcachefs 2021 says "repair unimplemented" and stops mark and sweep' },
        fsck_message: which === 'min' ? M.msgRootBadMinKey(bposToText(pos)) : M.msgRootBadMaxKey(bposToText(pos)),
        fsck_disposition: 'fixing',
        explanation: `the root node of ${btreeName(id)} does not cover the whole key space; bcachefs prints this as a must-fix error (", fixing" even with -n) and then stops`,
      },
      `${btreeName(id)}:${node.level}:${node.sector}`,
    );
  }

  /** An interior node without children: the 2021 gc walks past it silently; its topology repair drops it. */
  private emptyInteriorNode(id: number, node: BtreeNode, ptrText: string): void {
    const name = btreeName(id);
    this.out.add(
      {
        class: 'btree_node_empty',
        severity: 'warning',
        btree: name,
        level: node.level,
        node_sector: node.sector,
        key: ptrText,
        expected: 'at least one child pointer',
        actual: 'none',
        repair: {
          kind: 'drop_node_pointer',
          description: "bcachefs's topology repair pass (fsck -y, run after a topology error) drops the node; an empty root is \"repair unimplemented\"",
        },
        fsck_message: M.msgEmptyInteriorNode(name, node.level, ptrText),
        fsck_disposition: 'fixing',
        explanation:
          `the ${name} node at sector ${node.sector} (level ${node.level}) points to no children, so its key range holds no keys. ` +
          '2021 bcachefs does not notice it in mark and sweep (fsck -n says nothing); only its topology repair pass prints this message',
      },
      `${name}:${node.level}:${node.sector}`,
    );
  }

  /** bch2_gc_btree_init_recurse */
  private async gcNode(id: number, node: BtreeNode, targetDepth: number, ptrText: string): Promise<void> {
    const level = node.level;
    const name = btreeName(id);
    // keys: mark each, and check interior nodes' children ranges against each other
    let prevT: KeyTable | null = null;
    let prevRow = -1;
    const keys = this.nodeKeyList(node);
    const n = keys.count;
    if (level > 0 && n === 0) this.emptyInteriorNode(id, node, ptrText);
    for (let k = 0; k < n; k++) {
      const t = keys.table(k);
      const row = keys.row(k);
      this.markKey(t, row, id, level, node.sector, false);
      if (level > 0) {
        this.checkTopology(id, node, prevT, prevRow, t, row, k === n - 1);
        prevT = t;
        prevRow = row;
      }
    }
    if (level <= targetDepth) return;
    for (let k = 0; k < n; k++) {
      const t = keys.table(k);
      const row = keys.row(k);
      const child = btreePtrFromKey(t, row);
      if (!child || !this.firstVisit(id, child)) continue;
      const cn = this.readNode(id, level - 1, child, this.tableFor(level - 1));
      await this.nodeDone();
      const text = this.keyText(t, row);
      const fatal = this.reportNodeErrors(cn, text);
      if (!cn.readable) {
        if (fatal === undefined) continue; // already reported (alloc read)
        this.out.add(
          {
            class: 'btree_node_unreadable',
            severity: 'error',
            btree: name,
            level: level - 1,
            node_sector: cn.sector,
            key: text,
            repair: {
              kind: 'drop_node_pointer',
              description: 'bcachefs (fsck -y) drops the pointer to the node in the topology repair pass; its keys are lost and their buckets become free',
            },
            fsck_message: M.msgUnreadableNode(name, level - 1, text),
            fsck_disposition: 'not fixing',
            log_message: fatal,
            explanation: `the ${name} node at sector ${cn.sector} cannot be read: ${cn.errors.find((e) => e.type !== 'fixable' && e.type !== 'want_retry')?.msg ?? 'read error'}; nothing it points to is marked`,
          },
          `${name}:${level - 1}:${cn.sector}`,
        );
        continue;
      }
      await this.gcNode(id, cn, targetDepth, text);
    }
  }

  /** The keys of a node with the journal's keys laid over them (bch2_btree_and_journal_iter). */
  private nodeKeyList(node: BtreeNode): NodeKeyList {
    return nodeKeysWithJournal(this.fs, node);
  }

  /** bch2_gc_check_topology */
  private checkTopology(id: number, node: BtreeNode, prevT: KeyTable | null, prevRow: number, t: KeyTable, row: number, isLast: boolean): void {
    const name = btreeName(id);
    const type = t.type[row]!;
    if (type === KEY_TYPE_btree_ptr_v2) {
      const ptr = btreePtrFromKey(t, row);
      const expected = prevT === null ? node.minKey : bposSuccessor(prevT.pos(prevRow));
      if (ptr?.minKey && (expected === undefined || bposCmp(expected, ptr.minKey) !== 0)) {
        const curText = this.keyText(t, row);
        const prevText = prevT === null ? null : this.keyText(prevT, prevRow);
        const gap = expected !== undefined && bposCmp(expected, ptr.minKey) < 0;
        this.out.add(
          {
            class: 'topology_min_key',
            severity: 'error',
            btree: name,
            level: node.level,
            node_sector: node.sector,
            key: curText,
            expected: expected ? bposToText(expected) : null,
            actual: bposToText(ptr.minKey),
            repair: {
              kind: 'set_node_min_key',
              description:
                'bcachefs (fsck -y) runs its topology repair: the newer of the two nodes keeps its range and the other is trimmed ' +
                '(set_node_max on the previous sibling, or set_node_min on this one); keys outside the new range are dropped',
            },
            fsck_message: M.msgTopologyMinKey(name, node.level, prevText, bposToText(node.minKey), curText),
            fsck_disposition: 'not fixing',
            explanation:
              `child pointer's min_key ${bposToText(ptr.minKey)} should be ${expected ? bposToText(expected) : '(none: the previous key is POS_MAX)'}: ` +
              (gap ? 'keys in between belong to no node (gap)' : 'it overlaps the previous sibling'),
          },
          `${name}:${node.level}:${node.sector}:${bposToText(t.pos(row))}`,
        );
      }
    }
    if (isLast && t.cmpBpos(row, node.maxKey) !== 0) {
      const curText = this.keyText(t, row);
      this.out.add(
        {
          class: 'topology_max_key',
          severity: 'error',
          btree: name,
          level: node.level,
          node_sector: node.sector,
          key: curText,
          expected: bposToText(node.maxKey),
          actual: bposToText(t.pos(row)),
          repair: {
            kind: 'set_node_max_key',
            description: "bcachefs (fsck -y) extends the last child's max_key to its parent's (set_node_max) in the topology repair pass",
          },
          fsck_message: M.msgTopologyMaxKey(name, node.level, curText, bposToText(node.maxKey)),
          fsck_disposition: 'not fixing',
          explanation: `the last child ends at ${bposToText(t.pos(row))} but its parent covers up to ${bposToText(node.maxKey)}`,
        },
        `${name}:${node.level}:${node.sector}:last`,
      );
    }
  }

  // ---------------------------------------------------------------- marking one key (bch2_gc_mark_key)

  /**
   * Decodes the pointers of row `row` into the scratch arrays (bkey_for_each_ptr_decode); returns how many,
   * or -1 for a key without pointers. `sizeForCrc` is the key's size (extents) or 0 (btree pointers).
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

  private markKey(t: KeyTable, row: number, id: number, level: number, nodeSector: number, isRoot: boolean): void {
    this.keysVisited++;
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
        start = t.valOff[row]!;
        isBtree = true;
        dataType = BCH_DATA_btree;
        break;
      case KEY_TYPE_btree_ptr_v2:
        start = t.valOff[row]! + BTREE_PTR_V2_HEADER_BYTES;
        isBtree = true;
        dataType = BCH_DATA_btree;
        break;
      case KEY_TYPE_inode:
        if (versionNewer) this.keyVersionFinding(t, row, id, level, nodeSector);
        this.gcFs.nrInodes++;
        return;
      case KEY_TYPE_reservation: {
        if (versionNewer) this.keyVersionFinding(t, row, id, level, nodeSector);
        const nr = t.valLen[row]! >= 5 ? t.buf[t.valOff[row]! + 4]! : 0;
        const sectors = t.size[row]! * nr;
        const r = Math.min(Math.max(nr, 1), BCH_REPLICAS_MAX);
        this.gcFs.reserved += sectors;
        this.gcFs.persistentReserved[r - 1] = this.gcFs.persistentReserved[r - 1]! + sectors;
        return;
      }
      case KEY_TYPE_stripe:
        if (versionNewer) this.keyVersionFinding(t, row, id, level, nodeSector);
        this.noteLimitation('stripes (erasure coding) are not marked by this checker');
        return;
      default:
        if (versionNewer) this.keyVersionFinding(t, row, id, level, nodeSector);
        return;
    }
    const end = t.valOff[row]! + t.valLen[row]!;
    if (start > end) return;
    const n = this.decodePtrs(t, row, start, end, isBtree);

    // bch2_check_fix_ptrs
    let ok = true;
    for (let i = 0; i < n; i++) {
      const d = this.devs[this.pDev[i]!];
      const b = d ? d.bucketOf(this.pOffset[i]!) : -1;
      if (!d || b >= d.nbuckets) {
        this.badLocationFinding(t, row, id, level, nodeSector, i);
        ok = false;
        continue;
      }
      this.pBucket[i] = b;
      const g = this.pGen[i]!;
      const cached = this.pCached[i]!;
      const pdt = isBtree ? BCH_DATA_btree : cached ? BCH_DATA_cached : BCH_DATA_user;
      if (d.aUnknown[b] && !d.genValid[b]) {
        // no alloc info (unreadable alloc leaf): take the pointer's gen, as fsck -y would
        d.gen[b] = g;
        d.oldestGen[b] = g;
        d.genValid[b] = 1;
      }
      if (!d.genValid[b]) this.ptrFinding('ptr_gen_missing', t, row, id, level, nodeSector, d, b, i, pdt, isRoot);
      if (genCmp(g, d.gen[b]!) > 0) this.ptrFinding('ptr_gen_future', t, row, id, level, nodeSector, d, b, i, pdt, isRoot);
      if (!cached && genCmp(g, d.gen[b]!) < 0) this.ptrFinding('ptr_stale_dirty', t, row, id, level, nodeSector, d, b, i, pdt, isRoot);
      if (this.pEc[i]) this.noteLimitation('pointers into erasure-coded stripes are not checked against their stripes');
    }
    if (!ok) return; // bcachefs would have dropped the key when reading its node
    if (versionNewer) this.keyVersionFinding(t, row, id, level, nodeSector);

    // replicas marked in the superblock (cached pointers' entries, then the dirty pointers' entry)
    let dirtyDevs = 0;
    let firstDev = -1;
    let marked = true;
    for (let i = 0; i < n; i++) {
      if (this.pCached[i]) {
        if (this.table.findSingle(BCH_DATA_cached, this.pDev[i]!) < 0) marked = false;
      } else if (!this.pEc[i]) {
        if (dirtyDevs === 0) firstDev = this.pDev[i]!;
        dirtyDevs++;
      }
    }
    let replicasIdx = -1;
    if (dirtyDevs === 1) replicasIdx = this.table.find(dataType, 1, [firstDev]);
    else if (dirtyDevs > 1) replicasIdx = this.table.find(dataType, this.anyEc(n) ? 0 : 1, this.dirtyDevList(n));
    if (dirtyDevs && replicasIdx < 0) marked = false;
    if (!marked) this.replicasFinding(t, row, id, level, nodeSector);

    // oldest_gen
    for (let i = 0; i < n; i++) this.devs[this.pDev[i]!]!.notePtrGen(this.pBucket[i]!, this.pGen[i]!);

    // bch2_mark_key → bch2_mark_extent
    let dirtySectors = 0;
    for (let i = 0; i < n; i++) {
      const d = this.devs[this.pDev[i]!]!;
      const b = this.pBucket[i]!;
      const cached = this.pCached[i]! === 1;
      const s = this.pSectors[i]!;
      const r = d.markPtr(b, this.pGen[i]!, cached, s, dataType);
      if (r < 0) {
        this.markFinding(r, t, row, id, level, nodeSector, d, b, i, dataType);
        return;
      }
      this.ptrsMarked++;
      if (cached) {
        if (r === MARK_STALE_CACHED) continue;
        const ci = this.table.findSingle(BCH_DATA_cached, d.dev);
        if (ci < 0) return; // "no replicas entry while updating cached sectors" (fatal in bcachefs)
        this.gcFs.addReplicas(ci, BCH_DATA_cached, s);
      } else if (!this.pEc[i]) {
        dirtySectors += s;
      }
    }
    if (dirtyDevs) {
      if (replicasIdx < 0) return; // "no replicas entry for ..." (fatal in bcachefs)
      this.gcFs.addReplicas(replicasIdx, dataType, dirtySectors);
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

  private readonly notedLimitations = new Set<string>();
  private noteLimitation(s: string): void {
    if (this.notedLimitations.has(s)) return;
    this.notedLimitations.add(s);
    this.limitations.push(s);
  }

  private where(t: KeyTable, row: number, id: number, level: number, nodeSector: number): Pick<Finding, 'btree' | 'level' | 'node_sector' | 'key'> {
    return {
      btree: btreeName(id),
      level,
      ...(nodeSector >= 0 ? { node_sector: nodeSector } : {}),
      key: this.keyText(t, row),
    };
  }

  private keyLoc(t: KeyTable, row: number, id: number, level: number): string {
    return `${btreeName(id)}:${level}:${bposToText(t.pos(row))}`;
  }

  private ptrFinding(
    cls: 'ptr_gen_missing' | 'ptr_gen_future' | 'ptr_stale_dirty', t: KeyTable, row: number, id: number, level: number, nodeSector: number,
    d: DevBuckets, b: number, i: number, pdt: number, isRoot: boolean,
  ): void {
    const g = this.pGen[i]!;
    const bg = d.gen[b]!;
    const cached = this.pCached[i] === 1;
    let msg: string;
    let repair: Repair;
    let explanation: string;
    let shortfall: string | undefined;
    if (cls === 'ptr_gen_missing') {
      msg = M.msgPtrGenMissing(d.dev, b, pdt, g);
      repair = cached
        ? { kind: 'drop_stale_ptr', description: 'bcachefs drops the cached pointer' }
        : { kind: 'set_bucket_gen_from_ptr', description: "bcachefs creates the bucket's gen from the pointer's and rewrites the alloc key" };
      explanation = `bucket ${d.dev}:${b} has no alloc key, but this key points into it with gen ${g}`;
    } else if (cls === 'ptr_gen_future') {
      msg = M.msgPtrGenFuture(d.dev, b, pdt, g, bg);
      repair = cached
        ? { kind: 'drop_stale_ptr', description: 'bcachefs drops the cached pointer' }
        : {
            kind: 'set_bucket_gen_from_ptr',
            description: "bcachefs raises the bucket's gen to the pointer's, zeroes its counts and runs mark and sweep again (other pointers into the bucket then become stale)",
          };
      explanation = `the pointer's gen ${g} is ahead of bucket ${d.dev}:${b}'s gen ${bg}: the alloc key is older than the data it describes`;
      if (level > 0 || isRoot) {
        shortfall =
          "for a btree node pointer bcachefs 2021's repair raises the bucket's gen; when the bucket also holds other btree nodes (small " +
          'nodes in larger buckets) their pointers become stale, and fixing those needs a root update it cannot do ("cannot update btree ' +
          'roots yet"): on the fixture fsck -y stopped with an error (exit 8) and left the filesystem with errors';
      }
    } else {
      msg = M.msgPtrStaleDirty(d.dev, b, pdt, g, bg);
      repair =
        level > 0 || isRoot
          ? {
              kind: 'update_btree_ptr_gen',
              description: isRoot
                ? 'none: bcachefs 2021 "cannot update btree roots yet"'
                : "bcachefs sets the btree node pointer's gen to the bucket's (it never drops node pointers)",
            }
          : { kind: 'drop_stale_ptr', description: 'bcachefs drops the stale pointer from the extent (an extent with no pointer left is deleted)' };
      explanation = `bucket ${d.dev}:${b} was reused (gen ${bg}) after this dirty pointer (gen ${g}) was written: the data it points to is gone`;
    }
    if (isRoot && cls !== 'ptr_stale_dirty' && cached) repair = { kind: 'unimplemented', description: 'none: bcachefs 2021 "cannot update btree roots yet"' };
    this.out.add(
      {
        class: cls,
        severity: 'error',
        ...this.where(t, row, id, level, nodeSector),
        dev: d.dev,
        bucket: b,
        field: 'gen',
        expected: cls === 'ptr_gen_missing' ? null : bg,
        actual: g,
        repair,
        fsck_message: msg,
        fsck_disposition: 'not fixing',
        explanation,
        ...(shortfall ? { known_2021_shortfall: shortfall } : {}),
      },
      `${this.keyLoc(t, row, id, level)}:ptr${i}`,
    );
  }

  private markFinding(r: number, t: KeyTable, row: number, id: number, level: number, nodeSector: number, d: DevBuckets, b: number, i: number, ptrDt: number): void {
    const text = this.keyText(t, row);
    const g = this.pGen[i]!;
    const bg = d.gen[b]!;
    const bdt = d.dataType[b]!;
    const dt = bdt || ptrDt;
    const cached = this.pCached[i] === 1;
    let cls: Finding['class'];
    let msg: string;
    let explanation: string;
    switch (r) {
      case MARK_GEN_NEWER:
        cls = 'mark_ptr_gen_newer';
        msg = M.msgMarkPtrGenNewer(d.dev, b, bg, dt, g, text);
        explanation = 'marking skips this pointer (and the rest of its key): its sectors are missing from the recomputed usage';
        break;
      case MARK_TOO_STALE:
        cls = 'mark_ptr_too_stale';
        msg = M.msgMarkPtrTooStale(d.dev, b, bg, dt, g, text);
        explanation = 'the pointer is more than 96 gens behind its bucket: marking skips it';
        break;
      case MARK_STALE_DIRTY:
        cls = 'mark_stale_dirty_ptr';
        msg = M.msgMarkStaleDirtyPtr(d.dev, b, bg, dt, g, text);
        explanation = 'marking skips the stale dirty pointer (and the rest of its key): its sectors are missing from the recomputed usage';
        break;
      case MARK_TYPE_MIXED:
        cls = 'mark_data_type_mixed';
        msg = M.msgMarkDataTypeMixed(d.dev, b, bg, bdt, ptrDt, text);
        explanation = `bucket ${d.dev}:${b} already holds ${M.dataTypeName(bdt)} data; a ${M.dataTypeName(ptrDt)} pointer into it is not counted`;
        break;
      default:
        cls = 'mark_sector_overflow';
        msg = M.msgMarkSectorOverflow(d.dev, b, bg, dt, cached ? d.cached[b]! : d.dirty[b]!, this.pSectors[i]!, text);
        explanation = 'the bucket would hold more than 65535 sectors: the pointer is not counted';
    }
    this.out.add(
      {
        class: cls,
        severity: 'error',
        btree: btreeName(id),
        level,
        ...(nodeSector >= 0 ? { node_sector: nodeSector } : {}),
        key: text,
        dev: d.dev,
        bucket: b,
        expected: bg,
        actual: g,
        repair: { kind: 'none', description: 'nothing by itself: fsck -y fixes the pointer in bch2_check_fix_ptrs first, so this message does not appear there' },
        fsck_message: msg,
        fsck_disposition: null,
        explanation,
      },
      `${this.keyLoc(t, row, id, level)}:ptr${i}`,
    );
  }

  private keyVersionFinding(t: KeyTable, row: number, id: number, level: number, nodeSector: number): void {
    const v = t.versionLo(row);
    this.out.add(
      {
        class: 'key_version_newer',
        severity: 'error',
        ...this.where(t, row, id, level, nodeSector),
        expected: `<= ${this.recorded.keyVersion}`,
        actual: v.toString(),
        repair: { kind: 'set_key_version', description: 'bcachefs raises the recorded key version to this key\'s' },
        fsck_message: M.msgKeyVersionNewer(v, this.recorded.keyVersion),
        fsck_disposition: 'not fixing',
        explanation: 'the key carries a version number newer than the highest one the superblock recorded',
      },
      this.keyLoc(t, row, id, level),
    );
  }

  private replicasFinding(t: KeyTable, row: number, id: number, level: number, nodeSector: number): void {
    this.out.add(
      {
        class: 'replicas_not_marked',
        severity: 'error',
        ...this.where(t, row, id, level, nodeSector),
        repair: { kind: 'mark_replicas', description: 'bcachefs adds the replicas entry to the superblock' },
        fsck_message: M.msgReplicasNotMarked(t.type[row]!),
        fsck_disposition: 'not fixing',
        explanation: "the superblock's replicas section has no entry for the devices this key's data is on",
      },
      this.keyLoc(t, row, id, level),
    );
  }

  private badLocationFinding(t: KeyTable, row: number, id: number, level: number, nodeSector: number, i: number): void {
    const dev = this.pDev[i]!;
    const d = this.devs[dev];
    this.out.add(
      {
        class: 'ptr_bad_location',
        severity: 'warning',
        ...this.where(t, row, id, level, nodeSector),
        dev,
        ...(d ? { bucket: d.bucketOf(this.pOffset[i]!) } : {}),
        repair: { kind: 'fix_on_read', description: 'bcachefs rejects the key when it reads the node ("invalid bkey", dropped)' },
        fsck_message: null,
        fsck_disposition: null,
        explanation: d
          ? `pointer to sector ${this.pOffset[i]} lies past the end of device ${dev} (${d.nbuckets} buckets)`
          : `pointer to device ${dev}, which is not a member of this filesystem (or not open)`,
      },
      `${this.keyLoc(t, row, id, level)}:ptr${i}`,
    );
  }

  // ---------------------------------------------------------------- the end of gc

  private gcDoneAll(): void {
    const devs = this.devs.filter((d): d is DevBuckets => d !== undefined);
    const bucketSizes = new Map(devs.map((d) => [d.dev, d.bucketSize] as const));
    for (const d of devs) {
      const u = devUsageFromBuckets(d);
      this.gcFs.hidden += (u.d[BCH_DATA_sb]!.buckets + u.d[BCH_DATA_journal]!.buckets) * d.bucketSize;
    }
    const recordedFs = recordedFsUsage(this.recorded, this.table, bucketSizes);
    const before = this.out.items.length;
    gcDone({ devs, gcFs: this.gcFs, recorded: this.recorded, recordedFs, table: this.table }, this.out);
    if (!this.verifyUsage) {
      // without BCH_COMPAT_alloc_info bcachefs recomputes silently: these are not fsck errors then
      for (let i = before; i < this.out.items.length; i++) {
        const f = this.out.items[i]!;
        if (f.fsck_message === null) continue;
        f.severity = 'warning';
        f.fsck_message = null;
        f.fsck_disposition = null;
        f.explanation += ' (the superblock does not claim valid alloc info, so bcachefs replaces it without a message)';
      }
    }
  }
}
