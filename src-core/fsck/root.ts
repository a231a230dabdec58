// check_root (fsck.c): the root directory, inode 4096, exists and is a directory.
import { BCACHEFS_ROOT_INO, type FsckContext } from './context.js';
import { isDir } from './inode-table.js';

export function checkRoot(ctx: FsckContext): void {
  const r = ctx.inodes.find(0, BCACHEFS_ROOT_INO);
  if (r < 0) ctx.report('root_dir_missing', 'root directory missing', 'inode:4096', { btree: 'inodes' });
  // under -n bcachefs then tests the mode of the inode it did not find, in a struct it never filled: the real
  // tool reads it as zero there (not a directory) and says so too
  const mode = r < 0 ? 0 : ctx.inodes.mode[r]!;
  if (!isDir(mode)) {
    ctx.report('root_not_dir', 'root inode not a directory', 'inode:4096', {
      btree: 'inodes', field: 'bi_mode', actual: mode.toString(8), ...(r >= 0 ? { inode: [0, BCACHEFS_ROOT_INO] as const } : {}),
    });
  }
}
