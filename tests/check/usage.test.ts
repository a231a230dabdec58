// Bucket marking and gc_done on hand-made bucket states; expected texts are the fixtures' real lines.
import { describe, expect, it } from 'vitest';
import {
  DevBuckets, devUsageFromBuckets, genAfter, genCmp, newDevUsage, MARK_GEN_NEWER, MARK_OK, MARK_OVERFLOW, MARK_STALE_CACHED,
  MARK_STALE_DIRTY, MARK_TOO_STALE, MARK_TYPE_MIXED, type DevUsage,
} from '../../src-core/check/buckets.js';
import { ReplicasTable, eytzinger0Layout } from '../../src-core/check/replicas.js';
import { FsUsage, recordedFsUsage, emptyRecordedUsage } from '../../src-core/check/usage.js';
import { gcDone } from '../../src-core/check/gc-done.js';
import { FindingList } from '../../src-core/check/findings.js';

const USER = 4;
const BTREE = 3;
const SB = 1;
const JOURNAL = 2;

describe('gens', () => {
  it('compare as signed 8-bit differences', () => {
    expect(genCmp(2, 1)).toBe(1);
    expect(genCmp(1, 2)).toBe(-1);
    // gen-wrap-b2: ptr gen 201, bucket gen 1: stale, not future
    expect(genCmp(201, 1)).toBeLessThan(0);
    expect(genAfter(201, 1)).toBe(0);
    expect(genAfter(1, 201)).toBe(56);
    // stale-wrap: bucket = ptr + 130 reads as the pointer being in the future
    expect(genCmp(1, 131)).toBe(126);
    expect(genAfter(1, 131)).toBe(126);
  });
});

describe('markPtr (check_bucket_ref)', () => {
  function dev(): DevBuckets {
    const d = new DevBuckets(0, 16, 256, 0);
    for (let b = 0; b < 16; b++) d.setAlloc(b, 1, 0, 0, 0, 0);
    d.startGc();
    return d;
  }

  it('counts matching pointers and sets the data type', () => {
    const d = dev();
    expect(d.markPtr(3, 1, false, 8, USER)).toBe(MARK_OK);
    expect(d.markPtr(3, 1, false, 64, USER)).toBe(MARK_OK);
    expect(d.dirty[3]).toBe(72);
    expect(d.dataType[3]).toBe(USER);
    expect(d.markPtr(3, 1, true, 8, 5)).toBe(MARK_TYPE_MIXED);
  });

  it('refuses stale, future, too stale, mixed and overflowing pointers without touching the bucket', () => {
    const d = dev();
    d.gen[4] = 2;
    expect(d.markPtr(4, 1, false, 8, USER)).toBe(MARK_STALE_DIRTY);
    expect(d.markPtr(4, 1, true, 8, 5)).toBe(MARK_STALE_CACHED);
    expect(d.markPtr(4, 3, false, 8, USER)).toBe(MARK_GEN_NEWER);
    d.gen[5] = 200;
    expect(d.markPtr(5, 100, false, 8, USER)).toBe(MARK_TOO_STALE);
    expect(d.markPtr(6, 1, false, 64, BTREE)).toBe(MARK_OK);
    expect(d.markPtr(6, 1, false, 8, USER)).toBe(MARK_TYPE_MIXED);
    d.dirty[7] = 65530;
    d.dataType[7] = USER;
    expect(d.markPtr(7, 1, false, 8, USER)).toBe(MARK_OVERFLOW);
    expect([d.dirty[4], d.dirty[5], d.dirty[6], d.dirty[7]]).toEqual([0, 0, 64, 65530]);
  });

  it('metadata marking saturates and reports a type conflict', () => {
    const d = dev();
    expect(d.markMetadata(0, SB, 8).conflict).toBe(0);
    expect(d.markMetadata(0, SB, 128).conflict).toBe(0);
    expect(d.dirty[0]).toBe(136);
    expect(d.markMetadata(0, JOURNAL, 256).conflict).toBe(SB);
    d.dirty[1] = 65535;
    expect(d.markMetadata(1, SB, 8).overflow).toBe(true);
    expect(d.dirty[1]).toBe(65535);
  });
});

describe('device usage from buckets', () => {
  it('buckets, sectors and fragmented per data type (gen-future-b2: 248 of 256 sectors leaves 8 fragmented)', () => {
    const d = new DevBuckets(0, 4, 256, 0);
    d.dataType[0] = SB;
    d.dirty[0] = 136;
    d.dataType[1] = USER;
    d.dirty[1] = 248;
    d.dataType[2] = USER;
    d.dirty[2] = 256;
    d.cached[3] = 16; // cached only: counted as a cached bucket, available
    d.dataType[3] = 5;
    const u = devUsageFromBuckets(d);
    expect(u.d[USER]).toEqual({ buckets: 2, sectors: 504, fragmented: 8 });
    expect(u.d[SB]).toEqual({ buckets: 1, sectors: 136, fragmented: 120 });
    expect(u.d[5]).toEqual({ buckets: 1, sectors: 16, fragmented: 240 });
    expect(u.bucketsUnavailable).toBe(3);
  });
});

