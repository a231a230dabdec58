// `list` against what the real `bcachefs list` printed for every clean fixture and every btree.
import { afterAll, describe, expect, it } from 'vitest';
import { forEachKey, forEachNodePointer } from '../../src-core/btree/fs.js';
import { bkeyValToText } from '../../src-core/format/print.js';
import { BTREE_IDS } from '../../src-core/format/names.js';
import { cleanFixtures, closeFixtures, expectedListLines, normalizeInlineData, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);

function cut(s: string): string {
  return s.length > 511 ? s.slice(0, 511) : s;
}

describe.each(cleanFixtures())('%s', (fx) => {
  it.each(BTREE_IDS.map((b, id) => [b, id] as const))('list -b %s equals bcachefs list', (btree, id) => {
    const expected = expectedListLines(fx, `list/${btree}.keys.txt`);
    expect(expected, `fixture has list/${btree}.keys.txt`).toBeDefined();
    const got: string[] = [];
    forEachKey(openFixture(fx).fs, id, (t, r) => got.push(normalizeInlineData(cut(bkeyValToText(t, r)))));
    expect(got.length).toBe(expected!.length);
    // compare as one block so a failure shows the first differing line
    expect(got.join('\n')).toBe(expected!.map(normalizeInlineData).join('\n'));
  });

  it.each(BTREE_IDS.flatMap((b, id) => [0, 1, 2].map((l) => [b, id, l] as const)))(
    'node pointers of %s (id %i) from level %i up equal bcachefs list -m nodes',
    (btree, id, level) => {
      const expected = expectedListLines(fx, `list/${btree}.nodes.l${level}.txt`);
      expect(expected).toBeDefined();
      const got: string[] = [];
      forEachNodePointer(openFixture(fx).fs, id, level, (text) => got.push(text));
      expect(got).toEqual(expected);
    },
  );
});

describe('key counts', () => {
  it('the deepest fixture (dirents depth 3) has the 45,011 dirents bcachefs counted', () => {
    const fx = 'clean-32k-128m-dirents-depth3';
    let n = 0;
    forEachKey(openFixture(fx).fs, 2, () => n++);
    expect(n).toBe(45011);
    expect(openFixture(fx).fs.roots[2]!.level).toBe(2);
  });
});
