// The topology planner on every topology fixture: the plan (rounds over the overlay, nothing written) holds a
// topology fix that drops nothing; `repair -y` through the built CLI and the repair journal applies it; then
// our check finds nothing, the real bcachefs 2021 fsck -n exits 0, every extents/inodes/dirents/xattrs key of
// the clean base image named in CASE.md is listed again, and undo --all gives the damaged image back.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem, btreePtrFromKey } from '../../src-core/btree/fs.js';
import { bchChecksum32 } from '../../src-core/format/bytes.js';
import { checkFilesystem } from '../../src-core/check/index.js';
import { bposToText } from '../../src-core/format/bpos.js';
import { planRepair, type RepairPlan } from '../../src-core/repair/pipeline.js';
import type { RepairFix } from '../../src-core/repair/types.js';
import { basePositions, checkImage, cli, copyImage, expectBaseKeys, expectFsckCleanThenUndo, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

async function plan(img: string): Promise<RepairPlan> {
  const dev = openDevice(img);
  try {
    return await planRepair(dev, { devName: 'image.img' });
  } finally {
    dev.close();
  }
}

/** Writes each fix in order, refusing a write whose old bytes are not on the copy (as the journal does). */
function apply(img: string, fixes: readonly RepairFix[]): void {
  const fd = openSync(img, 'r+');
  try {
    for (const f of fixes) {
      for (const w of f.writes) {
        const now = Buffer.alloc(w.old.length);
        readSync(fd, now, 0, now.length, w.offset);
        expect(now.equals(Buffer.from(w.old)), `fix ${f.id}: old bytes at ${w.offset}`).toBe(true);
        writeSync(fd, w.new, 0, w.new.length, w.offset);
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Our check finds nothing and every data key of the base image is there. */
async function expectRepaired(fx: string, img: string): Promise<void> {
  const after = await checkImage(img);
  expect(after.findings.map((f) => f.id), 'our check after the repair').toEqual([]);
  expectBaseKeys(fx, after.keys);
}

const TOPOLOGY = [
  'gap-extents-b2', 'gap-extents-b4', 'gap-inodes-b3', 'gap-alloc-b6', 'gap-dirents-l2-b7',
  'overlap-extents-b2', 'overlap-extents-b4', 'overlap-deep-extents-b2', 'overlap-inodes-b5', 'overlap-dirents-b3',
  'maxkey-extents-b2', 'maxkey-inodes-b3', 'maxkey-alloc-b6',
  'wrongseq-extents-b3', 'multi-gap-stale-sectors-b5',
];

describe('topology repair: plan, repair -y, then our check, the real fsck -n, the base image keys and undo', () => {
  it.each(TOPOLOGY)('%s', { timeout: 300_000 }, async (fx) => {
    const img = copyImage(fx);
    const p = await plan(img);
    const topo = p.fixes.filter((f) => f.id.startsWith('topology:'));
    expect(topo.length, 'a topology fix is planned').toBeGreaterThan(0);
    for (const f of topo) {
      expect(f.lost, `${f.id} drops nothing`).toEqual([]);
      expect(f.evidence.length).toBeGreaterThan(0);
    }
    expect(p.unresolved.map((u) => `${u.finding.id}: ${u.reason}`), 'every finding has a fix').toEqual([]);
    if (fx === 'gap-dirents-l2-b7') {
      // the level-1 node's first child starts at the old boundary: its header's min_key is the damaged side, no other choice
      expect(topo[0]!.alternatives).toEqual([]);
      expect(topo[0]!.evidence.join('\n')).toMatch(/holds \d+ children covering 4106:3866970605718066527:0 \.\./);
    }
    const damaged = sha256File(img);
    const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
    expect(r.status, `repair -y:\n${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/the check after the repair finds nothing/);
    await expectRepaired(fx, img);
    expectFsckCleanThenUndo(img, damaged);
  });

  // the other boundary (the previous sibling's max_key moved instead) or the other side of a seq mismatch
  // (the pointer takes the node's seq) must be just as acceptable to bcachefs: each is offered to the technician
  const ONE_FIX = ['gap-extents-b2', 'gap-extents-b4', 'gap-inodes-b3', 'gap-alloc-b6', 'wrongseq-extents-b3'];
  it.skipIf(toolMissing).each(ONE_FIX)('%s: the alternative fix, applied instead, also gives fsck -n exit 0 and every key', { timeout: 300_000 }, async (fx) => {
    const img = copyImage(fx);
    const p = await plan(img);
    const topo = p.fixes.filter((f) => f.id.startsWith('topology:'));
    expect(topo).toHaveLength(1);
    expect(topo[0]!.alternatives).toHaveLength(1);
    const alt = topo[0]!.alternatives[0]!;
    expect(alt.resolves).toContain(topo[0]!.resolves[0]);
    // a wrong-node fix resolves the bucket findings that follow it too; they go away the same way
    apply(img, p.fixes.map((f) => (f === topo[0] ? alt : f)));
    await expectRepaired(fx, img);
    const r = realFsck(img);
    expect(r.exit, `real fsck -n after the alternative:\n${r.out}`).toBe(0);
  });
});

describe('empty interior node', () => {
  const FX = 'clean-32k-128m-dirents-depth3';

  // made from the depth-3 dirents image (the injector has no such kind): every bset of the second level-1
  // node emptied, checksums recomputed; its former children (level-0 leaves holding the dirents of about
  // 11000 files) stay on the device, reached by no node. With `zeroChildren` their first blocks are zeroed
  // too, so the node scan finds none of them as they were.
  function emptiedImage(zeroChildren = false): { img: string; sector: number; min: string; max: string } {
    const img = copyImage(FX);
    const dev = openDevice(img);
    const fs = new Filesystem(dev);
    const root = fs.readNodeAt(2, fs.roots[2]!.level, fs.roots[2]!.ptr);
    expect(root.level).toBe(2);
    const ptr = btreePtrFromKey(root.keys, root.live[1]!)!;
    const node = fs.readNodeAt(2, 1, ptr);
    const children = Array.from({ length: node.liveCount }, (_, k) => btreePtrFromKey(node.keys, node.live[k]!)!.ptrs[0]!.offset);
    const buf = Buffer.from(node.buf);
    for (const b of node.bsets) {
      const hdr = b.byteOffset === 0 ? 136 : b.byteOffset + 16;
      buf.writeUInt16LE(0, hdr + 22);
      buf.writeUInt32LE(bchChecksum32(b.csumType, buf, b.byteOffset === 0 ? 16 : b.byteOffset + 16, hdr + 24)!, b.byteOffset);
    }
    const blockBytes = fs.sb.blockSize * 512;
    dev.close();
    const fd = openSync(img, 'r+');
    writeSync(fd, buf, 0, buf.length, node.sector * 512);
    if (zeroChildren) for (const c of children) writeSync(fd, Buffer.alloc(blockBytes), 0, blockBytes, c * 512);
    closeSync(fd);
    return { img, sector: node.sector, min: bposToText(ptr.minKey!), max: bposToText(ptr.maxKey) };
  }

  const dirents = async (img: string): Promise<{ findings: string[]; dirents: string[] }> => {
    const r = await checkImage(img);
    return { findings: r.findings.map((f) => f.id), dirents: [...r.keys.get('dirents')!] };
  };

  it('is rebuilt over its former leaves found on the device: repair -y brings every dirent of the base image back, ' +
    'nothing goes to /lost+found, the real fsck -n exits 0, undo --all gives the damaged image back', { timeout: 600_000 }, async () => {
    const e = emptiedImage();
    const p = await plan(e.img);
    expect(p.before.some((f) => f.class === 'btree_node_empty')).toBe(true);
    const first = p.fixes[0]!;
    expect(first.id).toBe(`topology:btree_node_empty:dirents:1:${e.sector}`);
    expect(first.title).toMatch(new RegExp(`^Rebuild the empty dirents level 1 node at sector ${e.sector} over its \\d+ children found on the device$`));
    expect(first.lost).toEqual([]);
    expect(first.evidence[0]).toBe(`the dirents level 1 node at sector ${e.sector} (${e.min} .. ${e.max}) has no keys`);
    expect(first.evidence.filter((l) => /no live node points to it$/.test(l)).length).toBeGreaterThan(10);
    // the removal, offered instead, says what it loses
    expect(first.alternatives.map((a) => a.id)).toEqual([`${first.id}:remove`]);
    const removal = first.alternatives[0]!;
    expect(removal.summary).toContain(`covers ${e.min} .. ${e.max} too`);
    expect(removal.lost.join('\n')).toMatch(/every key of the \d+ dirents level 0 nodes found on the device/);
    // nothing is cut off, so nothing for the fs-level planners
    expect(p.fixes.filter((f) => f.id.startsWith('fs-')).map((f) => f.id)).toEqual([]);
    expect(p.unresolved).toEqual([]);

    const damaged = sha256File(e.img);
    const r = cli(e.img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
    expect(r.status, `repair -y:\n${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/the check after the repair finds nothing/);
    const after = await dirents(e.img);
    expect(after.findings, 'our check after the repair').toEqual([]);
    // exactly the base image's dirents: every one back, and none added (no file linked into /lost+found)
    const base = new Set(basePositions(FX, 'dirents'));
    const have = new Set(after.dirents);
    expect([...base].filter((k) => !have.has(k)), 'base dirents missing').toEqual([]);
    expect([...have].filter((k) => !base.has(k)), 'dirents added').toEqual([]);
    expectFsckCleanThenUndo(e.img, damaged);
  });

  it('the removal alternative, applied instead: the next sibling takes its range, the cut-off files go to /lost+found; ' +
    'the real fsck -n then exits 0', { timeout: 600_000 }, async () => {
    const e = emptiedImage();
    const p = await plan(e.img);
    const removal = p.fixes[0]!.alternatives[0]!;
    apply(e.img, [removal]);
    // planned again on the image with the node removed: the leaves are reached by nothing, their files by no dirent
    const p2 = await plan(e.img);
    expect(p2.before.some((f) => f.class === 'btree_node_empty')).toBe(false);
    const reattach = p2.fixes.filter((f) => f.id.startsWith('fs-reattach:'));
    expect(reattach).toHaveLength(1);
    expect(reattach[0]!.resolves.length).toBeGreaterThan(10_000);
    expect(reattach[0]!.summary).toMatch(/split into \d+ nodes at sectors/);
    expect(p2.unresolved).toEqual([]);
    apply(e.img, p2.fixes);
    const d2 = openDevice(e.img);
    try {
      const fs = new Filesystem(d2);
      const after = await checkFilesystem(fs, { devName: 'image.img' });
      expect(after.findings.map((f) => f.id)).toEqual([]);
      expect(fs.readNodeAt(2, 2, fs.roots[2]!.ptr).liveCount).toBe(3);
    } finally {
      d2.close();
    }
    if (toolMissing) return;
    const r = realFsck(e.img);
    expect(r.exit, r.out).toBe(0);
  });

  it('with its former leaves unreadable too, it is removed as before, saying why it was not rebuilt', { timeout: 300_000 }, async () => {
    const e = emptiedImage(true);
    const p = await plan(e.img);
    const first = p.fixes[0]!;
    expect(first.id).toBe(`topology:btree_node_empty:dirents:1:${e.sector}`);
    expect(first.title).toMatch(/^remove empty dirents level 1 node/);
    expect(first.alternatives).toEqual([]);
    expect(first.evidence.join('\n')).toMatch(/level 0 nodes (that no live node points to were found|found on the device in .* do not cover it)/);
  });
});
