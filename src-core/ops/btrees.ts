// What the front ends show of the btrees: an overview (levels and node counts) and listings as bcachefs list.
import { forEachKey, forEachNodePointer, BTREE_MAX_DEPTH } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import { describeNodeErrors } from '../btree/describe.js';
import { bkeyValToText } from '../format/print.js';
import { bposToText } from '../format/bpos.js';
import { BTREE_IDS, BTREE_ID_NR, btreeIdByName, btreeName } from '../format/names.js';
import { Disk, OpsError, filesystemOf } from './disk.js';
import type { BtreeOverview, BtreesResult } from './types.js';

/** The btrees' names, in btree id order. */
export const BTREE_NAMES: readonly string[] = BTREE_IDS;
/** Levels a listing can ask for: 0 (leaves) up to the deepest root bcachefs allows. */
export const MAX_LEVEL = BTREE_MAX_DEPTH - 1;

const overviews = new WeakMap<Disk, BtreesResult>();

/** Per btree: root level and node counts. Interior nodes are read; leaves are counted from their pointers. */
export function btreeOverview(disk: Disk): BtreesResult {
  const cached = overviews.get(disk);
  if (cached) return cached;
  const fs = filesystemOf(disk);
  const btrees: BtreeOverview[] = [];
  let totalNodes = 0;
  for (let id = 0; id < BTREE_ID_NR; id++) {
    const root = fs.roots[id]!;
    const b: BtreeOverview = {
      id, name: btreeName(id), empty: root.fake, rootLevel: root.level, nodes: 0, nodesPerLevel: [], unreadable: 0,
      rootSector: root.ptr.ptrs[0]?.offset ?? null,
    };
    if (!root.fake) {
      b.nodesPerLevel = new Array<number>(root.level + 1).fill(0);
      forEachNodePointer(fs, id, 0, (_text, level) => {
        b.nodesPerLevel[level] = (b.nodesPerLevel[level] ?? 0) + 1;
        b.nodes++;
      }, (node) => {
        if (!node.readable) b.unreadable++;
      });
    }
    totalNodes += b.nodes;
    btrees.push(b);
  }
  const r = { btrees, totalNodes, totalBytes: totalNodes * fs.sb.btreeNodeSize * 512 };
  overviews.set(disk, r);
  return r;
}

export interface ListRequest {
  /** a name of BTREE_NAMES */
  btree: string;
  /** absent: the keys of the leaves (bcachefs list -m keys); a level: node pointers at it and above (-m nodes -l) */
  level?: number;
}

/** One listed line: the key as bcachefs list prints it, with its position (keys) or level (node pointers). */
export type ListRow = { text: string; pos: string } | { text: string; level: number };

export interface ListResult {
  rows: number;
  /** nodes that could not be read: their keys are missing from the listing */
  unreadableNodes: number;
  /** when nothing was listed: why, for the user */
  nothing: string | null;
}

/** Throws OpsError BAD_REQUEST for an unknown btree or level, with what would be accepted. */
export function validateListRequest(req: ListRequest): number {
  const id = btreeIdByName(req.btree);
  if (id < 0) throw new OpsError('BAD_REQUEST', `unknown btree "${req.btree}": give one of ${BTREE_NAMES.join(', ')}`);
  if (req.level !== undefined && (!Number.isInteger(req.level) || req.level < 0 || req.level > MAX_LEVEL)) {
    throw new OpsError('BAD_REQUEST', `level ${req.level} does not exist: give a level from 0 (leaves) to ${MAX_LEVEL}`);
  }
  return id;
}

/**
 * Lists a btree as bcachefs list does; `onRow` gets each line, `onNodeErrors` the errors of each damaged node
 * (one line each). The listing goes on past damaged nodes.
 */
export function listBtree(disk: Disk, req: ListRequest, onRow: (row: ListRow) => void, onNodeErrors: (lines: string[]) => void): ListResult {
  const id = validateListRequest(req);
  const fs = filesystemOf(disk);
  const name = btreeName(id);
  let rows = 0;
  let unreadableNodes = 0;
  const onNode = (node: BtreeNode): void => {
    if (!node.errors.length) return;
    if (!node.readable) unreadableNodes++;
    onNodeErrors(describeNodeErrors(node));
  };
  if (req.level === undefined) {
    forEachKey(fs, id, (t, r) => {
      rows++;
      onRow({ text: bkeyValToText(t, r), pos: bposToText(t.pos(r)) });
    }, onNode);
  } else {
    forEachNodePointer(fs, id, req.level, (text, level) => {
      rows++;
      onRow({ text, level });
    }, onNode);
  }
  let nothing: string | null = null;
  const root = fs.roots[id]!;
  if (rows === 0) {
    if (root.fake) nothing = `btree ${name} is empty (it has no root node on disk): nothing to list`;
    else if (req.level !== undefined && req.level > root.level) nothing = `btree ${name} has its root at level ${root.level}: nothing at level ${req.level} (levels 0-${root.level} exist)`;
    else if (unreadableNodes) nothing = `btree ${name}: nothing could be read (${unreadableNodes} unreadable node${unreadableNodes === 1 ? '' : 's'}, see above)`;
    else nothing = `btree ${name} has no keys`;
  }
  return { rows, unreadableNodes, nothing };
}
