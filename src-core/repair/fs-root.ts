// The root directory (inode 4096) gone while its entries are still there: root_dir_missing (with the
// root_not_dir bcachefs reports with it under -n) and, for each entry, dirent_in_missing_dir and
// dirent_in_non_dir. fsck.c's check_dirents deletes every entry of the root and check_root then creates an
// empty one, so every file ends in lost+found under its number. Here the root comes back with its entries:
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
import { inodeStrHashType, StrHash } from '../fsck/str-hash.js';
import { EditsByNode } from './edit.js';
import { leafKeysAt, type LeafKey } from './fs-keys.js';
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

function rootEntries(fs: Filesystem): Entry[] {
  const at: [bigint, bigint][] = [];
  forEachKey(fs, BTREE_ID_dirents, (t, row) => {
    if (t.inodeHi[row] === 0 && t.inodeLo[row] === BCACHEFS_ROOT_INO && t.type[row] === KEY_TYPE_dirent) {
      at.push([ROOT, BigInt(t.offsetHi[row]!) * TWO32 + BigInt(t.offsetLo[row]!)]);
    }
  });
  const keys = leafKeysAt(fs, BTREE_ID_dirents, at);
  return at.flatMap(([, offset]) => {
    const key = keys.get(`${ROOT}:${offset}`);
    if (!key) return [];
    const dv = new DataView(key.value.buffer, key.value.byteOffset);
    return [{ key, offset, name: direntName(key.value), inum: dv.getBigUint64(0, true), type: key.value[8]! }];
  });
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

function planRoot(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  const mine = findings.filter((f) => f.class.startsWith('root_') || BigInt(f.location.key?.pos.inode ?? -1) === ROOT);
  for (const f of findings) if (!mine.includes(f)) ctx.noRepair(f.id, `directory ${f.location.key?.pos.inode} is gone; only a lost root directory is rebuilt`);
  if (!findings.some((f) => f.class === 'root_dir_missing')) {
    for (const f of mine) ctx.noRepair(f.id, 'the root inode is there but is not a directory: replacing it is not implemented');
    return [];
  }
  const entries = rootEntries(fs);
  const subdirs = BigInt(entries.filter((e) => e.type === DT_DIR).length);
  let copy;
  try {
    // a directory whose hash seed puts every entry where it is
    copy = new InodeCopies(ctx).find(ROOT, (v) => isDir(inodeUnpack(v)?.mode ?? 0) && seedFits(inodeHeader(v).hashSeed, inodeHeader(v).flags, entries));
  } catch (e) {
    if (e instanceof ScanCancelled) return [];
    throw e;
  }
  const edits = new EditsByNode(fs);
  const pos = { inode: 0n, offset: ROOT, snapshot: U32_MAX };
  const inodeKey = (value: Uint8Array, after: string): NewKey => ({
    fields: { type: KEY_TYPE_inode, needsWhiteout: false, pos, size: 0, versionHi: 0, versionLo: 0n }, value, change: { field: `inode 0:${ROOT}`, before: '(none)', after },
  });
  const names = entries.map((e) => bytesToText(e.name));
  const listed = `${names.slice(0, 10).join(', ')}${names.length > 10 ? ` and ${names.length - 10} more` : ''}`;
  const evidence = [`there is no inode ${ROOT} (the root directory); ${entries.length} dirents lie in it: ${listed}`];
  let title: string;
  let summary: string;
  let ins;
  if (copy) {
    const value = withInodeFields(copy.value, { bi_nlink: subdirs });
    ins = insertKeys(ctx, edits, BTREE_ID_inodes, [inodeKey(value, `the root from the older copy at sector ${copy.sector}, bi_nlink ${subdirs}`)], 'root');
    title = `Restore the root directory / from an older copy of its inodes node (sector ${copy.sector}), with its ${entries.length} entries`;
    summary = `insert inodes key 0:${ROOT} as the older node copy at sector ${copy.sector} holds it, bi_nlink set to its ${subdirs} subdirectories`;
    evidence.push(`the older copy of the inodes leaf at sector ${copy.sector} holds inode ${ROOT}, a directory whose hash seed puts every one of these dirents where it is`);
  } else {
    // bch2_inode_init: the filesystem's str_hash option is the new inode's type of hash
    const flags = (fs.sb.strHashType << 20) & STR_HASH_BITS;
    let mtime = 0n;
    const targets = leafKeysAt(fs, BTREE_ID_inodes, entries.map((e): [bigint, bigint] => [0n, e.inum]));
    for (const t of targets.values()) {
      const m = inodeUnpack(t.value)?.fields[field('bi_mtime')] ?? 0n;
      if (m > mtime) mtime = m;
    }
    const seed = createHash('sha256').update(`root:${fs.sb.uuid}:${entries.length}`).digest().readBigUInt64LE(0);
    const fieldsV = BCH_INODE_FIELDS.map(() => 0n);
    for (const t of ['bi_atime', 'bi_ctime', 'bi_mtime', 'bi_otime']) fieldsV[field(t)] = mtime;
    fieldsV[field('bi_nlink')] = subdirs;
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
      gone.push({ sector: e.key.sector, keyOffset: e.key.keyOffset, change: { field: `dirent ${ROOT}:${e.offset}`, before: `${name} -> ${e.inum}`, after: `(moved to ${ROOT}:${o})` } });
      moved.push({
        fields: { type: KEY_TYPE_dirent, needsWhiteout: false, pos: { inode: ROOT, offset: o, snapshot: U32_MAX }, size: 0, versionHi: 0, versionLo: 0n },
        value: Uint8Array.from(e.key.value), change: { field: `dirent ${ROOT}:${o}`, before: '(none)', after: `${name} -> ${e.inum}` },
      });
      const t = targets.get(`0:${e.inum}`);
      const u = t && inodeUnpack(t.value);
      if (t && u && u.fields[field('bi_dir')] === ROOT && u.fields[field('bi_dir_offset')] === e.offset) {
        edits.at(BTREE_ID_inodes, 0, t.sector).add(
          { kind: 'value', keyOffset: t.keyOffset, value: withInodeFields(t.value, { bi_dir_offset: o }) },
          { field: `inode ${e.inum}: bi_dir_offset`, before: String(e.offset), after: String(o) },
        );
      }
    }
    const moves = insertKeys(ctx, edits, BTREE_ID_dirents, moved, 'root-rehash', gone);
    if (typeof moves === 'string') {
      for (const f of mine) ctx.noRepair(f.id, `the root's entries cannot be moved to a new hash seed: ${moves}`);
      return [];
    }
    ins = insertKeys(ctx, edits, BTREE_ID_inodes, [inodeKey(encodeInode({ hashSeed: seed, flags, mode: 0o40755, fields: fieldsV }), `a new root: mode 40755, nlink ${subdirs}`)], 'root');
    if (typeof ins !== 'string') ins = { writes: [...moves.writes, ...ins.writes], words: [...moves.words, ...ins.words], buckets: [...moves.buckets, ...ins.buckets] };
    title = `Recreate the root directory / with its ${entries.length} entries (no older copy of it was found): ${listed}`;
    summary = `insert inodes key 0:${ROOT} (mode 40755, a new hash seed, bi_nlink ${subdirs}); move each dirent of / to its name's slot under that seed and set its inode's bi_dir_offset`;
    evidence.push('no older copy of an inodes node holds a root directory whose hash seed places these dirents: the hash seed is new');
  }
  if (typeof ins === 'string') {
    for (const f of mine) ctx.noRepair(f.id, `the root inode cannot be inserted: ${ins}`);
    return [];
  }
  const writes = [...ins.writes, ...edits.all.map((e) => e.write(fs, title))];
  return [{
    id: 'fs-root', title, summary: ins.words.length ? `${summary}; ${ins.words.join('; ')}` : summary,
    resolves: mine.map((f) => f.id), writes, evidence, lost: [],
    kept: [`every entry of / (${entries.length}) and what they hold (2021 fsck -y deletes them and creates an empty root: every file goes to lost+found under its number)`],
    alternatives: [], dependsOn: [],
  }];
}

export const fsRootPlanner: Planner = { name: 'root directory', classes: CLASSES, order: 58, plan: planRoot };
