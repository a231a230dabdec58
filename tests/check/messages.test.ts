// Message builders against lines the real bcachefs fsck -n printed (copied from the fixtures' fsck-n.txt).
import { describe, expect, it } from 'vitest';
import * as M from '../../src-core/check/messages.js';
import { decide } from '../../src-core/problems.js';

// the fixed suffixes come from how bcachefs reports the class (the problem table), not from the builders
const RUN = decide('need_fsck', 'none', 'check').suffix;
const UNIMPL = decide('no_fix', 'unimplemented', 'check').suffix;

const EXT_5052 =
  'u64s 7 type extent 5052:8:U32_MAX len 8 ver 0: crc: c_size 8 size 8 offset 0 nonce 0 csum 5 compress 0 ptr: 0:29440 gen 1 stale';

describe('pointer and marking messages', () => {
  it('stale-b2', () => {
    expect(M.msgPtrStaleDirty(0, 115, 4, 1, 2)).toBe('bucket 0:115 data type user stale dirty ptr: 1 < 2');
    expect(M.msgMarkStaleDirtyPtr(0, 115, 2, 4, 1, EXT_5052) + RUN).toBe(
      `bucket 0:115 gen 2 data type user: stale dirty ptr (gen 1)\nwhile marking ${EXT_5052} (run fsck to correct)`,
    );
  });

  it('gen-future-b2 and gen-wrap-b2', () => {
    expect(M.msgPtrGenFuture(0, 115, 4, 2, 1)).toBe('bucket 0:115 data type user ptr gen in the future: 2 > 1');
    const k = 'u64s 7 type extent 5061:8:U32_MAX len 8 ver 0: crc: c_size 8 size 8 offset 0 nonce 0 csum 5 compress 0 ptr: 0:29640 gen 2';
    expect(M.msgMarkPtrGenNewer(0, 115, 1, 4, 2, k) + RUN).toBe(
      `bucket 0:115 gen 1 data type user: ptr gen 2 newer than bucket gen\nwhile marking ${k} (run fsck to correct)`,
    );
    expect(M.msgPtrStaleDirty(0, 165, 4, 201, 1)).toBe('bucket 0:165 data type user stale dirty ptr: 201 < 1');
  });

  it('btree-gen-future-extents-b3: btree pointers', () => {
    expect(M.msgPtrGenFuture(0, 369, 3, 2, 1)).toBe('bucket 0:369 data type btree ptr gen in the future: 2 > 1');
    const k =
      'u64s 11 type btree_ptr_v2 6140:12760:U32_MAX len 0 ver 0: seq c8de46bb6b903c6e written 0 min_key 6140:6393:0 ptr: 0:94592 gen 2';
    expect(M.msgMarkPtrGenNewer(0, 369, 1, 3, 2, k) + RUN).toBe(
      `bucket 0:369 gen 1 data type btree: ptr gen 2 newer than bucket gen\nwhile marking ${k} (run fsck to correct)`,
    );
  });

  it('truncates the key text to what fits char buf[200]', () => {
    const long = 'x'.repeat(250);
    const m = M.msgMarkStaleDirtyPtr(0, 1, 2, 4, 1, long) + RUN;
    expect(m).toBe(`bucket 0:1 gen 2 data type user: stale dirty ptr (gen 1)\nwhile marking ${'x'.repeat(199)} (run fsck to correct)`);
    expect(M.pbuf('abc', 3)).toBe('ab');
    expect(M.fsckBuf('y'.repeat(600)).length).toBe(511);
  });
});

