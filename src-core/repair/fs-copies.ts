// Inodes that are gone, looked up in older copies of the inodes leaves: nodes are copy on write, and the
// bucket of a node's older copy is not reused at once, so a key lost from the live leaf is often still in an
// older copy (older-copies.ts scans for them, as newer bcachefs's node_scan.c does). Such an inode is the one
// the filesystem had (mode, owner, times, hash seed), as of that copy: what changed since (its size, its
// sectors, its links) the field repairs set from the btrees in the next rounds. The scan reads the device
// once per planner run, only when a planner asks.
import { bposCmp, U32_MAX } from '../format/bpos.js';
import { BTREE_ID_inodes, KEY_TYPE_inode } from '../format/names.js';
import type { BtreeNode } from '../btree/node.js';
import { newerFirst, readCopy, scanForNodes, type FoundNode } from './older-copies.js';
import type { PlanContext } from './types.js';

export interface CopiedInode {
  /** the inode's value as the copy holds it (its own bytes) */
  value: Uint8Array;
  /** the copy's sector, node seq and newest journal seq (for the evidence) */
  sector: number;
  nodeSeq: number;
  journalSeq: bigint;
}

export class InodeCopies {
  private found: FoundNode[] | undefined;
  private readonly nodes = new Map<number, BtreeNode | undefined>();

  constructor(private readonly ctx: PlanContext) {}

  /** The inode in the newest copy of an inodes leaf that holds one `accept` takes; throws ScanCancelled when cancelled. */
  find(inum: bigint, accept: (value: Uint8Array) => boolean = () => true): CopiedInode | undefined {
    this.found ??= scanForNodes(this.ctx.fs, this.ctx.check.gc, { token: this.ctx.token })
      .filter((f) => f.btreeId === BTREE_ID_inodes && f.level === 0)
      .sort(newerFirst);
    const pos = { inode: 0n, offset: inum, snapshot: U32_MAX };
    for (const f of this.found) {
      if (bposCmp(f.minKey, pos) > 0 || bposCmp(pos, f.maxKey) > 0) continue;
      if (!this.nodes.has(f.sector)) this.nodes.set(f.sector, readCopy(this.ctx.fs, f.sector));
      const n = this.nodes.get(f.sector);
      if (!n) continue;
      for (let k = 0; k < n.liveCount; k++) {
        const row = n.live[k]!;
        if (n.keys.type[row] !== KEY_TYPE_inode || n.keys.cmpBpos(row, pos) !== 0) continue;
        const value = Uint8Array.from(n.keys.value(row));
        if (accept(value)) return { value, sector: f.sector, nodeSeq: f.nodeSeq, journalSeq: f.journalSeq };
      }
    }
    return undefined;
  }
}
