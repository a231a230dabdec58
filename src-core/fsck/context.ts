// What the fsck passes share: the filesystem, the findings, cancellation, and the inode summary that
// check_inodes builds and the later passes read (and update in memory where bcachefs's -n run updates its
// btrees in memory: backpointers, inodes deleted on an unclean filesystem).
import type { Filesystem } from '../btree/fs.js';
import { forEachKey } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import type { CancellationToken } from '../base/cancellation.js';
import { CheckAborted, posPartsFromText, type Finding, type FindingList, type FindingLocation } from '../check/findings.js';
import { u64HiLoToString } from '../format/bytes.js';
import { KeyTable } from '../format/bkey.js';
import { btreeIdByName, btreeName, BTREE_ID_alloc, BTREE_ID_extents, BTREE_ID_inodes, BTREE_ID_reflink, BTREE_ID_stripes } from '../format/names.js';
import { bkeyValToText } from '../format/print.js';
import type { FsckClass, FsckPassName } from './classes.js';
import { InodeTable } from './inode-table.js';
import type { DirentIndex } from './dirent-index.js';
import type { InodeFeed } from './inodes.js';
import type { ExtentFeed } from './extents.js';

export const BCACHEFS_ROOT_INO = 4096;

/** Leaves mark and sweep reads (btrees with triggers): a node read problem there was met by gc already. */
const GC_READS_LEAVES = (1 << BTREE_ID_extents) | (1 << BTREE_ID_inodes) | (1 << BTREE_ID_alloc) | (1 << BTREE_ID_stripes) | (1 << BTREE_ID_reflink);
const POLL_EVERY_KEYS = 4096;

/** Where the passes stopped, as bcachefs's fsck stops ("error in fsck (-5)") at a node it cannot read. */
export interface FsckStop {
  pass: FsckPassName;
  btree: string;
  level: number;
  sector: number;
}

export interface FsckFindingFields {
  btree?: string;
  key?: string;
  field?: string;
  expected?: number | string | null;
  actual?: number | string | null;
  /** added to the class's explanation */
  detail?: string;
  /** the inode concerned, as (hi, lo): once the dirents are known its path is added to the explanation */
  inode?: readonly [number, number];
}

class StopWalk extends Error {}

export class FsckContext {
  /** inodes as check_inodes leaves them: what every later pass looks inodes up in */
  readonly inodes: InodeTable;
  /** c->sb.clean: the filesystem was cleanly unmounted (its roots came from the clean section) */
  readonly clean: boolean;
  readonly blockBytes: number;
  /** every dirent check_dirents walked (fsck-b): for the directory structure, link counts and paths */
  dirents: DirentIndex | undefined;
  /** set when a pass met a node bcachefs's fsck cannot read: no later pass runs */
  stop: FsckStop | undefined;
  /** the pass running (for FsckStop and progress) */
  pass: FsckPassName = 'check_inodes';
  private keysSincePoll = 0;
  /** leaves of the btrees without triggers the passes read without errors (sector * 8 + btree id) */
  private readonly cleanLeaves = new Set<number>();
  /** findings whose inode is to be named by its path when the passes are done */
  readonly toName: { finding: Finding; hi: number; lo: number }[] = [];
  /**
   * Inodes check_inodes deleted (unlinked inodes on a filesystem not cleanly unmounted): with them went
   * their extents, xattrs and dirents, so the later passes skip those keys. Inode numbers in order, as halves.
   */
  private readonly removedHi: number[] = [];
  private readonly removedLo: number[] = [];
  /** ROW_TRUNCATED rows: the sector from which their extents were deleted, as (hi, lo) */
  readonly truncateSector = new Map<number, [number, number]>();

  constructor(
    readonly fs: Filesystem,
    readonly out: FindingList,
    readonly token: CancellationToken,
    /** bch2_bkey_val_to_text as fsck prints it (the checker marks stale pointers against its bucket gens) */
    readonly keyText: (t: KeyTable, row: number) => string = (t, row) => bkeyValToText(t, row),
    readonly limitations: string[] = [],
    /** how many inodes to expect (sizes the inode table) */
    inodesExpected = 0,
    /** the inode table mark and sweep built (check_inodes then only checks it), if it could */
    readonly inodeFeed?: InodeFeed,
    /** the extents summed per inode while mark and sweep read them (check_extents then reads no node when nothing is wrong) */
    readonly extentFeed?: ExtentFeed,
  ) {
    this.inodes = inodeFeed?.table ?? new InodeTable(inodesExpected);
    this.clean = fs.rootsFrom === 'clean';
    this.blockBytes = fs.sb.blockSize * 512;
  }