describe('replicas table', () => {
  it('eytzinger0 layout: in-order walk is sorted', () => {
    for (let n = 0; n <= 20; n++) {
      const sorted = Array.from({ length: n }, (_, i) => i);
      const lay = eytzinger0Layout(sorted);
      const inorder: number[] = [];
      const walk = (i: number): void => {
        if (i >= n) return;
        walk(2 * i + 1);
        inorder.push(lay[i]!);
        walk(2 * i + 2);
      };
      walk(0);
      expect(inorder).toEqual(sorted);
    }
  });

  it('orders entries as bcachefs iterates them (journal < btree < user sorted, laid out btree, journal, user)', () => {
    const t = new ReplicasTable([
      { dataType: USER, nrRequired: 1, devs: [0] },
      { dataType: JOURNAL, nrRequired: 1, devs: [0] },
      { dataType: BTREE, nrRequired: 1, devs: [0] },
    ]);
    expect(t.entries.map((e) => e.dataType)).toEqual([BTREE, JOURNAL, USER]);
    expect(t.find(USER, 1, [0])).toBe(2);
    expect(t.findSingle(BTREE, 0)).toBe(0);
    expect(t.find(USER, 1, [1])).toBe(-1);
  });
});

describe('gcDone (stale-b2 in miniature)', () => {
  it('prints bucket fields in order with the data type as already corrected, then device and fs usage', () => {
    const d = new DevBuckets(0, 4, 256, 0);
    // alloc keys: bucket 1 full of user data at gen 2 (its pointers are gen 1: all stale), bucket 2 user 128
    d.setAlloc(0, 0, SB, 136, 0, 0);
    d.setAlloc(1, 2, USER, 256, 0, 0);
    d.setAlloc(2, 1, USER, 128, 0, 0);
    d.setAlloc(3, 1, 0, 0, 0, 0);
    d.startGc();
    d.markMetadata(0, SB, 136);
    expect(d.markPtr(1, 1, false, 256, USER)).toBe(MARK_STALE_DIRTY);
    expect(d.markPtr(2, 1, false, 128, USER)).toBe(MARK_OK);
    const table = new ReplicasTable([{ dataType: USER, nrRequired: 1, devs: [0] }]);
    const rec = emptyRecordedUsage();
    const du: DevUsage = newDevUsage();
    du.bucketsUnavailable = 3;
    du.d[SB] = { buckets: 1, sectors: 136, fragmented: 120 };
    du.d[USER] = { buckets: 2, sectors: 384, fragmented: 128 };
    rec.devs.set(0, du);
    rec.replicas.push({ entry: { dataType: USER, nrRequired: 1, devs: [0] }, sectors: 384 });
    const gcFs = new FsUsage(table.nr);
    gcFs.addReplicas(table.find(USER, 1, [0]), USER, 128);
    gcFs.hidden = 256;
    const recordedFs = recordedFsUsage(rec, table, new Map([[0, 256]]));
    expect(recordedFs.hidden).toBe(256);
    expect(recordedFs.data).toBe(384);
    const out = new FindingList();
    gcDone({ devs: [d], devUsage: new Map([[0, { gc: devUsageFromBuckets(d), recorded: du }]]), gcFs, recordedFs, table }, out);
    expect(out.items.map((f) => f.fsck_message)).toEqual([
      'bucket 0:1 gen 2 data type user has wrong data_type: got 4, should be 0',
      'bucket 0:1 gen 2 data type none has wrong dirty_sectors: got 256, should be 0',
      'dev 0 has wrong buckets_unavailable: got 3, should be 2',
      'dev 0 has wrong user buckets: got 2, should be 1',
      'dev 0 has wrong user sectors: got 384, should be 128',
      'fs has wrong data: got 384, should be 128',
      'fs has wrong user: 1/1 [0]: got 384, should be 128',
    ]);
    expect(out.items.map((f) => f.id)).toEqual([
      'bucket_data_type:0:1', 'bucket_dirty_sectors:0:1', 'dev_usage:dev0:buckets_unavailable', 'dev_usage:dev0:user buckets',
      'dev_usage:dev0:user sectors', 'fs_usage:fs:data', 'fs_replicas_usage:fs:user: 1/1 [0]',
    ]);
    expect(out.items.every((f) => f.severity === 'error' && f.fsck_disposition === 'not fixing')).toBe(true);
  });

  it('reports oldest_gen newer than gen as a warning without an fsck message (alloc-oldest-gen-b3)', () => {
    const d = new DevBuckets(0, 2, 256, 0);
    d.setAlloc(1, 1, 0, 0, 0, 2);
    d.startGc();
    const table = new ReplicasTable([]);
    const rec = emptyRecordedUsage();
    const out = new FindingList();
    gcDone(
      { devs: [d], devUsage: new Map([[0, { gc: devUsageFromBuckets(d), recorded: newDevUsage() }]]), gcFs: new FsUsage(0), recordedFs: recordedFsUsage(rec, table, new Map()), table },
      out,
    );
    expect(out.items.length).toBe(1);
    expect(out.items[0]).toMatchObject({ class: 'bucket_oldest_gen', severity: 'warning', fsck_message: null, location: { dev: 0, bucket: 1 }, expected: 1, actual: 2 });
    expect(out.items[0]!.repair.params?.alloc).toEqual({ gen: 1, oldest_gen: 1, data_type: 0, dirty_sectors: 0, cached_sectors: 0 });
  });
});
