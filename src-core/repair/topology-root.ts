// A btree root whose range is not POS_MIN..POS_MAX (btree_root_bad_min_key / _max_key). The root covers the
// whole key space by definition, so its header is set to it, and so is the pointer to it: the btree_root
// entry of the superblock's clean section (every copy) and of the last journal entry, which bcachefs compares
// byte for byte with the clean section on a clean mount (verify_superblock_clean). Its keys are kept; bcachefs
// 2021 says "repair unimplemented" and stops mark and sweep. Only for a cleanly unmounted filesystem: on an
// unclean one the root is in the journal, which is replayed first.
import type { Filesystem } from '../btree/fs.js';
import { bposCmp, bposToText, POS_MAX, POS_MIN, type Bpos } from '../format/bpos.js';
import { copyBytes, writeBpos, writeChecksum } from '../format/encode-key.js';
import { encodeBtreeRootEntry, encodeJsetEntry } from '../format/encode-jset.js';
import { encodeCleanField, encodeSuperblock, sbFieldsOf } from '../format/encode-sb.js';
import { BCH_JSET_ENTRY_btree_root, parseJset } from '../format/journal.js';
import { btreeName, KEY_TYPE_btree_ptr_v2 } from '../format/names.js';
import { BCH_SB_FIELD_clean } from '../format/superblock.js';
import type { FieldChange, PlannedWrite } from '../journal/plan.js';
import type { Finding } from '../check/findings.js';
import { EditsByNode } from './edit.js';
import { superblockWrites } from './usage.js';
import type { PlanContext, RepairFix } from './types.js';

export const ROOT_CLASSES = ['btree_root_bad_min_key', 'btree_root_bad_max_key'] as const;

/** The root's unpacked key (bkey + btree_ptr_v2) with its position and min_key set. */
function rootKey(raw: Uint8Array, min: Bpos, max: Bpos): Uint8Array {
  const k = copyBytes(raw);
  writeBpos(k, 20, max); // struct bkey: u64s, format, type, pad, version (12), size (4), then p
  writeBpos(k, 40 + 20, min); // bch_btree_ptr_v2: mem_ptr, seq, sectors_written, flags, then min_key
  return k;
}

/** The last journal entry's btree_root entry for the btree rewritten with `key`, its checksum recomputed. */
function journalWrites(fs: Filesystem, id: number, key: Uint8Array): PlannedWrite[] {
  const seq = fs.sb.cleanSection!.journalSeq;
  const out: PlannedWrite[] = [];
  for (const j of fs.journal.jsets.filter((x) => x.seq === seq && !x.error)) {
    const old = new Uint8Array(fs.dev.read(j.deviceOffset, j.bytes));
    const parsed = parseJset(old, 0, fs.sb.jsetMagic, j.deviceOffset);
    const e = parsed?.entries.find((x) => x.type === BCH_JSET_ENTRY_btree_root && x.btreeId === id);
    if (!e || e.end - e.start !== key.length) continue;
    const next = copyBytes(old);
    next.set(key, e.start);
    writeChecksum(j.csumType, next, 0, 16, j.bytes);
    out.push({ offset: j.deviceOffset, old, new: next, target: { kind: 'key', btree: btreeName(id), pos: 'btree root (journal entry)' } });
  }
  return out;
}

/** The fix for the root range findings of one btree, or why there is none. */
export function planRootRange(ctx: PlanContext, f: Finding, all: readonly Finding[]): RepairFix | string | undefined {
  const { fs } = ctx;
  const loc = f.location;
  if (loc.btree_id === undefined || loc.level === undefined || !loc.node) return undefined;
  const id = loc.btree_id;
  const root = fs.roots[id]!;
  const clean = fs.sb.cleanSection;
  if (!clean || fs.rootsFrom !== 'clean') return 'the filesystem was not cleanly unmounted: its root pointer is in the journal, which is replayed first';
  if (root.ptr.type !== KEY_TYPE_btree_ptr_v2 || !root.ptr.minKey) return 'the root pointer is a v1 btree_ptr: it has no range to set';
  const e = new EditsByNode(fs);
  const node = e.at(id, loc.level, loc.node.sector);
  if (!node.node.readable) return 'the root node cannot be read';
  const changes: FieldChange[] = [];
  if (bposCmp(node.node.minKey, POS_MIN) !== 0) {
    node.add({ kind: 'minKey', pos: POS_MIN }, { field: 'btree_node.min_key', before: bposToText(node.node.minKey), after: 'POS_MIN' });
  }
  if (bposCmp(node.node.maxKey, POS_MAX) !== 0) {
    node.add({ kind: 'maxKey', pos: POS_MAX }, { field: 'btree_node.max_key', before: bposToText(node.node.maxKey), after: 'POS_MAX' });
  }
  const key = rootKey(root.ptr.raw, POS_MIN, POS_MAX);
  changes.push({ field: `btree_root entry of ${btreeName(id)}`, before: `${bposToText(root.ptr.minKey)} .. ${bposToText(root.ptr.maxKey)}`, after: 'POS_MIN .. POS_MAX' });
  const fields = sbFieldsOf(fs.sb);
  const at = fields.findIndex((x) => x.type === BCH_SB_FIELD_clean);
  const entries = clean.entries.map((x) => (x.type === BCH_JSET_ENTRY_btree_root && x.btreeId === id
    ? encodeBtreeRootEntry(id, x.level, key) : encodeJsetEntry(x.type, x.btreeId, x.level, x.buf.subarray(x.start, x.end))));
  fields[at] = { type: BCH_SB_FIELD_clean, payload: encodeCleanField(clean.flags, clean.journalSeq, entries) };
  const where = `${btreeName(id)} root node ${loc.node.sector}`;
  return {
    id: `topology:root:${btreeName(id)}`,
    title: `set the range of the ${where} to POS_MIN .. POS_MAX`,
    summary: `btree_node min/max_key of the root, and its btree_ptr_v2 (min_key, position) in the superblock clean section (every copy) and the last journal entry`,
    evidence: [
      `a root covers the whole key space; the ${where} says ${bposToText(node.node.minKey)} .. ${bposToText(node.node.maxKey)}`,
      `its ${node.node.liveCount} keys stay where they are: widening the range drops nothing`,
    ],
    lost: [], kept: ['every key of the root; bcachefs 2021 has no repair for this ("repair unimplemented") and stops mark and sweep'],
    alternatives: [], dependsOn: [],
    // the other root range finding of this btree, and its first or last child checked against the old range
    resolves: [f.id, ...all.filter((g) => g.id !== f.id && g.location.btree_id === id && ((ROOT_CLASSES as readonly string[]).includes(g.class) || g.location.node?.sector === loc.node!.sector)).map((g) => g.id)],
    writes: [
      node.write(fs, `${where}: range set to the whole key space`),
      ...superblockWrites(fs, encodeSuperblock(fs.sb.bytes, fields), `clean section btree_root ${btreeName(id)}`, changes),
      ...journalWrites(fs, id, key),
    ],
  };
}
