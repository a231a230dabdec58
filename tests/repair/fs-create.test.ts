// Damage the injector cannot make (its drop-key takes only regular files' keys), made here from a clean base
// image with our own node rewrite: keys of lost+found (its dirent in the root, its inode) removed, and a
// file's dirent removed so that an inode needs lost+found; the root inode removed; a file's inode and dirent
// removed (its extents left); each with or without the older copies of the inodes node that still hold it;
// a dirent moved past a free slot of its hash chain, or copied into it. End to end (fs-helpers.ts): only the base image keys the
// repair could not give back at their place are missing.
import { afterAll, describe, it } from 'vitest';
import { rewriteNode, type NodeEdit } from '../../src-core/format/encode-node.js';
import { BTREE_ID_dirents, BTREE_ID_inodes } from '../../src-core/format/names.js';
import { U32_MAX, type Bpos } from '../../src-core/format/bpos.js';
import { findKey, writeAt } from '../format/encode-helpers.js';
import { basePositions, copyImage, removeImages } from './core-helpers.js';
import { expectRepairedEndToEnd, liveNodes, wipeOlderCopies } from './fs-helpers.js';

afterAll(removeImages);

const BASE = 'clean-default-64m';
const pos = (inode: bigint, offset: bigint): Bpos => ({ inode, offset, snapshot: U32_MAX });
// in clean-default-64m: / is 4096, /lost+found 4097, /big00.bin 4518 (list/dirents.keys.txt)
const LOST_FOUND_DIRENT = pos(4096n, 8769135443890028977n);
const LOST_FOUND_INODE = pos(0n, 4097n);
const BIG00_DIRENT = pos(4096n, 5504787945214033839n);

const ROOT_INODE = pos(0n, 4096n);
const BIG00_INODE = pos(0n, 4518n);
const DIR0000_INODE = pos(0n, 4098n);

/**
 * The base image with this damage done to its keys (each leaf rewritten in place, checksums recomputed); with `noCopies`, the older copies of the inodes nodes lose their magic, so no node scan finds them.
 */
/** A key removed, moved to another offset, or copied to another offset (its leaf rewritten in place). */
type Damage = [number, Bpos] | [number, Bpos, 'move' | 'copy', bigint];

function imageWithout(keys: Damage[], noCopies = false): string {
  const img = copyImage(BASE);
  for (const [btree, p, how, to] of keys) {
    const k = findKey(img, btree, 0, p);
    const at = { ...p, offset: to ?? 0n };
    const edit: NodeEdit = how === undefined ? { kind: 'delete', keyOffset: k.keyOff }
      : how === 'move' ? { kind: 'pos', keyOffset: k.keyOff, pos: at } : { kind: 'insert', bset: k.bsets.length - 1, fields: { ...k.fields, pos: at }, value: k.value };
    writeAt(img, k.sector * 512, rewriteNode(k.buf, k.bsets, [edit], k.geo));
  }
  if (noCopies) wipeOlderCopies(img, BTREE_ID_inodes, liveNodes(img, BTREE_ID_inodes));
  return img;
}

const rootDirents = (): string[] => basePositions(BASE, 'dirents').filter((k) => k.startsWith('4096:')).map((k) => `dirents ${k}`);

