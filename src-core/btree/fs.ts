// An opened filesystem: superblock, journal, btree roots, and node reads. The btree-and-journal
// iteration (btree keys with the journal's newer keys laid over them) lives here too.
import { readSuperblock, type Superblock, type SuperblockReadResult } from '../format/superblock.js';
import { KeyTable, decodeKey, bposToParts, BKEY_U64s } from '../format/bkey.js';
import { decodeEntryKeys, BCH_JSET_ENTRY_btree_keys, BCH_JSET_ENTRY_btree_root, type JsetEntry } from '../format/journal.js';
import { BTREE_ID_NR, KEY_TYPE_btree_ptr, KEY_TYPE_btree_ptr_v2, btreeName } from '../format/names.js';
import { decodePtrs, btreePtrV2Header, BTREE_PTR_V2_HEADER_BYTES, ExtentEntryIter, BCH_EXTENT_ENTRY_ptr, type BtreePtr } from '../format/values.js';
import { bkeyValToText, type KeyTextOptions } from '../format/print.js';
import { readJournal, type JournalReadResult } from './journal-read.js';
import { parseBtreeNode, type BtreeNode } from './node.js';
import type { BlockReader } from './reader.js';

export interface BtreeRoot {
  btreeId: number;
  level: number;
  /** null for a btree that has never had a node (bcachefs's fake root: btree_ptr at POS_MAX, no pointer) */
  ptr: BtreePtr;
  fake: boolean;
}

export class FsOpenError extends Error {}

/** bcachefs's BTREE_MAX_DEPTH: a root claiming a higher level is damaged */
export const BTREE_MAX_DEPTH = 4;

/** how many sibling nodes ahead of the walk are read in the background */
const READAHEAD_WINDOW = 8;
const readaheadIter = new ExtentEntryIter();

/** Builds a BtreePtr (with its unpacked raw key) from row i of t. */
export function btreePtrFromKey(t: KeyTable, i: number): BtreePtr | undefined {
  const type = t.type[i]!;
  if (type !== KEY_TYPE_btree_ptr && type !== KEY_TYPE_btree_ptr_v2) return undefined;
  const valLen = t.valLen[i]!;
  const raw = new Uint8Array(BKEY_U64s * 8 + valLen);
  const dv = new DataView(raw.buffer);
  raw[0] = BKEY_U64s + valLen / 8;
  raw[1] = 1; // KEY_FORMAT_CURRENT
  raw[2] = type;
  dv.setUint32(4, t.versionLoLo[i]!, true);
  dv.setUint32(8, t.versionLoHi[i]!, true);
  dv.setUint32(12, t.versionHi[i]!, true);
  dv.setUint32(16, t.size[i]!, true);
  dv.setUint32(20, t.snapshot[i]!, true);
  dv.setUint32(24, t.offsetLo[i]!, true);
  dv.setUint32(28, t.offsetHi[i]!, true);
  dv.setUint32(32, t.inodeLo[i]!, true);
  dv.setUint32(36, t.inodeHi[i]!, true);
  raw.set(t.buf.subarray(t.valOff[i]!, t.valOff[i]! + valLen), BKEY_U64s * 8);
  const val = raw.subarray(BKEY_U64s * 8);
  const ptr: BtreePtr = { type, maxKey: t.pos(i), sectorsWritten: 0, flags: 0, ptrs: [], raw };
  if (type === KEY_TYPE_btree_ptr_v2) {
    if (valLen < BTREE_PTR_V2_HEADER_BYTES) return undefined;
    const h = btreePtrV2Header(val);
    ptr.seq = h.seq;
    ptr.sectorsWritten = h.sectorsWritten;
    ptr.flags = h.flags;
    ptr.minKey = h.minKey;
    ptr.ptrs = decodePtrs(val, BTREE_PTR_V2_HEADER_BYTES, val.length);
  } else {
    ptr.ptrs = decodePtrs(val, 0, val.length);
  }
  return ptr;
}

/** A pointer's key as bcachefs prints it (bch2_bkey_val_to_text). */
export function btreePtrToText(ptr: BtreePtr, opts: KeyTextOptions = {}): string {
  return bkeyValToText(btreePtrTable(ptr), 0, opts);
}

