// The fsck-n.txt parser against every fixture, with counts taken by hand from the files.
import { describe, expect, it } from 'vitest';
import { allFixtures, readFixtureText } from '../helpers/fixtures.js';
import { parseFsckLog, multiset, type FsckLog } from '../helpers/fsck-log.js';

function load(fx: string): FsckLog {
  const text = readFixtureText(fx, 'fsck-n.txt');
  const exit = Number(readFixtureText(fx, 'fsck-n.exit')!.trim());
  return parseFsckLog(text!, exit);
}

function countStarting(log: FsckLog, prefix: string): number {
  return log.errors.filter((e) => e.message.startsWith(prefix)).length;
}

describe('parseFsckLog on every fixture', () => {
  it.each(allFixtures())('%s: every line is accounted for, errors only where the exit code says so', (fx) => {
    const log = load(fx);
    const text = readFixtureText(fx, 'fsck-n.txt')!;
    const lines = text.split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
    const accounted =
      log.errors.reduce((n, e) => n + e.message.split('\n').length, 0) +
      log.nodeValidation.reduce((n, b) => n + b.text.split('\n').length, 0) +
      log.logs.reduce((n, b) => n + b.text.split('\n').length, 0);
    expect(accounted).toBe(lines.length);
    if (log.exit === 0) expect(log.errors).toEqual([]);
    if (log.exit === 4) expect(log.errors.length).toBeGreaterThan(0);
    for (const e of log.errors) {
      expect(e.message.endsWith(', not fixing')).toBe(false);
      expect(e.disposition === 'not fixing' || e.message.endsWith(' (run fsck to correct)')).toBe(true);
    }
    if (fx.startsWith('clean-')) {
      expect(log.errors).toEqual([]);
      expect(log.nodeValidation).toEqual([]);
      expect(log.gcCompleted).toBe(true);
    }
  });
});

