// Unreachable inodes (inode_unreachable): linked into /lost+found under their inode number, as bcachefs's
// reattach_inode does. The new dirent goes at its name's hash in lost+found (linear probing past taken
// slots, src-core/fsck/str-hash.ts); the inode's backpointer is set to it, and a directory adds a link to
// lost+found. All of a round's unreachable inodes are one fix; dirents that do not fit in lost+found's leaf
// split it (insert.ts). Creating a missing lost+found is not done here (the plan says so).
import { forEachKey, type Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { U32_MAX } from '../format/bpos.js';
import { encodeDirent, inodeHeader, withInodeFields } from '../format/encode-value.js';
import { BTREE_ID_dirents, BTREE_ID_inodes, KEY_TYPE_dirent } from '../format/names.js';
import { BCH_INODE_FIELDS, bytesToText, direntName, inodeUnpack } from '../format/values.js';
import { BCACHEFS_ROOT_INO } from '../fsck/context.js';
import { DT_DIR, modeToType } from '../fsck/inode-table.js';
import { inodeStrHashType, StrHash } from '../fsck/str-hash.js';
import { pathsOf } from '../fsck/paths.js';
import { EditsByNode } from './edit.js';
import { leafKeysAt } from './fs-keys.js';
import { insertKeys, type NewKey } from './insert.js';
import type { PlanContext, RepairFix } from './types.js';

const F_NLINK = BCH_INODE_FIELDS.findIndex(([n]) => n === 'bi_nlink');
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

export function planReattach(ctx: PlanContext, unreachable: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  const lf = lostAndFound(fs);
  if (lf === undefined) {
    for (const f of unreachable) ctx.noRepair(f.id, 'there is no /lost+found, and creating it is not implemented yet');
    return [];
  }
  const inodes = leafKeysAt(fs, BTREE_ID_inodes, [[0n, lf], ...unreachable.map((f): [bigint, bigint] => [0n, BigInt(f.location.inode!)])]);
  const lfKey = inodes.get(`0:${lf}`);
  const lfInode = lfKey && inodeUnpack(lfKey.value);
  if (!lfKey || !lfInode) {
    for (const f of unreachable) ctx.noRepair(f.id, `the lost+found inode ${lf} cannot be read`);
    return [];
  }
  const h = inodeHeader(lfKey.value);
  const hash = new StrHash();
  hash.setInfo(inodeStrHashType(h.flags), Number(h.hashSeed >> 32n), Number(h.hashSeed & 0xffff_ffffn));
  const { taken, names } = dirSlots(fs, lf);
  const edits = new EditsByNode(fs);
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
    hash.dirent(bytes, 0, bytes.length);
    let offset = BigInt(hash.hi) * TWO32 + BigInt(hash.lo);
    while (taken.has(offset)) offset++;
    taken.add(offset);
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
    words.push(`inode ${inum} -> /lost+found/${name}`);
    evidence.push(`inode ${inum} (type ${type}): no dirent reaches it; its backpointer ${String(f.actual)} names no dirent pointing back`);
  }
  if (!done.length) return [];
  if (subdirs) {
    const had = lfInode.fields[F_NLINK]!;
    edits.at(BTREE_ID_inodes, 0, lfKey.sector).add(
      { kind: 'value', keyOffset: lfKey.keyOffset, value: withInodeFields(lfKey.value, { bi_nlink: had + subdirs }) },
      { field: `inode ${lf} (lost+found): bi_nlink`, before: String(had), after: String(had + subdirs) },
    );
  }
  const ins = insertKeys(ctx, edits, BTREE_ID_dirents, dirents, `lost+found:${lf}`);
  if (typeof ins === 'string') {
    for (const f of done) ctx.noRepair(f.id, `its dirent cannot be added to /lost+found: ${ins}`);
    return [];
  }
  const shown = words.length > WORDS_SHOWN ? [...words.slice(0, WORDS_SHOWN), `and ${words.length - WORDS_SHOWN} more`] : words;
  const title = `Reattach ${done.length} unreachable inode${done.length === 1 ? '' : 's'} under /lost+found: ${shown.join(', ')}`;
  const writes = [...ins.writes, ...edits.all.map((e) => e.write(fs, title))];
  const lfPath = pathsOf(fs, lf)[0]?.path ?? '/lost+found';
  return [{
    id: `fs-reattach:${done[0]!.location.inode}${done.length > 1 ? `+${done.length - 1}` : ''}`, title,
    summary: `insert ${done.length} dirent${done.length === 1 ? '' : 's'} in ${lfPath} (inode ${lf}); set each inode's bi_dir:bi_dir_offset to its new dirent${subdirs ? `; lost+found bi_nlink +${subdirs}` : ''}`
      + (ins.words.length ? `; ${ins.words.join('; ')} (new nodes in buckets ${ins.buckets.join(', ')}: their alloc keys and the usage are set by the fixes after this one)` : ''),
    resolves: done.map((f) => f.id), writes,
    evidence, lost: [], kept: done.map((f) => `inode ${f.location.inode} and its data, under a new name (its old name is not kept by any key)`),
    alternatives: [], dependsOn: [],
  }];
}
