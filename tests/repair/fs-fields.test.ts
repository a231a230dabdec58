// The inode and dirent field repairs (d_type, link counts, i_sectors, i_size) end to end (fs-helpers.ts):
// every data key of the base image is still there after each.
import { afterAll, describe, it } from 'vitest';
import { removeImages } from './core-helpers.js';
import { expectRepairedEndToEnd, fsFixture } from './fs-helpers.js';

afterAll(removeImages);

// fixture -> the fix's title
const CASES: [string, RegExp][] = [
  ['dirent-dtype-b6', /f000294_xxxxxxxxxxxx\.dat in its directory entry: d_type 10 -> 8/],
  ['inode-nlink-b2', /\(inode 4361\): link count 2 -> 1/],
  ['inode-sectors-b5', /\(inode 6437\): 16 -> 8 sectors allocated/],
  // the injection cut i_size from 13210 to 8192; the last extent ends at 16384, as close as the btrees can say
  ['inode-size-b4', /\(inode 4731\): size 8192 -> 16384 bytes/],
];

describe('inode and dirent field repairs: nothing lost, the real fsck -n accepts the result', () => {
  it.each(CASES)('%s', { timeout: 300_000 }, async (fx, title) => {
    await expectRepairedEndToEnd(fsFixture(fx), `../bcachefs-2021-fs/${fx}`, title, []);
  });
});
