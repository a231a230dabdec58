// Rewriting a node in place (encode-node.ts rewriteNode), proved with the real bcachefs 2021: the damaged key
// of an injected fixture is put back to what the evidence says it was, the node's bytes are written over a
// copy of the image with plain fs.writeSync (tests only: the product writes through its journal), and the real
// `fsck -n` must then find nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openFilesystem } from '../../src-core/open.js';
import { bposCmp, bposToText, type Bpos } from '../../src-core/format/bpos.js';
import {
  BTREE_ID_alloc, BTREE_ID_NR, BTREE_ID_extents, BTREE_ID_reflink, BCH_DATA_user, KEY_TYPE_btree_ptr_v2, KEY_TYPE_extent,
} from '../../src-core/format/names.js';
import {
  allocUnpack, newAllocUnpacked, ExtentEntryIter, BCH_EXTENT_ENTRY_ptr, BTREE_PTR_V2_HEADER_BYTES, type AllocUnpacked,
} from '../../src-core/format/values.js';
import type { BtreeNode } from '../../src-core/btree/node.js';
import { encodeAllocV2 } from '../../src-core/format/encode-value.js';
import { appendBset, rewriteNode, type NodeEdit } from '../../src-core/format/encode-node.js';
import { bkeyFields, type BkeyFields } from '../../src-core/format/encode-key.js';
import { fixturePath, readFixtureText, PROJECT_ROOT } from '../helpers/fixtures.js';

const TOOL = resolve(PROJECT_ROOT, '..', 'shared', 'tools', 'bcachefs-2021', 'bcachefs');
const toolProbe = spawnSync(TOOL, ['version'], { encoding: 'utf8' });
const toolMissing = toolProbe.status === 0 ? undefined
  : `the real bcachefs at ${TOOL} cannot run here (${toolProbe.error?.message ?? toolProbe.stderr.trim()}); install the runtime packages its README names`;
if (toolMissing) console.warn(`encode-rewrite: skipping the real fsck checks: ${toolMissing}`);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The fixture's image, decompressed into a fresh temporary directory as image.img. */
function copyImage(fx: string): string {
  const dir = mkdtempSync(join(tmpdir(), `encode-${fx}-`));
  dirs.push(dir);
  const img = join(dir, 'image.img');
  writeFileSync(img, gunzipSync(readFileSync(fixturePath(fx))));
  return img;
}

