// Shared by the encode tests that write to a copy of a fixture and ask the real bcachefs 2021 about it:
// the image copy, the real fsck -n, finding a key's node, and an in-place key rewrite written with plain
// fs.writeSync (tests only: the product writes through its journal).
import { expect } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openFilesystem } from '../../src-core/open.js';
import { bposCmp, bposToText, type Bpos } from '../../src-core/format/bpos.js';
import { BTREE_ID_alloc, BTREE_ID_NR, BTREE_ID_extents, BTREE_ID_reflink, KEY_TYPE_btree_ptr_v2, KEY_TYPE_extent } from '../../src-core/format/names.js';
import {
  allocUnpack, newAllocUnpacked, ExtentEntryIter, BCH_EXTENT_ENTRY_ptr, BTREE_PTR_V2_HEADER_BYTES, type AllocUnpacked, type BtreePtr,
} from '../../src-core/format/values.js';
import type { BtreeNode } from '../../src-core/btree/node.js';
import { btreePtrFromKey, type Filesystem } from '../../src-core/btree/fs.js';
import { encodeAllocV2 } from '../../src-core/format/encode-value.js';
import { rewriteNode, type NodeEdit } from '../../src-core/format/encode-node.js';
import { bkeyFields, type BkeyFields } from '../../src-core/format/encode-key.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/fixtures.js';

export const TOOL = resolve(PROJECT_ROOT, '..', 'shared', 'tools', 'bcachefs-2021', 'bcachefs');
const toolProbe = spawnSync(TOOL, ['version'], { encoding: 'utf8' });
export const toolMissing = toolProbe.status === 0 ? undefined
  : `the real bcachefs at ${TOOL} cannot run here (${toolProbe.error?.message ?? toolProbe.stderr.trim()}); install the runtime packages its README names`;
if (toolMissing) console.warn(`encode tests: skipping the real fsck checks: ${toolMissing}`);

