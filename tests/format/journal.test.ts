// The journal against what the real `bcachefs list_journal` printed (list/journal.txt.gz).
import { afterAll, describe, expect, it } from 'vitest';
import { journalToText } from '../../src-core/btree/journal-read.js';
import { cleanFixtures, closeFixtures, normalizeInlineData, openFixture, readFixtureText } from '../helpers/fixtures.js';

afterAll(closeFixtures);

describe.each(cleanFixtures())('%s', (fx) => {
  it('every journal entry and its keys equal bcachefs list_journal', () => {
    const expected = readFixtureText(fx, 'list/journal.txt')!
      .split('\n')
      .filter((l) => /^(journal entry|    version|    last seq|btree )/.test(l))
      .map(normalizeInlineDataJournal);
    const got: string[] = [];
    journalToText(openFixture(fx).fs.journal.jsets, (l) => got.push(normalizeInlineDataJournal(l)));
    expect(got.length).toBe(expected.length);
    expect(got.join('\n')).toBe(expected.join('\n'));
  });

  it('roots come from the clean section and no journal keys remain to replay', () => {
    const { fs } = openFixture(fx);
    expect(fs.rootsFrom).toBe('clean');
    expect(fs.journalKeys.table.n).toBe(0);
  });
});

function normalizeInlineDataJournal(l: string): string {
  const m = /^(btree \S+ l \d+: )(.*)$/.exec(l);
  return m ? m[1] + normalizeInlineData(m[2]!) : l;
}

describe('an image not cleanly unmounted', () => {
  it('takes its btree roots from the newest journal entry and reads the same keys', async () => {
    const { gunzipSync } = await import('node:zlib');
    const { readFileSync } = await import('node:fs');
    const { Filesystem, forEachKey } = await import('../../src-core/btree/fs.js');
    const { bchChecksum32 } = await import('../../src-core/format/bytes.js');
    const { fixturePath } = await import('../helpers/fixtures.js');
    const img = gunzipSync(readFileSync(fixturePath('clean-32k-depth2')));
    const sb = 4096;
    img[sb + 144] = img[sb + 144]! & ~2; // clear BCH_SB_CLEAN, as a crash would leave it
    img.writeUInt32LE(bchChecksum32(1, img, sb + 16, sb + 752 + img.readUInt32LE(sb + 124) * 8)!, sb);
    const fs = new Filesystem({ size: img.length, read: (o, l) => img.subarray(o, o + l) });
    expect(fs.rootsFrom).toBe('journal');
    const clean = openFixture('clean-32k-depth2').fs;
    for (let id = 0; id < 8; id++) {
      expect(fs.roots[id]!.fake).toBe(clean.roots[id]!.fake);
      expect(fs.roots[id]!.level).toBe(clean.roots[id]!.level);
    }
    // the key counts bcachefs list printed for this image
    for (const [name, id] of [['extents', 0], ['inodes', 1], ['dirents', 2], ['alloc', 4]] as const) {
      let n = 0;
      forEachKey(fs, id, () => n++);
      expect(n).toBe(Number(readFixtureText('clean-32k-depth2', `keycount-${name}.txt`)!.trim()));
    }
  });
});
