// The node planner end to end on copies of the fixtures: plan (which scans the device for older node
// copies), the plan's writes applied in order, then our check and the real bcachefs 2021 fsck -n, and the
// keys listed against the clean base image named in each fixture's CASE.md.
import { afterAll, describe, expect, it } from 'vitest';
import { openFilesystem } from '../../src-core/open.js';
import { BTREE_ID_alloc, BTREE_ID_dirents, BTREE_ID_extents, BTREE_ID_inodes } from '../../src-core/format/names.js';
import { bposCmp, type Bpos } from '../../src-core/format/bpos.js';
import { copyImage, realFsck, removeImages, toolMissing, walkNodes, writeAt } from '../format/encode-helpers.js';
import { applyPlan, baseKeys, checkImage, keysNow, planOn } from './nodes-helpers.js';

afterAll(removeImages);

function parseBpos(p: string): Bpos {
  if (p === 'POS_MAX') return { inode: 0xffff_ffff_ffff_ffffn, offset: 0xffff_ffff_ffff_ffffn, snapshot: 0xffffffff };
  const [i, o, s] = p.split(':');
  return { inode: BigInt(i!), offset: BigInt(o!), snapshot: s === 'U32_MAX' ? 0xffffffff : Number(s) };
}

describe.skipIf(toolMissing)('unreadable leaves restored from older copies', () => {
  it('zeronode-extents-b2: the newest older copy (sector 30400, the node the lost one was split from) gives back every extent of the base image; our check finds nothing, the real fsck -n exits 0', { timeout: 120_000 }, async () => {
    const img = copyImage('zeronode-extents-b2');
    expect(realFsck(img).exit).toBe(8);
    const plan = await planOn(img);
    const fix = plan.fixes.find((f) => f.id === 'restore-node:extents:40832')!;
    expect(fix, 'a restore fix for the lost leaf').toBeDefined();
    expect(fix.resolves).toContain('btree_node_unreadable:extents:0:40832');
    expect(fix.evidence.join('\n')).toMatch(/older copy at sector 30400 \(node seq 11/);
    expect(fix.alternatives.map((a) => a.id)).toEqual(['drop-node:extents:40832']);
    expect(fix.alternatives[0]!.lost.length).toBeGreaterThan(300); // dropping loses what the copy holds
    expect(plan.unresolved).toEqual([]);
    applyPlan(img, plan);
    expect((await checkImage(img)).findings).toEqual([]);
    expect(keysNow(img, BTREE_ID_extents)).toEqual(baseKeys('zeronode-extents-b2', 'extents'));
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
  });

  it('zeronode-inodes-b5: the older copy (sector 60416) and the lost node\'s own three later bsets (their key format found again) give back every inode of the base image; our check finds nothing, the real fsck -n exits 0', { timeout: 120_000 }, async () => {
    const img = copyImage('zeronode-inodes-b5');
    const plan = await planOn(img);
    const fix = plan.fixes.find((f) => f.id === 'restore-node:inodes:64896')!;
    expect(fix).toBeDefined();
    expect(fix.evidence.join('\n')).toMatch(/older copy at sector 60416/);
    expect(fix.evidence.join('\n')).toMatch(/3 later bsets of the lost node itself survive .* 4 keys from them override/);
    applyPlan(img, plan);
    expect((await checkImage(img)).findings).toEqual([]);
    expect(keysNow(img, BTREE_ID_inodes)).toEqual(baseKeys('zeronode-inodes-b5', 'inodes'));
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
  });

  it('zeronode-alloc-b6: the alloc leaf rebuilt from mark and sweep (gens also from its older copy): our check finds nothing, the real fsck -n exits 0 (recovery stopped before)', { timeout: 120_000 }, async () => {
    const img = copyImage('zeronode-alloc-b6');
    expect(realFsck(img).exit).toBe(8);
    const plan = await planOn(img);
    expect(plan.fixes.map((f) => f.id)).toEqual(['rebuild-alloc:30400']);
    expect(plan.fixes[0]!.lost).toEqual([]);
    applyPlan(img, plan);
    expect((await checkImage(img)).findings).toEqual([]);
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
    expect(keysNow(img, BTREE_ID_alloc).length).toBeGreaterThan(0);
  });

  it('the fallback alternative: the previous sibling takes the lost range; the tree is whole again (only alloc, usage and the i_sectors of the files that lost extents remain)', { timeout: 120_000 }, async () => {
    const img = copyImage('zeronode-extents-b2');
    const plan = await planOn(img);
    const drop = plan.fixes.find((f) => f.id === 'restore-node:extents:40832')!.alternatives[0]!;
    applyPlan(img, { ...plan, fixes: [drop] });
    const left = (await checkImage(img)).findings;
    // the fsck passes see what the dropped extents leave: the inode that held them counts their sectors
    expect(left.filter((f) => !/^(bucket_|dev_usage|fs_usage|fs_replicas_usage)/.test(f.class)).map((f) => f.id)).toEqual(['inode_i_sectors_wrong:inode:5118']);
    const base = baseKeys('zeronode-extents-b2', 'extents');
    const lostMin = parseBpos('5118:8121:0');
    const lostMax = parseBpos('5119:5400:U32_MAX');
    const inLost = (p: string): boolean => bposCmp(parseBpos(p), lostMin) >= 0 && bposCmp(parseBpos(p), lostMax) <= 0;
    expect(keysNow(img, BTREE_ID_extents)).toEqual(base.filter((p) => !inLost(p)));
  });
});

describe.skipIf(toolMissing)('an unreadable interior node rebuilt over its children', () => {
  it('clean-32k-128m-dirents-depth3 with a dirents level 1 node zeroed: its children are found on the device and it is rebuilt over them; every dirent is back, the real fsck -n exits 0', { timeout: 300_000 }, async () => {
    const img = copyImage('clean-32k-128m-dirents-depth3');
    const before = keysNow(img, BTREE_ID_dirents);
    const o = openFilesystem(img);
    let sector = 0;
    try {
      walkNodes(o.fs, BTREE_ID_dirents, (n) => {
        if (n.level === 1 && !sector) sector = n.sector;
      });
    } finally {
      o.close();
    }
    writeAt(img, sector * 512, new Uint8Array(4096));
    expect((await checkImage(img)).findings.map((f) => f.id)).toContain(`btree_node_unreadable:dirents:1:${sector}`);
    const plan = await planOn(img);
    expect(plan.fixes.map((f) => f.id)).toEqual([`rebuild-interior:dirents:${sector}`]);
    applyPlan(img, plan);
    expect((await checkImage(img)).findings).toEqual([]);
    expect(keysNow(img, BTREE_ID_dirents)).toEqual(before);
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
  });
});

describe.skipIf(toolMissing)('a bad node checksum', () => {
  it('badcsum-extents-b5: stored and computed checksums differ in one byte only, so the checksum is rewritten and nothing else changes; the real fsck -n exits 0 and no longer logs it', { timeout: 120_000 }, async () => {
    const img = copyImage('badcsum-extents-b5');
    expect(realFsck(img).out).toMatch(/invalid checksum/);
    const plan = await planOn(img);
    expect(plan.fixes.map((f) => f.id)).toEqual(['csum:extents:127616']);
    const w = plan.fixes[0]!.writes;
    expect(w.length).toBe(1);
    const changed = [...w[0]!.new].flatMap((b, i) => (b !== w[0]!.old[i] ? [i] : []));
    expect(changed).toEqual([0]); // the low byte of btree_node.csum, where 0xff was flipped
    applyPlan(img, plan);
    expect((await checkImage(img)).findings).toEqual([]);
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
    expect(r.out).not.toMatch(/invalid checksum/);
  });

  it('wrongseq-extents-b3 (an intact node read through a pointer with the wrong seq) is not restored from a copy: the node planner leaves it to the topology planner', { timeout: 120_000 }, async () => {
    const img = copyImage('wrongseq-extents-b3');
    const plan = await planOn(img);
    expect(plan.fixes.filter((f) => /^(restore-node|drop-node|rebuild)/.test(f.id))).toEqual([]);
  });
});

describe.skipIf(toolMissing)('a damaged primary superblock with a good backup', () => {
  it('clean-default-64m with its primary zeroed: a warning of its own, fixed by writing the backup\'s copy for sector 8; afterwards the primary is read and the real fsck -n no longer falls back', { timeout: 120_000 }, async () => {
    const img = copyImage('clean-default-64m');
    writeAt(img, 8 * 512, new Uint8Array(4096));
    const c = await checkImage(img);
    expect(c.findings.map((f) => [f.id, f.severity])).toEqual([['superblock_primary_damaged:sb:0', 'warning']]);
    expect(realFsck(img).out).toMatch(/error reading default superblock/);
    const plan = await planOn(img);
    expect(plan.fixes.map((f) => f.id)).toEqual(['superblock:8']);
    applyPlan(img, plan);
    expect((await checkImage(img)).findings).toEqual([]);
    const o = openFilesystem(img);
    try {
      expect(o.fs.sbRead.usedBackup).toBe(false);
    } finally {
      o.close();
    }
    const r = realFsck(img);
    expect(r.exit, r.out).toBe(0);
    expect(r.out).not.toMatch(/error reading default superblock/);
  });
});

describe('an unclean filesystem', () => {
  it('unclean-b2 with a damaged primary superblock: no fix is planned, and every finding says why (a journal replay would overwrite it) and what to do', async () => {
    const { resolve } = await import('node:path');
    const { PROJECT_ROOT } = await import('../helpers/fixtures.js');
    const img = copyImage('unclean-b2', resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-unclean', 'unclean-b2', 'image.img.gz'));
    writeAt(img, 8 * 512, new Uint8Array(4096));
    const plan = await planOn(img);
    expect(plan.before.map((f) => f.id)).toEqual(['superblock_primary_damaged:sb:0']);
    expect(plan.fixes).toEqual([]);
    expect(plan.unresolved.map((u) => u.reason)).toEqual([expect.stringMatching(/not cleanly unmounted: its journal holds \d+ keys .* replay the journal/)]);
  });
});
