// check_extents (fsck.c): every extent from inode 4096 on, in key order, against its inode: the inode
// exists and is a regular file or symlink, no extent ends past i_size, extents do not overlap, and i_sectors
// is the sum of the inode's extents. As in bcachefs, i_sectors is compared when the walk moves on to the
// next inode number, so the last inode with extents is never compared.
import type { Filesystem, NodeStep } from '../btree/fs.js';
import type { KeyTable } from '../format/bkey.js';
import { u64HiLoToString } from '../format/bytes.js';
import {
  BTREE_ID_extents, KEY_TYPE_extent, KEY_TYPE_indirect_inline_data, KEY_TYPE_inline_data, KEY_TYPE_reflink_p,
  KEY_TYPE_reflink_v, KEY_TYPE_reservation,
} from '../format/names.js';
import { pbuf } from '../check/messages.js';
import { BCACHEFS_ROOT_INO, KeyCopy, ROW_SECTORS_RECOUNTED, ROW_TRUNCATED, type FsckContext } from './context.js';
import { BCH_INODE_I_SECTORS_DIRTY, BCH_INODE_I_SIZE_DIRTY, S_IFLNK, S_IFMT, S_IFREG } from './inode-table.js';
import { roundUp, rounded } from './inodes.js';

/** bkey_extent_is_allocation: the key types counted in i_sectors */
const ALLOCATION_TYPES =
  (1 << KEY_TYPE_extent) | (1 << KEY_TYPE_reservation) | (1 << KEY_TYPE_reflink_p) | (1 << KEY_TYPE_reflink_v) |
  (1 << KEY_TYPE_inline_data) | (1 << KEY_TYPE_indirect_inline_data);

const TWO32 = 0x1_0000_0000;

function gt(ah: number, al: number, bh: number, bl: number): boolean {
  return ah > bh || (ah === bh && al > bl);
}