const CASES: { name: string; drop: Damage[]; noCopies?: boolean; title: RegExp; missing: () => string[] }[] = [
  {
    name: 'no lost+found (dirent and inode gone) and /big00.bin unlinked',
    drop: [[BTREE_ID_dirents, LOST_FOUND_DIRENT], [BTREE_ID_inodes, LOST_FOUND_INODE], [BTREE_ID_dirents, BIG00_DIRENT]],
    title: /Create \/lost\+found \(inode \d+\) and reattach 1 unreachable inode under \/lost\+found: inode 4518 \(file, \d+ bytes\) -> \/lost\+found\/4518/,
    missing: () => ['dirents 4096:5504787945214033839:U32_MAX', 'inodes 0:4097:U32_MAX'],
  },
  {
    // fsck.c would delete the 8 entries of / and create an empty root: every file in lost+found by number
    name: 'no root inode: restored from the older copy of its inodes node',
    drop: [[BTREE_ID_inodes, ROOT_INODE]],
    title: /Restore the root directory \/ from an older copy of its inodes node \(sector \d+\), with its 8 entries/,
    missing: () => [],
  },
  {
    // the entries keep their names and inodes; they move to their hash under the new root's seed
    name: 'no root inode and no older copy: a new root, its entries rehashed',
    drop: [[BTREE_ID_inodes, ROOT_INODE]], noCopies: true,
    title: /Recreate the root directory \/ with its 8 entries \(no older copy of it was found\): dir0013, /,
    missing: rootDirents,
  },
  {
    // its extents are left, no dirent names it: fsck.c deletes the extents
    name: '/big00.bin gone (inode and dirent): restored from the older copy, then linked into /lost+found',
    drop: [[BTREE_ID_inodes, BIG00_INODE], [BTREE_ID_dirents, BIG00_DIRENT]],
    title: /Restore inode 4518 from an older copy of its inodes node \(sector \d+\): mode 100644, size \d+[\s\S]*inode 4518 \(file, \d+ bytes\) -> \/lost\+found\/4518/,
    missing: () => ['dirents 4096:5504787945214033839:U32_MAX'],
  },
  {
    name: '/big00.bin gone and no older copy: a file rebuilt from its extents, then linked into /lost+found',
    drop: [[BTREE_ID_inodes, BIG00_INODE], [BTREE_ID_dirents, BIG00_DIRENT]], noCopies: true,
    title: /Recreate inode 4518 from its \d+ extents?: a \d+-byte file no dirent names[\s\S]*inode 4518 \(file, \d+ bytes\) -> \/lost\+found\/4518/,
    missing: () => ['dirents 4096:5504787945214033839:U32_MAX'],
  },
  {
    // fsck.c deletes the entries of /dir0000 (its files and subdirectories then go to lost+found by number)
    name: '/dir0000 (inode 4098) gone: restored from the older copy of its inodes node',
    drop: [[BTREE_ID_inodes, DIR0000_INODE]],
    title: /Restore directory inode 4098 \(an entry of \/\) from an older copy of its inodes node \(sector \d+\), with its \d+ entries/,
    missing: () => [],
  },
  {
    name: '/dir0000 gone and no older copy: a new directory, its entries rehashed',
    drop: [[BTREE_ID_inodes, DIR0000_INODE]], noCopies: true,
    title: /Recreate directory inode 4098 \(an entry of \/\) with its \d+ entries \(no older copy of it was found\)/,
    missing: () => basePositions(BASE, 'dirents').filter((k) => k.startsWith('4098:')).map((k) => `dirents ${k}`),
  },
  {
    // a damaged offset: the slots between its hash and it are free, so a lookup of /big00.bin stops before it
    name: "/big00.bin's dirent moved past a free slot: moved back to its hash",
    drop: [[BTREE_ID_dirents, BIG00_DIRENT, 'move', BIG00_DIRENT.offset + 3n]],
    title: /Move 1 entry of \/ to where lookups find it: big00\.bin: 5504787945214033842 -> 5504787945214033839/,
    missing: () => [],
  },
  {
    // the same dirent twice in its hash chain (a lookup finds the first; fsck.c deletes the second)
    name: "/big00.bin's dirent copied to the next slot: the copy deleted",
    drop: [[BTREE_ID_dirents, BIG00_DIRENT, 'copy', BIG00_DIRENT.offset + 1n]],
    title: /Delete the second copy of big00\.bin in \/ \(the same key is at offset 5504787945214033839\)/,
    missing: () => [],
  },
];

describe('fs-level repairs of damage made from a clean image: lost+found created, lost inodes restored or recreated', () => {
  it.each(CASES)('$name', { timeout: 300_000 }, async ({ drop, noCopies, title, missing }) => {
    await expectRepairedEndToEnd(imageWithout(drop, noCopies), BASE, title, missing());
  });
});
