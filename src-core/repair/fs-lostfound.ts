// Unreachable inodes (inode_unreachable): linked into /lost+found under their inode number, as bcachefs's
// reattach_inode does. The new dirent goes at its name's hash in lost+found (linear probing past taken
// slots, src-core/fsck/str-hash.ts); the inode's backpointer is set to it, and a directory adds a link to
// lost+found. All of a round's unreachable inodes are one fix; dirents that do not fit in lost+found's leaf
// split it (insert.ts). Without a /lost+found the same fix creates it, as fsck.c's lookup_lostfound does: a
// directory of mode 0700 in the root (a new inode number past every one in use, the root's hash type, the
// root's mtime for its times: the time of the repair would make a plan differ from run to run), and the root
// gains a link.
import { createHash } from 'node:crypto';
import { forEachKey, type Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { U32_MAX } from '../format/bpos.js';
import { encodeDirent, encodeInode, inodeHeader, withInodeFields } from '../format/encode-value.js';
import { BTREE_ID_dirents, BTREE_ID_extents, BTREE_ID_inodes, BTREE_ID_xattrs, KEY_TYPE_dirent, KEY_TYPE_inode } from '../format/names.js';
import { BCH_INODE_FIELDS, bytesToText, direntName, inodeUnpack } from '../format/values.js';
import { BCACHEFS_ROOT_INO } from '../fsck/context.js';
import { DT_DIR, modeToType } from '../fsck/inode-table.js';
import { inodeStrHashType, StrHash } from '../fsck/str-hash.js';
import { pathsOf } from '../fsck/paths.js';
import { EditsByNode } from './edit.js';
import { leafKeyAt, leafKeysAt, type LeafKey } from './fs-keys.js';
import { insertKeys, type Inserted, type NewKey } from './insert.js';
import type { PlanContext, RepairFix } from './types.js';

const field = (name: string): number => BCH_INODE_FIELDS.findIndex(([n]) => n === name);
const F_NLINK = field('bi_nlink');
const F_SIZE = field('bi_size');
const KIND: Record<number, string> = { 1: 'fifo', 2: 'char device', 4: 'directory', 6: 'block device', 8: 'file', 10: 'symlink', 12: 'socket' };
/** bi_flags' str_hash type (INODE_STR_HASH, bits 20..23): lost+found takes the root's */
const STR_HASH_BITS = 0xf << 20;
const LOST_FOUND = new TextEncoder().encode('lost+found');
const TWO32 = 4294967296n;
/** the title names this many inodes, then says how many more */
const WORDS_SHOWN = 20;

/** lost+found's inode number (a directory named so in the root), or undefined. */
function lostAndFound(fs: Filesystem): bigint | undefined {
  let found: bigint | undefined;
  forEachKey(fs, BTREE_ID_dirents, (t, row) => {
    if (found !== undefined || t.inodeHi[row] !== 0 || t.inodeLo[row] !== BCACHEFS_ROOT_INO || t.type[row] !== KEY_TYPE_dirent) return;
    const v = t.value(row);
    if (v[8] === DT_DIR && bytesToText(direntName(v)) === 'lost+found') found = new DataView(v.buffer, v.byteOffset).getBigUint64(0, true);
  });
  return found;
}

/** The offsets taken in directory `dir` (for probing), and its names. */
function dirSlots(fs: Filesystem, dir: bigint): { taken: Set<bigint>; names: Set<string> } {
  const hi = Number(dir >> 32n);
  const lo = Number(dir & 0xffff_ffffn);
  const taken = new Set<bigint>();
  const names = new Set<string>();
  forEachKey(fs, BTREE_ID_dirents, (t, row) => {
    if (t.inodeHi[row] !== hi || t.inodeLo[row] !== lo) return;
    taken.add(BigInt(t.offsetHi[row]!) * TWO32 + BigInt(t.offsetLo[row]!));
    names.add(bytesToText(direntName(t.value(row))));
  });
  return { taken, names };
}

/** A directory's name hash (bch2_hash_info_init) from its inode's hash seed and flags. */
function dirHash(seed: bigint, flags: number): StrHash {
  const hash = new StrHash();
  hash.setInfo(inodeStrHashType(flags), Number(seed >> 32n), Number(seed & 0xffff_ffffn));
  return hash;
}

/** Where `name` goes in a directory: its hash, then the first free offset after it. */
function slotFor(hash: StrHash, taken: Set<bigint>, name: Uint8Array): bigint {
  hash.dirent(name, 0, name.length);
  let offset = BigInt(hash.hi) * TWO32 + BigInt(hash.lo);
  while (taken.has(offset)) offset++;
  taken.add(offset);
  return offset;
}

/** One past the highest inode number any key uses (an inode, a dirent's target, an extent's or xattr's owner). */
function nextInodeNumber(fs: Filesystem): bigint {
  let max = BigInt(BCACHEFS_ROOT_INO);
  const seen = (v: bigint): void => {
    if (v > max) max = v;
  };
  forEachKey(fs, BTREE_ID_inodes, (t, row) => seen(BigInt(t.offsetHi[row]!) * TWO32 + BigInt(t.offsetLo[row]!)));
  for (const id of [BTREE_ID_extents, BTREE_ID_xattrs]) forEachKey(fs, id, (t, row) => seen(BigInt(t.inodeHi[row]!) * TWO32 + BigInt(t.inodeLo[row]!)));
  forEachKey(fs, BTREE_ID_dirents, (t, row) => {
    if (t.type[row] === KEY_TYPE_dirent) seen(new DataView(t.value(row).buffer, t.value(row).byteOffset).getBigUint64(0, true));
  });
  return max + 1n;
}

/** lost+found as the fix sees it: the directory there is, or the one it creates. */
interface LostFound {
  inum: bigint;
  hash: StrHash;
  nlink: bigint;
  /** its inode key; undefined when this fix creates it */
  key?: LeafKey;
  /** the fix creates it: its inode (bi_nlink still to add), its dirent in the root, the root's link count */
  create?: { seed: bigint; flags: number; fields: bigint[]; dirent: NewKey };
}

/** lost+found to be created in the root, or why it cannot be. */
function newLostFound(fs: Filesystem, edits: EditsByNode): LostFound | string {
  const root = leafKeyAt(fs, BTREE_ID_inodes, 0n, BigInt(BCACHEFS_ROOT_INO));
  const ru = root && inodeUnpack(root.value);
  if (!root || !ru) return 'there is no /lost+found, and the root directory it would be created in cannot be read';
  const { taken, names } = dirSlots(fs, BigInt(BCACHEFS_ROOT_INO));
  if (names.has('lost+found')) return 'the root has an entry named lost+found that is not a directory';
  const rh = inodeHeader(root.value);
  const inum = nextInodeNumber(fs);
  const offset = slotFor(dirHash(rh.hashSeed, rh.flags), taken, LOST_FOUND);
  const seed = createHash('sha256').update(`lost+found:${inum}:${rh.hashSeed}`).digest().readBigUInt64LE(0);
  const fields = BCH_INODE_FIELDS.map(() => 0n);
  for (const t of ['bi_atime', 'bi_ctime', 'bi_mtime', 'bi_otime']) fields[field(t)] = ru.fields[field('bi_mtime')]!;
  fields[field('bi_dir')] = BigInt(BCACHEFS_ROOT_INO);
  fields[field('bi_dir_offset')] = offset;
  const rootLinks = ru.fields[F_NLINK]!;
  edits.at(BTREE_ID_inodes, 0, root.sector).add(
    { kind: 'value', keyOffset: root.keyOffset, value: withInodeFields(root.value, { bi_nlink: rootLinks + 1n }) },
    { field: `inode ${BCACHEFS_ROOT_INO} (/): bi_nlink`, before: String(rootLinks), after: String(rootLinks + 1n) },
  );
  return {
    inum, hash: dirHash(seed, rh.flags & STR_HASH_BITS), nlink: 0n,
    create: {
      seed, flags: rh.flags & STR_HASH_BITS, fields,
      dirent: {
        fields: { type: KEY_TYPE_dirent, needsWhiteout: false, pos: { inode: BigInt(BCACHEFS_ROOT_INO), offset, snapshot: U32_MAX }, size: 0, versionHi: 0, versionLo: 0n },
        value: encodeDirent(inum, DT_DIR, LOST_FOUND),
        change: { field: `dirent ${BCACHEFS_ROOT_INO}:${offset}`, before: '(none)', after: `lost+found -> ${inum} type ${DT_DIR}` },
      },
    },
  };
}

export function planReattach(ctx: PlanContext, unreachable: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  const edits = new EditsByNode(fs);
  const found = lostAndFound(fs);
  let lfo: LostFound | string;
  if (found === undefined) lfo = newLostFound(fs, edits);
  else {
    const key = leafKeyAt(fs, BTREE_ID_inodes, 0n, found);
    const u = key && inodeUnpack(key.value);
    const h = key && inodeHeader(key.value);
    lfo = key && u && h ? { inum: found, hash: dirHash(h.hashSeed, h.flags), nlink: u.fields[F_NLINK]!, key } : `the lost+found inode ${found} cannot be read`;
  }
  if (typeof lfo === 'string') {
    for (const f of unreachable) ctx.noRepair(f.id, lfo);
    return [];
  }
  const lfd = lfo;
  const lf = lfd.inum;
  const inodes = leafKeysAt(fs, BTREE_ID_inodes, unreachable.map((f): [bigint, bigint] => [0n, BigInt(f.location.inode!)]));
  const { taken, names } = found === undefined ? { taken: new Set<bigint>(), names: new Set<string>() } : dirSlots(fs, lf);
  const dirents: NewKey[] = [];
  const done: Finding[] = [];
  const words: string[] = [];
  const evidence: string[] = [];
  let subdirs = 0n;
  for (const f of unreachable) {
    const inum = BigInt(f.location.inode!);
    const k = inodes.get(`0:${inum}`);
    const u = k && inodeUnpack(k.value);
    const name = String(inum);
    if (!k || !u) {
      ctx.noRepair(f.id, `inode ${inum} is not in a readable btree node`);
      continue;
    }
    if (names.has(name)) {
      ctx.noRepair(f.id, `/lost+found already has an entry named ${name}`);
      continue;
    }
    const bytes = new TextEncoder().encode(name);
    const offset = slotFor(lfd.hash, taken, bytes);
    names.add(name);
    const type = modeToType(u.mode);
    dirents.push({
      fields: { type: KEY_TYPE_dirent, needsWhiteout: false, pos: { inode: lf, offset, snapshot: U32_MAX }, size: 0, versionHi: 0, versionLo: 0n },
      value: encodeDirent(inum, type, bytes),
      change: { field: `dirent ${lf}:${offset}`, before: '(none)', after: `${name} -> ${inum} type ${type}` },
    });
    edits.at(BTREE_ID_inodes, 0, k.sector).add(
      { kind: 'value', keyOffset: k.keyOffset, value: withInodeFields(k.value, { bi_dir: lf, bi_dir_offset: offset }) },
      { field: `inode ${inum}: bi_dir:bi_dir_offset`, before: String(f.actual), after: `${lf}:${offset}` },
    );
    if (type === DT_DIR) subdirs++;
    done.push(f);
    words.push(`inode ${inum} (${KIND[type] ?? `type ${type}`}, ${u.fields[F_SIZE]} bytes) -> /lost+found/${name}`);
    evidence.push(`inode ${inum} (type ${type}): no dirent reaches it; its backpointer ${String(f.actual)} names no dirent pointing back`);
  }
  if (!done.length) return [];
  const c = lfd.create;
  const inserted: Inserted[] = [];
  if (c) {
    c.fields[F_NLINK] = subdirs;
    const value = encodeInode({ hashSeed: c.seed, flags: c.flags, mode: 0o40700, fields: c.fields });
    const lfIns = insertKeys(ctx, edits, BTREE_ID_inodes, [{
      fields: { type: KEY_TYPE_inode, needsWhiteout: false, pos: { inode: 0n, offset: lf, snapshot: U32_MAX }, size: 0, versionHi: 0, versionLo: 0n }, value,
      change: { field: `inode 0:${lf}`, before: '(none)', after: `lost+found: mode 40700, nlink ${subdirs}, backpointer ${BCACHEFS_ROOT_INO}:${c.dirent.fields.pos.offset}` },
    }], `lost+found:${lf}`);
    if (typeof lfIns === 'string') {
      for (const f of done) ctx.noRepair(f.id, `/lost+found cannot be created: ${lfIns}`);
      return [];
    }
    inserted.push(lfIns);
    dirents.push(c.dirent);
  } else if (subdirs) {
    const key = lfd.key!;
    edits.at(BTREE_ID_inodes, 0, key.sector).add(
      { kind: 'value', keyOffset: key.keyOffset, value: withInodeFields(key.value, { bi_nlink: lfd.nlink + subdirs }) },
      { field: `inode ${lf} (lost+found): bi_nlink`, before: String(lfd.nlink), after: String(lfd.nlink + subdirs) },
    );
  }
  const ins = insertKeys(ctx, edits, BTREE_ID_dirents, dirents, `lost+found:${lf}`);
  if (typeof ins === 'string') {
    for (const f of done) ctx.noRepair(f.id, `its dirent cannot be added to /lost+found: ${ins}`);
    return [];
  }
  inserted.push(ins);
  const splits = inserted.flatMap((i) => i.words);
  const shown = words.length > WORDS_SHOWN ? [...words.slice(0, WORDS_SHOWN), `and ${words.length - WORDS_SHOWN} more`] : words;
  const title = `${c ? `Create /lost+found (inode ${lf}) and reattach` : 'Reattach'} ${done.length} unreachable inode${done.length === 1 ? '' : 's'} under /lost+found: ${shown.join(', ')}`;
  const writes = [...inserted.flatMap((i) => i.writes), ...edits.all.map((e) => e.write(fs, title))];
  const lfPath = c ? '/lost+found' : pathsOf(fs, lf)[0]?.path ?? '/lost+found';
  return [{
    id: `fs-reattach:${done[0]!.location.inode}${done.length > 1 ? `+${done.length - 1}` : ''}`, title,
    summary: (c ? `insert inodes key 0:${lf} (lost+found, mode 40700) and its dirent ${BCACHEFS_ROOT_INO}:${c.dirent.fields.pos.offset} in /; / bi_nlink +1; ` : '')
      + `insert ${done.length} dirent${done.length === 1 ? '' : 's'} in ${lfPath} (inode ${lf}); set each inode's bi_dir:bi_dir_offset to its new dirent${subdirs ? `; lost+found bi_nlink +${subdirs}` : ''}`
      + (splits.length ? `; ${splits.join('; ')} (new nodes in buckets ${inserted.flatMap((i) => i.buckets).join(', ')}: their alloc keys and the usage are set by the fixes after this one)` : ''),
    resolves: done.map((f) => f.id), writes,
    evidence: c ? [`the root has no directory named lost+found: it is created as fsck.c's lookup_lostfound creates it (mode 0700)`, ...evidence] : evidence, lost: [], kept: done.map((f) => `inode ${f.location.inode} and its data, under a new name (its old name is not kept by any key)`),
    alternatives: [], dependsOn: [],
  }];
}
