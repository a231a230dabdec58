// What the topology planners read to decide: a parent node and the children its pointers name, each child
// parsed against its own header, with the range its keys really cover (a node's keys tell its real range).
import type { Filesystem } from '../btree/fs.js';
import { btreePtrFromKey } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import { bposCmp, bposToText, U32_MAX, U64_MAX, type Bpos } from '../format/bpos.js';
import type { BtreePtr } from '../format/values.js';
import { liveRowAt, readNodeAtSector } from './edit.js';

/** The position before p in bpos order; undefined before POS_MIN. */
export function bposPredecessor(p: Bpos): Bpos | undefined {
  if (p.snapshot !== 0) return { inode: p.inode, offset: p.offset, snapshot: p.snapshot - 1 };
  if (p.offset !== 0n) return { inode: p.inode, offset: p.offset - 1n, snapshot: U32_MAX };
  if (p.inode !== 0n) return { inode: p.inode - 1n, offset: U64_MAX, snapshot: U32_MAX };
  return undefined;
}

/** A child pointer of a parent: its row and index among the parent's live keys, and the child node. */
export interface Child {
  index: number;
  row: number;
  ptr: BtreePtr;
  node: BtreeNode;
  /**
   * the range the child's keys cover, as its own header reads them (undefined: no keys): its first and last
   * key; for an interior node, its first child's min_key and its last child's max_key
   */
  first?: Bpos;
  last?: Bpos;
}

/** The child at live index `index` of `parent` (a parent at level > 0), read by its sector. */
export function childAt(fs: Filesystem, parent: BtreeNode, index: number): Child | undefined {
  if (index < 0 || index >= parent.liveCount) return undefined;
  const row = parent.live[index]!;
  const ptr = btreePtrFromKey(parent.keys, row);
  const p = ptr?.ptrs[0];
  if (!ptr || !p) return undefined;
  const node = readNodeAtSector(fs, parent.btreeId, parent.level - 1, p.offset);
  const c: Child = { index, row, ptr, node };
  if (node.readable && node.liveCount) {
    // an interior node's range starts where its first child does (that pointer's min_key), not at its position
    const r0 = node.live[0]!;
    c.first = (node.level > 0 ? btreePtrFromKey(node.keys, r0)?.minKey : undefined) ?? node.keys.pos(r0);
    c.last = node.keys.pos(node.live[node.liveCount - 1]!);
  }
  return c;
}

/** The live index in `parent` of the key starting at byte `keyOffset`, or -1. */
export function liveIndexAt(parent: BtreeNode, keyOffset: number): number {
  const row = liveRowAt(parent, keyOffset);
  for (let k = 0; k < parent.liveCount; k++) if (parent.live[k] === row) return k;
  return -1;
}

/** Rows of `node` other than `keep` at position `pos` (older versions a moved key would uncover or be hidden by). */
export function rowsAt(node: BtreeNode, pos: Bpos, keep: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < node.keys.n; r++) if (r !== keep && node.keys.cmpBpos(r, pos) === 0) out.push(r);
  return out;
}

/** The child's keys, in words, for the evidence. */
export function keysText(c: Child): string {
  const what = c.node.level > 0 ? 'children covering' : 'keys,';
  return c.first && c.last
    ? `node ${c.node.sector} holds ${c.node.liveCount} ${what} ${bposToText(c.first)} .. ${bposToText(c.last)}`
    : `node ${c.node.sector} holds no keys`;
}

export const within = (p: Bpos | undefined, min: Bpos, max: Bpos): boolean => p === undefined || (bposCmp(p, min) >= 0 && bposCmp(p, max) <= 0);