/** The real fsck -n, run from the image's folder as the fixtures were recorded. */
function realFsck(img: string): { exit: number | null; out: string } {
  const r = spawnSync(TOOL, ['fsck', '-n', 'image.img'], { cwd: resolve(img, '..'), encoding: 'utf8', timeout: 120_000 });
  return { exit: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A node's bytes and bsets (copied out: the walk reuses its buffers), and where the live key at pos sits. */
interface KeyInNode {
  buf: Uint8Array;
  bsets: BtreeNode['bsets'];
  sector: number;
  keyOff: number;
  value: Uint8Array;
  fields: BkeyFields;
  geo: { nodeBytes: number; blockBytes: number };
  /** the clean section's journal_seq */
  journalSeq: bigint;
}

function findKey(img: string, btreeId: number, level: number, pos: Bpos): KeyInNode {
  const o = openFilesystem(img);
  try {
    let out: KeyInNode | undefined;
    o.fs.walk(btreeId, (node) => {
      if (out || node.level !== level || !node.readable) return;
      const t = node.keys;
      for (let k = 0; k < node.liveCount && !out; k++) {
        const row = node.live[k]!;
        if (bposCmp(t.pos(row), pos) !== 0) continue;
        out = {
          buf: new Uint8Array(node.buf), bsets: node.bsets.map((b) => ({ ...b })), sector: node.sector, keyOff: t.keyOff[row]!,
          value: new Uint8Array(t.value(row)), fields: bkeyFields(t, row),
          geo: { nodeBytes: o.fs.sb.btreeNodeSize * 512, blockBytes: o.fs.sb.blockSize * 512 }, journalSeq: o.fs.sb.cleanSection!.journalSeq,
        };
      }
    });
    if (!out) throw new Error(`no live key at ${bposToText(pos)} in btree ${btreeId} level ${level}`);
    return out;
  } finally {
    o.close();
  }
}

function alloc(value: Uint8Array): AllocUnpacked {
  const a = newAllocUnpacked();
  expect(allocUnpack(20, value, 0, value.length, a)).toBe(true);
  return a;
}

const bucketPos = (b: number | bigint): Bpos => ({ inode: 0n, offset: BigInt(b), snapshot: 0 });

/** A pointer into a bucket, and the key (btree, level, position) that holds it. */
interface PtrRef {
  btreeId: number;
  level: number;
  pos: Bpos;
  gen: number;
}

/** Every pointer into a bucket of device 0: btree roots (level = root level + 1), node pointers, extents. */
function pointersInto(img: string, bucket: number): PtrRef[] {
  const o = openFilesystem(img);
  const bucketSize = o.fs.sb.members[0]!.bucketSize;
  const out: PtrRef[] = [];
  const it = new ExtentEntryIter();
  try {
    for (let id = 0; id < BTREE_ID_NR; id++) {
      const root = o.fs.roots[id]!;
      for (const p of root.ptr.ptrs) {
        if (p.dev === 0 && Math.floor(p.offset / bucketSize) === bucket) out.push({ btreeId: id, level: root.level + 1, pos: root.ptr.maxKey, gen: p.gen });
      }
      o.fs.walk(id, (node) => {
        if (!node.readable || (node.level === 0 && id !== BTREE_ID_extents && id !== BTREE_ID_reflink)) return;
        const t = node.keys;
        for (let k = 0; k < node.liveCount; k++) {
          const row = node.live[k]!;
          // only pointer-carrying values (inline_data, for one, holds file bytes)
          if (t.type[row] !== KEY_TYPE_extent && t.type[row] !== KEY_TYPE_btree_ptr_v2) continue;
          const skip = t.type[row] === KEY_TYPE_btree_ptr_v2 ? BTREE_PTR_V2_HEADER_BYTES : 0;
          it.set(t.buf, t.valOff[row]! + skip, t.valOff[row]! + t.valLen[row]!, t.size[row]!);
          for (let e = it.next(); e >= 0; e = it.next()) {
            if (e === BCH_EXTENT_ENTRY_ptr && it.ptrDev === 0 && Math.floor(it.ptrOffset / bucketSize) === bucket) {
              out.push({ btreeId: id, level: node.level, pos: t.pos(row), gen: it.ptrGen });
            }
          }
        }
      });
    }
  } finally {
    o.close();
  }
  return out;
}

/**
 * Which gen is wrong, from the evidence on disk: when every pointer into the bucket agrees and only the
 * bucket's gen differs, the bucket gen is wrong; when one pointer differs from the others and from the
 * bucket (which still holds live data: dirty sectors of the type its pointers say), that pointer is.
 */
function wrongGen(ptrs: PtrRef[], a: AllocUnpacked): { bucketGen: number } | { ptr: PtrRef; gen: number } {
  const gens = new Set(ptrs.map((p) => p.gen));
  if (gens.size === 1) return { bucketGen: ptrs[0]!.gen };
  const odd = ptrs.filter((p) => p.gen !== a.gen);
  expect(odd.length, 'a single pointer disagrees with the bucket and the other pointers').toBe(1);
  expect(a.dirtySectors, 'the bucket still holds data').toBeGreaterThan(0);
  return { ptr: odd[0]!, gen: a.gen };
}

/** Byte ranges where two buffers differ. */
function diffRanges(a: Uint8Array, b: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const s = i;
    while (i < a.length && a[i] !== b[i]) i++;
    out.push([s, i]);
  }
  return out;
}

/**
 * Rewrites the node holding the key on the copy (plain writeSync), re-reads it with our reader (every bset's
 * checksum must hold) and checks that nothing changed but the key and the checksum of its bset.
 */
function rewriteKey(img: string, btreeId: number, level: number, pos: Bpos, edit: (f: KeyInNode) => NodeEdit): KeyInNode {
  const f = findKey(img, btreeId, level, pos);
  const next = rewriteNode(f.buf, f.bsets, [edit(f)], f.geo);
  expect(next.length).toBe(f.geo.nodeBytes);
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, next, 0, next.length, f.sector * 512);
  } finally {
    closeSync(fd);
  }
  const after = findKey(img, btreeId, level, pos);
  expect(after.bsets.map((b) => b.csumOk)).toEqual(f.bsets.map(() => true));
  const keyEnd = f.keyOff + f.buf[f.keyOff]! * 8;
  const bset = f.bsets.find((b) => f.keyOff >= b.keysStart && f.keyOff < b.keysEnd)!;
  const changed = diffRanges(f.buf, next);
  expect(changed.some(([s]) => s >= f.keyOff), 'the key changed').toBe(true);
  for (const [s, e] of changed) {
    const inKey = s >= f.keyOff && e <= keyEnd;
    const inCsum = s >= bset.byteOffset && e <= bset.byteOffset + 4;
    expect(inKey || inCsum, `bytes ${s}-${e} changed outside key ${f.keyOff}-${keyEnd} and csum at ${bset.byteOffset}`).toBe(true);
  }
  return after;
}

function setAlloc(img: string, bucket: number | bigint, change: Partial<AllocUnpacked>): AllocUnpacked {
  const pos = bucketPos(bucket);
  let before = newAllocUnpacked();
  const after = rewriteKey(img, BTREE_ID_alloc, 0, pos, (f) => {
    before = alloc(f.value);
    return { kind: 'value', keyOffset: f.keyOff, value: encodeAllocV2({ ...before, ...change }) };
  });
  expect(alloc(after.value)).toEqual({ ...before, ...change });
  return before;
}

function expectFsckClean(img: string): void {
  const r = realFsck(img);
  expect(r.exit, `real fsck -n on the rewritten image:\n${r.out}`).toBe(0);
}

const injection = (fx: string): Record<string, unknown> & { bucket: number; old: number; new: number } =>
  JSON.parse(readFixtureText(fx, 'injections.json')!)[0];

