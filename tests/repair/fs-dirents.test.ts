// The dirent target repairs (a dirent pointed back at the inode whose backpointer names it; an inode
// recreated from its dirent and extents) end to end through the built
// CLI: repair -y on a copy, then our check finds nothing, the real bcachefs 2021 fsck -n exits 0, every data
// key of the base image is still there, and undo --all gives back the damaged image byte for byte.
import { afterAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { FIXTURES } from '../helpers/fixtures.js';
import { checkImage, cli, copyImage, expectBaseKeys, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

// fixture -> the fix's title
const CASES: [string, RegExp][] = [
  ['dirent-inum-b5', /Point \/dir0015\/f000809_xxx\.dat back at inode 4957 \(it pointed at the missing inode 8152\)/],
  ['drop-inode-b2', /Recreate \/dir0000\/dir0006\/f000290_xxxxxxxxxxxxx\.dat \(inode 4408\) from its dirent and its 1 extent: 24576 bytes/],
  // with a wrong d_type and a wrong link count elsewhere (the field planner's)
  ['multi-fs-b2', /Recreate \/dir0000\/dir0008\/f000617_x\.dat \(inode 4735\) from its dirent and its 1 extent: 4096 bytes/],
];

describe('dirent target repairs: the real fsck -n accepts the result', () => {
  it.each(CASES)('%s', { timeout: 300_000 }, async (fx, title) => {
    const img = copyImage(fx, resolve(FIXTURES, '..', 'bcachefs-2021-fs', fx, 'image.img.gz'));
    const damaged = sha256File(img);
    const p = cli(img, ['plan', 'image.img']);
    expect(p.stdout, p.stderr).toMatch(title);
    expect(p.stdout).toMatch(/, 0 findings without a fix\./);
    const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
    expect(r.status, `repair -y:\n${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/the check after the repair finds nothing/);
    const after = await checkImage(img);
    expect(after.findings.map((f) => f.id), 'our check after the repair').toEqual([]);
    expectBaseKeys(`../bcachefs-2021-fs/${fx}`, after.keys);
    if (!toolMissing) {
      const f = realFsck(img);
      expect(f.exit, `real fsck -n on the repaired image:\n${f.out}`).toBe(0);
    }
    const u = cli(img, ['undo', '--journal', 'j.db', '--all']);
    expect(u.status, u.stderr).toBe(0);
    expect(sha256File(img), 'undo --all gives the damaged image back').toBe(damaged);
  });
});
