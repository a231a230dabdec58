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
import { BTREE_ID_alloc, BTREE_ID_extents } from '../../src-core/format/names.js';
import { allocUnpack, newAllocUnpacked, ExtentEntryIter, BCH_EXTENT_ENTRY_ptr, type AllocUnpacked } from '../../src-core/format/values.js';
import type { BtreeNode } from '../../src-core/btree/node.js';
import { encodeAllocV2 } from '../../src-core/format/encode-value.js';
import { rewriteNode, type NodeEdit } from '../../src-core/format/encode-node.js';
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

/** A leaf's bytes and bsets (copied out: the walk reuses its buffers), and where the live key at pos sits. */
interface KeyInNode {
  buf: Uint8Array;
  bsets: BtreeNode['bsets'];
  sector: number;
  keyOff: number;
  value: Uint8Array;
  geo: { nodeBytes: number; blockBytes: number };
}

function findKey(img: string, btreeId: number, pos: Bpos): KeyInNode {
  const o = openFilesystem(img);
  try {
    let out: KeyInNode | undefined;
    o.fs.walk(btreeId, (node) => {
      if (out || node.level !== 0 || !node.readable) return;
      const t = node.keys;
      for (let k = 0; k < node.liveCount && !out; k++) {
        const row = node.live[k]!;
        if (bposCmp(t.pos(row), pos) !== 0) continue;
        out = {
          buf: new Uint8Array(node.buf), bsets: node.bsets.map((b) => ({ ...b })), sector: node.sector, keyOff: t.keyOff[row]!,
          value: new Uint8Array(t.value(row)), geo: { nodeBytes: o.fs.sb.btreeNodeSize * 512, blockBytes: o.fs.sb.blockSize * 512 },
        };
      }
    });
    if (!out) throw new Error(`no live key at ${bposToText(pos)} in btree ${btreeId}`);
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

/** Rewrites the node on the copy and re-reads it with our reader: the edited node must read clean. */
function apply(img: string, f: KeyInNode, edits: NodeEdit[], btreeId: number, pos: Bpos): { changed: [number, number][]; after: KeyInNode } {
  const next = rewriteNode(f.buf, f.bsets, edits, f.geo);
  expect(next.length).toBe(f.geo.nodeBytes);
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, next, 0, next.length, f.sector * 512);
  } finally {
    closeSync(fd);
  }
  const after = findKey(img, btreeId, pos);
  expect(after.bsets.map((b) => b.csumOk)).toEqual(f.bsets.map(() => true));
  return { changed: diffRanges(f.buf, next), after };
}

/** Nothing changed but bytes of the edited key and the checksum of the bset holding it. */
function expectOnlyKeyAndCsum(changed: [number, number][], f: KeyInNode): void {
  const keyEnd = f.keyOff + f.buf[f.keyOff]! * 8;
  const bset = f.bsets.find((b) => f.keyOff >= b.keysStart && f.keyOff < b.keysEnd)!;
  expect(changed.length).toBeGreaterThan(0);
  for (const [s, e] of changed) {
    const inKey = s >= f.keyOff && e <= keyEnd;
    const inCsum = s >= bset.byteOffset && e <= bset.byteOffset + 4;
    expect(inKey || inCsum, `bytes ${s}-${e} changed outside key ${f.keyOff}-${keyEnd} and csum at ${bset.byteOffset}`).toBe(true);
  }
  expect(changed.some(([s]) => s >= f.keyOff), 'the key changed').toBe(true);
}

