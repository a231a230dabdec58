// The fsck passes against what the real `bcachefs fsck -n` printed after "starting fsck", on every fixture:
// the filesystem-level damage of bcachefs-2021-fs, the btree damage of bcachefs-2021 (where the passes
// print nothing, or stop at an unreadable node), and the unclean images (journal replayed, unlinked inodes
// deleted without a word).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFilesystem, type CheckResult } from '../../src-core/check/index.js';
import { FSCK_CLASSES, isFsckClass } from '../../src-core/fsck/classes.js';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { multiset, multisetMissing, parseFsckLog } from '../helpers/fsck-log.js';

const SETS = ['bcachefs-2021-fs', 'bcachefs-2021', 'bcachefs-2021-unclean'];
const root = join(PROJECT_ROOT, '..', 'shared', 'fixtures');
const cases = SETS.flatMap((set) =>
  existsSync(join(root, set)) ? readdirSync(join(root, set)).filter((d) => existsSync(join(root, set, d, 'image.img.gz'))).sort().map((d) => `${set}/${d}`) : [],
);
const opened: OpenedFilesystem[] = [];
afterAll(() => opened.forEach((o) => o.close()));

const results = new Map<string, Promise<CheckResult>>();
/** One check per fixture, shared by its tests. */
function check(fx: string): Promise<CheckResult> {
  let r = results.get(fx);
  if (!r) {
    const o = openFilesystem(join(root, fx, 'image.img.gz'));
    opened.push(o);
    r = checkFilesystem(o.fs, { devName: 'image.img' });
    results.set(fx, r);
  }
  return r;
}

it('has the fixtures', () => {
  expect(cases.filter((c) => c.startsWith('bcachefs-2021-fs/')).length).toBeGreaterThanOrEqual(10);
});

describe.each(cases)('%s', (fx) => {
  it('reports the errors of the fsck passes bcachefs printed, with its text, in its order', async () => {
    const log = parseFsckLog(readFileSync(join(root, fx, 'fsck-n.txt'), 'latin1'), Number(readFileSync(join(root, fx, 'fsck-n.exit'), 'latin1')));
    const want = log.errors.filter((e) => e.phase === 'fsck');
    const r = await check(fx);
    const mine = r.findings.filter((f) => isFsckClass(f.class));
    const errs = mine.filter((f) => f.severity === 'error');
    const have = errs.map((f) => f.fsck_message!);
    expect(multisetMissing(multiset(want.map((e) => e.message)), multiset(have))).toEqual([]);
    // a crash (maxkey cases) cut bcachefs's output short; otherwise it is all there, stop included
    if (!log.crashed) expect(have).toEqual(want.map((e) => e.message));
    for (const e of want) expect(e.disposition).toBe('not fixing');
    for (const f of mine) {
      expect(f.stage).toBe('fsck');
      expect(f.fsck_disposition).toBe('not fixing');
      expect(f.severity).toBe(FSCK_CLASSES[f.class as keyof typeof FSCK_CLASSES].severity);
      expect(f.repair.description.length).toBeGreaterThan(5);
      // check_extents' repairs end bcachefs 2021's fsck -y (drop-inode-b2, inode-size-b4: exit 8, then 4)
      const info: { shortfall?: string } = FSCK_CLASSES[f.class as keyof typeof FSCK_CLASSES];
      expect(f.known_2021_shortfall).toBe(info.shortfall);
    }
  });

  if (!fx.startsWith('bcachefs-2021-fs/')) {
    it('finds no filesystem-level error (clean, btree-damaged and unclean images)', async () => {
      const r = await check(fx);
      expect(r.findings.filter((f) => isFsckClass(f.class) && f.severity === 'error')).toEqual([]);
    });
  }

  it('stops where bcachefs stops ("error in fsck (-5)") and says so', async () => {
    const text = readFileSync(join(root, fx, 'fsck-n.txt'), 'latin1');
    const r = await check(fx);
    const stopped = r.limitations.some((l) => l.includes('error in fsck (-5)'));
    expect(stopped).toBe(text.includes('Error in recovery: error in fsck (-5)'));
  });
});

it("parses the passes' messages whose key or backpointers follow on unindented lines", () => {
  const log = parseFsckLog([
    'starting fsck',
    'dirent points to missing inode:',
    'u64s 8 type dirent 4113:4656198290375146485:U32_MAX len 0 ver 0: f000809_xxx.dat -> 8152 type 8, not fixing',
    'inode 4408 has wrong backpointer:',
    'got       0:0',
    'should be 4104:4405221695079599529, not fixing',
    'inode 6140 has incorrect i_sectors: got 16000, should be 15992, not fixing',
    'mounted with opts: degraded,fsck,fix_errors,nochanges',
  ].join('\n'), 4);
  expect(log.errors.map((e) => [e.phase, e.message])).toEqual([
    ['fsck', 'dirent points to missing inode:\nu64s 8 type dirent 4113:4656198290375146485:U32_MAX len 0 ver 0: f000809_xxx.dat -> 8152 type 8'],
    ['fsck', 'inode 4408 has wrong backpointer:\ngot       0:0\nshould be 4104:4405221695079599529'],
    ['fsck', 'inode 6140 has incorrect i_sectors: got 16000, should be 15992'],
  ]);
});
