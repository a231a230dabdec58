// check_directory_structure (fsck.c at a76f36fc6): after check_dirents, an inode whose backpointer
// (bi_dir:bi_dir_offset) names no dirent pointing back is unreachable; from a directory, the backpointers
// are followed up to the root, and coming back to a directory already on the way is a loop. Under -n
// nothing is reattached: the walk of an inode ends at the first problem.
import { u64HiLoToString as s64 } from '../format/bytes.js';
import { BCACHEFS_ROOT_INO, ROW_BACKPTR_FOUND, type FsckContext } from './context.js';
import { isDir, modeToType } from './inode-table.js';

export function checkDirectoryStructure(ctx: FsckContext): void {
  const inodes = ctx.inodes;
  if (!ctx.dirents) return; // check_dirents stopped, and bcachefs with it
  // the directories on the way up from the inode being checked (bcachefs's pathbuf)
  let path = new Uint32Array(64);
  for (let start = 0; start < inodes.n; start++) {
    if ((start & 4095) === 0) ctx.poll();
    let r = start;
    let depth = 0;
    while (inodes.inumHi[r] !== 0 || inodes.inumLo[r] !== BCACHEFS_ROOT_INO) {
      // inode_backpointer_exists, as check_dirents found it
      if (!(inodes.state[r]! & ROW_BACKPTR_FOUND)) {
        const inum = s64(inodes.inumHi[r]!, inodes.inumLo[r]!);
        const bp = `${s64(inodes.dirHi[r]!, inodes.dirLo[r]!)}:${s64(inodes.dirOffHi[r]!, inodes.dirOffLo[r]!)}`;
        ctx.report('inode_unreachable',
          `unreachable inode ${inum}, type ${modeToType(inodes.mode[r]!)} nlink ${inodes.nlink[r]} backptr ${bp}`,
          `inodes:${inum}`, { btree: 'inodes', field: 'bi_dir:bi_dir_offset', actual: bp });
        break;
      }
      if (!isDir(inodes.mode[r]!)) break;
      if (depth === path.length) {
        const p = new Uint32Array(depth * 2);
        p.set(path);
        path = p;
      }
      path[depth++] = r;
      const parent = inodes.find(inodes.dirHi[r]!, inodes.dirLo[r]!);
      let loop = false;
      for (let i = 0; i < depth && !loop; i++) loop = path[i] === parent;
      if (loop) {
        // bcachefs does not say where; the inode it started from is on the loop or below it
        ctx.report('dir_structure_loop', 'directory structure loop', `inodes:${s64(inodes.inumHi[r]!, inodes.inumLo[r]!)}`, {
          btree: 'inodes', detail: `found walking up from inode ${s64(inodes.inumHi[start]!, inodes.inumLo[start]!)}`,
        });
        break;
      }
      if (parent < 0) {
        // the parent's dirent exists but its directory inode does not (check_dirents reported it, and -n left
        // it): bcachefs's lookup fails with -ENOENT and fsck ends there
        ctx.limitations.push(
          `bcachefs 2021's fsck stops in check_directory_structure at inode ${s64(inodes.inumHi[r]!, inodes.inumLo[r]!)}, ` +
            `whose parent directory ${s64(inodes.dirHi[r]!, inodes.dirLo[r]!)} has no inode ("error looking up parent directory: -2"); ` +
            'like it, the checks after that point were not run',
        );
        ctx.stop = { pass: 'check_directory_structure', btree: 'inodes', level: 0, sector: -1 };
        return;
      }
      r = parent;
    }
  }
}