describe('topology messages', () => {
  it('gap-extents-b2', () => {
    const prev = 'u64s 11 type btree_ptr_v2 5119:5400:U32_MAX len 0 ver 0: seq 845ac582ee8b3d00 written 0 min_key 5118:8121:0 ptr: 0:40832 gen 1';
    const cur = 'u64s 11 type btree_ptr_v2 5119:11496:U32_MAX len 0 ver 0: seq 4fd7832353acfc46 written 0 min_key 5119:5416:0 ptr: 0:47168 gen 1';
    expect(M.msgTopologyMinKey('extents', 1, prev, 'POS_MIN', cur)).toBe(
      `btree node with incorrect min_key at btree extents level 1:\n  prev ${prev}\n  cur ${cur}`,
    );
  });

  it('gap-dirents-l2-b7: the first child of a node', () => {
    const cur =
      'u64s 11 type btree_ptr_v2 4106:4038293873275877809:U32_MAX len 0 ver 0: seq cf39312345d30db4 written 0 min_key 4106:3866970605718066527:0 ptr: 0:68224 gen 2';
    expect(M.msgTopologyMinKey('dirents', 1, null, '4106:4038293873275877809:0', cur)).toBe(
      `btree node with incorrect min_key at btree dirents level 1:\n  prev start of node: 4106:4038293873275877809:0\n  cur ${cur}`,
    );
  });

  it('maxkey-alloc-b6', () => {
    const k = 'u64s 11 type btree_ptr_v2 0:1738:0 len 0 ver 0: seq a9a72f660faf4768 written 0 min_key 0:1111:1 ptr: 0:30400 gen 1';
    expect(M.msgTopologyMaxKey('alloc', 1, k, 'POS_MAX')).toBe(`btree node with incorrect max_key at btree alloc level 1:\n  ${k}\n  expected POS_MAX`);
  });

  it('zeronode-extents-b2: unreadable node and its validation log', () => {
    const k = 'u64s 11 type btree_ptr_v2 5119:5400:U32_MAX len 0 ver 0: seq 845ac582ee8b3d00 written 0 min_key 5118:8121:0 ptr: 0:40832 gen 1';
    expect(M.msgUnreadableNode('extents', 0, k)).toBe(`Unreadable btree node at btree extents level 0:\n  ${k}`);
    expect(M.msgBtreeNodeError({ devName: 'image.img', btree: 'extents', level: 0, rootLevel: 1, keyText: k, nodeOffset: 0, msg: 'bad magic' })).toBe(
      `error validating btree node on image.img at btree extents level 0/1\n  ${k}\n  node offset 0: bad magic`,
    );
  });

  it('badcsum-extents-b5: with the bset size; without a device', () => {
    const k = 'u64s 11 type btree_ptr_v2 7152:4600:U32_MAX len 0 ver 0: seq 644476383f89c093 written 0 min_key 7151:15465:0 ptr: 0:127616 gen 1';
    const e = { devName: 'image.img', btree: 'extents', level: 0, rootLevel: 1, keyText: k, nodeOffset: 0, bsetU64s: 4105, msg: 'invalid checksum' };
    expect(M.msgBtreeNodeError(e)).toBe(`error validating btree node on image.img at btree extents level 0/1\n  ${k}\n  node offset 0 bset u64s 4105: invalid checksum`);
    expect(M.msgBtreeNodeError({ ...e, devName: null }).startsWith('error validating btree node at btree extents')).toBe(true);
  });

  it('root messages', () => {
    expect(M.msgRootBadMinKey('0:5:0')).toBe('btree root with incorrect min_key: 0:5:0');
    expect(M.msgRootBadMaxKey('0:5:0')).toBe('btree root with incorrect max_key: 0:5:0');
    expect(M.msgErrorReadingRoot('inodes') + UNIMPL).toBe('error reading btree root inodes (repair unimplemented)');
  });
});

describe('gc_done messages', () => {
  it('buckets (multi-gap-stale-sectors-b5)', () => {
    expect(M.msgBucketField(0, 302, 2, 4, 'data_type', 4, 0)).toBe('bucket 0:302 gen 2 data type user has wrong data_type: got 4, should be 0');
    expect(M.msgBucketField(0, 302, 2, 0, 'dirty_sectors', 256, 0)).toBe('bucket 0:302 gen 2 data type none has wrong dirty_sectors: got 256, should be 0');
    expect(M.msgBucketField(0, 81, 1, 3, 'data_type', 3, 4)).toBe('bucket 0:81 gen 1 data type btree has wrong data_type: got 3, should be 4');
  });

  it('device and filesystem usage (btree-gen-future-extents-b3, zeronode-inodes-b5)', () => {
    expect(M.msgDevField(0, 'btree fragmented', 4736, 4800)).toBe('dev 0 has wrong btree fragmented: got 4736, should be 4800');
    expect(M.msgDevField(0, 'buckets_unavailable', 183n, 182n)).toBe('dev 0 has wrong buckets_unavailable: got 183, should be 182');
    expect(M.msgFsField('nr_inodes', 3057, 2679)).toBe('fs has wrong nr_inodes: got 3057, should be 2679');
    const e = M.replicasEntryText({ dataType: 3, nrRequired: 1, devs: [0] });
    expect(e).toBe('btree: 1/1 [0]');
    expect(M.msgFsField(e, 3200, 3136)).toBe('fs has wrong btree: 1/1 [0]: got 3200, should be 3136');
    expect(M.replicasEntryText({ dataType: 4, nrRequired: 1, devs: [0, 2] })).toBe('user: 1/2 [0 2]');
  });
});
