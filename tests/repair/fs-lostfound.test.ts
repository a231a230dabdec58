// Cases where a key of the base image is gone for good (the injection dropped it): an unreachable inode
// linked into /lost+found under its number (its dirent was dropped), and a dropped extent whose inode's
// i_sectors is set to what is left. repair -y through the built CLI, then our check finds nothing, the real
// fsck -n exits 0, the only base image key missing is the dropped one, and undo --all gives the damaged
// image back byte for byte.
import { afterAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { FIXTURES } from '../helpers/fixtures.js';
import { basePositions, checkImage, cli, copyImage, DATA_BTREES, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

// fixture -> the fix's title, the base image key the injection dropped ("btree key")
const CASES: [string, RegExp, string][] = [
  ['drop-dirent-b4', /Reattach 1 unreachable inode under \/lost\+found: inode 5483 -> \/lost\+found\/5483/, 'dirents 4099:9132235489659070643:U32_MAX'],
  // a gap between two extents leaves (topology) and a dropped dirent
  ['multi-fs-gap-b5', /Reattach 1 unreachable inode under \/lost\+found: inode 6138 -> \/lost\+found\/6138/, 'dirents 4105:7882058450757726075:U32_MAX'],
  ['drop-extent-b3', /\/sparse00\.bin \(inode 6140\): 16000 -> 15992 sectors allocated/, 'extents 6140:14856:U32_MAX'],
];

describe('repairs after a dropped key: the rest is kept, the real fsck -n accepts the result', () => {
  it.each(CASES)('%s', { timeout: 300_000 }, async (fx, title, dropped) => {
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
    const missing = DATA_BTREES.flatMap((b) => basePositions(`../bcachefs-2021-fs/${fx}`, b).filter((k) => !after.keys.get(b)!.has(k)).map((k) => `${b} ${k}`));
    expect(missing, 'base image keys missing after the repair').toEqual([dropped]);
    if (!toolMissing) {
      const f = realFsck(img);
      expect(f.exit, `real fsck -n on the repaired image:\n${f.out}`).toBe(0);
    }
    const u = cli(img, ['undo', '--journal', 'j.db', '--all']);
    expect(u.status, u.stderr).toBe(0);
    expect(sha256File(img), 'undo --all gives the damaged image back').toBe(damaged);
  });
});