describe.skipIf(toolMissing)('rewriting an alloc key in place, then the real fsck -n', () => {
  it('alloc-datatype-b2: data_type put back to what fsck -n says it should be: exit 0', { timeout: 120_000 }, () => {
    const fx = 'alloc-datatype-b2';
    const m = /bucket 0:(\d+) gen \d+ data type \w+ has wrong data_type: got (\d+), should be (\d+)/.exec(readFixtureText(fx, 'fsck-n.txt')!);
    expect(m, 'fsck-n.txt names the wrong data_type').not.toBeNull();
    expect(Number(m![1])).toBe(injection(fx).bucket);
    const img = copyImage(fx);
    expect(realFsck(img).exit, 'the damaged copy fails fsck -n first').toBe(4);
    expect(setAlloc(img, m![1]!, { dataType: Number(m![3]) }).dataType).toBe(Number(m![2]));
    expectFsckClean(img);
  });

  it('alloc-datatype-b2 again, the corrected key in a bset appended to the node instead: exit 0', { timeout: 120_000 }, () => {
    const fx = 'alloc-datatype-b2';
    const img = copyImage(fx);
    const pos = bucketPos(injection(fx).bucket);
    const f = findKey(img, BTREE_ID_alloc, 0, pos);
    const before = alloc(f.value);
    const value = encodeAllocV2({ ...before, dataType: BCH_DATA_user });
    const next = appendBset(f.buf, f.bsets, [{ fields: f.fields, value }], f.journalSeq, f.geo);
    // the bytes already written are untouched: the new bset lies after them
    const last = f.bsets[f.bsets.length - 1]!;
    const writtenEnd = last.byteOffset + last.sectors * 512;
    expect(Buffer.from(next.subarray(0, writtenEnd))).toEqual(Buffer.from(f.buf.subarray(0, writtenEnd)));
    const fd = openSync(img, 'r+');
    try {
      writeSync(fd, next, writtenEnd, next.length - writtenEnd, f.sector * 512 + writtenEnd);
    } finally {
      closeSync(fd);
    }
    const after = findKey(img, BTREE_ID_alloc, 0, pos);
    expect(after.bsets.length).toBe(f.bsets.length + 1);
    expect(after.bsets[after.bsets.length - 1]!.byteOffset).toBe(writtenEnd);
    expect(after.bsets.every((b) => b.csumOk)).toBe(true);
    expect(alloc(after.value)).toEqual({ ...before, dataType: BCH_DATA_user });
    expectFsckClean(img);
  });

  it.each(['alloc-sectors-b2', 'alloc-sectors-b6'])('%s: dirty_sectors put back to what fsck -n says: exit 0', { timeout: 120_000 }, (fx) => {
    const m = /bucket 0:(\d+) gen \d+ data type \w+ has wrong dirty_sectors: got (\d+), should be (\d+)/.exec(readFixtureText(fx, 'fsck-n.txt')!);
    expect(m).not.toBeNull();
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(4);
    expect(setAlloc(img, m![1]!, { dirtySectors: Number(m![3]) }).dirtySectors).toBe(Number(m![2]));
    expectFsckClean(img);
  });

  it('alloc-oldest-gen-b3: oldest_gen put back to the injected key\'s old value (fsck -n does not check it): still exit 0', { timeout: 120_000 }, () => {
    const fx = 'alloc-oldest-gen-b3';
    const inj = injection(fx);
    expect(inj.field).toMatch(/oldest_gen/);
    const img = copyImage(fx);
    expect(setAlloc(img, inj.bucket, { oldestGen: inj.old }).oldestGen).toBe(inj.new);
    expectFsckClean(img);
  });
});

describe.skipIf(toolMissing)('rewriting a pointer gen or a bucket gen in place, as the evidence says, then the real fsck -n', () => {
  it.each([
    ['gen-future-b2', 'pointer'], ['gen-future-b3', 'pointer'], ['gen-wrap-b2', 'pointer'], ['btree-gen-future-extents-b3', 'pointer'],
    ['stale-b2', 'bucket'], ['stale-b6', 'bucket'],
  ])('%s: the %s gen is the wrong one; put back: exit 0', { timeout: 120_000 }, (fx, expected) => {
    const bucket = injection(fx).bucket;
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(4);
    const a = alloc(findKey(img, BTREE_ID_alloc, 0, bucketPos(bucket)).value);
    const ptrs = pointersInto(img, bucket);
    expect(ptrs.length).toBeGreaterThan(0);
    const w = wrongGen(ptrs, a);
    expect('bucketGen' in w ? 'bucket' : 'pointer').toBe(expected);
    if ('bucketGen' in w) {
      expect(a.dataType).toBe(BCH_DATA_user);
      setAlloc(img, bucket, { gen: w.bucketGen });
    } else {
      rewriteKey(img, w.ptr.btreeId, w.ptr.level, w.ptr.pos, (f) => ({ kind: 'ptrGen', keyOffset: f.keyOff, ptr: 0, gen: w.gen }));
      const left = pointersInto(img, bucket);
      expect(left.every((p) => p.gen === a.gen)).toBe(true);
    }
    expectFsckClean(img);
  });
});
