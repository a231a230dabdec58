// Field repairs of the fsck passes, each set from what the btrees say (as fsck.c sets them):
//   - dirent_wrong_d_type: the dirent's d_type from its inode's mode;
//   - inode_i_nlink_wrong / dir_i_nlink_wrong: bi_nlink from the dirents counted (files) or the subdirectories;
//   - inode_i_sectors_wrong: bi_sectors from the sum of the inode's extents;
//   - extent_past_end_of_inode: bi_size raised to the end of the last extent. bcachefs 2021 deletes the extents
//     past i_size instead (and its fsck -y stops there with -EINTR); raising i_size keeps the data, and a
//     file shorter than its extents is the damage the fixtures show (the extents' sectors are still counted
//     in i_sectors and in the buckets).
import { forEachKey, type Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { withInodeFields } from '../format/encode-value.js';
import { BTREE_ID_dirents, BTREE_ID_extents, BTREE_ID_inodes } from '../format/names.js';
import { BCH_INODE_FIELDS, inodeUnpack } from '../format/values.js';
import { pathsOf } from '../fsck/paths.js';
import { EditsByNode } from './edit.js';
import { leafKeysAt, leafKeysOf } from './fs-keys.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

const CLASSES = ['dirent_wrong_d_type', 'inode_i_nlink_wrong', 'dir_i_nlink_wrong', 'inode_i_sectors_wrong', 'extent_past_end_of_inode'] as const;

const pathOf = (fs: Filesystem, inum: bigint): string => pathsOf(fs, inum)[0]?.path ?? `<inode ${inum}>`;

/** The end (in bytes) of the inode's last extent: an extent's position is its end sector. */
function extentsEnd(fs: Filesystem, inum: bigint): bigint {
  const hi = Number(inum >> 32n);
  const lo = Number(inum & 0xffff_ffffn);
  let end = 0n;
  forEachKey(fs, BTREE_ID_extents, (t, row) => {
    if (t.inodeHi[row] !== hi || t.inodeLo[row] !== lo) return;
    const e = BigInt(t.offsetHi[row]!) * 4294967296n + BigInt(t.offsetLo[row]!);
    if (e > end) end = e;
  });
  return end * 512n;
}

const fieldIndex = (name: string): number => BCH_INODE_FIELDS.findIndex(([n]) => n === name);

interface InodeChange {
  findings: Finding[];
  set: Record<string, bigint>;
  words: string[];
  kept: string[];
}

function planFields(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  const out: RepairFix[] = [];
  // d_type: one fix per dirent
  const dtype = findings.filter((f) => f.class === 'dirent_wrong_d_type');
  for (const [f, k] of leafKeysOf(ctx, BTREE_ID_dirents, dtype, 'dirent')) {
    const p = f.location.key!.pos;
    const want = Number(f.expected);
    const value = Uint8Array.from(k.value);
    const before = value[8]!;
    value[8] = want;
    const edits = new EditsByNode(fs);
    edits.at(BTREE_ID_dirents, 0, k.sector).add({ kind: 'value', keyOffset: k.keyOffset, value },
      { field: `dirent ${p.text}: d_type`, before: String(before), after: String(want) });
    const target = BigInt(f.location.inode!);
    const title = `Set the type of ${pathOf(fs, target)} in its directory entry: d_type ${before} -> ${want} (from inode ${target}'s mode)`;
    out.push({
      id: `fs-dtype:${p.text}`, title, summary: `dirents key ${p.text}: bch_dirent.d_type ${before} -> ${want}`, resolves: [f.id],
      writes: edits.all.map((e) => e.write(fs, title)),
      evidence: [`the dirent ${k.text}`, `inode ${target}'s mode says type ${want}`], lost: [], kept: [], alternatives: [], dependsOn: [],
    });
  }
  // inode fields: one fix per inode, all its fields at once
  const byInode = new Map<string, InodeChange>();
  for (const f of findings) {
    if (f.class === 'dirent_wrong_d_type') continue;
    const inum = f.location.inode;
    if (inum === undefined) {
      ctx.noRepair(f.id, 'the finding names no inode');
      continue;
    }
    const c = byInode.get(inum) ?? { findings: [], set: {}, words: [], kept: [] };
    byInode.set(inum, c);
    c.findings.push(f);
  }
  const ikeys = leafKeysAt(fs, BTREE_ID_inodes, [...byInode.keys()].map((i) => [0n, BigInt(i)]));
  for (const [inum, c] of byInode) {
    const k = ikeys.get(`0:${inum}`);
    const u = k && inodeUnpack(k.value);
    if (!k || !u) {
      for (const f of c.findings) ctx.noRepair(f.id, `inode ${inum} is not in a readable btree node`);
      continue;
    }
    const path = pathOf(fs, BigInt(inum));
    const field = (name: string): bigint => u.fields[fieldIndex(name)]!;
    const evidence: string[] = [];
    for (const f of c.findings) {
      if (f.class === 'extent_past_end_of_inode') {
        if (c.set.bi_size !== undefined) continue;
        const end = extentsEnd(fs, BigInt(inum));
        const had = field('bi_size');
        c.set.bi_size = end;
        c.words.push(`size ${had} -> ${end} bytes`);
        c.kept.push(`${path}'s data from byte ${had} to ${end} (2021 fsck -y deletes the extents past i_size)`);
        evidence.push(`the extents of inode ${inum} end at byte ${end}; its i_size is ${had}`);
      } else {
        const name = f.class === 'inode_i_sectors_wrong' ? 'bi_sectors' : 'bi_nlink';
        const had = field(name);
        // inode_i_nlink_wrong counts links (the stored bi_nlink is that minus one); dir_i_nlink_wrong is stored
        const want = f.class === 'inode_i_nlink_wrong' ? BigInt(Number(f.expected)) - 1n : BigInt(Number(f.expected));
        c.set[name] = want;
        c.words.push(name === 'bi_sectors' ? `${had} -> ${want} sectors allocated` : `link count ${f.actual} -> ${f.expected}`);
        evidence.push(f.class === 'inode_i_sectors_wrong' ? `the extents of inode ${inum} add up to ${want} sectors`
          : f.class === 'dir_i_nlink_wrong' ? `directory ${inum} has ${want} subdirectories` : `${f.expected} dirents point to inode ${inum}`);
      }
    }
    const value = withInodeFields(k.value, c.set);
    const edits = new EditsByNode(fs);
    edits.at(BTREE_ID_inodes, 0, k.sector).add({ kind: 'value', keyOffset: k.keyOffset, value },
      { field: `inode ${inum}: ${Object.keys(c.set).join(', ')}`, before: Object.keys(c.set).map((n) => String(field(n))).join(', '), after: Object.values(c.set).map(String).join(', ') });
    const title = `${path} (inode ${inum}): ${c.words.join('; ')}`;
    out.push({
      id: `fs-inode:${inum}`, title, summary: `inodes key 0:${inum}: ${Object.entries(c.set).map(([n, v]) => `${n} ${field(n)} -> ${v}`).join(', ')}`,
      resolves: c.findings.map((f) => f.id), writes: edits.all.map((e) => e.write(fs, title)),
      evidence, lost: [], kept: c.kept, alternatives: [], dependsOn: [],
    });
  }
  return out;
}

export const fsFieldsPlanner: Planner = { name: 'inode and dirent fields', classes: CLASSES, order: 60, plan: planFields };
