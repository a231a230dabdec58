// Keys of an inode that is gone, named by no dirent (extent_missing_inode, xattr_missing_inode once the
// dirent repairs have run: a dirent naming the inode is theirs). The inode comes back from the newest older
// copy of its inodes node that holds it; else a file is rebuilt from its extents (fs-recreate.ts; xattrs
// are hashed with the lost inode's seed, so an inode with xattrs is not rebuilt). Either way no dirent
// reaches it, so the next round links it into lost+found. fsck.c deletes the keys instead (and 2021 stops
// with -EINTR after deleting extents).
import { forEachKey, type Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { BTREE_ID_dirents, KEY_TYPE_dirent } from '../format/names.js';
import { InodeCopies, restoreInode } from './fs-copies.js';
import { disjointFixes, findingInode } from './fs-keys.js';
import { recreateInode } from './fs-recreate.js';
import { ScanCancelled } from './older-copies.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

/** The inode numbers some dirent names. */
function named(fs: Filesystem): Set<bigint> {
  const out = new Set<bigint>();
  forEachKey(fs, BTREE_ID_dirents, (t, row) => {
    if (t.type[row] !== KEY_TYPE_dirent) return;
    const v = t.value(row);
    out.add(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true));
  });
  return out;
}

function planOrphans(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const byInode = new Map<string, Finding[]>();
  for (const f of findings) {
    const inum = findingInode(f);
    if (inum === undefined) {
      ctx.noRepair(f.id, 'the finding names no inode');
      continue;
    }
    byInode.set(String(inum), [...(byInode.get(String(inum)) ?? []), f]);
  }
  const names = named(ctx.fs);
  const copies = new InodeCopies(ctx);
  const out: RepairFix[] = [];
  for (const [inum, fs] of byInode) {
    const first = fs.find((f) => f.class === 'extent_missing_inode') ?? fs[0]!;
    const also = fs.filter((f) => f !== first);
    if (names.has(BigInt(inum))) {
      for (const f of fs) ctx.noRepair(f.id, `a dirent names inode ${inum}: that dirent's repair decides`);
      continue;
    }
    let copy;
    try {
      copy = copies.find(BigInt(inum));
    } catch (e) {
      if (e instanceof ScanCancelled) return []; // the pipeline sees the token and reports the plan as cancelled
      throw e;
    }
    const restored = copy ? restoreInode(ctx, first, copy) : 'no older copy of an inodes node holds it';
    if (typeof restored !== 'string') {
      out.push({ ...restored, resolves: [...restored.resolves, ...also.map((f) => f.id)] });
      continue;
    }
    const rebuilt = recreateInode(ctx, first, undefined, also);
    if (typeof rebuilt !== 'string') {
      out.push({ ...rebuilt, evidence: [...rebuilt.evidence, `not restored: ${restored}`] });
      continue;
    }
    for (const f of fs) ctx.noRepair(f.id, `inode ${inum} is gone: not restored (${restored}), not rebuilt (${rebuilt})`);
  }
  return disjointFixes(out);
}

export const fsOrphansPlanner: Planner = { name: 'keys of a lost inode', classes: ['extent_missing_inode', 'xattr_missing_inode'], order: 62, plan: planOrphans };
