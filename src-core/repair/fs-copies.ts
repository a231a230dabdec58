// Inodes that are gone, looked up in older copies of the inodes leaves: nodes are copy on write, and the
// bucket of a node's older copy is not reused at once, so a key lost from the live leaf is often still in an
// older copy (older-copies.ts scans for them, as newer bcachefs's node_scan.c does). Such an inode is the one
// the filesystem had (mode, owner, times, hash seed), as of that copy: what changed since (its size, its
// sectors, its links) the field repairs set from the btrees in the next rounds. The scan reads the device
// once per planner run, only when a planner asks.
import type { BtreeNode } from '../btree/node.js';
import type { Finding } from '../check/index.js';
import { bposCmp, U32_MAX } from '../format/bpos.js';
import { withInodeFields } from '../format/encode-value.js';
import { BTREE_ID_inodes, KEY_TYPE_inode } from '../format/names.js';
import { BCH_INODE_FIELDS, inodeUnpack } from '../format/values.js';
import { EditsByNode } from './edit.js';
import { findingInode } from './fs-keys.js';
import type { NamedBy } from './fs-recreate.js';
import { insertKeys } from './insert.js';
import { newerFirst, readCopy, scanForNodes, type FoundNode } from './older-copies.js';
import type { PlanContext, RepairFix } from './types.js';

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

const F_SIZE = BCH_INODE_FIELDS.findIndex(([n]) => n === 'bi_size');
const F_UID = BCH_INODE_FIELDS.findIndex(([n]) => n === 'bi_uid');
const F_GID = BCH_INODE_FIELDS.findIndex(([n]) => n === 'bi_gid');

/**
 * The fix that puts inode `f.location.inode` back as the copy holds it: named by the dirent `by`, its
 * backpointer set to that dirent; named by none, as it was (the next round links it into lost+found).
 */
export function restoreInode(ctx: PlanContext, f: Finding, copy: CopiedInode, by?: NamedBy): RepairFix | string {
  const fs = ctx.fs;
  const p = by ? f.location.key!.pos : undefined;
  const inum = findingInode(f)!;
  const u = inodeUnpack(copy.value);
  if (!u) return `inode ${inum} in the older copy at sector ${copy.sector} does not unpack`;
  const value = p ? withInodeFields(copy.value, { bi_dir: BigInt(p.inode), bi_dir_offset: BigInt(p.offset) }) : copy.value;
  const what = `mode ${u.mode.toString(8)}, size ${u.fields[F_SIZE]}, uid ${u.fields[F_UID]}, gid ${u.fields[F_GID]}`;
  const backpointer = p ? `backpointer ${p.inode}:${p.offset}` : 'its backpointer as it was (no dirent names it now)';
  const edits = new EditsByNode(fs);
  const ins = insertKeys(ctx, edits, BTREE_ID_inodes, [{
    fields: { type: KEY_TYPE_inode, needsWhiteout: false, pos: { inode: 0n, offset: inum, snapshot: U32_MAX }, size: 0, versionHi: 0, versionLo: 0n }, value,
    change: { field: `inode 0:${inum}`, before: '(none)', after: `as in the older copy at sector ${copy.sector}: ${what}, ${backpointer}` },
  }], `restore:${inum}`);
  if (typeof ins === 'string') return ins;
  const name = by ? `${by.path} (inode ${inum})` : `inode ${inum}`;
  const title = `Restore ${name} from an older copy of its inodes node (sector ${copy.sector}): ${what}${by ? '' : ' (linked into /lost+found next)'}`;
  return {
    id: `fs-restore:${inum}`, title,
    summary: `insert inodes key 0:${inum} as the older copy of its leaf at sector ${copy.sector} holds it (node seq ${copy.nodeSeq}, journal seq ${copy.journalSeq}), ${backpointer}`
      + (ins.words.length ? `; ${ins.words.join('; ')} (new nodes in buckets ${ins.buckets.join(', ')})` : ''),
    resolves: [f.id], writes: [...ins.writes, ...edits.all.map((e) => e.write(fs, title))],
    evidence: [
      by ? `the dirent ${by.key.text} names inode ${inum}, which is not in the inodes btree` : `keys of inode ${inum} are there (${f.class}), the inode is not, and no dirent names it`,
      `the older copy of an inodes leaf at sector ${copy.sector} (node seq ${copy.nodeSeq}, journal seq ${copy.journalSeq}) holds inode ${inum}: ${what}`,
      'what changed since that copy (size, sectors, links) is set from the btrees by the field repairs that follow',
    ],
    lost: [], kept: [`${by ? by.path : `inode ${inum}`} with its owner, permissions, times and data (2021 fsck -y ${by ? 'removes the dirent and then ' : ''}deletes its keys)`],
    alternatives: [], dependsOn: [],
  };
}
