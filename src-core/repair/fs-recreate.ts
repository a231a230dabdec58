// An inode that is gone while its dirent or its extents are still there: the file is rebuilt from what the
// btrees keep of it. The dirent says its type and where it lives (the backpointer), the extents its data:
// i_size covers the last extent, i_sectors is their sum, one link. What no key keeps is said in the plan:
// the owner (root), the permissions (0644 / 0777 for a symlink), the times (the directory's mtime). A file
// no dirent names gets no backpointer: the next round links it into lost+found. bcachefs 2021 removes the
// dirent and then stops on the orphaned extents ("error in fsck (-4)").
import { forEachKey, type Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { U32_MAX, type Bpos } from '../format/bpos.js';
import { encodeInode, inodeHeader } from '../format/encode-value.js';
import {
  BTREE_ID_extents, BTREE_ID_inodes, BTREE_ID_xattrs, KEY_TYPE_extent, KEY_TYPE_indirect_inline_data, KEY_TYPE_inline_data, KEY_TYPE_inode,
  KEY_TYPE_reflink_p, KEY_TYPE_reflink_v, KEY_TYPE_reservation,
} from '../format/names.js';
import { BCH_INODE_FIELDS, inodeUnpack } from '../format/values.js';
import { BCACHEFS_ROOT_INO } from '../fsck/context.js';
import { EditsByNode } from './edit.js';
import { findingInode, leafKeyAt, type LeafKey } from './fs-keys.js';
import { insertKeys } from './insert.js';
import type { PlanContext, RepairFix } from './types.js';

const ALLOCATION_TYPES = (1 << KEY_TYPE_extent) | (1 << KEY_TYPE_reservation) | (1 << KEY_TYPE_reflink_p) | (1 << KEY_TYPE_reflink_v)
  | (1 << KEY_TYPE_inline_data) | (1 << KEY_TYPE_indirect_inline_data);
const DT_REG = 8;
const ROOT = BigInt(BCACHEFS_ROOT_INO);
const DT_LNK = 10;
const MODE_OF: Record<number, number> = { [DT_REG]: 0o100644, [DT_LNK]: 0o120777 };
/** bi_flags' str_hash type (INODE_STR_HASH, bits 20..23): a new inode takes its directory's */
const STR_HASH_BITS = 0xf << 20;
const field = (name: string): number => BCH_INODE_FIELDS.findIndex(([n]) => n === name);

/** The inode number's extents: their end (sectors) and allocated sectors. */
function extentsOf(fs: Filesystem, inum: bigint): { end: bigint; sectors: bigint; count: number } {
  const hi = Number(inum >> 32n);
  const lo = Number(inum & 0xffff_ffffn);
  let end = 0n;
  let sectors = 0n;
  let count = 0;
  forEachKey(fs, BTREE_ID_extents, (t, row) => {
    if (t.inodeHi[row] !== hi || t.inodeLo[row] !== lo) return;
    count++;
    const e = BigInt(t.offsetHi[row]!) * 4294967296n + BigInt(t.offsetLo[row]!);
    if (e > end) end = e;
    if ((ALLOCATION_TYPES >> t.type[row]!) & 1) sectors += BigInt(t.size[row]!);
  });
  return { end, sectors, count };
}

function hasXattrs(fs: Filesystem, inum: bigint): boolean {
  let found = false;
  const hi = Number(inum >> 32n);
  const lo = Number(inum & 0xffff_ffffn);
  forEachKey(fs, BTREE_ID_xattrs, (t, row) => {
    if (t.inodeHi[row] === hi && t.inodeLo[row] === lo) found = true;
  });
  return found;
}

/** The dirent that names the lost inode, and its path. */
export interface NamedBy {
  key: LeafKey;
  path: string;
}

/**
 * The fix that recreates inode `f.location.inode` from its extents: named by the dirent `by` (its type and
 * backpointer from it), or, named by no dirent, as a regular file without a backpointer (the next round
 * links it into lost+found); or a string saying why it cannot be rebuilt from what is left.
 */
export function recreateInode(ctx: PlanContext, f: Finding, by: NamedBy | undefined, also: Finding[]): RepairFix | string {
  const fs = ctx.fs;
  const inum = findingInode(f)!;
  const p = by ? f.location.key!.pos : undefined;
  const dtype = by ? by.key.value[8]! : DT_REG;
  const mode = MODE_OF[dtype];
  if (mode === undefined) return `the dirent's type is ${dtype}: only a regular file or a symlink can be rebuilt from its dirent and extents`;
  if (hasXattrs(fs, inum)) return `inode ${inum} had xattrs, which are hashed with the lost inode's hash seed`;
  // the directory (or, for an inode no dirent names, the root) gives the times and the type of hash
  const dirInum = p ? BigInt(p.inode) : ROOT;
  const dirKey = leafKeyAt(fs, BTREE_ID_inodes, 0n, dirInum);
  const dir = dirKey && inodeUnpack(dirKey.value);
  if (!dirKey || !dir) return `the directory inode ${dirInum} cannot be read`;
  const pos: Bpos = { inode: 0n, offset: inum, snapshot: U32_MAX };
  const ext = extentsOf(fs, inum);
  if (!by && !ext.count) return `inode ${inum} has no extents to rebuild it from`;
  const fields = BCH_INODE_FIELDS.map(() => 0n);
  const mtime = dir.fields[field('bi_mtime')]!;
  for (const t of ['bi_atime', 'bi_ctime', 'bi_mtime', 'bi_otime']) fields[field(t)] = mtime;
  fields[field('bi_size')] = ext.end * 512n;
  fields[field('bi_sectors')] = ext.sectors;
  fields[field('bi_dir')] = p ? BigInt(p.inode) : 0n;
  fields[field('bi_dir_offset')] = p ? BigInt(p.offset) : 0n;
  const h = inodeHeader(dirKey.value);
  // the new inode's hash seed only hashes its own xattrs, and it has none
  const value = encodeInode({ hashSeed: h.hashSeed ^ inum, flags: h.flags & STR_HASH_BITS, mode, fields });
  const backpointer = p ? `${p.inode}:${p.offset}` : 'none (no dirent names it)';
  const edits = new EditsByNode(fs);
  const ins = insertKeys(ctx, edits, BTREE_ID_inodes, [{
    fields: { type: KEY_TYPE_inode, needsWhiteout: false, pos, size: 0, versionHi: 0, versionLo: 0n }, value,
    change: { field: `inode 0:${inum}`, before: '(none)', after: `mode ${mode.toString(8)}, size ${ext.end * 512n}, sectors ${ext.sectors}, nlink 1, backpointer ${backpointer}` },
  }], `recreate:${inum}`);
  if (typeof ins === 'string') return ins;
  const extents = `${ext.count} extent${ext.count === 1 ? '' : 's'}`;
  const title = by ? `Recreate ${by.path} (inode ${inum}) from its dirent and its ${extents}: ${ext.end * 512n} bytes`
    : `Recreate inode ${inum} from its ${extents}: a ${ext.end * 512n}-byte file no dirent names (linked into /lost+found next)`;
  return {
    id: `fs-recreate:${inum}`, title,
    summary: `insert inodes key 0:${inum}: mode ${mode.toString(8)}, bi_size ${ext.end * 512n}, bi_sectors ${ext.sectors}, bi_nlink 0 (one link), `
      + (p ? `bi_dir ${p.inode}, bi_dir_offset ${p.offset}` : 'no backpointer')
      + (ins.words.length ? `; ${ins.words.join('; ')} (new nodes in buckets ${ins.buckets.join(', ')})` : ''),
    resolves: [f.id, ...also.map((a) => a.id)], writes: [...ins.writes, ...edits.all.map((e) => e.write(fs, title))],
    evidence: [
      by ? `the dirent ${by.key.text} names inode ${inum}, which is not in the inodes btree` : `extents of inode ${inum} are there, the inode is not, and no dirent names it`,
      `${extents} of inode ${inum} end at sector ${ext.end} and allocate ${ext.sectors} sectors`,
      `not kept by any key, so set by this repair: owner root:root, permissions ${(mode & 0o7777).toString(8)}, times = the ${by ? 'directory' : 'root'}'s mtime; the size is rounded up to the last extent's end`,
    ],
    lost: [], kept: [`${by ? by.path : `inode ${inum}`} and its ${ext.sectors} sectors of data (2021 fsck -y ${by ? 'removes the dirent and then ' : ''}deletes the extents)`],
    alternatives: [], dependsOn: [],
  };
}