/** A one-row KeyTable holding a pointer's unpacked key (for roots, which live outside any node). */
export function btreePtrTable(ptr: BtreePtr): KeyTable {
  const t = new KeyTable(1);
  t.reset(ptr.raw);
  decodeKey(t, t.push(), ptr.raw, 0, null);
  return t;
}

const FAKE_ROOT_RAW = (() => {
  const raw = new Uint8Array(BKEY_U64s * 8);
  raw[0] = BKEY_U64s;
  raw[1] = 1;
  raw[2] = KEY_TYPE_btree_ptr;
  raw.fill(0xff, 20, 40); // POS_MAX
  return raw;
})();

/** Journal keys (btree_keys entries) to lay over the btree, newest version of each position last. */
export interface JournalKeys {
  table: KeyTable;
  btreeId: Uint8Array;
  level: Uint8Array;
  /** rows sorted by (btree, level, pos), newest last among equal positions */
  order: number[];
}

export class Filesystem {
  readonly sb: Superblock;
  readonly sbRead: SuperblockReadResult;
  readonly journal: JournalReadResult;
  readonly roots: BtreeRoot[] = [];
  readonly journalKeys: JournalKeys;
  /** where the roots came from */
  readonly rootsFrom: 'clean' | 'journal';
  /** notes for the user about how the filesystem was opened */
  readonly notes: string[] = [];
  nodeBytesRead = 0;
  nodesRead = 0;
  /**
   * Read-ahead: per level, the sectors of the children of the interior node read last, and how far the
   * walk has got through them. Walkers read children in key order, so each child read asks for the one
   * READAHEAD_WINDOW further on.
   */
  private readonly readahead: { sectors: number[]; next: number }[] = [];

  constructor(readonly dev: BlockReader) {
    if (dev.size < 8192 + 752) throw new FsOpenError(`device is too small (${dev.size} bytes) to hold a bcachefs superblock`);
    try {
      this.sbRead = readSuperblock((o, l) => dev.read(o, l), dev.size);
    } catch (e) {
      throw new FsOpenError(`no valid bcachefs superblock: ${(e as Error).message}`);
    }
    this.sb = this.sbRead.sb;
    if (this.sbRead.usedBackup) {
      this.notes.push(`primary superblock unusable (${this.sbRead.problems.join('; ')}); using the backup at sector ${this.sb.sector}`);
    }
    if (this.sb.encryptionType) throw new FsOpenError('filesystem is encrypted: not supported by this tool');
    this.journal = readJournal(dev, this.sb);
    for (const p of this.journal.problems) this.notes.push(`journal: ${p}`);

    const clean = this.sb.clean && this.sb.cleanSection ? this.sb.cleanSection : undefined;
    // as bch2_journal_read: damaged (and repeated) entries are not used
    const usable = this.journal.jsets.filter((j, i, all) => !j.error && j.csumOk !== false && (i === 0 || all[i - 1]!.seq !== j.seq));
    const skipped = this.journal.jsets.length - usable.length;
    if (skipped) this.notes.push(`journal: ${skipped} damaged or duplicate entries not used`);
    let rootEntries: JsetEntry[];
    let keyEntries: JsetEntry[] = [];
    if (clean) {
      this.rootsFrom = 'clean';
      rootEntries = clean.entries.filter((e) => e.type === BCH_JSET_ENTRY_btree_root);
      for (const j of usable) {
        if (j.seq > clean.journalSeq) keyEntries.push(...j.entries.filter((e) => e.type === BCH_JSET_ENTRY_btree_keys));
      }
    } else {
      this.rootsFrom = 'journal';
      // entries written after the last flush entry may never have reached the disk whole; replay runs
      // from that entry's last_seq
      const lastFlush = usable.filter((j) => !j.noFlush).pop();
      if (!lastFlush) {
        throw new FsOpenError('filesystem was not cleanly unmounted and no complete journal flush entry could be read: cannot find the btree roots');
      }
      const replay = usable.filter((j) => j.seq >= lastFlush.lastSeq && j.seq <= lastFlush.seq);
      // roots from every replayed entry in order, later ones replacing earlier (journal_replay_early)
      rootEntries = replay.flatMap((j) => j.entries.filter((e) => e.type === BCH_JSET_ENTRY_btree_root));
      keyEntries = replay.flatMap((j) => j.entries.filter((e) => e.type === BCH_JSET_ENTRY_btree_keys));
    }
    for (const e of rootEntries) {
      const t = new KeyTable(1);
      t.reset(e.buf);
      const err = decodeEntryKeys(e, t);
      const ptr = t.n ? btreePtrFromKey(t, 0) : undefined;
      if (err || !ptr || e.btreeId >= BTREE_ID_NR || e.level >= BTREE_MAX_DEPTH) {
        this.notes.push(`btree root entry for btree ${btreeName(e.btreeId)} is damaged`);
        continue;
      }
      this.roots[e.btreeId] = { btreeId: e.btreeId, level: e.level, ptr, fake: ptr.ptrs.length === 0 };
    }
    for (let id = 0; id < BTREE_ID_NR; id++) {
      if (!this.roots[id]) {
        this.roots[id] = {
          btreeId: id, level: 0, fake: true,
          ptr: { type: KEY_TYPE_btree_ptr, maxKey: { inode: 0xffff_ffff_ffff_ffffn, offset: 0xffff_ffff_ffff_ffffn, snapshot: 0xffffffff }, sectorsWritten: 0, flags: 0, ptrs: [], raw: FAKE_ROOT_RAW },
        };
      }
    }
    this.journalKeys = collectJournalKeys(keyEntries);
  }

