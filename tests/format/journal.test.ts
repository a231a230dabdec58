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
