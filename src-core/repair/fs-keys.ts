// Finding the leaf key an fsck-pass finding is about: those findings name keys by position (the fsck passes
// walk keys, not nodes), so the repair looks the key up again in the btree as it reads now (over the overlay).
import type { Filesystem } from '../btree/fs.js';
import { forEachKey } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import { bkeyValToText } from '../format/print.js';
import { rangesOverlap } from '../journal/plan.js';
import type { Finding } from '../check/index.js';
import type { PlanContext, RepairFix } from './types.js';

/** A live key in a leaf node: where it is, its value and its text. */
export interface LeafKey {
  btreeId: number;
  sector: number;
  keyOffset: number;
  /** a copy (node buffers are reused by the walk) */
  value: Uint8Array;
  text: string;
}

const TWO32 = 2 ** 32;
const halves = (v: bigint): [number, number] => [Number(v >> 32n), Number(v & 0xffff_ffffn)];

/**
 * The leaf keys at (inode, offset) positions in `wanted` (text "inode:offset" of decimal u64s), snapshot
 * ignored. Journal keys are not in a node and are not returned.
 */
export function leafKeysAt(fs: Filesystem, btreeId: number, wanted: readonly [bigint, bigint][]): Map<string, LeafKey> {
  const want = new Set(wanted.map(([i, o]) => `${halves(i).join(',')},${halves(o).join(',')}`));
  const out = new Map<string, LeafKey>();
  let node: BtreeNode | undefined;
  forEachKey(fs, btreeId, (t, row) => {
    if (!node || t !== node.keys) return;
    const k = `${t.inodeHi[row]},${t.inodeLo[row]},${t.offsetHi[row]},${t.offsetLo[row]}`;
    if (!want.has(k)) return;
    const inode = BigInt(t.inodeHi[row]!) * BigInt(TWO32) + BigInt(t.inodeLo[row]!);
    const offset = BigInt(t.offsetHi[row]!) * BigInt(TWO32) + BigInt(t.offsetLo[row]!);
    out.set(`${inode}:${offset}`, { btreeId, sector: node.sector, keyOffset: t.keyOff[row]!, value: Uint8Array.from(t.value(row)), text: bkeyValToText(t, row) });
  }, (n) => {
    node = n;
  });
  return out;
}

/** The one leaf key at (inode, offset), snapshot ignored; undefined for a journal key or none. */
export function leafKeyAt(fs: Filesystem, btreeId: number, inode: bigint, offset: bigint): LeafKey | undefined {
  return leafKeysAt(fs, btreeId, [[inode, offset]]).get(`${inode}:${offset}`);
}

/**
 * The leaf key each finding names (its location's key position), in the findings' order. A finding whose key
 * no node holds gets its 'no repair' here, naming it as a `what` ("dirent").
 */
export function leafKeysOf(ctx: PlanContext, btreeId: number, findings: readonly Finding[], what: string): Array<[Finding, LeafKey]> {
  const keys = leafKeysAt(ctx.fs, btreeId, findings.map((f) => [BigInt(f.location.key!.pos.inode), BigInt(f.location.key!.pos.offset)]));
  const out: Array<[Finding, LeafKey]> = [];
  for (const f of findings) {
    const p = f.location.key!.pos;
    const k = keys.get(`${p.inode}:${p.offset}`);
    if (k) out.push([f, k]);
    else ctx.noRepair(f.id, `the ${what} ${p.text} is not in a btree node (a journal key, or the node is unreadable)`);
  }
  return out;
}

/**
 * The fixes whose writes overlap no earlier one's: the pipeline lays a round's fixes over the device one
 * after the other, each planned on the same bytes, so a second fix in a node waits for the next round.
 */
export function disjointFixes(fixes: readonly RepairFix[]): RepairFix[] {
  const kept: RepairFix[] = [];
  for (const f of fixes) {
    const clash = kept.some((k) => k.writes.some((w) => f.writes.some((x) => rangesOverlap(w.offset, w.old.length, x.offset, x.old.length))));
    if (!clash) kept.push(f);
  }
  return kept;
}

/** The inode an fsck-pass finding is about: its location's inode, else the inode field of its key's position. */
export function findingInode(f: Finding): bigint | undefined {
  if (f.location.inode !== undefined) return BigInt(f.location.inode);
  return f.location.key ? BigInt(f.location.key.pos.inode) : undefined;
}