  private readonly visited = new Set<number>();
  private readonly journalRowCache = new Map<number, number[]>();

  /** Rows of journalKeys.table for one btree level: the newest key per position, in key order. */
  journalRows(btreeId: number, level: number): number[] {
    const cacheKey = btreeId * 16 + level;
    let rows = this.journalRowCache.get(cacheKey);
    if (!rows) {
      const jk = this.journalKeys;
      rows = [];
      for (const r of jk.order) {
        if (jk.btreeId[r] !== btreeId || jk.level[r] !== level) continue;
        const last = rows[rows.length - 1];
        if (last !== undefined && jk.table.cmpPos(last, r) === 0) rows[rows.length - 1] = r;
        else rows.push(r);
      }
      this.journalRowCache.set(cacheKey, rows);
    }
    return rows;
  }

  /**
   * Starts a walk. In a sound btree every node has one parent; a damaged or crafted one can point many
   * parents at one subtree, and descending each time would cost fanout^depth reads. Walkers descend into
   * a node only on its firstVisit.
   */
  beginWalk(): void {
    this.visited.clear();
  }

  firstVisit(ptr: BtreePtr): boolean {
    const p = ptr.ptrs[0];
    if (!p) return true;
    const key = p.dev * 2 ** 44 + p.offset;
    if (this.visited.has(key)) return false;
    this.visited.add(key);
    return true;
  }

  /** Reads and validates the node a pointer points to; I/O errors make an unreadable node, not an exception. */
  readNode(btreeId: number, level: number, ptr: BtreePtr, keys?: KeyTable): BtreeNode {
    const p = ptr.ptrs[0];
    const bytes = this.sb.btreeNodeSize * 512;
    let buf: Uint8Array;
    try {
      if (!p) throw new Error('pointer has no device pointer');
      if (p.dev !== this.sb.devIdx) throw new Error(`pointer to device ${p.dev}, which is not open`);
      if (p.offset * 512 + bytes > this.dev.size) throw new Error(`node at sector ${p.offset} lies beyond the end of the device`);
      buf = this.dev.read(p.offset * 512, bytes);
    } catch (e) {
      const node = parseBtreeNode(this.sb, new Uint8Array(0), { btreeId, level, ptr }, keys);
      node.errors = [{ type: 'must_retry', code: 'io', msg: `read error: ${(e as Error).message}`, nodeOffset: 0 }];
      return node;
    }
    this.nodesRead++;
    this.nodeBytesRead += bytes;
    const node = parseBtreeNode(this.sb, buf, { btreeId, level, ptr }, keys);
    if (this.dev.prefetch) this.advanceReadahead(node, p.offset);
    return node;
  }

  private advanceReadahead(node: BtreeNode, sector: number): void {
    const bytes = this.sb.btreeNodeSize * 512;
    const q = this.readahead[node.level];
    if (q) {
      const i = q.sectors.indexOf(sector, q.next);
      if (i >= 0) {
        q.next = i + 1;
        const ahead = q.sectors[i + READAHEAD_WINDOW];
        if (ahead !== undefined) this.dev.prefetch!(ahead * 512, bytes);
      }
    }
    this.prefetchChildren(node);
  }

