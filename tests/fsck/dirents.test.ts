// check_dirents and check_xattrs against the real fsck -n: the fixtures with filesystem-level damage
// (../shared/fixtures/bcachefs-2021-fs) print exactly what bcachefs printed after "starting fsck", and the
// clean images stay clean.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkFilesystem } from '../../src-core/check/index.js';
import { fsckPrintedText } from '../../src-core/check/findings.js';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';
import { PROJECT_ROOT, cleanFixtures, closeFixtures, openFixture } from '../helpers/fixtures.js';
import { localFixture, localFsckN } from './helpers.js';

const FS_FIXTURES = join(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-fs');
const opened: OpenedFilesystem[] = [];
afterAll(() => {
  closeFixtures();
  for (const o of opened) o.close();
});

/** The lines fsck -n printed after "starting fsck", up to its closing "mounted with opts" line. */
export function fsckPassLines(log: string): string[] {
  const lines = log.split('\n');
  const from = lines.indexOf('starting fsck');
  const out: string[] = [];
  for (const l of lines.slice(from + 1)) {
    if (l.startsWith('mounted with opts') || l.endsWith('still has errors')) break;
    out.push(l);
  }
  return out;
}

/** Our fsck-stage findings as the lines bcachefs prints. */
async function passLines(o: OpenedFilesystem): Promise<string[]> {
  const r = await checkFilesystem(o.fs, { devName: 'image.img' });
  return r.findings.filter((f) => f.stage === 'fsck').flatMap((f) => (fsckPrintedText(f) ?? '').split('\n'));
}

describe('check_dirents / check_xattrs', () => {
  for (const name of ['dirent-inum-b5', 'dirent-dtype-b6', 'drop-dirent-b4', 'drop-inode-b2', 'multi-fs-b2', 'multi-fs-gap-b5']) {
    it.skipIf(!existsSync(join(FS_FIXTURES, name)))(`${name}: the fsck passes print what bcachefs printed`, async () => {
      const o = openFilesystem(join(FS_FIXTURES, name, 'image.img.gz'));
      opened.push(o);
      const want = fsckPassLines(readFileSync(join(FS_FIXTURES, name, 'fsck-n.txt'), 'latin1'));
      expect(want.length).toBeGreaterThan(0);
      expect(await passLines(o)).toEqual(want);
    }, 60_000);
  }

  it('findings name the inode by its path: a dangling dirent by itself, an unreachable file as unnamed', async () => {
    const o = openFilesystem(join(FS_FIXTURES, 'dirent-inum-b5', 'image.img.gz'));
    opened.push(o);
    const r = await checkFilesystem(o.fs, { devName: 'image.img' });
    const missing = r.findings.find((f) => (f.class as string) === 'dirent_missing_target')!;
    expect(missing.explanation).toMatch(/\(inode 8152: \/[^/]+\/f000809_xxx\.dat\)$/);
    const unreachable = r.findings.find((f) => (f.class as string) === 'inode_unreachable')!;
    expect(unreachable.explanation).toMatch(/\(inode 4957: no dirent names it\)$/);
  }, 60_000);

  for (const name of cleanFixtures()) {
    it(`${name}: no fsck-pass findings`, async () => {
      expect(await passLines(openFixture(name))).toEqual([]);
    }, 60_000);
  }

  for (const name of ['tree', 'strhash-crc32c', 'strhash-crc64']) {
    it(`${name} (hard links, symlink, fifo; crc hashes): clean, as bcachefs said`, async () => {
      const o = openFilesystem(localFixture(name));
      opened.push(o);
      expect(fsckPassLines(localFsckN(name))).toEqual([]);
      expect(await passLines(o)).toEqual([]);
    });
  }
});