  /**
   * Every key of a btree (journal laid over), in order, as the pass's btree iterator sees them. Returns false
   * if the walk met a node bcachefs's fsck cannot read: `stop` is set then and the keys after it are not seen.
   */
  forEachKey(btreeId: number, cb: (t: KeyTable, row: number) => void): boolean {
    const gcRead = ((GC_READS_LEAVES >> btreeId) & 1) !== 0;
    const onNode = (node: BtreeNode): void => {
      if (!gcRead && node.level === 0 && node.readable && !node.errors.length) this.cleanLeaves.add(node.sector * 8 + btreeId);
      // after mark and sweep, a node with damage bcachefs repairs on read (a fixable error) only reads if gc
      // had it in the node cache already: the leaves of btrees without triggers were never read by gc
      const unreadable = !node.readable || (node.level === 0 && !gcRead && node.errors.some((e) => e.type === 'fixable'));
      if (!unreadable) return;
      this.stop = { pass: this.pass, btree: btreeName(btreeId), level: node.level, sector: node.sector };
      this.limitations.push(
        `bcachefs 2021's fsck stops at the unreadable ${btreeName(btreeId)} node at sector ${node.sector} (level ${node.level}) in ` +
          `${this.pass} ("error in fsck (-5)"); like it, the checks after that point were not run`,
      );
      throw new StopWalk();
    };
    const each = (t: KeyTable, row: number): void => {
      if (++this.keysSincePoll >= POLL_EVERY_KEYS) this.poll();
      cb(t, row);
    };
    try {
      forEachKey(this.fs, btreeId, each, onNode);
    } catch (e) {
      if (e instanceof StopWalk) return false;
      throw e;
    }
    return true;
  }

  /** Whether a pass read the leaf at `sector` of a btree mark and sweep does not read leaves of, and found no error in it. */
  readClean(btreeId: number, sector: number): boolean {
    return this.cleanLeaves.has(sector * 8 + btreeId);
  }

  /** Records that check_inodes deleted inode (hi, lo) (numbers come in increasing order). */
  removeInode(hi: number, lo: number): void {
    this.removedHi.push(hi);
    this.removedLo.push(lo);
  }

  /** Whether check_inodes deleted inode (hi, lo), and with it every key of that inode number. */
  inodeRemoved(hi: number, lo: number): boolean {
    const H = this.removedHi;
    const L = this.removedLo;
    let a = 0;
    let b = H.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (H[m]! < hi || (H[m] === hi && L[m]! < lo)) a = m + 1;
      else b = m;
    }
    return a < H.length && H[a] === hi && L[a] === lo;
  }

  /** Throws CheckAborted once cancellation is requested. */
  poll(): void {
    this.keysSincePoll = 0;
    if (this.token.isCancellationRequested) throw new CheckAborted();
  }

  /** Adds the finding bcachefs prints as `message` (the problem table appends ", not fixing" under -n). */
  report(cls: FsckClass, message: string, location: string, f: FsckFindingFields = {}): Finding {
    const { detail, inode, btree, key, field, expected, actual } = f;
    const at: FindingLocation = {
      ...(btree !== undefined ? { btree, btree_id: btreeIdByName(btree) } : {}),
      ...(key !== undefined ? { key: { text: key, pos: posPartsFromText(key), source: 'bset' as const } } : {}),
      ...(inode ? { inode: u64HiLoToString(inode[0], inode[1]) } : {}),
    };
    const finding = this.out.report(cls, { message, ...(detail !== undefined ? { detail } : {}) }, {
      id: location, at,
      ...(field !== undefined ? { field } : {}),
      ...(expected !== undefined ? { expected } : {}),
      ...(actual !== undefined ? { actual } : {}),
    });
    if (inode) this.toName.push({ finding, hi: inode[0], lo: inode[1] });
    return finding;
  }
}

// InodeTable.state bits set by check_inodes on a filesystem that was not cleanly unmounted
/** i_sectors was recounted (I_SECTORS_DIRTY): check_extents finds it equal to the sum of the extents */
export const ROW_SECTORS_RECOUNTED = 1;
/** the extents past i_size were deleted (I_SIZE_DIRTY) from sector `truncateSector` on */
export const ROW_TRUNCATED = 2;
/** (fsck-b) a dirent at the inode's backpointer points to it: inode_backpointer_exists, set by check_dirents */
export const ROW_BACKPTR_FOUND = 4;

const KEY_BYTES_MAX = 256 * 8;

/** A one-key copy of a row of another table, kept across node reads (the walk reuses its tables). */
export class KeyCopy {
  readonly t = new KeyTable(1);
  constructor() {
    this.t.reset(new Uint8Array(KEY_BYTES_MAX));
    this.t.push();
  }

  set(s: KeyTable, i: number): void {
    const d = this.t;
    d.type[0] = s.type[i]!;
    d.u64s[0] = s.u64s[i]!;
    d.inodeHi[0] = s.inodeHi[i]!;
    d.inodeLo[0] = s.inodeLo[i]!;
    d.offsetHi[0] = s.offsetHi[i]!;
    d.offsetLo[0] = s.offsetLo[i]!;
    d.snapshot[0] = s.snapshot[i]!;
    d.size[0] = s.size[i]!;
    d.versionHi[0] = s.versionHi[i]!;
    d.versionLoHi[0] = s.versionLoHi[i]!;
    d.versionLoLo[0] = s.versionLoLo[i]!;
    // values are u64-aligned: copy them as u32 words
    const words = Math.min(s.valLen[i]!, KEY_BYTES_MAX) >>> 2;
    const from = s.valOff[i]! >>> 2;
    const su = s.u32;
    const du = d.u32;
    for (let w = 0; w < words; w++) du[w] = su[from + w]!;
    d.valOff[0] = 0;
    d.valLen[0] = words << 2;
  }
}
