// bcachefs's fsck passes after mark and sweep (libbcachefs/fsck.c bch2_fsck_full at a76f36fc6), in its
// order. Each pass reads the btrees with the journal laid over them and reports through the same
// FindingList as the checker, with stage 'fsck'. Like bcachefs, the passes stop at the first node they
// cannot read ("error in fsck (-5)"): nothing after it is checked.
import type { Filesystem } from '../btree/fs.js';
import { NEVER_CANCELLED, type CancellationToken } from '../base/cancellation.js';
import type { FindingList } from '../check/findings.js';
import type { KeyTable } from '../format/bkey.js';
import { FSCK_PASSES, type FsckPassName } from './classes.js';
import { FsckContext } from './context.js';
import { PathResolver } from './paths.js';
import { u64HiLoToString } from '../format/bytes.js';
import { checkExtents, type ExtentFeed } from './extents.js';
import { checkDirents, checkXattrs } from './dirents.js';
import { checkDirectoryStructure } from './dir-structure.js';
import { checkInodes, type InodeFeed } from './inodes.js';
import { checkNlinks } from './nlinks.js';
import { checkRoot } from './root.js';

export { FsckContext } from './context.js';
export { InodeFeed } from './inodes.js';
export { ExtentFeed } from './extents.js';
export { gcLeftUnfixed } from './dirents.js';
export { FSCK_CLASSES, FSCK_PASSES, isFsckClass, type FsckClass } from './classes.js';

export interface FsckPassOptions {
  token?: CancellationToken;
  /** the key text of fsck messages (bch2_bkey_val_to_text); the checker's marks stale pointers */
  keyText?: (t: KeyTable, row: number) => string;
  /** told when each pass starts (for progress, and for timing the passes) */
  onPass?: (pass: FsckPassName) => void;
  /** where the passes say what they could not examine */
  limitations?: string[];
  /** how many inode keys to expect (mark and sweep counted them): sizes the inode table once */
  inodesExpected?: number;
  /** the inode table built during mark and sweep (InodeFeed): used when complete */
  inodeFeed?: InodeFeed;
  /** the extents summed per inode during mark and sweep (ExtentFeed): used when complete */
  extentFeed?: ExtentFeed;
}

/** Each pass of bch2_fsck_full; they run in FSCK_PASSES order. */
const PASS: Record<FsckPassName, (ctx: FsckContext) => void> = {
  check_inodes: checkInodes,
  check_extents: checkExtents,
  check_dirents: checkDirents,
  check_xattrs: checkXattrs,
  check_root: checkRoot,
  check_directory_structure: checkDirectoryStructure,
  check_nlinks: checkNlinks,
};

/**
 * Runs the passes; returns the context (the inode table, and where the passes stopped if they did). Yields to
 * the event loop between passes; cancellation is polled within them.
 */
export async function runFsckPasses(fs: Filesystem, out: FindingList, opts: FsckPassOptions = {}): Promise<FsckContext> {
  const feed = opts.inodeFeed?.complete ? opts.inodeFeed : undefined;
  const extents = opts.extentFeed?.complete ? opts.extentFeed : undefined;
  const ctx = new FsckContext(fs, out, opts.token ?? NEVER_CANCELLED, opts.keyText, opts.limitations, opts.inodesExpected, feed, extents);
  const stage = out.stage;
  out.stage = 'fsck';
  try {
    for (const name of FSCK_PASSES) {
      ctx.pass = name;
      opts.onPass?.(name);
      await new Promise<void>((r) => setImmediate(r));
      ctx.poll();
      PASS[name](ctx);
      if (ctx.stop) break;
    }
    nameInodes(ctx);
  } finally {
    out.stage = stage;
  }
  return ctx;
}

/** Adds the paths of the inodes findings are about to their explanations, once the dirents are known. */
function nameInodes(ctx: FsckContext): void {
  if (!ctx.dirents || !ctx.toName.length) return;
  const paths = PathResolver.fromContext(ctx);
  for (const { finding, hi, lo } of ctx.toName) {
    const inum = u64HiLoToString(hi, lo);
    const found = paths.pathsOf(BigInt(inum)).map((p) => p.path);
    finding.explanation += found.length
      ? ` (inode ${inum}: ${found.join(', ')})`
      : ` (inode ${inum}: no dirent names it)`;
  }
}
