// Cases where a key of the base image is gone for good (the injection dropped it): an unreachable inode
// linked into /lost+found under its number (its dirent was dropped), and a dropped extent whose inode's
// i_sectors is set to what is left. End to end (fs-helpers.ts): the only base image key missing after the
// repair is the dropped one.
import { afterAll, describe, it } from 'vitest';
import { removeImages } from './core-helpers.js';
import { expectRepairedEndToEnd, fsFixture } from './fs-helpers.js';

afterAll(removeImages);

// fixture -> the fix's title, the base image key the injection dropped ("btree key")
const CASES: [string, RegExp, string][] = [
  ['drop-dirent-b4', /Reattach 1 unreachable inode under \/lost\+found: inode 5483 \(file, \d+ bytes\) -> \/lost\+found\/5483/, 'dirents 4099:9132235489659070643:U32_MAX'],
  // a gap between two extents leaves (topology) and a dropped dirent
  ['multi-fs-gap-b5', /Reattach 1 unreachable inode under \/lost\+found: inode 6138 \(file, \d+ bytes\) -> \/lost\+found\/6138/, 'dirents 4105:7882058450757726075:U32_MAX'],
  ['drop-extent-b3', /\/sparse00\.bin \(inode 6140\): 16000 -> 15992 sectors allocated/, 'extents 6140:14856:U32_MAX'],
];

describe('repairs after a dropped key: the rest is kept, the real fsck -n accepts the result', () => {
  it.each(CASES)('%s', { timeout: 300_000 }, async (fx, title, dropped) => {
    await expectRepairedEndToEnd(fsFixture(fx), `../bcachefs-2021-fs/${fx}`, title, [dropped]);
  });
});