describe('rewriting an alloc key in place', () => {
  it.skipIf(toolMissing)('alloc-datatype-b2: data_type put back to what fsck -n says it should be; the real fsck -n then exits 0', { timeout: 120_000 }, () => {
    const fx = 'alloc-datatype-b2';
    const inj = JSON.parse(readFixtureText(fx, 'injections.json')!)[0];
    const m = /bucket 0:(\d+) gen \d+ data type \w+ has wrong data_type: got (\d+), should be (\d+)/.exec(readFixtureText(fx, 'fsck-n.txt')!);
    expect(m, 'fsck-n.txt names the wrong data_type').not.toBeNull();
    const bucket = BigInt(m![1]!);
    expect(bucket).toBe(BigInt(inj.bucket));
    const img = copyImage(fx);
    expect(realFsck(img).exit, 'the damaged copy fails fsck -n first').toBe(4);
    const pos = { inode: 0n, offset: bucket, snapshot: 0 };
    const f = findKey(img, BTREE_ID_alloc, pos);
    const before = alloc(f.value);
    expect(before.dataType).toBe(Number(m![2]));
    const value = encodeAllocV2({ ...before, dataType: Number(m![3]) });
    const { changed, after } = apply(img, f, [{ kind: 'value', keyOffset: f.keyOff, value }], BTREE_ID_alloc, pos);
    expect(alloc(after.value)).toEqual({ ...before, dataType: 4 });
    expectOnlyKeyAndCsum(changed, f);
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
    expect(r.out).not.toMatch(/wrong data_type/);
  });

  it.skipIf(toolMissing)('alloc-oldest-gen-b3: oldest_gen put back to the injected key\'s old value; the real fsck -n still exits 0', { timeout: 120_000 }, () => {
    const fx = 'alloc-oldest-gen-b3';
    const inj = JSON.parse(readFixtureText(fx, 'injections.json')!)[0];
    expect(inj.field).toMatch(/oldest_gen/);
    const img = copyImage(fx);
    const pos = { inode: 0n, offset: BigInt(inj.bucket), snapshot: 0 };
    const f = findKey(img, BTREE_ID_alloc, pos);
    const before = alloc(f.value);
    expect(before.oldestGen).toBe(inj.new);
    const value = encodeAllocV2({ ...before, oldestGen: inj.old });
    const { changed, after } = apply(img, f, [{ kind: 'value', keyOffset: f.keyOff, value }], BTREE_ID_alloc, pos);
    expect(alloc(after.value)).toEqual({ ...before, oldestGen: inj.old });
    expectOnlyKeyAndCsum(changed, f);
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
  });
});

describe('rewriting a pointer gen in place', () => {
  it.skipIf(toolMissing)('gen-future-b2: the extent pointer gen put back to the bucket gen; the real fsck -n then exits 0', { timeout: 120_000 }, () => {
    const fx = 'gen-future-b2';
    const inj = JSON.parse(readFixtureText(fx, 'injections.json')!)[0];
    // the evidence: fsck -n says the pointer's gen is ahead of its bucket's, and the bucket's alloc key
    // still says user data with dirty sectors (the bucket was not reused), so the pointer gen is the wrong one
    const m = /bucket 0:(\d+) data type user ptr gen in the future: (\d+) > (\d+)/.exec(readFixtureText(fx, 'fsck-n.txt')!);
    expect(m).not.toBeNull();
    const bucketGen = Number(m![3]);
    const img = copyImage(fx);
    expect(realFsck(img).exit).toBe(4);
    const a = alloc(findKey(img, BTREE_ID_alloc, { inode: 0n, offset: BigInt(m![1]!), snapshot: 0 }).value);
    expect([a.gen, a.dataType, a.dirtySectors > 0]).toEqual([bucketGen, 4, true]);
    const [inode, offset] = (inj.extent_pos as string).split(':');
    const pos = { inode: BigInt(inode!), offset: BigInt(offset!), snapshot: 0xffffffff };
    const f = findKey(img, BTREE_ID_extents, pos);
    const it = new ExtentEntryIter();
    it.set(f.value, 0, f.value.length, 0);
    let gen = -1;
    for (let e = it.next(); e >= 0; e = it.next()) if (e === BCH_EXTENT_ENTRY_ptr) gen = it.ptrGen;
    expect(gen).toBe(Number(m![2]));
    const { changed } = apply(img, f, [{ kind: 'ptrGen', keyOffset: f.keyOff, ptr: 0, gen: bucketGen }], BTREE_ID_extents, pos);
    expectOnlyKeyAndCsum(changed, f);
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
  });
});