describe('hand-counted fixtures', () => {
  it('stale-b2: 11 stale pointers give 11 + 11 messages, then bucket, dev and fs usage', () => {
    const log = load('stale-b2');
    expect(log.exit).toBe(4);
    expect(log.crashed).toBe(false);
    expect(log.gcCompleted).toBe(true);
    expect(log.errors.length).toBe(29);
    const m = multiset(log.errors.map((e) => e.message));
    expect(m.get('bucket 0:115 data type user stale dirty ptr: 1 < 2')).toBe(11);
    expect(countStarting(log, 'bucket 0:115 gen 2 data type user: stale dirty ptr (gen 1)\nwhile marking u64s 7 type extent ')).toBe(11);
    expect(
      m.get(
        'bucket 0:115 gen 2 data type user: stale dirty ptr (gen 1)\nwhile marking u64s 7 type extent 5052:8:U32_MAX len 8 ver 0: ' +
          'crc: c_size 8 size 8 offset 0 nonce 0 csum 5 compress 0 ptr: 0:29440 gen 1 stale (run fsck to correct)',
      ),
    ).toBe(1);
    expect(m.get('bucket 0:115 gen 2 data type user has wrong data_type: got 4, should be 0')).toBe(1);
    expect(m.get('bucket 0:115 gen 2 data type none has wrong dirty_sectors: got 256, should be 0')).toBe(1);
    expect(countStarting(log, 'dev 0 has wrong ')).toBe(3);
    expect(countStarting(log, 'fs has wrong ')).toBe(2);
    expect(m.get('fs has wrong user: 1/1 [0]: got 37032, should be 36776')).toBe(1);
    // the first stale message comes first, its marking message right after
    expect(log.errors[0]!.message).toBe('bucket 0:115 data type user stale dirty ptr: 1 < 2');
    expect(log.errors[1]!.message.startsWith('bucket 0:115 gen 2 data type user: stale dirty ptr (gen 1)\n')).toBe(true);
    expect(log.errors.every((e) => e.phase === 'gc')).toBe(true);
  });

  it('gen-future-b2: 7 messages', () => {
    const log = load('gen-future-b2');
    expect(log.errors.map((e) => e.message.split('\n')[0])).toEqual([
      'bucket 0:115 data type user ptr gen in the future: 2 > 1',
      'bucket 0:115 gen 1 data type user: ptr gen 2 newer than bucket gen',
      'bucket 0:115 gen 1 data type user has wrong dirty_sectors: got 256, should be 248',
      'dev 0 has wrong user sectors: got 37032, should be 37024',
      'dev 0 has wrong user fragmented: got 88, should be 96',
      'fs has wrong data: got 37032, should be 37024',
      'fs has wrong user: 1/1 [0]: got 37032, should be 37024',
    ]);
    expect(log.errors[1]!.disposition).toBeNull();
    expect(log.errors[0]!.disposition).toBe('not fixing');
  });

  it('zeronode-extents-b2: a validation log, then 29 errors, then the fsck pass fails', () => {
    const log = load('zeronode-extents-b2');
    expect(log.exit).toBe(8);
    expect(log.crashed).toBe(false);
    expect(log.gcCompleted).toBe(true);
    expect(log.nodeValidation.length).toBe(1);
    expect(log.nodeValidation[0]!.text.split('\n')[2]).toBe('  node offset 0: bad magic');
    expect(log.errors.length).toBe(29);
    expect(log.errors[0]!.message).toBe(
      'Unreadable btree node at btree extents level 0:\n' +
        '  u64s 11 type btree_ptr_v2 5119:5400:U32_MAX len 0 ver 0: seq 845ac582ee8b3d00 written 0 min_key 5118:8121:0 ptr: 0:40832 gen 1',
    );
    expect(log.nodeValidation[0]!.line).toBeLessThan(log.errors[0]!.line);
    expect(countStarting(log, 'bucket ')).toBe(22);
    expect(countStarting(log, 'dev 0 ')).toBe(4);
    expect(countStarting(log, 'fs ')).toBe(2);
  });

  it('wrongseq-extents-b3: 23 errors', () => {
    const log = load('wrongseq-extents-b3');
    expect(log.errors.length).toBe(23);
    expect(countStarting(log, 'bucket ')).toBe(16);
  });

  it('badcsum-extents-b5: only a log line, no error', () => {
    const log = load('badcsum-extents-b5');
    expect(log.errors).toEqual([]);
    expect(log.nodeValidation.length).toBe(1);
    expect(log.nodeValidation[0]!.text.endsWith('node offset 0 bset u64s 4105: invalid checksum')).toBe(true);
  });

  it('zeronode-alloc-b6: recovery stops before gc', () => {
    const log = load('zeronode-alloc-b6');
    expect(log.gcStarted).toBe(false);
    expect(log.gcCompleted).toBe(false);
    expect(log.errors).toEqual([]);
    expect(log.nodeValidation.length).toBe(1);
    expect(log.nodeValidation[0]!.phase).toBe('recovery');
  });

  it('maxkey-extents-b2: one error, then a segfault after gc', () => {
    const log = load('maxkey-extents-b2');
    expect(log.exit).toBe(139);
    expect(log.crashed).toBe(true);
    expect(log.gcCompleted).toBe(true);
    expect(log.errors.map((e) => e.message)).toEqual([
      'btree node with incorrect max_key at btree extents level 1:\n' +
        '  u64s 11 type btree_ptr_v2 5119:23992:U32_MAX len 0 ver 0: seq 350c57955c8ae8ea written 0 min_key 5119:17865:0 ptr: 0:47232 gen 1\n' +
        '  expected POS_MAX',
    ]);
  });

  it('gap-dirents-l2-b7: two topology errors, levels 2 and 1', () => {
    const log = load('gap-dirents-l2-b7');
    expect(log.errors.length).toBe(2);
    expect(log.errors[0]!.message.split('\n')[0]).toBe('btree node with incorrect min_key at btree dirents level 2:');
    expect(log.errors[1]!.message.split('\n')[1]).toBe('  prev start of node: 4106:4038293873275877809:0');
  });

  it('multi-gap-stale-sectors-b5: 13 errors', () => {
    const log = load('multi-gap-stale-sectors-b5');
    expect(log.errors.length).toBe(13);
    expect(countStarting(log, 'bucket 0:302 data type user stale dirty ptr: 1 < 2')).toBe(2);
  });

  it('zeronode-inodes-b5: the unreadable leaf costs 378 inodes', () => {
    const log = load('zeronode-inodes-b5');
    expect(log.errors.map((e) => e.message.split('\n')[0])).toEqual([
      'Unreadable btree node at btree inodes level 0:',
      'fs has wrong nr_inodes: got 3057, should be 2679',
    ]);
  });
});
