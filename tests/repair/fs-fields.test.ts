// The inode and dirent field repairs (d_type, link counts, i_sectors, i_size) end to end through the built
// CLI: repair -y on a copy, then our check finds nothing, the real bcachefs 2021 fsck -n exits 0, every data
// key of the base image is still there, and undo --all gives back the damaged image byte for byte.
import { afterAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { FIXTURES } from '../helpers/fixtures.js';
import { checkImage, cli, copyImage, expectBaseKeys, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

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
