// check_nlinks (fsck.c): the link count of every file with more than one link (bi_nlink > 0 as stored)
// against the number of dirents pointing to it. Directories are left to the dirents and directory structure
// passes. As bcachefs, it counts over ranges of inodes: at most NLINK_RANGE_MAX files per walk of the dirents,
// so its memory is bounded whatever the size of the filesystem.
import { BTREE_ID_dirents, KEY_TYPE_dirent } from '../format/names.js';
import { u64HiLoToString } from '../format/bytes.js';
import type { FsckContext } from './context.js';
import { DT_DIR, isDir, modeToType } from './inode-table.js';

export const NLINK_RANGE_MAX = 1 << 18;

export function checkNlinks(ctx: FsckContext, rangeMax = NLINK_RANGE_MAX): void {
  const inodes = ctx.inodes;
  // inode table rows of the range's files, in order, and the dirents counted for each
  const rows = new Int32Array(Math.min(rangeMax, Math.max(inodes.n, 1)));
  const count = new Uint32Array(rows.length);
  let start = 0;
  while (start < inodes.n) {
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
    const lo = start;
    const hi = end;
    const ok = n > 0 && ctx.forEachKey(BTREE_ID_dirents, (t, k) => {
      if (t.type[k] !== KEY_TYPE_dirent || t.valLen[k]! < 16) return;
      const v = t.valOff[k]!;
      if (t.buf[v + 8] === DT_DIR) return;
      // dirents of an inode check_inodes deleted went with it
      if (ctx.inodeRemoved(t.inodeHi[k]!, t.inodeLo[k]!)) return;
      const w = v >>> 2;
      const r = inodes.find(t.u32[w + 1]!, t.u32[w]!);
      if (r < lo || r >= hi) return;
      // inc_link: bsearch of the range's table
      let a = 0;
      let b = n;
      while (a < b) {
        const m = (a + b) >>> 1;
        if (rows[m]! < r) a = m + 1;
        else b = m;
      }
      if (a < n && rows[a] === r) count[a]!++;
    });
    if (n > 0 && !ok) return;
    // check_nlinks_update_hardlinks
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      const have = inodes.nlinkGet(r);
      if (have === count[i]) continue;
      const inum = u64HiLoToString(inodes.inumHi[r]!, inodes.inumLo[r]!);
      ctx.report('inode_i_nlink_wrong',
        `inode ${inum} has wrong i_nlink (type ${modeToType(inodes.mode[r]!)} i_nlink ${have}, should be ${count[i]})`,
        `inode:${inum}`, { btree: 'inodes', field: 'bi_nlink', expected: count[i]!, actual: have });
    }
    start = end;
  }
}
