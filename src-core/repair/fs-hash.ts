// Hash table keys (dirents of a directory, xattrs of an inode) that lookups cannot find: hash_wrong_offset
// (the key is not in the run of taken slots from its name's hash) and hash_duplicate_key (an earlier key of
// the chain has the same name). As fsck.c's hash_redo_key, a misplaced key moves to the first free slot
// from its hash (the hash the check computed with the table's seed); a dirent's inode whose backpointer
// named the old slot follows it. Every misplaced key of a table moves in one fix. A duplicate that says the
// same as the earlier key (a dirent to the same inode, an xattr with the same value) is deleted, as fsck.c
// deletes the later one; one that says something else is left (deleting it, fsck.c's repair, would lose a
// file's name or an xattr's value) with the reason in the plan.
import { forEachKey, type Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { bposToText, U32_MAX } from '../format/bpos.js';
import { bkeyFields } from '../format/encode-key.js';
import { withInodeFields } from '../format/encode-value.js';
import { BTREE_ID_dirents, BTREE_ID_inodes, BTREE_ID_xattrs } from '../format/names.js';
import { BCH_INODE_FIELDS, bytesToText, direntName, inodeUnpack } from '../format/values.js';
import { pathsOf } from '../fsck/paths.js';
import { EditsByNode, readNodeAtSector, liveRowAt } from './edit.js';
import { disjointFixes, leafKeyAt, leafKeysAt, type LeafKey } from './fs-keys.js';
import { insertKeys, type GoneKey, type NewKey } from './insert.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

const TWO32 = 4294967296n;
const F_DIR = BCH_INODE_FIELDS.findIndex(([n]) => n === 'bi_dir');
const F_DIR_OFFSET = BCH_INODE_FIELDS.findIndex(([n]) => n === 'bi_dir_offset');

/** The offsets a table (one inode's keys in a hash btree) holds, and each key's text for duplicates. */
function tableOffsets(fs: Filesystem, btreeId: number, inum: bigint): Map<bigint, Uint8Array> {
  const hi = Number(inum >> 32n);
  const lo = Number(inum & 0xffff_ffffn);
  const out = new Map<bigint, Uint8Array>();
  forEachKey(fs, btreeId, (t, row) => {
    if (t.inodeHi[row] === hi && t.inodeLo[row] === lo) out.set(BigInt(t.offsetHi[row]!) * TWO32 + BigInt(t.offsetLo[row]!), Uint8Array.from(t.value(row)));
  });
  return out;
}

const btreeOf = (f: Finding): number => (f.location.btree === 'xattrs' ? BTREE_ID_xattrs : BTREE_ID_dirents);
const posOf = (f: Finding): [bigint, bigint] => [BigInt(f.location.key!.pos.inode), BigInt(f.location.key!.pos.offset)];

/** One fix moving every misplaced key of one table to its slot. */
function moveKeys(ctx: PlanContext, btreeId: number, inum: bigint, wrong: Finding[]): RepairFix | string {
  const fs = ctx.fs;
  const keys = leafKeysAt(fs, btreeId, wrong.map(posOf));
  const table = tableOffsets(fs, btreeId, inum);
  const moving = wrong.map((f) => ({ f, key: keys.get(posOf(f).join(':')), from: posOf(f)[1], hash: BigInt(String(f.expected)) }));
  for (const m of moving) table.delete(m.from);
  moving.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  const edits = new EditsByNode(fs);
  const inserts: NewKey[] = [];
  const gone: GoneKey[] = [];
  const words: string[] = [];
  const isDirent = btreeId === BTREE_ID_dirents;
  const targets = isDirent ? leafKeysAt(fs, BTREE_ID_inodes, moving.flatMap((m) => (m.key ? [[0n, targetOf(m.key)] as [bigint, bigint]] : []))) : new Map<string, LeafKey>();
  const btree = isDirent ? 'dirents' : 'xattrs';
  for (const m of moving) {
    if (!m.key) return `the key ${bposToText({ inode: inum, offset: m.from, snapshot: U32_MAX })} is not in a readable btree node`;
    let to = m.hash;
    while (table.has(to)) to++;
    table.set(to, m.key.value);
    const node = readNodeAtSector(fs, btreeId, 0, m.key.sector);
    const fields = bkeyFields(node.keys, liveRowAt(node, m.key.keyOffset));
    const name = isDirent ? bytesToText(direntName(m.key.value)) : `xattr at ${m.from}`;
    gone.push({ sector: m.key.sector, keyOffset: m.key.keyOffset, change: { field: `${btree} ${inum}:${m.from}`, before: m.key.text, after: `(moved to ${inum}:${to})` } });
    inserts.push({ fields: { ...fields, pos: { ...fields.pos, offset: to } }, value: m.key.value, change: { field: `${btree} ${inum}:${to}`, before: '(none)', after: `${name}, moved from ${m.from}` } });
    words.push(`${name}: ${m.from} -> ${to}`);
    const t = isDirent ? targets.get(`0:${targetOf(m.key)}`) : undefined;
    const u = t && inodeUnpack(t.value);
    if (t && u && u.fields[F_DIR] === inum && u.fields[F_DIR_OFFSET] === m.from) {
      edits.at(BTREE_ID_inodes, 0, t.sector).add(
        { kind: 'value', keyOffset: t.keyOffset, value: withInodeFields(t.value, { bi_dir_offset: to }) },
        { field: `inode ${targetOf(m.key)}: bi_dir_offset`, before: String(m.from), after: String(to) },
      );
    }
  }
  const ins = insertKeys(ctx, edits, btreeId, inserts, `rehash:${btree}:${inum}`, gone);
  if (typeof ins === 'string') return ins;
  const where = isDirent ? (pathsOf(fs, inum)[0]?.path ?? `directory ${inum}`) : `the xattrs of inode ${inum}`;
  const title = `Move ${moving.length} ${isDirent ? 'entr' : 'xattr'}${moving.length === 1 ? (isDirent ? 'y' : '') : (isDirent ? 'ies' : 's')} of ${where} to where lookups find ${moving.length === 1 ? 'it' : 'them'}: ${words.join(', ')}`;
  return {
    id: `fs-hash:${btree}:${inum}`, title,
    summary: `${btree} of ${inum}: each key removed at its offset and inserted at the first free slot from its name's hash${isDirent ? '; its inode\'s bi_dir_offset follows' : ''}`
      + (ins.words.length ? `; ${ins.words.join('; ')}` : ''),
    resolves: wrong.map((f) => f.id), writes: [...ins.writes, ...edits.all.map((e) => e.write(fs, title))],
    evidence: moving.map((m) => `${m.key!.text} hashes to ${m.hash}; the slots from there to ${m.from} are not all taken, so a lookup stops before it`),
    lost: [], kept: [`${where}: ${moving.length === 1 ? 'the key stays' : 'the keys stay'} (fsck.c moves them the same way)`], alternatives: [], dependsOn: [],
  };
}

function targetOf(k: LeafKey): bigint {
  return new DataView(k.value.buffer, k.value.byteOffset).getBigUint64(0, true);
}

/** A duplicate that says what the earlier key of its name says is deleted; else left, with why. */
function dropDuplicate(ctx: PlanContext, f: Finding): RepairFix | string {
  const fs = ctx.fs;
  const btreeId = btreeOf(f);
  const [inum, off] = posOf(f);
  const k = leafKeyAt(fs, btreeId, inum, off);
  if (!k) return `the key ${f.location.key!.pos.text} is not in a readable btree node`;
  const same = [...tableOffsets(fs, btreeId, inum)].find(([o, v]) => o < off && v.length === k.value.length && v.every((b, i) => b === k.value[i]));
  if (!same) return 'an earlier key of its hash chain has the same name but says something else: deleting this one (fsck.c\'s repair) would lose it';
  const edits = new EditsByNode(fs);
  edits.at(btreeId, 0, k.sector).add({ kind: 'delete', keyOffset: k.keyOffset }, { field: `${f.location.btree} ${f.location.key!.pos.text}`, before: k.text, after: '(deleted)' });
  const what = btreeId === BTREE_ID_dirents ? bytesToText(direntName(k.value)) : k.text;
  const title = `Delete the second copy of ${what} in ${btreeId === BTREE_ID_dirents ? (pathsOf(fs, inum)[0]?.path ?? `directory ${inum}`) : `the xattrs of inode ${inum}`} (the same key is at offset ${same[0]})`;
  return {
    id: `fs-dup:${f.location.key!.pos.text}`, title, summary: `delete ${f.location.btree} key ${f.location.key!.pos.text}`,
    resolves: [f.id], writes: edits.all.map((e) => e.write(fs, title)),
    evidence: [`${k.text}`, `the key at offset ${same[0]} of the same table has the same bytes`], lost: [], kept: [], alternatives: [], dependsOn: [],
  };
}

function planHash(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const out: RepairFix[] = [];
  const tables = new Map<string, Finding[]>();
  for (const f of findings) {
    if (!f.location.key) {
      ctx.noRepair(f.id, 'the finding names no key');
      continue;
    }
    if (f.class === 'hash_duplicate_key') {
      const fix = dropDuplicate(ctx, f);
      if (typeof fix === 'string') ctx.noRepair(f.id, fix);
      else out.push(fix);
      continue;
    }
    const k = `${btreeOf(f)}:${posOf(f)[0]}`;
    tables.set(k, [...(tables.get(k) ?? []), f]);
  }
  for (const [k, wrong] of tables) {
    const [b, inum] = k.split(':');
    const fix = moveKeys(ctx, Number(b), BigInt(inum!), wrong);
    if (typeof fix === 'string') for (const f of wrong) ctx.noRepair(f.id, fix);
    else out.push(fix);
  }
  return disjointFixes(out);
}

export const fsHashPlanner: Planner = { name: 'hash table keys', classes: ['hash_wrong_offset', 'hash_duplicate_key'], order: 59, plan: planHash };
