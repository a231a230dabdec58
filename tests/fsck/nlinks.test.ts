// check_nlinks counts links over ranges of inodes, as bcachefs does, so its table stays bounded: whatever the
// range size, the findings are those of fsck -n.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NEVER_CANCELLED } from '../../src-core/base/cancellation.js';
import { FindingList, fsckPrintedText } from '../../src-core/check/findings.js';
import { FsckContext } from '../../src-core/fsck/context.js';
import { checkDirents } from '../../src-core/fsck/dirents.js';
import { checkInodes } from '../../src-core/fsck/inodes.js';
import { checkNlinks } from '../../src-core/fsck/nlinks.js';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { removeTemp } from '../../src-core/device/gz.js';
import { localFixture, localFsckN } from './helpers.js';
import { injectedCase, injectedFsckN, makeInjectedImage } from './injected/cases.js';

const opened: OpenedFilesystem[] = [];
afterAll(() => opened.forEach((o) => o.close()));
const fsFixture = (name: string): string => join(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-fs', name);

/** check_nlinks' findings (as printed) and its number of ranges, after the passes it depends on. */
function nlinks(path: string, rangeMax?: number): { lines: string[]; ranges: number; files: number } {
  const o = openFilesystem(path);
  opened.push(o);
  const out = new FindingList();
  const ctx = new FsckContext(o.fs, out, NEVER_CANCELLED);
  checkInodes(ctx);
  checkDirents(ctx);
  const before = out.items.length;
  const ranges = checkNlinks(ctx, rangeMax);
  let files = 0;
  for (let r = 0; r < ctx.inodes.n; r++) if (ctx.inodes.nlink[r] !== 0 && (ctx.inodes.mode[r]! & 0o170000) !== 0o040000) files++;
  return { lines: out.items.slice(before).map((f) => fsckPrintedText(f)!), ranges, files };
}

const printed = (log: string): string[] => log.split('\n').filter((l) => l.includes('has wrong i_nlink (type'));

describe('check_nlinks', () => {
  for (const fx of ['inode-nlink-b2', 'multi-fs-b2']) {
    it(`${fx}: prints what fsck -n printed, in one range or in ranges of one file`, () => {
      const want = printed(readFileSync(join(fsFixture(fx), 'fsck-n.txt'), 'latin1'));
      expect(want.length).toBe(1);
      const whole = nlinks(join(fsFixture(fx), 'image.img.gz'));
      expect(whole.lines).toEqual(want);
      expect(whole.ranges).toBe(1);
      const small = nlinks(join(fsFixture(fx), 'image.img.gz'), 1);
      expect(small.lines).toEqual(want);
      expect(small.ranges).toBe(Math.max(small.files, 1));
    });
  }

  it('three wrong link counts (injected, one a file of three links) are the same in ranges of one and two files', () => {
    const c = injectedCase('nlink-three-tree');
    const want = printed(injectedFsckN(c).text);
    expect(want.length).toBe(3);
    const img = makeInjectedImage(c);
    try {
      for (const [rangeMax, ranges] of [[undefined, 1], [1, 3], [2, 2]] as const) {
        const r = nlinks(img.tempPath, rangeMax);
        expect(r.files).toBe(3);
        expect(r.lines).toEqual(want);
        expect(r.ranges).toBe(ranges);
      }
    } finally {
      opened.splice(0).forEach((o) => o.close());
      removeTemp(img.tempDir);
    }
  }, 60_000);

  it('counts hard links through every dirent: a file with three names is right (tree, made with the real tool)', () => {
    expect(printed(localFsckN('tree'))).toEqual([]);
    for (const rangeMax of [undefined, 1, 2]) {
      const r = nlinks(localFixture('tree'), rangeMax);
      expect(r.lines).toEqual([]);
      expect(r.files).toBeGreaterThanOrEqual(1);
    }
  });
});
