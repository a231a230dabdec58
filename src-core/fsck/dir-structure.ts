// check_directory_structure (fsck.c at a76f36fc6): after check_dirents, an inode whose backpointer
// (bi_dir:bi_dir_offset) names no dirent pointing back is unreachable; from a directory, the backpointers
// are followed up to the root, and coming back to a directory already on the way is a loop. Under -n
// nothing is reattached: the walk of an inode ends at the first problem.
import { u64HiLoToString as s64 } from '../format/bytes.js';
import { BCACHEFS_ROOT_INO, ROW_BACKPTR_FOUND, type FsckContext } from './context.js';
import { isDir, modeToType } from './inode-table.js';

// what the walk up from a directory ends in: each directory is walked once, and a later walk that reaches it
// ends the same way (a walk from below cannot meet its own path above it unless this one loops too), so
// the messages are bcachefs's and the time stays linear however deep or looped the tree
const UNKNOWN = 0;
const REACHES_ROOT = 1;
const LOOP = 2;
const UNREACHABLE = 3;

export function checkDirectoryStructure(ctx: FsckContext): void {
  const inodes = ctx.inodes;
  if (!ctx.dirents) return; // check_dirents stopped, and bcachefs with it
  const n = inodes.n;
  const outcome = new Uint8Array(n);
  /** for UNREACHABLE: the row whose backpointer names no dirent */
  const outcomeAt = new Int32Array(n);
  const onPath = new Uint8Array(n);
  // the directories on the way up from the inode being checked (bcachefs's pathbuf)
  let path = new Int32Array(64);
  const unreachable = (r: number): void => {
    const inum = s64(inodes.inumHi[r]!, inodes.inumLo[r]!);
    const bp = `${s64(inodes.dirHi[r]!, inodes.dirLo[r]!)}:${s64(inodes.dirOffHi[r]!, inodes.dirOffLo[r]!)}`;
    ctx.report('inode_unreachable',
      `unreachable inode ${inum}, type ${modeToType(inodes.mode[r]!)} nlink ${inodes.nlink[r]} backptr ${bp}`,
      `inodes:${inum}`, { btree: 'inodes', field: 'bi_dir:bi_dir_offset', actual: bp, inode: [inodes.inumHi[r]!, inodes.inumLo[r]!] });
  };
  const loop = (start: number): void => {
    // bcachefs does not say where: the inode the walk started from is on the loop or below it
    const inum = s64(inodes.inumHi[start]!, inodes.inumLo[start]!);
    ctx.report('dir_structure_loop', 'directory structure loop', `inodes:${inum}`, {
      btree: 'inodes', detail: `found walking up from inode ${inum}`, inode: [inodes.inumHi[start]!, inodes.inumLo[start]!],
    });
  };
  for (let start = 0; start < n; start++) {
    if ((start & 4095) === 0) ctx.poll();
    let r = start;
    let depth = 0;
    let result = REACHES_ROOT;
    let at = -1;
    while (inodes.inumHi[r] !== 0 || inodes.inumLo[r] !== BCACHEFS_ROOT_INO) {
      if (outcome[r] !== UNKNOWN) {
        result = outcome[r]!;
        at = outcomeAt[r]!;
        if (result === UNREACHABLE) unreachable(at);
        else if (result === LOOP) loop(start);
        break;
      }
      // inode_backpointer_exists, as check_dirents found it
      if (!(inodes.state[r]! & ROW_BACKPTR_FOUND)) {
        unreachable(r);
        result = UNREACHABLE;
        at = r;
        break;
      }
      if (!isDir(inodes.mode[r]!)) break;
      if (depth === path.length) {
        const p = new Int32Array(depth * 2);
        p.set(path);
        path = p;
      }
      path[depth++] = r;
      onPath[r] = 1;
      const parent = inodes.find(inodes.dirHi[r]!, inodes.dirLo[r]!);
      if (parent >= 0 && onPath[parent]) {
        loop(start);
        result = LOOP;
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
    for (let i = 0; i < depth; i++) {
      const d = path[i]!;
      outcome[d] = result;
      outcomeAt[d] = at;
      onPath[d] = 0;
    }
  }
}
