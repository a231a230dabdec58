// check_directory_structure on trees no image of ours has: deep chains of directories, looped at the top or
// cut off from the root, numbered so that the deepest directory is walked first. bcachefs prints one message
// per directory below the problem (each walk up meets it again); ours must say the same without walking each
// chain again. Inode values are built here as bcachefs packs them (new varints, 23 fields).
import { describe, expect, it } from 'vitest';
import { NEVER_CANCELLED } from '../../src-core/base/cancellation.js';
import type { Filesystem } from '../../src-core/btree/fs.js';
import { FindingList } from '../../src-core/check/findings.js';
import { FsckContext, ROW_BACKPTR_FOUND } from '../../src-core/fsck/context.js';
import { DirentIndex } from '../../src-core/fsck/dirent-index.js';
import { checkDirectoryStructure } from '../../src-core/fsck/dir-structure.js';

const S_IFDIR = 0o040000;

function varint(v: number): number[] {
  const bytes = Math.max(1, Math.ceil(Math.max(1, 32 - Math.clz32(v)) / 7));
  const x = BigInt(v) * 2n ** BigInt(bytes) + BigInt((1 << (bytes - 1)) - 1);
  return Array.from({ length: bytes }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn));
}

/** A directory inode value: bi_dir:bi_dir_offset = dir:1, the other fields 0. */
function dirInode(dir: number): Uint8Array {
  const fields: number[] = [];
  for (let f = 0; f < 23; f++) {
    const v = f === 21 ? dir : f === 22 ? 1 : 0;
    fields.push(...varint(v));
    if (f < 4) fields.push(...varint(0));
  }
  const val = new Uint8Array(14 + fields.length);
  const dv = new DataView(val.buffer);
  dv.setUint32(8, (0x8000_0000 | (23 << 24) | (3 << 20)) >>> 0, true); // new varint, 23 fields, siphash
  dv.setUint16(12, S_IFDIR | 0o755, true);
  val.set(fields, 14);
  return val;
}

/** The root, then directories 4097.. each the child of the next; the last one's parent is `top`. */
function chain(n: number, top: number, found: (inum: number) => boolean): FsckContext {
  const fs = { rootsFrom: 'clean', sb: { blockSize: 8 } } as unknown as Filesystem;
  const ctx = new FsckContext(fs, new FindingList(), NEVER_CANCELLED);
  const t = ctx.inodes;
  for (let i = 0; i <= n; i++) {
    const inum = 4096 + i;
    const parent = i === 0 ? 0 : i === n ? top : inum + 1;
    const v = dirInode(parent);
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
