// Damage the injector cannot make (its drop-key takes only regular files' keys), made here from a clean base
// image with our own node rewrite: keys of lost+found (its dirent in the root, its inode) removed, and a
// file's dirent removed so that an inode needs lost+found; the root inode removed, with or without the older
// copy of its inodes node that still holds it. repair -y through the built CLI, then our check finds nothing,
// the real fsck -n exits 0, only the base image keys the repair could not give back at their place are
// missing, and undo --all gives the damaged image back byte for byte.
import { afterAll, describe, expect, it } from 'vitest';
import { rewriteNode } from '../../src-core/format/encode-node.js';
import { BTREE_ID_dirents, BTREE_ID_inodes } from '../../src-core/format/names.js';
import { U32_MAX, type Bpos } from '../../src-core/format/bpos.js';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem } from '../../src-core/btree/fs.js';
import { scanForNodes } from '../../src-core/repair/older-copies.js';
import { findKey, writeAt } from '../format/encode-helpers.js';
import { basePositions, checkImage, cli, copyImage, DATA_BTREES, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

const BASE = 'clean-default-64m';
const pos = (inode: bigint, offset: bigint): Bpos => ({ inode, offset, snapshot: U32_MAX });
// in clean-default-64m: / is 4096, /lost+found 4097, /big00.bin 4518 (list/dirents.keys.txt)
const LOST_FOUND_DIRENT = pos(4096n, 8769135443890028977n);
const LOST_FOUND_INODE = pos(0n, 4097n);
const BIG00_DIRENT = pos(4096n, 5504787945214033839n);

const ROOT_INODE = pos(0n, 4096n);

/**
 * The base image with these keys removed from their leaves (each leaf rewritten in place, checksums
 * recomputed); with `noCopies`, the older copies of the inodes leaves (in buckets no pointer reaches) lose
 * their magic, so no node scan finds them.
 */
function imageWithout(keys: [number, Bpos][], noCopies = false): string {
  const img = copyImage(BASE);
  for (const [btree, p] of keys) {
    const k = findKey(img, btree, 0, p);
    writeAt(img, k.sector * 512, rewriteNode(k.buf, k.bsets, [{ kind: 'delete', keyOffset: k.keyOff }], k.geo));
  }
  if (noCopies) {
    const live = findKey(img, BTREE_ID_inodes, 0, pos(0n, 4097n)).sector;
    const dev = openDevice(img);
    const old = scanForNodes(new Filesystem(dev), undefined).filter((n) => n.btreeId === BTREE_ID_inodes && n.sector !== live);
    dev.close();
    expect(old.length).toBeGreaterThan(0);
    for (const n of old) writeAt(img, n.sector * 512 + 16, new Uint8Array(8));
  }
  return img;
}

const rootDirents = (): string[] => basePositions(BASE, 'dirents').filter((k) => k.startsWith('4096:')).map((k) => `dirents ${k}`);

const CASES: { name: string; drop: [number, Bpos][]; noCopies?: boolean; title: RegExp; missing: () => string[] }[] = [
  {
    name: 'no lost+found (dirent and inode gone) and /big00.bin unlinked',
    drop: [[BTREE_ID_dirents, LOST_FOUND_DIRENT], [BTREE_ID_inodes, LOST_FOUND_INODE], [BTREE_ID_dirents, BIG00_DIRENT]],
    title: /Create \/lost\+found \(inode \d+\) and reattach 1 unreachable inode under \/lost\+found: inode 4518 -> \/lost\+found\/4518/,
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
];

describe('fs-level repairs of damage made from a clean image: lost+found created, the root restored or recreated', () => {
  it.each(CASES)('$name', { timeout: 300_000 }, async ({ drop, noCopies, title, missing }) => {
    const img = imageWithout(drop, noCopies);
    const damaged = sha256File(img);
    const p = cli(img, ['plan', 'image.img']);
    expect(p.stdout, p.stderr).toMatch(title);
    expect(p.stdout).toMatch(/, 0 findings without a fix\./);
    const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
    expect(r.status, `repair -y:\n${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/the check after the repair finds nothing/);
    const after = await checkImage(img);
    expect(after.findings.map((f) => f.id), 'our check after the repair').toEqual([]);
    const gone = DATA_BTREES.flatMap((b) => basePositions(BASE, b).filter((k) => !after.keys.get(b)!.has(k)).map((k) => `${b} ${k}`));
    expect(gone.sort(), 'base image keys missing after the repair').toEqual(missing().sort());
    if (!toolMissing) {
      const f = realFsck(img);
      expect(f.exit, `real fsck -n on the repaired image:\n${f.out}`).toBe(0);
    }
    const u = cli(img, ['undo', '--journal', 'j.db', '--all']);
    expect(u.status, u.stderr).toBe(0);
    expect(sha256File(img), 'undo --all gives the damaged image back').toBe(damaged);
  });
});