export function checkExtents(ctx: FsckContext): void {
  if (ctx.extentFeed?.complete && ctx.extentFeed.nothingToReport(ctx)) return;
  const inodes = ctx.inodes;
  // the inode number of the last key, looked up once per inode number
  let seenHi = -1;
  let seenLo = -1;
  let seenRemoved = false;
  let seenRow = -1;
  // a ROW_TRUNCATED inode's extents end at this sector, as (hi, lo)
  let cutHi = 0xffffffff;
  let cutLo = 0xffffffff;
  // bcachefs's inode walker: current inode number, its row (-1: no inode), the sum of its extents
  let curHi = 0;
  let curLo = 0;
  let started = false;
  let row = -1;
  let iSectors = 0;
  // i_size rounded up to a block, in sectors, as (hi, lo)
  let limHi = 0;
  let limLo = 0;
  // the previous extent's end position, and a copy of it for its text
  let prevInoHi = 0;
  let prevInoLo = 0;
  let prevEndHi = 0;
  let prevEndLo = 0;
  let havePrev = false;
  const prev = new KeyCopy();
  const at = (h: number, l: number, oh: number, ol: number): string => `extents:${u64HiLoToString(h, l)}:${u64HiLoToString(oh, ol)}`;

  const finishInode = (): void => {
    if (row < 0) return;
    if (inodes.state[row]! & ROW_SECTORS_RECOUNTED) {
      // check_inodes recounted i_sectors over these very extents
      inodes.sectorsHi[row] = Math.floor(iSectors / TWO32);
      inodes.sectorsLo[row] = iSectors >>> 0;
      return;
    }
    if (inodes.flags[row]! & BCH_INODE_I_SECTORS_DIRTY) return;
    const sh = inodes.sectorsHi[row]!;
    const sl = inodes.sectorsLo[row]!;
    if (sh < 0x20_0000 && sh * TWO32 + sl === iSectors) return;
    const inum = u64HiLoToString(curHi, curLo);
    const got = u64HiLoToString(sh, sl);
    ctx.report('inode_i_sectors_wrong', `inode ${inum} has incorrect i_sectors: got ${got}, should be ${iSectors}`, `inode:${inum}`, {
      btree: 'inodes', field: 'bi_sectors', expected: iSectors, actual: got, inode: [curHi, curLo],
    });
  };

  ctx.forEachKey(BTREE_ID_extents, (t: KeyTable, k: number) => {
    const ih = t.inodeHi[k]!;
    const il = t.inodeLo[k]!;
    // the pass starts at POS(4096, 0)
    if (ih === 0 && il < BCACHEFS_ROOT_INO) return;
    if (ih !== seenHi || il !== seenLo) {
      seenHi = ih;
      seenLo = il;
      seenRemoved = ctx.inodeRemoved(ih, il);
      seenRow = seenRemoved ? -1 : inodes.find(ih, il);
      cutHi = cutLo = 0xffffffff;
      if (seenRow >= 0 && inodes.state[seenRow]! & ROW_TRUNCATED) [cutHi, cutLo] = ctx.truncateSector.get(seenRow)!;
    }
    // keys check_inodes deleted are not there for this pass
    if (seenRemoved) return;
    let endHi = t.offsetHi[k]!;
    let endLo = t.offsetLo[k]!;
    let size = t.size[k]!;
    let startLo = endLo - size;
    let startHi = endHi;
    if (startLo < 0) {
      startLo += TWO32;
      startHi -= 1;
    }
    if (gt(endHi, endLo, cutHi, cutLo)) {
      if (!gt(cutHi, cutLo, startHi, startLo)) return;
      size -= (endHi - cutHi) * TWO32 + (endLo - cutLo);
      endHi = cutHi;
      endLo = cutLo;
    }

    const newInode = !started || ih !== curHi || il !== curLo;
    if (newInode) finishInode();
    if (havePrev && (gt(prevInoHi, prevInoLo, ih, il) || (prevInoHi === ih && prevInoLo === il && gt(prevEndHi, prevEndLo, startHi, startLo)))) {
      const text = ctx.keyText(t, k);
      ctx.report('extents_overlapping', `overlapping extents:\n${pbuf(ctx.keyText(prev.t, 0), 200)}\n${pbuf(text, 200)}`,
        at(ih, il, endHi, endLo), { btree: 'extents', key: text, inode: [ih, il] });
    }
    if (newInode) {
      curHi = ih;
      curLo = il;
      started = true;
      row = seenRow;
      iSectors = 0;
      if (row >= 0) {
        roundUp(inodes.sizeHi[row]!, inodes.sizeLo[row]!, ctx.blockBytes);
        limHi = rounded.hi >>> 9;
        limLo = ((rounded.lo >>> 9) | (rounded.hi << 23)) >>> 0;
      }
    }
    const type = t.type[k]!;
    if (row < 0) {
      ctx.report('extent_missing_inode', `extent type ${type} for missing inode ${u64HiLoToString(ih, il)}`, at(ih, il, endHi, endLo), {
        btree: 'extents', key: ctx.keyText(t, k),
      });
    } else {
      const mode = inodes.mode[row]!;
      const fmt = mode & S_IFMT;
      if (fmt !== S_IFREG && fmt !== S_IFLNK) {
        ctx.report('extent_non_regular_inode',
          `extent type ${type} for non regular file, inode ${u64HiLoToString(ih, il)} mode ${mode.toString(8)}`,
          at(ih, il, endHi, endLo), { btree: 'extents', key: ctx.keyText(t, k), inode: [ih, il] });
      }
      if (!(inodes.flags[row]! & BCH_INODE_I_SIZE_DIRTY) && type !== KEY_TYPE_reservation && gt(endHi, endLo, limHi, limLo)) {
        const iSize = u64HiLoToString(inodes.sizeHi[row]!, inodes.sizeLo[row]!);
        ctx.report('extent_past_end_of_inode',
          `extent type ${type} offset ${u64HiLoToString(endHi, endLo)} past end of inode ${u64HiLoToString(ih, il)}, i_size ${iSize}`,
          at(ih, il, endHi, endLo), { btree: 'extents', key: ctx.keyText(t, k), field: 'bi_size', actual: iSize, inode: [ih, il] });
      }
    }
    if ((ALLOCATION_TYPES >> type) & 1) iSectors += size;
    prev.set(t, k);
    prevInoHi = ih;
    prevInoLo = il;
    prevEndHi = endHi;
    prevEndLo = endLo;
    havePrev = true;
  });
}

/**
 * What check_extents needs of the extents, summed per inode number while mark and sweep reads the extents
 * leaves anyway, so that on a filesystem where the pass reports nothing it reads no node again. Only where
 * the summary sees exactly the keys the pass's walk would: a clean filesystem (check_inodes then deletes,
 * truncates and recounts nothing), no journal keys over the extents leaves, every extents node readable.
 * Anything the pass could report (an overlap, a missing or non-regular inode, an extent past i_size, a wrong
 * i_sectors) makes nothingToReport false, and the pass then runs as it always does.
 */
export class ExtentFeed {
  private usable: boolean;
  complete = false;
  /**
   * per inode number with extents (from 4096 on), in key order, 12 bytes each: its number, the sum of its
   * allocation extents' sizes, the end of its last extent that is not a reservation (0 if none). Values that
   * do not fit in 32 bits (inode numbers, sums or offsets of 2^32 and more) leave the pass to its own walk.
   */
  private n = 0;
  private ino: Uint32Array;
  private sectors: Uint32Array;
  private end: Uint32Array;
  // the previous extent, for the overlap check
  private prevInoHi = 0;
  private prevInoLo = 0;
  private prevEndHi = 0;
  private prevEndLo = 0;
  private havePrev = false;

