// A directory gone while its entries are still there: for the root (inode 4096) root_dir_missing (with the
// root_not_dir bcachefs reports with it under -n), and for each entry of any such directory
// dirent_in_missing_dir and dirent_in_non_dir. fsck.c's check_dirents deletes every entry and check_root
// creates an empty root, so every file below ends in lost+found under its number. Here the directory comes
// back with its entries (a directory other than the root with the dirent naming it as its backpointer, or,
// named by none, for lost+found to take in the next round):
//   - as it was, from the newest older copy of an inodes leaf that holds it (older-copies.ts: nodes are copy
//     on write, the bucket of an old copy is not reused at once), when its hash seed puts every entry where
//     it is; only its link count is set to its subdirectories;
//   - else as a new directory (mode 0755, the filesystem's type of hash, the newest mtime of its entries' inodes),
//     with a new hash seed, and every entry moved to its name's slot under that seed, each entry's inode's
//     backpointer following it.
import { createHash } from 'node:crypto';
import { forEachKey, type Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { U32_MAX } from '../format/bpos.js';
import { encodeInode, inodeHeader, withInodeFields } from '../format/encode-value.js';
import { BTREE_ID_dirents, BTREE_ID_inodes, KEY_TYPE_dirent, KEY_TYPE_inode } from '../format/names.js';
import { BCH_INODE_FIELDS, bytesToText, direntName, inodeUnpack } from '../format/values.js';
import { BCACHEFS_ROOT_INO } from '../fsck/context.js';
import { DT_DIR, isDir } from '../fsck/inode-table.js';
import { pathsOf } from '../fsck/paths.js';
import { inodeStrHashType, StrHash } from '../fsck/str-hash.js';
import { EditsByNode } from './edit.js';
import { disjointFixes, leafKeysAt, type LeafKey } from './fs-keys.js';
import { insertKeys, type GoneKey, type NewKey } from './insert.js';
import { InodeCopies } from './fs-copies.js';
import { ScanCancelled } from './older-copies.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

const CLASSES = ['root_dir_missing', 'root_not_dir', 'dirent_in_missing_dir', 'dirent_in_non_dir'] as const;
const ROOT = BigInt(BCACHEFS_ROOT_INO);
const TWO32 = 4294967296n;
const field = (name: string): number => BCH_INODE_FIELDS.findIndex(([n]) => n === name);
const STR_HASH_BITS = 0xf << 20;

/** An entry of the root: its key and name. */
interface Entry {
  key: LeafKey;
  offset: bigint;
  name: Uint8Array;
  inum: bigint;
  type: number;
}

/** The entries of directory `dir`, and the dirent (directory, offset) that names `dir` as a directory, if one does. */
function entriesOf(fs: Filesystem, dir: bigint): { entries: Entry[]; namedAt?: [bigint, bigint] } {
  const at: [bigint, bigint][] = [];
  const hi = Number(dir >> 32n);
  const lo = Number(dir & 0xffff_ffffn);
  let namedAt: [bigint, bigint] | undefined;
  forEachKey(fs, BTREE_ID_dirents, (t, row) => {
    if (t.type[row] !== KEY_TYPE_dirent) return;
    const offset = BigInt(t.offsetHi[row]!) * TWO32 + BigInt(t.offsetLo[row]!);
    if (t.inodeHi[row] === hi && t.inodeLo[row] === lo) at.push([dir, offset]);
    const v = t.value(row);
    if (!namedAt && v[8] === DT_DIR && new DataView(v.buffer, v.byteOffset).getBigUint64(0, true) === dir) {
      namedAt = [BigInt(t.inodeHi[row]!) * TWO32 + BigInt(t.inodeLo[row]!), offset];
    }
  });
  const keys = leafKeysAt(fs, BTREE_ID_dirents, at);
  const entries = at.flatMap(([, offset]) => {
    const key = keys.get(`${dir}:${offset}`);
    if (!key) return [];
    const dv = new DataView(key.value.buffer, key.value.byteOffset);
    return [{ key, offset, name: direntName(key.value), inum: dv.getBigUint64(0, true), type: key.value[8]! }];
  });
  return namedAt ? { entries, namedAt } : { entries };
}

function hashOf(seed: bigint, flags: number): StrHash {
  const h = new StrHash();
  h.setInfo(inodeStrHashType(flags), Number(seed >> 32n), Number(seed & 0xffff_ffffn));
  return h;
}

/** Whether a hash seed puts every entry where it is: at its name's hash, or past it over taken slots only. */
function seedFits(seed: bigint, flags: number, entries: readonly Entry[]): boolean {
  const h = hashOf(seed, flags);
  const taken = new Set(entries.map((e) => e.offset));
  return entries.every((e) => {
    h.dirent(e.name, 0, e.name.length);
    let o = BigInt(h.hi) * TWO32 + BigInt(h.lo);
    if (o > e.offset || e.offset - o > 64n) return false;
    for (; o < e.offset; o++) if (!taken.has(o)) return false;
    return true;
  });
}

function planDirs(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  const byDir = new Map<bigint, Finding[]>();
  for (const f of findings) {
    const d = f.class.startsWith('root_') ? ROOT : f.location.key ? BigInt(f.location.key.pos.inode) : undefined;
    if (d === undefined) {
      ctx.noRepair(f.id, 'the finding names no directory');
      continue;
    }
    byDir.set(d, [...(byDir.get(d) ?? []), f]);
  }
  const copies = new InodeCopies(ctx);
  const have = leafKeysAt(fs, BTREE_ID_inodes, [...byDir.keys()].map((d): [bigint, bigint] => [0n, d]));
  const out: RepairFix[] = [];
  for (const [dir, mine] of byDir) {
    if (have.has(`0:${dir}`) || (dir === ROOT && !mine.some((f) => f.class === 'root_dir_missing'))) {
      for (const f of mine) ctx.noRepair(f.id, `inode ${dir} is there but is not a directory: replacing it is not implemented`);
      continue;
    }
    let fix;
    try {
      fix = rebuildDir(ctx, dir, mine, copies);
    } catch (e) {
      if (e instanceof ScanCancelled) return []; // the pipeline sees the token and reports the plan as cancelled
      throw e;
    }
    if (typeof fix === 'string') for (const f of mine) ctx.noRepair(f.id, fix);
    else out.push(fix);
  }
  return disjointFixes(out);
}

/** The fix that brings directory `dir` back with its entries, or why it cannot. */
function rebuildDir(ctx: PlanContext, dir: bigint, mine: Finding[], copies: InodeCopies): RepairFix | string {
  const fs = ctx.fs;
  const { entries, namedAt } = entriesOf(fs, dir);
  const subdirs = BigInt(entries.filter((e) => e.type === DT_DIR).length);
  const isRoot = dir === ROOT;
  const label = isRoot ? 'the root directory /' : `directory inode ${dir}${namedAt ? ` (an entry of ${pathsOf(fs, namedAt[0])[0]?.path ?? `inode ${namedAt[0]}`})` : ''}`;
  // the backpointer: the dirent that names it (none for the root; none found: lost+found takes it next)
  const back: Record<string, bigint> = isRoot ? {} : { bi_dir: namedAt?.[0] ?? 0n, bi_dir_offset: namedAt?.[1] ?? 0n };
  // a directory whose hash seed puts every entry where it is
  const copy = copies.find(dir, (v) => isDir(inodeUnpack(v)?.mode ?? 0) && seedFits(inodeHeader(v).hashSeed, inodeHeader(v).flags, entries));
  const edits = new EditsByNode(fs);
  const pos = { inode: 0n, offset: dir, snapshot: U32_MAX };
  const inodeKey = (value: Uint8Array, after: string): NewKey => ({
    fields: { type: KEY_TYPE_inode, needsWhiteout: false, pos, size: 0, versionHi: 0, versionLo: 0n }, value, change: { field: `inode 0:${dir}`, before: '(none)', after },
  });
  const names = entries.map((e) => bytesToText(e.name));
  const listed = `${names.slice(0, 10).join(', ')}${names.length > 10 ? ` and ${names.length - 10} more` : ''}`;
  const evidence = [`there is no inode ${dir}${isRoot ? ' (the root directory)' : ''}; ${entries.length} dirents lie in it: ${listed}`];
  if (namedAt) evidence.push(`the dirent ${namedAt[0]}:${namedAt[1]} names inode ${dir} as a directory: its backpointer`);
  let title: string;
  let summary: string;
  let ins;
  if (copy) {
    const value = withInodeFields(copy.value, { bi_nlink: subdirs, ...back });
    ins = insertKeys(ctx, edits, BTREE_ID_inodes, [inodeKey(value, `as in the older copy at sector ${copy.sector}, bi_nlink ${subdirs}`)], `dir:${dir}`);
    title = `Restore ${label} from an older copy of its inodes node (sector ${copy.sector}), with its ${entries.length} entries`;
    summary = `insert inodes key 0:${dir} as the older node copy at sector ${copy.sector} holds it, bi_nlink set to its ${subdirs} subdirectories`;
    evidence.push(`the older copy of the inodes leaf at sector ${copy.sector} holds inode ${dir}, a directory whose hash seed puts every one of these dirents where it is`);
  } else {
    // bch2_inode_init: the filesystem's str_hash option is the new inode's type of hash
    const flags = (fs.sb.strHashType << 20) & STR_HASH_BITS;
    let mtime = 0n;
    const targets = leafKeysAt(fs, BTREE_ID_inodes, entries.map((e): [bigint, bigint] => [0n, e.inum]));
    for (const t of targets.values()) {
      const m = inodeUnpack(t.value)?.fields[field('bi_mtime')] ?? 0n;
      if (m > mtime) mtime = m;
    }
    const seed = createHash('sha256').update(`dir:${dir}:${fs.sb.uuid}:${entries.length}`).digest().readBigUInt64LE(0);
    const fieldsV = BCH_INODE_FIELDS.map(() => 0n);
    for (const t of ['bi_atime', 'bi_ctime', 'bi_mtime', 'bi_otime']) fieldsV[field(t)] = mtime;
    fieldsV[field('bi_nlink')] = subdirs;
    for (const [n, v] of Object.entries(back)) fieldsV[field(n)] = v;
    const hash = hashOf(seed, flags);
    const taken = new Set<bigint>();
    const moved: NewKey[] = [];
    const gone: GoneKey[] = [];
    for (const e of entries) {
      hash.dirent(e.name, 0, e.name.length);
      let o = BigInt(hash.hi) * TWO32 + BigInt(hash.lo);
      while (taken.has(o)) o++;
      taken.add(o);
      const name = bytesToText(e.name);
      gone.push({ sector: e.key.sector, keyOffset: e.key.keyOffset, change: { field: `dirent ${dir}:${e.offset}`, before: `${name} -> ${e.inum}`, after: `(moved to ${dir}:${o})` } });
      moved.push({
        fields: { type: KEY_TYPE_dirent, needsWhiteout: false, pos: { inode: dir, offset: o, snapshot: U32_MAX }, size: 0, versionHi: 0, versionLo: 0n },
        value: Uint8Array.from(e.key.value), change: { field: `dirent ${dir}:${o}`, before: '(none)', after: `${name} -> ${e.inum}` },
      });
      const t = targets.get(`0:${e.inum}`);
      const u = t && inodeUnpack(t.value);
      if (t && u && u.fields[field('bi_dir')] === dir && u.fields[field('bi_dir_offset')] === e.offset) {
        edits.at(BTREE_ID_inodes, 0, t.sector).add(
          { kind: 'value', keyOffset: t.keyOffset, value: withInodeFields(t.value, { bi_dir_offset: o }) },
          { field: `inode ${e.inum}: bi_dir_offset`, before: String(e.offset), after: String(o) },
        );
      }
    }
    const moves = insertKeys(ctx, edits, BTREE_ID_dirents, moved, `rehash:${dir}`, gone);
    if (typeof moves === 'string') return `the entries of inode ${dir} cannot be moved to a new hash seed: ${moves}`;
    ins = insertKeys(ctx, edits, BTREE_ID_inodes, [inodeKey(encodeInode({ hashSeed: seed, flags, mode: 0o40755, fields: fieldsV }), `a new directory: mode 40755, nlink ${subdirs}`)], `dir:${dir}`);
    if (typeof ins !== 'string') ins = { writes: [...moves.writes, ...ins.writes], words: [...moves.words, ...ins.words], buckets: [...moves.buckets, ...ins.buckets] };
    title = `Recreate ${label} with its ${entries.length} entries (no older copy of it was found): ${listed}`;
    summary = `insert inodes key 0:${dir} (mode 40755, a new hash seed, bi_nlink ${subdirs}); move each of its dirents to its name's slot under that seed and set its inode's bi_dir_offset`;
    evidence.push(`no older copy of an inodes node holds inode ${dir} as a directory whose hash seed places these dirents: the hash seed is new`);
  }
  if (typeof ins === 'string') return `inode ${dir} cannot be inserted: ${ins}`;
  const writes = [...ins.writes, ...edits.all.map((e) => e.write(fs, title))];
  return {
    id: isRoot ? 'fs-root' : `fs-dir:${dir}`, title, summary: ins.words.length ? `${summary}; ${ins.words.join('; ')}` : summary,
    resolves: mine.map((f) => f.id), writes, evidence, lost: [],
    kept: [`every entry (${entries.length}) and what they hold (2021 fsck -y deletes them${isRoot ? ' and creates an empty root' : ''}: every file goes to lost+found under its number)`],
    alternatives: [], dependsOn: [],
  };
}

export const fsRootPlanner: Planner = { name: 'lost directories', classes: CLASSES, order: 58, plan: planDirs };