  /**
   * Starts reading ahead the children of an interior node (done on every interior node read; a walker that
   * comes back to a node read earlier calls it before descending).
   */
  prefetchChildren(node: BtreeNode): void {
    if (!this.dev.prefetch || node.level === 0 || !node.readable) return;
    const bytes = this.sb.btreeNodeSize * 512;
    const sectors: number[] = [];
    const it = readaheadIter;
    const t = node.keys;
    for (let k = 0; k < node.liveCount; k++) {
      const row = node.live[k]!;
      if (t.type[row] !== KEY_TYPE_btree_ptr_v2 && t.type[row] !== KEY_TYPE_btree_ptr) continue;
      const skip = t.type[row] === KEY_TYPE_btree_ptr_v2 ? BTREE_PTR_V2_HEADER_BYTES : 0;
      it.set(t.buf, t.valOff[row]! + skip, t.valOff[row]! + t.valLen[row]!, 0);
      for (let e = it.next(); e >= 0; e = it.next()) {
        if (e === BCH_EXTENT_ENTRY_ptr) {
          if (it.ptrDev === this.sb.devIdx && (it.ptrOffset + this.sb.btreeNodeSize) * 512 <= this.dev.size) sectors.push(it.ptrOffset);
          break;
        }
      }
    }
    this.readahead[node.level - 1] = { sectors, next: 0 };
    for (let i = 0; i < READAHEAD_WINDOW && i < sectors.length; i++) this.dev.prefetch!(sectors[i]! * 512, bytes);
  }

  /**
   * Depth-first walk of a btree from its root. `visit` sees every node (readable or not) with its parent
   * pointer; returning false skips its children. Interior nodes' children are visited in key order.
   */
  walk(btreeId: number, visit: (node: BtreeNode, ptr: BtreePtr, parent: BtreeNode | undefined) => boolean | void): void {
    const root = this.roots[btreeId]!;
    if (root.fake) return;
    this.beginWalk();
    this.firstVisit(root.ptr);
    const tables: KeyTable[] = [];
    const rec = (level: number, ptr: BtreePtr, parent: BtreeNode | undefined): void => {
      const t = (tables[level] ??= new KeyTable(level ? 256 : 4096));
      const node = this.readNode(btreeId, level, ptr, t);
      if (visit(node, ptr, parent) === false || !node.readable || level === 0) return;
      // children's reads reuse the tables of lower levels, so take this node's pointers out first
      const children: BtreePtr[] = [];
      for (let k = 0; k < node.liveCount; k++) {
        const c = btreePtrFromKey(node.keys, node.live[k]!);
        if (c) children.push(c);
      }
      for (const c of children) if (this.firstVisit(c)) rec(level - 1, c, node);
    };
    rec(root.level, root.ptr, undefined);
  }
}

function collectJournalKeys(entries: JsetEntry[]): JournalKeys {
  const table = new KeyTable(64);
  let total = 0;
  for (const e of entries) total += e.end - e.start;
  const buf = new Uint8Array(total);
  let p = 0;
  const btreeIds: number[] = [];
  const levels: number[] = [];
  table.reset(buf);
  for (const e of entries) {
    buf.set(e.buf.subarray(e.start, e.end), p);
    const copy: JsetEntry = { ...e, buf, start: p, end: p + (e.end - e.start) };
    const before = table.n;
    decodeEntryKeys(copy, table);
    for (let r = before; r < table.n; r++) {
      btreeIds.push(e.btreeId);
      levels.push(e.level);
    }
    p += e.end - e.start;
  }
  const btreeId = Uint8Array.from(btreeIds);
  const level = Uint8Array.from(levels);
  const order = Array.from({ length: table.n }, (_, i) => i);
  order.sort((a, b) => btreeId[a]! - btreeId[b]! || level[a]! - level[b]! || table.cmpPos(a, b) || a - b);
  return { table, btreeId, level, order };
}

/**
 * Every live key of a btree's leaves with the journal's keys laid over them (bcachefs's
 * btree_and_journal_iter): a journal key replaces the btree key at its position, a deleted one hides it.
 * `cb(t, row)` sees each key; t and row are only valid during the call.
 */
