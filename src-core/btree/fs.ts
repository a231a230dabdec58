// An opened filesystem: superblock, journal, btree roots, journal keys and node reads. The descents are
// in walk.ts (BtreeWalk, forEachKey, forEachNodePointer), the journal overlay of a node in overlay.ts.
import { readSuperblock, type Superblock, type SuperblockReadResult } from '../format/superblock.js';
import { KeyTable, BKEY_U64s } from '../format/bkey.js';
import { decodeEntryKeys, BCH_JSET_ENTRY_btree_keys, BCH_JSET_ENTRY_btree_root, type JsetEntry } from '../format/journal.js';
import { BTREE_ID_NR, KEY_TYPE_btree_ptr, btreeName } from '../format/names.js';
import { btreePtrFromKey } from '../format/btree-ptr.js';
import type { BtreePtr } from '../format/values.js';
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

export { btreePtrFromKey, btreePtrTable, btreePtrToText } from '../format/btree-ptr.js';
export { nodeKeysWithJournal, type NodeKeyList } from './overlay.js';
export { BtreeWalk, forEachKey, forEachNodePointer, type WalkStep, type NodeStep, type RepeatStep, type WalkOptions } from './walk.js';

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

/** What is read from the disk when the filesystem is opened (and again by reload()). */
interface FsState {
  sb: Superblock;
  sbRead: SuperblockReadResult;
  journal: JournalReadResult;
  roots: BtreeRoot[];
  journalKeys: JournalKeys;
  rootsFrom: 'clean' | 'journal';
  notes: string[];
}

export class Filesystem {
  private s: FsState;
  nodeBytesRead = 0;
  nodesRead = 0;
  private readonly journalRowCache = new Map<number, number[]>();

  constructor(readonly dev: BlockReader) {
    this.s = load(dev);
  }

  get sb(): Superblock {
    return this.s.sb;
  }
  get sbRead(): SuperblockReadResult {
    return this.s.sbRead;
  }
  get journal(): JournalReadResult {
    return this.s.journal;
  }
  get roots(): readonly BtreeRoot[] {
    return this.s.roots;
  }
  get journalKeys(): JournalKeys {
    return this.s.journalKeys;
  }
  /** where the roots came from */
  get rootsFrom(): 'clean' | 'journal' {
    return this.s.rootsFrom;
  }
  /** notes for the user about how the filesystem was opened */
  get notes(): readonly string[] {
    return this.s.notes;
  }

  /**
   * Forgets everything read so far (superblock, journal, roots, journal keys, cached rows, the device's
   * read-ahead) and reads it again: after a write, so that what is read next is what is on the disk.
   * Nodes and walks from before the reload describe the old state. Throws FsOpenError as opening does;
   * the old state is kept then.
   */
  reload(): void {
    this.dev.dropPrefetch?.();
    const s = load(this.dev);
    this.s = s;
    this.journalRowCache.clear();
  }

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
   * Reads and validates the node a pointer points to; I/O errors make an unreadable node, not an exception.
   * With `keys` (a table reused node after node) the node's bytes are read into memory kept with that
   * table, so the node and its keys are valid until the table is used again.
   */
  readNodeAt(btreeId: number, level: number, ptr: BtreePtr, keys?: KeyTable): BtreeNode {
    const p = ptr.ptrs[0];
    const bytes = this.sb.btreeNodeSize * 512;
    let buf: Uint8Array;
    try {
      if (!p) throw new Error('pointer has no device pointer');
      if (p.dev !== this.sb.devIdx) throw new Error(`pointer to device ${p.dev}, which is not open`);
      if (p.offset * 512 + bytes > this.dev.size) throw new Error(`node at sector ${p.offset} lies beyond the end of the device`);
      if (keys && keys.nodeBuf?.length !== bytes) keys.nodeBuf = new Uint8Array(bytes);
      buf = this.dev.read(p.offset * 512, bytes, keys?.nodeBuf);
    } catch (e) {
      const node = parseBtreeNode(this.sb, new Uint8Array(0), { btreeId, level, ptr }, keys);
      node.errors = [{ type: 'must_retry', code: 'io', msg: `read error: ${(e as Error).message}`, nodeOffset: 0 }];
      return node;
    }
    this.nodesRead++;
    this.nodeBytesRead += bytes;
    return parseBtreeNode(this.sb, buf, { btreeId, level, ptr }, keys);
  }