  constructor(fs: Filesystem, inodesExpected: number) {
    this.usable = fs.rootsFrom === 'clean' && fs.journalRows(BTREE_ID_extents, 0).length === 0;
    const cap = this.usable ? Math.max(64, Math.min(inodesExpected, 1 << 22)) : 0;
    this.ino = new Uint32Array(cap);
    this.sectors = new Uint32Array(cap);
    this.end = new Uint32Array(cap);
  }

  /** Each node step of the extents btree, in walk order. */
  node(step: NodeStep): void {
    if (!this.usable) return;
    const node = step.node;
    if (!node.readable) {
      this.usable = false;
      return;
    }
    if (step.level !== 0) return;
    const t = node.keys;
    const live = node.live;
    for (let k = 0; k < node.liveCount; k++) {
      const r = live[k]!;
      const ih = t.inodeHi[r]!;
      const il = t.inodeLo[r]!;
      if (ih === 0 && il < BCACHEFS_ROOT_INO) continue;
      const endHi = t.offsetHi[r]!;
      const endLo = t.offsetLo[r]!;
      const size = t.size[r]!;
      let startLo = endLo - size;
      let startHi = endHi;
      if (startLo < 0) {
        startLo += TWO32;
        startHi -= 1;
      }
      const same = this.havePrev && this.prevInoHi === ih && this.prevInoLo === il;
      if (this.havePrev && (gt(this.prevInoHi, this.prevInoLo, ih, il) || (same && gt(this.prevEndHi, this.prevEndLo, startHi, startLo)))) {
        this.usable = false; // overlapping extents: the pass reports them
        return;
      }
      if (ih !== 0 || endHi !== 0) {
        this.usable = false; // beyond what the summary holds
        return;
      }
      if (!same) this.add(il);
      const e = this.n - 1;
      const type = t.type[r]!;
      if ((ALLOCATION_TYPES >> type) & 1) {
        const sum = this.sectors[e]! + size;
        if (sum > 0xffffffff) {
          this.usable = false;
          return;
        }
        this.sectors[e] = sum;
      }
      if (type !== KEY_TYPE_reservation) this.end[e] = endLo;
      this.prevInoHi = ih;
      this.prevInoLo = il;
      this.prevEndHi = endHi;
      this.prevEndLo = endLo;
      this.havePrev = true;
    }
  }

  done(): void {
    this.complete = this.usable;
  }

  private add(ino: number): void {
    if (this.n === this.ino.length) {
      const grow = (a: Uint32Array): Uint32Array => {
        const b = new Uint32Array(Math.max(64, a.length * 2));
        b.set(a);
        return b;
      };
      this.ino = grow(this.ino);
      this.sectors = grow(this.sectors);
      this.end = grow(this.end);
    }
    const e = this.n++;
    this.ino[e] = ino;
    this.sectors[e] = 0;
    this.end[e] = 0;
  }

  /** Whether check_extents, run over these extents against ctx's inodes, would report nothing (and change nothing). */
  nothingToReport(ctx: FsckContext): boolean {
    const inodes = ctx.inodes;
    for (let e = 0; e < this.n; e++) {
      if ((e & 4095) === 0) ctx.poll();
      const row = inodes.find(0, this.ino[e]!);
      if (row < 0 || inodes.state[row]! & (ROW_SECTORS_RECOUNTED | ROW_TRUNCATED)) return false;
      const fmt = inodes.mode[row]! & S_IFMT;
      if (fmt !== S_IFREG && fmt !== S_IFLNK) return false;
      const flags = inodes.flags[row]!;
      if (!(flags & BCH_INODE_I_SIZE_DIRTY)) {
        roundUp(inodes.sizeHi[row]!, inodes.sizeLo[row]!, ctx.blockBytes);
        const limHi = rounded.hi >>> 9;
        const limLo = ((rounded.lo >>> 9) | (rounded.hi << 23)) >>> 0;
        if (gt(0, this.end[e]!, limHi, limLo)) return false;
      }
      // i_sectors is compared when the walk moves on to the next inode number: never for the last one
      if (e === this.n - 1 || flags & BCH_INODE_I_SECTORS_DIRTY) continue;
      const sh = inodes.sectorsHi[row]!;
      if (!(sh < 0x20_0000 && sh * TWO32 + inodes.sectorsLo[row]! === this.sectors[e])) return false;
    }
    return true;
  }
}
