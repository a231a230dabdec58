// The one walk (BtreeWalk) on every fixture: depth first and pre-order, each node read once, every step's
// parent, child index and pointer consistent with each other, read errors reported in the node, and the
// reads ahead of it issued by the walk itself.
import { afterAll, describe, expect, it } from 'vitest';
import { BtreeWalk, type NodeStep } from '../../src-core/btree/fs.js';
import { BTREE_IDS } from '../../src-core/format/names.js';
import { loadAddon } from '../../src-core/device/native.js';
import { allFixtures, closeFixtures, expectedListLines, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);

describe('BtreeWalk', () => {
  it.each(allFixtures())('%s: pre-order, each node once, steps consistent with their parents', (fx) => {
    const { fs } = openFixture(fx);
    for (let id = 0; id < BTREE_IDS.length; id++) {
      const path: NodeStep[] = [];
      const sectors = new Set<number>();
      let nodes = 0;
      let unreadable = 0;
      const w = new BtreeWalk(fs, id);
      for (let s = w.next(); s; s = w.next()) {
        while (path.length && path[path.length - 1]!.level <= s.level) path.pop();
        const parent = path[path.length - 1];
        expect(s.parent).toBe(parent?.node);
        if (parent) {
          expect(s.level).toBe(parent.level - 1);
          // the pointer is the parent's key at childIndex
          expect(s.ptrTable).toBe(parent.keys.table(s.childIndex));
          expect(s.ptrRow).toBe(parent.keys.row(s.childIndex));
          expect(s.ptrTable.pos(s.ptrRow)).toEqual(s.ptr.maxKey);
        } else {
          expect(s.childIndex).toBe(-1);
          expect(s.ptr).toBe(fs.roots[id]!.ptr);
        }
        const sector = s.ptr.ptrs[0]!.offset;
        if (s.repeat) {
          expect(sectors.has(sector)).toBe(true);
          continue;
        }
        expect(sectors.has(sector)).toBe(false);
        sectors.add(sector);
        nodes++;
        expect(s.node.sector).toBe(sector);
        expect(s.node.level).toBe(s.level);
        if (!s.node.readable) {
          unreadable++;
          expect(s.node.errors.length).toBeGreaterThan(0);
          expect(s.keys.count).toBe(0);
        }
        path.push(s);
      }
      if (fx.startsWith('clean-')) {
        expect(unreadable).toBe(0);
        // as many nodes as bcachefs list -m nodes printed pointers (a btree without nodes prints its fake root)
        const listed = expectedListLines(fx, `list/${BTREE_IDS[id]}.nodes.l0.txt`)!.length;
        expect(nodes).toBe(fs.roots[id]!.fake ? listed - 1 : listed);
      }
    }
  });

  it('stops at `depth` and does not descend where the caller skips', () => {
    const { fs } = openFixture('clean-32k-128m-dirents-depth3');
    const levels = (depth: number, skipAt = -1): number[] => {
      const seen: number[] = [];
      const w = new BtreeWalk(fs, 2, { depth });
      for (let s = w.next(); s; s = w.next()) {
        seen.push(s.level);
        if (s.level === skipAt) w.skipChildren();
      }
      return seen;
    };
    expect(fs.roots[2]!.level).toBe(2);
    expect(Math.min(...levels(1))).toBe(1);
    expect(levels(0).filter((l) => l === 0).length).toBeGreaterThan(1);
    expect(levels(0, 2)).toEqual([2]);
  });

  it('reads ahead of itself: leaves are served from the background reads it issued', () => {
    const o = openFixture('clean-32k-depth2');
    const addon = loadAddon().addon;
    if (!addon || !o.dev.direct) return; // no read-ahead without O_DIRECT
    const before = addon.prefetchHits();
    let leaves = 0;
    const w = new BtreeWalk(o.fs, 0);
    for (let s = w.next(); s; s = w.next()) if (s.level === 0) leaves++;
    expect(leaves).toBeGreaterThan(8);
    expect(addon.prefetchHits()).toBeGreaterThan(before);
  });
});