const dirs: string[] = [];
/** Removes the image copies made so far (each test file calls it in afterAll). */
export function removeImages(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * Every node of a btree reachable from its root, depth first, each with the pointer it was read through and
 * its parent; unreadable nodes are visited but not descended into. Each node has its own key table.
 */
export function walkNodes(fs: Filesystem, btreeId: number, visit: (node: BtreeNode, ptr: BtreePtr, parent: BtreeNode | undefined) => void): void {
  const root = fs.roots[btreeId]!;
  if (root.fake) return;
  const seen = new Set<number>();
  const rec = (level: number, ptr: BtreePtr, parent: BtreeNode | undefined): void => {
    const p = ptr.ptrs[0];
    if (p && seen.has(p.offset)) return;
    if (p) seen.add(p.offset);
    const node = fs.readNodeAt(btreeId, level, ptr);
    visit(node, ptr, parent);
    if (!node.readable || level === 0) return;
    for (let k = 0; k < node.liveCount; k++) {
      const child = btreePtrFromKey(node.keys, node.live[k]!);
      if (child) rec(level - 1, child, node);
    }
  };
  rec(root.level, root.ptr, undefined);
}

/** The fixture's image (or the gzipped image at gzPath), decompressed into a fresh temporary directory as image.img. */
export function copyImage(fx: string, gzPath = fixturePath(fx)): string {
  const dir = mkdtempSync(join(tmpdir(), `encode-${fx}-`));
  dirs.push(dir);
  const img = join(dir, 'image.img');
  writeFileSync(img, gunzipSync(readFileSync(gzPath)));
  return img;
}

/** The real fsck -n, run from the image's folder as the fixtures were recorded; a signal gives 128 + its number, as the shell reports it. */
export function realFsck(img: string): { exit: number | null; out: string } {
  const r = spawnSync(TOOL, ['fsck', '-n', 'image.img'], { cwd: resolve(img, '..'), encoding: 'utf8', timeout: 120_000 });
  const exit = r.status ?? (r.signal ? 128 + constants.signals[r.signal] : null);
  return { exit, out: `${r.stdout}${r.stderr}` };
}

/** A node's bytes and bsets (copied out: the walk reuses its buffers), and where the live key at pos sits. */
export interface KeyInNode {
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

export function findKey(img: string, btreeId: number, level: number, pos: Bpos): KeyInNode {
  const o = openFilesystem(img);
  try {
    let out: KeyInNode | undefined;
    walkNodes(o.fs, btreeId, (node) => {
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

export function alloc(value: Uint8Array): AllocUnpacked {
  const a = newAllocUnpacked();
  expect(allocUnpack(20, value, 0, value.length, a)).toBe(true);
  return a;
}

export const bucketPos = (b: number | bigint): Bpos => ({ inode: 0n, offset: BigInt(b), snapshot: 0 });

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
export function writeAt(img: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

export function rewriteKey(img: string, btreeId: number, level: number, pos: Bpos, edit: (f: KeyInNode) => NodeEdit): KeyInNode {
  const f = findKey(img, btreeId, level, pos);
  const next = rewriteNode(f.buf, f.bsets, [edit(f)], f.geo);
  expect(next.length).toBe(f.geo.nodeBytes);
  writeAt(img, f.sector * 512, next);
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

export function setAlloc(img: string, bucket: number | bigint, change: Partial<AllocUnpacked>): AllocUnpacked {
  const pos = bucketPos(bucket);
  let before = newAllocUnpacked();
  const after = rewriteKey(img, BTREE_ID_alloc, 0, pos, (f) => {
    before = alloc(f.value);
    return { kind: 'value', keyOffset: f.keyOff, value: encodeAllocV2({ ...before, ...change }) };
  });
  expect(alloc(after.value)).toEqual({ ...before, ...change });
  return before;
}

export function expectFsckClean(img: string): void {
  const r = realFsck(img);
  expect(r.exit, `real fsck -n on the rewritten image:\n${r.out}`).toBe(0);
}

/** A pointer into a bucket, and the key (btree, level, position) that holds it. */
export interface PtrRef {
  btreeId: number;
  level: number;
  pos: Bpos;
  gen: number;
}

/** A pointer forEachPointer found: a root's (level = root level + 1), an interior node's or a leaf extent's. */
export interface PtrFound {
  btreeId: number;
  level: number;
  /** the key that holds it (a root's: its max_key) */
  pos: Bpos;
  dev: number;
  offset: number;
  gen: number;
  root: boolean;
}

/** Every live pointer of fs: btree roots, node pointers, and the extents and reflink leaves. */
export function forEachPointer(fs: Filesystem, visit: (p: PtrFound) => void): void {
  const it = new ExtentEntryIter();
  for (let id = 0; id < BTREE_ID_NR; id++) {
    const root = fs.roots[id]!;
    for (const p of root.ptr.ptrs) visit({ btreeId: id, level: root.level + 1, pos: root.ptr.maxKey, dev: p.dev, offset: p.offset, gen: p.gen, root: true });
    walkNodes(fs, id, (node) => {
      if (!node.readable || (node.level === 0 && id !== BTREE_ID_extents && id !== BTREE_ID_reflink)) return;
      const t = node.keys;
      for (let k = 0; k < node.liveCount; k++) {
        const row = node.live[k]!;
        // only pointer-carrying values (inline_data, for one, holds file bytes)
        if (t.type[row] !== KEY_TYPE_extent && t.type[row] !== KEY_TYPE_btree_ptr_v2) continue;
        const skip = t.type[row] === KEY_TYPE_btree_ptr_v2 ? BTREE_PTR_V2_HEADER_BYTES : 0;
        it.set(t.buf, t.valOff[row]! + skip, t.valOff[row]! + t.valLen[row]!, t.size[row]!);
        for (let e = it.next(); e >= 0; e = it.next()) {
          if (e !== BCH_EXTENT_ENTRY_ptr) continue;
          visit({ btreeId: id, level: node.level, pos: t.pos(row), dev: it.ptrDev, offset: it.ptrOffset, gen: it.ptrGen, root: false });
        }
      }
    });
  }
}

/** Every pointer into a bucket of device 0. */
export function pointersInto(img: string, bucket: number): PtrRef[] {
  const o = openFilesystem(img);
  const bucketSize = o.fs.sb.members[0]!.bucketSize;
  const out: PtrRef[] = [];
  try {
    forEachPointer(o.fs, (p) => {
      if (p.dev === 0 && Math.floor(p.offset / bucketSize) === bucket) out.push({ btreeId: p.btreeId, level: p.level, pos: p.pos, gen: p.gen });
    });
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
export function wrongGen(ptrs: PtrRef[], a: AllocUnpacked): { bucketGen: number } | { ptr: PtrRef; gen: number } {
  const gens = new Set(ptrs.map((p) => p.gen));
  if (gens.size === 1) return { bucketGen: ptrs[0]!.gen };
  const odd = ptrs.filter((p) => p.gen !== a.gen);
  expect(odd.length, 'a single pointer disagrees with the bucket and the other pointers').toBe(1);
  expect(a.dirtySectors, 'the bucket still holds data').toBeGreaterThan(0);
  return { ptr: odd[0]!, gen: a.gen };
}
