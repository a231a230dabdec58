// A dirent pointing at an inode that does not exist (dirent_missing_target). With metadata version 13 every
// inode names its dirent (bi_dir:bi_dir_offset): an inode whose backpointer is exactly this dirent, and which
// no dirent reaches (inode_unreachable), is what the dirent pointed at before its d_inum was damaged, so the
// dirent is pointed back at it (and its d_type set from that inode's mode). Without such an inode the dirent
// names an inode that is gone: it is restored from the newest older copy of its inodes node that holds it
// (fs-copies.ts), else rebuilt from the dirent and its extents (fs-recreate.ts); removing the dirent, as
// fsck.c does, is the alternative. bcachefs 2021 always removes it (and leaves a damaged dirent's inode for
// lost+found).
import { forEachKey, type Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { BTREE_ID_dirents, BTREE_ID_inodes } from '../format/names.js';
import { BCH_INODE_FIELDS, bytesToText, direntName, inodeUnpack } from '../format/values.js';
import { modeToType } from '../fsck/inode-table.js';
import { pathsOf } from '../fsck/paths.js';
import { EditsByNode } from './edit.js';
import { InodeCopies, restoreInode, type CopiedInode } from './fs-copies.js';
import { disjointFixes, leafKeysOf, type LeafKey } from './fs-keys.js';
import { planReattach } from './fs-lostfound.js';
import { recreateInode } from './fs-recreate.js';
import { ScanCancelled } from './older-copies.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

const F_DIR = BCH_INODE_FIELDS.findIndex(([n]) => n === 'bi_dir');
const F_DIR_OFFSET = BCH_INODE_FIELDS.findIndex(([n]) => n === 'bi_dir_offset');

/** Inodes by their backpointer ("dir:offset"), with their mode. */
function inodesByBackpointer(fs: Filesystem): Map<string, { inum: bigint; mode: number }[]> {
  const out = new Map<string, { inum: bigint; mode: number }[]>();
  forEachKey(fs, BTREE_ID_inodes, (t, row) => {
    const u = inodeUnpack(t.value(row));
    if (!u || (u.fields[F_DIR] === 0n && u.fields[F_DIR_OFFSET] === 0n)) return;
    const k = `${u.fields[F_DIR]}:${u.fields[F_DIR_OFFSET]}`;
    const inum = BigInt(t.offsetHi[row]!) * 4294967296n + BigInt(t.offsetLo[row]!);
    out.set(k, [...(out.get(k) ?? []), { inum, mode: u.mode }]);
  });
  return out;
}

function pointBack(fs: Filesystem, f: Finding, k: LeafKey, to: { inum: bigint; mode: number }, also: Finding[]): RepairFix {
  const p = f.location.key!.pos;
  const value = Uint8Array.from(k.value);
  const dv = new DataView(value.buffer);
  const was = dv.getBigUint64(0, true);
  const type = modeToType(to.mode);
  dv.setBigUint64(0, to.inum, true);
  value[8] = type;
  const edits = new EditsByNode(fs);
  edits.at(BTREE_ID_dirents, 0, k.sector).add({ kind: 'value', keyOffset: k.keyOffset, value },
    { field: `dirent ${p.text}: d_inum, d_type`, before: `${was}, ${k.value[8]}`, after: `${to.inum}, ${type}` });
  const dir = pathsOf(fs, BigInt(p.inode))[0]?.path ?? `<inode ${p.inode}>`;
  const name = bytesToText(direntName(k.value));
  const title = `Point ${dir === '/' ? '' : dir}/${name} back at inode ${to.inum} (it pointed at the missing inode ${was})`;
  return {
    id: `fs-dirent:${p.text}`, title, summary: `dirents key ${p.text}: bch_dirent.d_inum ${was} -> ${to.inum}, d_type ${k.value[8]} -> ${type}`,
    resolves: [f.id, ...also.map((a) => a.id)], writes: edits.all.map((e) => e.write(fs, title)),
    evidence: [`the dirent ${k.text}`, `there is no inode ${was}`, `inode ${to.inum}'s backpointer (bi_dir:bi_dir_offset) is ${p.inode}:${p.offset}, this dirent, and no dirent reaches it`],
    lost: [], kept: [`${dir === '/' ? '' : dir}/${name} with inode ${to.inum}'s data (2021 fsck -y removes the dirent and moves the inode to lost+found)`],
    alternatives: [removeDirent(fs, f, k, `${f.id}:remove`)], dependsOn: [],
  };
}

function removeDirent(fs: Filesystem, f: Finding, k: LeafKey, id = `fs-dirent:${f.location.key!.pos.text}`): RepairFix {
  const p = f.location.key!.pos;
  const edits = new EditsByNode(fs);
  edits.at(BTREE_ID_dirents, 0, k.sector).add({ kind: 'delete', keyOffset: k.keyOffset }, { field: `dirent ${p.text}`, before: k.text, after: '(deleted)' });
  const dir = pathsOf(fs, BigInt(p.inode))[0]?.path ?? `<inode ${p.inode}>`;
  const title = `Remove ${dir === '/' ? '' : dir}/${bytesToText(direntName(k.value))}: it names the missing inode ${f.location.inode} (fsck.c's repair)`;
  return {
    id, title, summary: `delete dirents key ${p.text}`, resolves: [f.id], writes: edits.all.map((e) => e.write(fs, title)),
    evidence: [`the dirent ${k.text}`, `there is no inode ${f.location.inode}`], lost: [k.text], kept: [], alternatives: [], dependsOn: [],
  };
}

function planDirents(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  const missing = findings.filter((f) => f.class === 'dirent_missing_target');
  // unreachable inodes go to lost+found once no damaged dirent may be theirs
  if (!missing.length) return planReattach(ctx, findings.filter((f) => f.class === 'inode_unreachable'));
  const unreachable = new Map(findings.filter((f) => f.class === 'inode_unreachable').map((f) => [f.location.inode!, f]));
  const byBp = inodesByBackpointer(fs);
  const out: RepairFix[] = [];
  const copies = new InodeCopies(ctx);
  // one fix per node per round: a second fix in the same node is planned on the next round's bytes
  const nodes = new Set<number>();
  for (const [f, k] of leafKeysOf(ctx, BTREE_ID_dirents, missing, 'dirent')) {
    const p = f.location.key!.pos;
    if (nodes.has(k.sector)) continue;
    nodes.add(k.sector);
    const owners = (byBp.get(`${p.inode}:${p.offset}`) ?? []).filter((o) => unreachable.has(String(o.inum)));
    if (owners.length === 1) {
      out.push(pointBack(fs, f, k, owners[0]!, [unreachable.get(String(owners[0]!.inum))!]));
      continue;
    }
    const dir = pathsOf(fs, BigInt(p.inode))[0]?.path ?? `<inode ${p.inode}>`;
    const path = `${dir === '/' ? '' : dir}/${bytesToText(direntName(k.value))}`;
    const rebuilt = recreateInode(ctx, f, { key: k, path }, []);
    const remove = removeDirent(fs, f, k);
    let copy: CopiedInode | undefined;
    try {
      copy = copies.find(BigInt(f.location.inode!));
    } catch (e) {
      if (e instanceof ScanCancelled) return []; // the pipeline sees the token and reports the plan as cancelled
      throw e;
    }
    const restored = copy && restoreInode(ctx, f, copy, { key: k, path });
    if (restored && typeof restored !== 'string') {
      const others = typeof rebuilt === 'string' ? [] : [{ ...rebuilt, id: `${restored.id}:recreate` }];
      out.push({ ...restored, alternatives: [...others, { ...remove, id: `${restored.id}:remove` }] });
      continue;
    }
    if (typeof rebuilt === 'string') {
      out.push({ ...remove, evidence: [...remove.evidence, `not rebuilt: ${rebuilt}`, ...(typeof restored === 'string' ? [`not restored: ${restored}`] : [])] });
      continue;
    }
    out.push({ ...rebuilt, alternatives: [{ ...remove, id: `${rebuilt.id}:remove` }] });
  }
  return disjointFixes(out);
}

export const fsDirentsPlanner: Planner = { name: 'dirent targets', classes: ['dirent_missing_target', 'inode_unreachable'], order: 61, plan: planDirents };
