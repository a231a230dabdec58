// Every corrupted fixture is read without a crash; damaged nodes are reported with bcachefs's reason.
import { afterAll, describe, expect, it } from 'vitest';
import { forEachKey } from '../../src-core/btree/fs.js';
import type { BtreeNode } from '../../src-core/btree/node.js';
import { BTREE_ID_NR, btreeIdByName } from '../../src-core/format/names.js';
import { allFixtures, closeFixtures, openFixture, readFixtureText } from '../helpers/fixtures.js';

afterAll(closeFixtures);

interface Injection {
  kind: string;
  btree: string;
  child?: { sector: number; level: number };
}

describe.each(allFixtures().filter((f) => !f.startsWith('clean-')))('%s', (fx) => {
  it('is read without a crash; an injected unreadable node is reported where the injector put it', () => {
    const inj = JSON.parse(readFixtureText(fx, 'injections.json')!) as Injection[];
    const { fs } = openFixture(fx);
    const damaged: BtreeNode[] = [];
    let keys = 0;
    for (let id = 0; id < BTREE_ID_NR; id++) {
      forEachKey(fs, id, () => keys++, (node) => {
        if (node.errors.length) damaged.push(node);
      });
    }
    expect(keys).toBeGreaterThan(0);
    for (const i of inj) {
      if (i.kind === 'zeronode' || i.kind === 'wrongseq') {
        const hit = damaged.find((n) => n.sector === i.child!.sector && n.btreeId === btreeIdByName(i.btree));
        expect(hit, `node at sector ${i.child!.sector} reported`).toBeDefined();
        expect(hit!.readable).toBe(false);
        expect(hit!.errors[0]!.msg).toMatch(i.kind === 'zeronode' ? /^bad magic$/ : /^got wrong btree node \(seq [0-9a-f]+ want [0-9a-f]+\)$/);
      }
      if (i.kind === 'badcsum') {
        const hit = damaged.find((n) => n.errors.some((e) => e.code === 'bad_csum'));
        expect(hit, 'bad checksum reported').toBeDefined();
        expect(hit!.readable).toBe(true); // bcachefs logs it and uses the node
      }
    }
    if (!inj.some((i) => ['zeronode', 'wrongseq', 'badcsum'].includes(i.kind))) {
      expect(damaged.filter((n) => !n.readable)).toEqual([]);
    }
  });
});