  /** Asks the device to read the node a pointer points to in the background (a no-op where it cannot). */
  prefetchNode(ptr: BtreePtr): void {
    const p = ptr.ptrs[0];
    const bytes = this.sb.btreeNodeSize * 512;
    if (!this.dev.prefetch || !p || p.dev !== this.sb.devIdx || p.offset * 512 + bytes > this.dev.size) return;
    this.dev.prefetch(p.offset * 512, bytes);
  }
}

function load(dev: BlockReader): FsState {
  if (dev.size < 8192 + 752) throw new FsOpenError(`device is too small (${dev.size} bytes) to hold a bcachefs superblock`);
  let sbRead: SuperblockReadResult;
  try {
    sbRead = readSuperblock((o, l) => dev.read(o, l), dev.size);
  } catch (e) {
    throw new FsOpenError(`no valid bcachefs superblock: ${(e as Error).message}`);
  }
  const sb = sbRead.sb;
  const notes: string[] = [];
  if (sbRead.usedBackup) {
    notes.push(`primary superblock unusable (${sbRead.problems.join('; ')}); using the backup at sector ${sb.sector}`);
  }
  if (sb.encryptionType) throw new FsOpenError('filesystem is encrypted: not supported by this tool');
  const journal = readJournal(dev, sb);
  for (const p of journal.problems) notes.push(`journal: ${p}`);

  const clean = sb.clean && sb.cleanSection ? sb.cleanSection : undefined;
  // as bch2_journal_read: damaged (and repeated) entries are not used
  const usable = journal.jsets.filter((j, i, all) => !j.error && j.csumOk !== false && (i === 0 || all[i - 1]!.seq !== j.seq));
  const skipped = journal.jsets.length - usable.length;
  if (skipped) notes.push(`journal: ${skipped} damaged or duplicate entries not used`);
  let rootEntries: JsetEntry[];
  let keyEntries: JsetEntry[] = [];
  let rootsFrom: FsState['rootsFrom'];
  if (clean) {
    rootsFrom = 'clean';
    rootEntries = clean.entries.filter((e) => e.type === BCH_JSET_ENTRY_btree_root);
    for (const j of usable) {
      if (j.seq > clean.journalSeq) keyEntries.push(...j.entries.filter((e) => e.type === BCH_JSET_ENTRY_btree_keys));
    }
  } else {
    rootsFrom = 'journal';
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
  const roots: BtreeRoot[] = [];
  for (const e of rootEntries) {
    const t = new KeyTable(1);
    t.reset(e.buf);
    const err = decodeEntryKeys(e, t);
    const ptr = t.n ? btreePtrFromKey(t, 0) : undefined;
    if (err || !ptr || e.btreeId >= BTREE_ID_NR || e.level >= BTREE_MAX_DEPTH) {
      notes.push(`btree root entry for btree ${btreeName(e.btreeId)} is damaged`);
      continue;
    }
    roots[e.btreeId] = { btreeId: e.btreeId, level: e.level, ptr, fake: ptr.ptrs.length === 0 };
  }
  for (let id = 0; id < BTREE_ID_NR; id++) {
    if (!roots[id]) {
      roots[id] = {
        btreeId: id, level: 0, fake: true,
        ptr: { type: KEY_TYPE_btree_ptr, maxKey: { inode: 0xffff_ffff_ffff_ffffn, offset: 0xffff_ffff_ffff_ffffn, snapshot: 0xffffffff }, sectorsWritten: 0, flags: 0, ptrs: [], raw: FAKE_ROOT_RAW },
      };
    }
  }
  return { sb, sbRead, journal, roots, journalKeys: collectJournalKeys(keyEntries), rootsFrom, notes };
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
