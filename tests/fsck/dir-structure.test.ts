// check_directory_structure on trees no image of ours has: deep chains of directories, looped at the top or
// cut off from the root, numbered so that the deepest directory is walked first. bcachefs prints one message
// per directory below the problem (each walk up meets it again); ours must say the same without walking each
// chain again. Inode values are built as bcachefs packs them (helpers.ts).
import { describe, expect, it } from 'vitest';
import { NEVER_CANCELLED } from '../../src-core/base/cancellation.js';
import type { Filesystem } from '../../src-core/btree/fs.js';
import { FindingList } from '../../src-core/check/findings.js';
import { FsckContext, ROW_BACKPTR_FOUND } from '../../src-core/fsck/context.js';
import { DirentIndex } from '../../src-core/fsck/dirent-index.js';
import { checkDirectoryStructure } from '../../src-core/fsck/dir-structure.js';
import { inodeValue } from './helpers.js';

const S_IFDIR = 0o040000;

/** The root, then directories 4097.. each the child of the next; the last one's parent is `top`. */
function chain(n: number, top: number, found: (inum: number) => boolean): FsckContext {
  const fs = { rootsFrom: 'clean', sb: { blockSize: 8 } } as unknown as Filesystem;
  const ctx = new FsckContext(fs, new FindingList(), NEVER_CANCELLED);
  const t = ctx.inodes;
  for (let i = 0; i <= n; i++) {
    const inum = 4096 + i;
    const parent = i === 0 ? 0 : i === n ? top : inum + 1;
    const v = inodeValue(S_IFDIR | 0o755, parent);
    const r = t.push(0, inum, v, 0, v.length);
    expect(r).toBe(i);
    if (i > 0 && found(inum)) t.state[r]! |= ROW_BACKPTR_FOUND;
  }
  t.seal();
  ctx.dirents = new DirentIndex();
  return ctx;
}

describe('check_directory_structure', () => {
  it('a chain of 100,000 directories looped at the top: one loop message per directory, in linear time', () => {
    const n = 100_000;
    const ctx = chain(n, 4096 + n - 1, () => true); // the last two are each other's parent
    // walking the chain again from each directory (with bcachefs's path search) would not end within the timeout
    checkDirectoryStructure(ctx);
    const msgs = ctx.out.items.map((f) => f.fsck_message);
    expect(msgs.length).toBe(n);
    expect(new Set(msgs)).toEqual(new Set(['directory structure loop']));
  }, 30_000);

  it('a chain cut off from the root: the top directory is reported again from every directory below it', () => {
    const n = 1000;
    const top = 4096 + n;
    const ctx = chain(n, 4096, (inum) => inum !== top);
    checkDirectoryStructure(ctx);
    const msgs = ctx.out.items.map((f) => f.fsck_message);
    expect(msgs.length).toBe(n);
    expect(new Set(msgs)).toEqual(new Set([`unreachable inode ${top}, type 4 nlink 0 backptr 4096:1`]));
  });

  it('a chain that reaches the root: nothing to report', () => {
    const ctx = chain(5000, 4096, () => true);
    checkDirectoryStructure(ctx);
    expect(ctx.out.items).toEqual([]);
  });
});