export function forEachKey(fs: Filesystem, btreeId: number, cb: (t: KeyTable, row: number) => void, onNode?: (node: BtreeNode) => void): void {
  const jk = fs.journalKeys;
  const jlist = fs.journalRows(btreeId, 0);
  let j = 0;
  const emitJournalBefore = (t: KeyTable, row: number): boolean => {
    // emits journal keys positioned before row; returns true if one sits exactly at row (it replaces it)
    while (j < jlist.length) {
      const jr = jlist[j]!;
      const c = jk.table.cmpPosWith(jr, t, row);
      if (c > 0) return false;
      if (!jk.table.whiteout(jr)) cb(jk.table, jr);
      j++;
      if (c === 0) return true;
    }
    return false;
  };
  fs.walk(btreeId, (node) => {
    onNode?.(node);
    if (node.level !== 0 || !node.readable) return;
    const t = node.keys;
    for (let k = 0; k < node.liveCount; k++) {
      const row = node.live[k]!;
      if (j < jlist.length && emitJournalBefore(t, row)) continue;
      cb(t, row);
    }
  });
  for (; j < jlist.length; j++) if (!jk.table.whiteout(jlist[j]!)) cb(jk.table, jlist[j]!);
}

/** A node's keys in order, each as (table, row). */
export interface NodeKeyList {
  count: number;
  table(k: number): KeyTable;
  row(k: number): number;
}

/**
 * The keys of one node with the journal's keys for its range laid over them (bcachefs's
 * btree_and_journal_iter for a node, as gc uses it).
 */
export function nodeKeysWithJournal(fs: Filesystem, node: BtreeNode): NodeKeyList {
  const t = node.keys;
  const plain: NodeKeyList = { count: node.liveCount, table: () => t, row: (k) => node.live[k]! };
  const all = fs.journalRows(node.btreeId, node.level);
  if (!all.length) return plain;
  const jt = fs.journalKeys.table;
  const min = bposToParts(node.minKey);
  const max = bposToParts(node.maxKey);
  // the node's range in the sorted journal rows
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (jt.cmpParts(all[mid]!, min) < 0) lo = mid + 1;
    else hi = mid;
  }
  let end = lo;
  while (end < all.length && jt.cmpParts(all[end]!, max) <= 0) end++;
  if (end === lo) return plain;
  const tabs: KeyTable[] = [];
  const rows: number[] = [];
  const pushJournal = (r: number): void => {
    if (!jt.whiteout(r)) {
      tabs.push(jt);
      rows.push(r);
    }
  };
  let j = lo;
  for (let k = 0; k < node.liveCount; k++) {
    const row = node.live[k]!;
    let replaced = false;
    while (j < end) {
      const c = jt.cmpPosWith(all[j]!, t, row);
      if (c > 0) break;
      pushJournal(all[j]!);
      j++;
      if (c === 0) {
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      tabs.push(t);
      rows.push(row);
    }
  }
  for (; j < end; j++) pushJournal(all[j]!);
  return { count: rows.length, table: (k) => tabs[k]!, row: (k) => rows[k]! };
}


/**
 * The pointers to every node at `minLevel` and above, as `bcachefs list -m nodes --level` prints them: in
 * post-order (a node's pointer after those of its children), ending with the root. `cb` gets each
 * pointer's key text. Nodes at `minLevel` itself are not read.
 */
export function forEachNodePointer(fs: Filesystem, btreeId: number, minLevel: number, cb: (text: string, level: number) => void, onNode?: (node: BtreeNode) => void): void {
  const root = fs.roots[btreeId]!;
  if (minLevel > root.level) return;
  fs.beginWalk();
  const rec = (level: number, ptr: BtreePtr, text: string): void => {
    if (level > minLevel && !root.fake && fs.firstVisit(ptr)) {
      const node = fs.readNode(btreeId, level, ptr);
      onNode?.(node);
      if (node.readable) {
        for (let k = 0; k < node.liveCount; k++) {
          const row = node.live[k]!;
          const child = btreePtrFromKey(node.keys, row);
          if (child) rec(level - 1, child, bkeyValToText(node.keys, row));
        }
      }
    }
    cb(text, level);
  };
  rec(root.level, root.ptr, btreePtrToText(root.ptr));
}
