// Paths of inodes: against an image of our own with a known tree (hard links, a symlink, a fifo), against
// the B3 base image's dirent listing printed by the real bcachefs (paths built from it independently), and
// on every clean fixture each path, looked up again from the root by its names' hashes, leads back to its
// inode.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FindingList } from '../../src-core/check/findings.js';
import { runFsckPasses } from '../../src-core/fsck/index.js';
import type { FsckContext } from '../../src-core/fsck/context.js';
import { PathResolver, pathsOf } from '../../src-core/fsck/paths.js';
import { StrHash } from '../../src-core/fsck/str-hash.js';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';
import { PROJECT_ROOT, cleanFixtures, closeFixtures, openFixture } from '../helpers/fixtures.js';
import { localFixture } from './helpers.js';

const SHARED = join(PROJECT_ROOT, '..', 'shared', 'fixtures');
const opened: OpenedFilesystem[] = [];
afterAll(() => {
  closeFixtures();
  for (const o of opened) o.close();
});

function open(path: string): OpenedFilesystem {
  const o = openFilesystem(path);
  opened.push(o);
  return o;
}

function passes(o: OpenedFilesystem): Promise<FsckContext> {
  return runFsckPasses(o.fs, new FindingList());
}

/** Every inode's paths, by inode number (of every `step`th inode). */
function allPaths(ctx: FsckContext, step = 1): Map<number, string[]> {
  const r = PathResolver.fromContext(ctx);
  const m = new Map<number, string[]>();
  for (let i = 0; i < ctx.inodes.n; i += step) {
    const inum = ctx.inodes.inumLo[i]!;
    m.set(inum, r.pathsOf(inum).map((p) => (p.complete ? p.path : `(incomplete) ${p.path}`)));
  }
  return m;
}

describe('paths', () => {
  it('tree image: every file and directory by its names, the backpointer\'s name first for hard links', async () => {
    const ctx = await passes(open(localFixture('tree')));
    const m = allPaths(ctx);
    const byPath = new Map<string, number>();
    for (const [inum, ps] of m) for (const p of ps) byPath.set(p, inum);
    expect([...byPath.keys()].sort()).toEqual([
      '/', '/a', '/a/b', '/a/b/c', '/a/b/c/deep.txt', '/hardlink-at-root', '/lost+found', '/sym', '/top.txt',
      '/x', '/x/fifo', '/x/y', '/x/y/hardlink', '/x/y/n0', '/x/y/n1', '/x/y/n2',
    ]);
    const deep = byPath.get('/a/b/c/deep.txt')!;
    // link() moved the backpointer to the newest link (bcachefs list shows bi_dir 4096 for it): that name
    // first, the others in btree order
    expect(m.get(deep)).toEqual(['/hardlink-at-root', '/a/b/c/deep.txt', '/x/y/hardlink']);
    // from a bare Filesystem (no fsck passes run): the same answers
    expect(pathsOf(ctx.fs, deep).map((p) => p.path)).toEqual(m.get(deep));
    expect(pathsOf(ctx.fs, BigInt(byPath.get('/x/fifo')!))).toEqual([{ path: '/x/fifo', complete: true }]);
  });

  const b3 = join(SHARED, 'bcachefs-2021-base-keys', 'B3', 'dirents.keys.txt.gz');
  const b3Image = join(SHARED, 'bcachefs-2021-fs', 'drop-extent-b3', 'image.img.gz');
  it.skipIf(!existsSync(b3) || !existsSync(b3Image))('B3: paths match the ones built from bcachefs\'s own dirent listing', async () => {
    // drop-extent-b3 is B3 with one extent dropped: its dirents and inodes are B3's
    const entries = new Map<number, [number, string]>(); // child -> (dir, name)
    const names = new Map<number, string[]>();
    for (const line of gunzipSync(readFileSync(b3)).toString('latin1').split('\n')) {
      const m = /^u64s \d+ type dirent (\d+):\d+:U32_MAX len 0 ver 0: (.*) -> (\d+) type (\d+)$/.exec(line);
      if (!m) continue;
      entries.set(Number(m[3]), [Number(m[1]), m[2]!]);
    }
    const pathFromListing = (inum: number): string => {
      if (inum === 4096) return '';
      const [dir, name] = entries.get(inum)!;
      return `${pathFromListing(dir)}/${name}`;
    };
    for (const inum of entries.keys()) names.set(inum, [pathFromListing(inum)]);
    expect(names.size).toBeGreaterThan(2000);
    const ctx = await passes(open(b3Image));
    const m = allPaths(ctx);
    for (const [inum, want] of names) expect(m.get(inum), `inode ${inum}`).toEqual(want);
  }, 60_000);

  it('an inode whose dirent was dropped has no path; a dirent to a missing inode still names it', async () => {
    const drop = await passes(open(join(SHARED, 'bcachefs-2021-fs', 'drop-dirent-b4', 'image.img.gz')));
    const r = PathResolver.fromContext(drop);
    expect(r.pathsOf(5483)).toEqual([]);
    expect(r.pathOf(5483)).toEqual({ path: '<inode 5483>', complete: false });
    const inum = await passes(open(join(SHARED, 'bcachefs-2021-fs', 'dirent-inum-b5', 'image.img.gz')));
    const p = PathResolver.fromContext(inum).pathsOf(8152);
    expect(p).toHaveLength(1);
    expect(p[0]!.path).toMatch(/^\/[^/]+\/f000809_xxx\.dat$/);
    expect(PathResolver.fromContext(inum).pathsOf(4957)).toEqual([]);
  }, 60_000);

  for (const name of cleanFixtures()) {
    it(`${name}: every inode has a path, and looking it up from the root by name hashes finds the inode`, async () => {
      const ctx = await passes(openFixture(name));
      const inodes = ctx.inodes;
      const idx = ctx.dirents!;
      const h = new StrHash();
      const enc = new TextEncoder();
      // a sample of the 45,000 files of the depth-3 image (point lookups over its 826 leaves are not cheap)
      const m = allPaths(ctx, inodes.n > 10_000 ? 37 : 1);
      for (const [inum, ps] of m) {
        expect(ps.length, `inode ${inum}`).toBeGreaterThan(0);
        for (const p of ps) {
          let dir = 4096;
          for (const part of p.split('/').filter(Boolean)) {
            const r = inodes.find(0, dir);
            h.setInfo(inodes.strHashType(r), inodes.hashSeedHi[r]!, inodes.hashSeedLo[r]!);
            const b = enc.encode(part);
            h.dirent(b, 0, b.length);
            const row = idx.find(0, dir, h.hi, h.lo);
            expect(row, `${p}: ${part}`).toBeGreaterThanOrEqual(0);
            dir = idx.inumLo[row]!;
          }
          expect(dir).toBe(inum);
        }
      }
    }, 60_000);
  }
});
