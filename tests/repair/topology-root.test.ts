// A root whose range is not the whole key space (the injector has no such kind): made from a clean image by
// setting the extents root's min_key, in its header, in the btree_root entry of the superblock's clean section
// (every copy) and of the last journal entry, so that node and pointer agree and bcachefs reports the root
// range itself. The repair widens it back: then our check finds nothing and the real fsck -n exits 0.
import { afterAll, expect, it } from 'vitest';
import { closeSync, openSync, writeSync } from 'node:fs';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem, forEachKey } from '../../src-core/btree/fs.js';
import { checkFilesystem } from '../../src-core/check/index.js';
import { bposToText, type Bpos } from '../../src-core/format/bpos.js';
import { copyBytes, writeBpos, writeChecksum } from '../../src-core/format/encode-key.js';
import { rewriteNode } from '../../src-core/format/encode-node.js';
import { superblockCopy } from '../../src-core/format/encode-sb.js';
import { BCH_JSET_ENTRY_btree_root, parseJset } from '../../src-core/format/journal.js';
import { planRepair } from '../../src-core/repair/pipeline.js';
import { cli, copyImage, expectFsckCleanThenUndo, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

function put(img: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(img, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

/** Sets the extents root's min_key everywhere it is recorded (node header, clean section copies, journal). */
function damageRootMin(img: string, min: Bpos): void {
  const dev = openDevice(img);
  const fs = new Filesystem(dev);
  const root = fs.roots[0]!;
  const node = fs.readNodeAt(0, root.level, root.ptr);
  const geo = { nodeBytes: fs.sb.btreeNodeSize * 512, blockBytes: fs.sb.blockSize * 512 };
  const nodeBytes = rewriteNode(new Uint8Array(node.buf), node.bsets, [{ kind: 'minKey', pos: min }], geo);
  const e = fs.sb.cleanSection!.entries.find((x) => x.type === BCH_JSET_ENTRY_btree_root && x.btreeId === 0)!;
  expect(e.buf.buffer).toBe(fs.sb.bytes.buffer);
  const sb = copyBytes(fs.sb.bytes);
  writeBpos(sb, e.buf.byteOffset + e.start - fs.sb.bytes.byteOffset + 60, min); // the root key's btree_ptr_v2.min_key
  const sbCopies = fs.sb.layout.sbOffsets.map((s) => ({ s, bytes: superblockCopy(sb, s) }));
  const j = fs.journal.jsets.find((x) => x.seq === fs.sb.cleanSection!.journalSeq)!;
  const jbuf = new Uint8Array(dev.read(j.deviceOffset, j.bytes));
  const je = parseJset(jbuf, 0, fs.sb.jsetMagic, j.deviceOffset)!.entries.find((x) => x.type === BCH_JSET_ENTRY_btree_root && x.btreeId === 0)!;
  writeBpos(jbuf, je.start + 60, min);
  writeChecksum(j.csumType, jbuf, 0, 16, j.bytes);
  dev.close();
  put(img, node.sector * 512, nodeBytes);
  for (const c of sbCopies) put(img, c.s * 512, c.bytes);
  put(img, j.deviceOffset, jbuf);
}

function extentPositions(img: string): string[] {
  const dev = openDevice(img);
  try {
    const out: string[] = [];
    forEachKey(new Filesystem(dev), 0, (t, r) => out.push(bposToText(t.pos(r))));
    return out;
  } finally {
    dev.close();
  }
}

it('a root with a bad min_key: header and pointer (clean section, journal) widened to POS_MIN by repair -y; our check and the real fsck -n find nothing, undo --all restores the damage', { timeout: 300_000 }, async () => {
  const img = copyImage('clean-32k-depth2');
  const keys = extentPositions(img);
  damageRootMin(img, { inode: 0n, offset: 1n, snapshot: 0 });
  const damaged = toolMissing ? undefined : realFsck(img);
  if (damaged) {
    // bcachefs 2021: "btree root with incorrect min_key: 0:1:0, fixing", "repair unimplemented", exit 8
    expect(damaged.out).toMatch(/btree root with incorrect min_key: 0:1:0/);
    expect(damaged.out).toMatch(/repair unimplemented/);
    expect(damaged.exit).toBe(8);
  }
  const dev = openDevice(img);
  const p = await planRepair(dev, { devName: 'image.img' });
  dev.close();
  expect(p.before.map((f) => f.class)).toContain('btree_root_bad_min_key');
  expect(p.fixes[0]!.id).toBe('topology:root:extents');
  expect(p.fixes[0]!.writes.map((w) => w.target.kind)).toEqual(['node', 'superblock', 'superblock', 'key']);
  expect(p.unresolved).toEqual([]);
  const damagedSha = sha256File(img);
  const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
  expect(r.status, `repair -y:\n${r.stdout}\n${r.stderr}`).toBe(1);
  const d2 = openDevice(img);
  try {
    expect((await checkFilesystem(new Filesystem(d2), { devName: 'image.img' })).findings).toEqual([]);
  } finally {
    d2.close();
  }
  expect(extentPositions(img)).toEqual(keys);
  expectFsckCleanThenUndo(img, damagedSha);
});
