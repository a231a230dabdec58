// check_nlinks (fsck.c): the link count of every file with more than one link (bi_nlink > 0 as stored)
// against the number of dirents pointing to it. Directories are left to the dirents and directory structure
// passes. As bcachefs, it counts over ranges of inodes: at most NLINK_RANGE_MAX files per walk of the
// dirents, so its counting table is bounded whatever the size of the filesystem. The dirents are those
// check_dirents walked (ctx.dirents): under -n nothing changed them since.
import { u64HiLoToString } from '../format/bytes.js';
import type { FsckContext } from './context.js';
import { DT_DIR, isDir, modeToType } from './inode-table.js';

export const NLINK_RANGE_MAX = 1 << 18;

/** Returns how many ranges it counted over. */
export function checkNlinks(ctx: FsckContext, rangeMax = NLINK_RANGE_MAX): number {
  const inodes = ctx.inodes;
  const dirents = ctx.dirents;
  if (!dirents) throw new Error('check_nlinks needs the dirents check_dirents walked');
  // inode table rows of the range's files, in order, and the dirents counted for each
  const rows = new Int32Array(Math.min(rangeMax, Math.max(inodes.n, 1)));
  const count = new Uint32Array(rows.length);
  let start = 0;
  let ranges = 0;
  while (start < inodes.n) {
    ranges++;
    // check_nlinks_find_hardlinks
    let n = 0;
    let end = inodes.n;
    for (let r = start; r < inodes.n; r++) {
      if (isDir(inodes.mode[r]!) || inodes.nlink[r] === 0) continue;
      if (n === rows.length) {
        end = r;
        break;
      }
      rows[n++] = r;
    }
    count.fill(0, 0, n);
    // check_nlinks_walk_dirents
    for (let d = 0; n > 0 && d < dirents.n; d++) {
      if (dirents.dType[d] === DT_DIR) continue;
      const r = inodes.find(dirents.inumHi[d]!, dirents.inumLo[d]!);
      if (r < start || r >= end) continue;
      // inc_link: bsearch of the range's table
      let a = 0;
      let b = n;
      while (a < b) {
        const m = (a + b) >>> 1;
        if (rows[m]! < r) a = m + 1;
        else b = m;
      }
      if (a < n && rows[a] === r) count[a]!++;
    }
    // check_nlinks_update_hardlinks
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      const have = inodes.nlinkGet(r);
      if (have === count[i]) continue;
      const inum = u64HiLoToString(inodes.inumHi[r]!, inodes.inumLo[r]!);
      ctx.report('inode_i_nlink_wrong',
        `inode ${inum} has wrong i_nlink (type ${modeToType(inodes.mode[r]!)} i_nlink ${have}, should be ${count[i]})`,
        `inode:${inum}`, { btree: 'inodes', field: 'bi_nlink', expected: count[i]!, actual: have, inode: [inodes.inumHi[r]!, inodes.inumLo[r]!] });
    }
    start = end;
  }
  return ranges;
}
