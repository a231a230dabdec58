// The dirent target repairs end to end (fs-helpers.ts): a dirent pointed back at the inode whose
// backpointer names it; a missing inode restored from an older copy of its inodes node; with no such copy
// left (their magic taken off), the inode recreated from its dirent and extents. Every data key of the base
// image is still there after each.
import { afterAll, describe, it } from 'vitest';
import { BTREE_ID_inodes } from '../../src-core/format/names.js';
import { removeImages } from './core-helpers.js';
import { expectRepairedEndToEnd, fsFixture, liveNodes, wipeOlderCopies } from './fs-helpers.js';

afterAll(removeImages);

// fixture, without older copies of the inodes nodes -> the fix's title
const CASES: [string, boolean, RegExp][] = [
  ['dirent-inum-b5', false, /Point \/dir0015\/f000809_xxx\.dat back at inode 4957 \(it pointed at the missing inode 8152\)/],
  // the newest copy holding it is from before the file was written: size and sectors are then set from its extent
  ['drop-inode-b2', false, /Restore \/dir0000\/dir0006\/f000290_xxxxxxxxxxxxx\.dat \(inode 4408\) from an older copy of its inodes node \(sector \d+\): mode 100644, size 0,[\s\S]*size 0 -> 24576 bytes; 0 -> 48 sectors allocated/],
  ['drop-inode-b2', true, /Recreate \/dir0000\/dir0006\/f000290_xxxxxxxxxxxxx\.dat \(inode 4408\) from its dirent and its 1 extent: 24576 bytes/],
  // with a wrong d_type and a wrong link count elsewhere (the field planner's); the copy has the file as it was
  ['multi-fs-b2', false, /Restore \/dir0000\/dir0008\/f000617_x\.dat \(inode 4735\) from an older copy of its inodes node \(sector \d+\): mode 100644, size 1069,/],
  ['multi-fs-b2', true, /Recreate \/dir0000\/dir0008\/f000617_x\.dat \(inode 4735\) from its dirent and its 1 extent: 4096 bytes/],
];

describe('dirent target repairs: the real fsck -n accepts the result', () => {
  it.each(CASES)('%s (older copies wiped: %s)', { timeout: 300_000 }, async (fx, wipe, title) => {
    const img = fsFixture(fx);
    if (wipe) wipeOlderCopies(img, BTREE_ID_inodes, liveNodes(img, BTREE_ID_inodes));
    await expectRepairedEndToEnd(img, `../bcachefs-2021-fs/${fx}`, title, []);
  });
});
