// check_inodes (fsck.c, with full = true as fsck runs it): builds the inode table and checks each inode's
// dirty flags. On a cleanly unmounted filesystem they are errors; otherwise bcachefs acts on them without a
// message (deletes unlinked inodes, truncates, recounts), and the later passes see the result.
import type { Filesystem, NodeStep } from '../btree/fs.js';
import type { KeyTable } from '../format/bkey.js';
import { BTREE_ID_inodes, KEY_TYPE_inode } from '../format/names.js';
import { u64HiLoToString } from '../format/bytes.js';
import { BCACHEFS_ROOT_INO, ROW_SECTORS_RECOUNTED, ROW_TRUNCATED, type FsckContext } from './context.js';
import {
  BCH_INODE_BACKPTR_UNTRUSTED, BCH_INODE_I_SECTORS_DIRTY, BCH_INODE_I_SIZE_DIRTY, BCH_INODE_UNLINKED, InodeTable,
} from './inode-table.js';

export function checkInodes(ctx: FsckContext): void {
  const t = ctx.inodes;
  const feed = ctx.inodeFeed;
  let outOfOrder = 0;
  if (feed) {
    // mark and sweep built the table from the leaves it read: the same keys, in the same order
    outOfOrder = feed.outOfOrder;
    for (let r = 0; r < t.n; r++) {
      ctx.poll();
      checkInode(ctx, r);
    }
  } else {
    ctx.forEachKey(BTREE_ID_inodes, (k, i) => {
      const r = addInodeKey(t, k, i);
      if (r === OUT_OF_ORDER) outOfOrder++;
      else if (r >= 0) checkInode(ctx, r);
    });
  }
  t.seal();
  if (outOfOrder) ctx.limitations.push(`inodes btree: ${outOfOrder} inode keys out of order were left out of the fsck passes`);
}

const OUT_OF_ORDER = -2;

/** Appends an inode key to the table as check_inodes sees it: its row, -1 if skipped, OUT_OF_ORDER. */
function addInodeKey(t: InodeTable, k: KeyTable, i: number): number {
  if (k.type[i] !== KEY_TYPE_inode) return -1;
  const hi = k.offsetHi[i]!;
  const lo = k.offsetLo[i]!;
  // bch2_inode_invalid drops these on read: an inode key's position is 0:inum, inum past the blockdev range
  if (k.inodeHi[i] !== 0 || k.inodeLo[i] !== 0 || (hi === 0 && lo < BCACHEFS_ROOT_INO)) return -1;
  const last = t.n - 1;
  if (last >= 0 && (t.inumHi[last]! > hi || (t.inumHi[last] === hi && t.inumLo[last]! >= lo))) return OUT_OF_ORDER;
  return t.push(hi, lo, k.buf, k.valOff[i]!, k.valOff[i]! + k.valLen[i]!);
}

/**
 * The inode table built from the inodes leaves as mark and sweep reads them, so that check_inodes reads no
 * node again. Only where that gives exactly what check_inodes' own walk would: a clean filesystem (where
 * check_inodes deletes nothing), no journal keys over the inode leaves, every inodes node readable.
 */
export class InodeFeed {
  readonly table: InodeTable;
  outOfOrder = 0;
  private usable: boolean;
  /** set once the walk of the inodes btree finished with the table usable */
  complete = false;

  constructor(fs: Filesystem, rowsExpected: number) {
    this.usable = fs.rootsFrom === 'clean' && fs.journalRows(BTREE_ID_inodes, 0).length === 0;
    this.table = new InodeTable(this.usable ? rowsExpected : 0);
  }

  /** Each node step of the inodes btree, in walk order. */
  node(step: NodeStep): void {
    if (!this.usable) return;
    if (!step.node.readable) {
      this.usable = false;
      return;
    }
    if (step.level !== 0) return;
    const keys = step.keys;
    const t = this.table;
    for (let k = 0; k < keys.count; k++) if (addInodeKey(t, keys.table(k), keys.row(k)) === OUT_OF_ORDER) this.outOfOrder++;
  }

  done(): void {
    this.complete = this.usable;
  }
}

function checkInode(ctx: FsckContext, r: number): void {
  const t = ctx.inodes;
  const flags = t.flags[r]!;
  if (!(flags & (BCH_INODE_UNLINKED | BCH_INODE_I_SIZE_DIRTY | BCH_INODE_I_SECTORS_DIRTY | BCH_INODE_BACKPTR_UNTRUSTED))) return;
  const inum = u64HiLoToString(t.inumHi[r]!, t.inumLo[r]!);
  const at = `inode:${inum}`;
  if (flags & BCH_INODE_UNLINKED) {
    if (!ctx.clean) {
      // bch2_inode_rm: the inode, its extents, xattrs and dirents
      ctx.removeInode(t.inumHi[r]!, t.inumLo[r]!);
      t.pop();
      return;
    }
    ctx.report('inode_unlinked_on_clean_fs', `filesystem marked clean, but inode ${inum} unlinked`, at, { btree: 'inodes', inode: [t.inumHi[r]!, t.inumLo[r]!] });
  }
  if (flags & BCH_INODE_I_SIZE_DIRTY) {
    if (!ctx.clean) {
      // deletes from POS(inum, round_up(i_size, block_bytes)): a byte count where the offset is in sectors
      roundUp(t.sizeHi[r]!, t.sizeLo[r]!, ctx.blockBytes);
      ctx.truncateSector.set(r, [rounded.hi, rounded.lo]);
      t.state[r]! |= ROW_TRUNCATED;
      t.flags[r] = (t.flags[r]! | BCH_INODE_I_SECTORS_DIRTY) & ~BCH_INODE_I_SIZE_DIRTY;
    } else {
      ctx.report('inode_i_size_dirty_on_clean_fs', `filesystem marked clean, but inode ${inum} has i_size dirty`, at, { btree: 'inodes', inode: [t.inumHi[r]!, t.inumLo[r]!] });
    }
  }
  if (t.flags[r]! & BCH_INODE_I_SECTORS_DIRTY) {
    if (!ctx.clean) {
      t.state[r]! |= ROW_SECTORS_RECOUNTED;
      t.flags[r] = t.flags[r]! & ~BCH_INODE_I_SECTORS_DIRTY;
    } else {
      ctx.report('inode_i_sectors_dirty_on_clean_fs', `filesystem marked clean, but inode ${inum} has i_sectors dirty`, at, { btree: 'inodes', inode: [t.inumHi[r]!, t.inumLo[r]!] });
    }
  }
  if (t.flags[r]! & BCH_INODE_BACKPTR_UNTRUSTED) {
    t.dirHi[r] = t.dirLo[r] = t.dirOffHi[r] = t.dirOffLo[r] = 0;
    t.flags[r] = t.flags[r]! & ~BCH_INODE_BACKPTR_UNTRUSTED;
  }
}

/** The result of roundUp. */
export const rounded = { hi: 0, lo: 0 };

/** round_up(v, align) of a u64 (hi, lo), align a power of two below 2^32, wrapping as C does: into `rounded`. */
export function roundUp(hi: number, lo: number, align: number): void {
  const sum = lo + (align - 1);
  rounded.hi = (hi + (sum > 0xffffffff ? 1 : 0)) >>> 0;
  rounded.lo = ((sum >>> 0) & ~(align - 1)) >>> 0;
}
