// `bcachefs-repair list` end to end, against what the real `bcachefs list` printed.
import { describe, expect, it } from 'vitest';
import { expectedListLines, fixturePath, normalizeInlineData, readFixtureText } from '../helpers/fixtures.js';
import { PACKAGE_VERSION, runCli } from '../helpers/cli.js';

describe('bcachefs-repair list', () => {
  it('prints the extents of a depth-2 image exactly as bcachefs list does', () => {
    const r = runCli(['list', fixturePath('clean-32k-depth2'), '--btree', 'extents']);
    expect(r.status, r.stderr).toBe(0);
    const got = r.stdout.split('\n').filter((l) => l).map(normalizeInlineData);
    expect(got).toEqual(expectedListLines('clean-32k-depth2', 'list/extents.keys.txt')!.map(normalizeInlineData));
  });

  it('--level 1 prints the node pointers as bcachefs list -m nodes does', () => {
    const r = runCli(['list', fixturePath('clean-32k-128m-dirents-depth3'), '--btree', 'dirents', '--level', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(expectedListLines('clean-32k-128m-dirents-depth3', 'list/dirents.nodes.l1.txt'));
  });

  it('--json: the device identity first, then one object per key with its text and position', () => {
    const path = fixturePath('clean-default-64m');
    const r = runCli(['list', path, '--btree', 'alloc', '--json']);
    expect(r.status).toBe(0);
    const [head, ...rows] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const uuid = /External UUID:\s+(\S+)/.exec(readFixtureText('clean-default-64m', 'show-super.txt')!)![1];
    expect(head).toMatchObject({ schemaVersion: 1, tool: { name: 'bcachefs-repair', version: PACKAGE_VERSION }, device: { path, uuid }, btree: 'alloc', level: null });
    const expected = expectedListLines('clean-default-64m', 'list/alloc.keys.txt')!;
    expect(rows.map((x) => x.text)).toEqual(expected);
    expect(rows[1]).toMatchObject({ btree: 'alloc', pos: '0:1:0' });
  });

  it('reports an unreadable leaf on stderr, keeps listing the rest, exits 4', () => {
    const r = runCli(['list', fixturePath('zeronode-extents-b2'), '--btree', 'extents']);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/btree extents level 0 node at sector 40832: bad magic \(node unreadable/);
    const keys = r.stdout.split('\n').filter((l) => l.startsWith('u64s'));
    expect(keys.length).toBeGreaterThan(2000);
    // the zeroed leaf covered 5118:8121:0 ..= 5119:5400:U32_MAX: its keys are missing, its neighbours' are there
    const pos = keys.map((l) => / type \S+ (\d+):(\d+):/.exec(l)!.slice(1).map(BigInt) as [bigint, bigint]);
    const inLeaf = ([i, o]: [bigint, bigint]): boolean => (i === 5118n && o >= 8121n) || (i === 5119n && o <= 5400n);
    expect(pos.filter(inLeaf)).toEqual([]);
    expect(pos.some(([i, o]) => i === 5118n && o < 8121n)).toBe(true);
    expect(pos.some(([i, o]) => i === 5119n && o > 5400n)).toBe(true);
  });
});
