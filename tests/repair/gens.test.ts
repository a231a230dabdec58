// The pointer/gen, alloc key and usage repairs, end to end through the built CLI: repair -y on a copy, then
// our check finds nothing, the real bcachefs 2021 fsck -n exits 0, every data key of the base image is still
// there, and undo --all gives back the damaged image byte for byte.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, openSync, writeSync } from 'node:fs';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem } from '../../src-core/btree/fs.js';
import { encodeJsetEntry, encodeUsageEntry } from '../../src-core/format/encode-jset.js';
import { encodeCleanField, encodeSuperblock, sbFieldsOf, superblockCopy } from '../../src-core/format/encode-sb.js';
import { decodeUsageEntry } from '../../src-core/format/journal.js';
import { BCH_SB_FIELD_clean } from '../../src-core/format/superblock.js';
import { planRepair } from '../../src-core/repair/pipeline.js';
import { checkImage, cli, copyImage, expectBaseKeys, expectFsckCleanThenUndo, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

async function planOf(img: string) {
  const dev = openDevice(img);
  try {
    return await planRepair(dev, { devName: 'image.img' });
  } finally {
    dev.close();
  }
}

/** repair -y, then the four judges of a repair. */
async function repairAndJudge(fx: string, img: string): Promise<void> {
  const damaged = sha256File(img);
  const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
  expect(r.status, `repair -y:\n${r.stdout}\n${r.stderr}`).toBe(1);
  expect(r.stdout).toMatch(/the check after the repair finds nothing/);
  const after = await checkImage(img);
  expect(after.findings.map((f) => f.id), 'our check after the repair').toEqual([]);
  expectBaseKeys(fx, after.keys);
  expectFsckCleanThenUndo(img, damaged);
}

// fixture -> what the one fix must be (the gens planner's choice from the evidence, or the alloc rewrite)
const CASES: [string, RegExp, number][] = [
  ['gen-future-b2', /^Set the gen of 1 pointer into bucket 0:115 to the bucket's gen 1/, 7],
  ['gen-future-b3', /^Set the gen of 1 pointer into bucket 0:108 to the bucket's gen 1/, 7],
  ['gen-wrap-b2', /^Set the gen of 1 pointer into bucket 0:165 to the bucket's gen 1/, 7],
  ['btree-gen-future-extents-b3', /^Set the gen of 1 pointer into bucket 0:369 to the bucket's gen 1/, 7],
  ['stale-b2', /^Restore the gen of bucket 0:115 to 1 in its alloc key/, 29],
  ['stale-b6', /^Restore the gen of bucket 0:655 to 1 in its alloc key/, 11],
  ['alloc-datatype-b2', /^Rewrite the alloc key of bucket 0:81 /, 1],
  ['alloc-oldest-gen-b3', /^Rewrite the alloc key of bucket 0:129 /, 1],
  ['alloc-sectors-b2', /^Rewrite the alloc key of bucket 0:81 /, 1],
  ['alloc-sectors-b6', /^Rewrite the alloc key of bucket 0:578 /, 1],
];

describe('pointer/gen and alloc repairs: one fix resolving every finding, nothing lost', () => {
  it.each(CASES)('%s', { timeout: 300_000 }, async (fx, title, findings) => {
    const img = copyImage(fx);
    const p = await planOf(img);
    expect(p.before).toHaveLength(findings);
    expect(p.fixes.map((f) => f.title)).toEqual([expect.stringMatching(title)]);
    const fix = p.fixes[0]!;
    expect(fix.resolves.sort(), 'the fix names every finding').toEqual(p.before.map((f) => f.id).sort());
    expect(fix.lost).toEqual([]);
    expect(fix.evidence.length).toBeGreaterThan(0);
    expect(p.unresolved).toEqual([]);
    await repairAndJudge(fx, img);
  });

  it('stale-b2: the 2021 repair (dropping the 11 stale pointers) is offered as the alternative, naming every extent it loses', async () => {
    const img = copyImage('stale-b2');
    const p = await planOf(img);
    const alt = p.fixes[0]!.alternatives;
    expect(alt).toHaveLength(1);
    expect(alt[0]!.lost).toHaveLength(11);
    expect(alt[0]!.lost[0]).toMatch(/^u64s 7 type extent 5052:8:U32_MAX /);
  });

  it('multi-gap-stale-sectors-b5: topology, then gens, then the alloc key, in three rounds', { timeout: 300_000 }, async () => {
    const img = copyImage('multi-gap-stale-sectors-b5');
    const p = await planOf(img);
    expect(p.fixes.map((f) => f.id.split(':')[0])).toEqual(['topology', 'gens', 'alloc']);
    expect(p.unresolved).toEqual([]);
    await repairAndJudge('multi-gap-stale-sectors-b5', img);
  });
});

/** Adds `sectors` to dev 0's user sectors and 1 to nr_inodes in the clean section, in every superblock copy. */
function damageUsage(img: string, sectors: bigint): void {
  const dev = openDevice(img);
  const fs = new Filesystem(dev);
  const c = fs.sb.cleanSection!;
  const entries = c.entries.map((e) => {
    const u = decodeUsageEntry(e);
    if (!u) return encodeJsetEntry(e.type, e.btreeId, e.level, e.buf.subarray(e.start, e.end));
    if (u.kind === 'dev_usage') u.d[4]!.sectors += sectors;
    if (u.kind === 'usage' && u.usageType === 1) u.v += 1n;
    return encodeUsageEntry(u);
  });
  const fields = sbFieldsOf(fs.sb);
  fields[fields.findIndex((f) => f.type === BCH_SB_FIELD_clean)] = { type: BCH_SB_FIELD_clean, payload: encodeCleanField(c.flags, c.journalSeq, entries) };
  const bytes = encodeSuperblock(fs.sb.bytes, fields);
  const offsets = fs.sb.layout.sbOffsets;
  dev.close();
  const fd = openSync(img, 'r+');
  try {
    for (const s of offsets) {
      const b = superblockCopy(bytes, s);
      writeSync(fd, b, 0, b.length, s * 512);
    }
  } finally {
    closeSync(fd);
  }
}

describe('usage repair: the clean section rewritten from the recomputed state', () => {
  it('a clean image with wrong dev_usage and nr_inodes in every superblock copy', { timeout: 300_000 }, async () => {
    const img = copyImage('clean-default-64m');
    damageUsage(img, 64n);
    if (!toolMissing) expect(realFsck(img).exit, 'the real fsck sees the damage').not.toBe(0);
    const p = await planOf(img);
    expect(p.before.map((f) => f.class).sort()).toEqual(['dev_usage', 'fs_usage']);
    expect(p.fixes.map((f) => f.id)).toEqual(['usage:superblock']);
    const fix = p.fixes[0]!;
    expect(fix.writes.map((w) => w.target.kind)).toEqual(fix.writes.map(() => 'superblock'));
    expect(fix.writes.length).toBeGreaterThan(1);
    expect(fix.writes[0]!.changes!.map((c) => `${c.field}: ${c.before} -> ${c.after}`)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^clean section usage nr_inodes: (\d+) -> \d+$/), expect.stringMatching(/^dev 0 user sectors: \d+ -> \d+$/)]),
    );
    const damaged = sha256File(img);
    const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect((await checkImage(img)).findings).toEqual([]);
    if (!toolMissing) expect(realFsck(img).exit, 'real fsck -n after the usage repair').toBe(0);
    expect(cli(img, ['undo', '--journal', 'j.db', '--all']).status).toBe(0);
    expect(sha256File(img)).toBe(damaged);
  });
});
