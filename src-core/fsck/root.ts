// check_root (fsck.c): the root directory, inode 4096, exists and is a directory.
import { BCACHEFS_ROOT_INO, type FsckContext } from './context.js';
import { isDir } from './inode-table.js';

export function checkRoot(ctx: FsckContext): void {
  const r = ctx.inodes.find(0, BCACHEFS_ROOT_INO);
  if (r < 0) {
    // under -n bcachefs goes on to test the mode of an inode it never read (uninitialised memory): what it
    // prints after this is not predictable, so only this is reported
    ctx.report('root_dir_missing', 'root directory missing', 'inode:4096', { btree: 'inodes' });
    return;
  }
  if (!isDir(ctx.inodes.mode[r]!)) {
    ctx.report('root_not_dir', 'root inode not a directory', 'inode:4096', {
      btree: 'inodes', field: 'bi_mode', actual: ctx.inodes.mode[r]!.toString(8),
    });
  }
}
