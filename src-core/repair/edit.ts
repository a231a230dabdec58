// What the planners share to turn decisions into bytes: a node read by its sector (through the overlay),
// in-place rewrites collected per node (format/encode-node.ts rewriteNode: same seq, checksums recomputed;
// that file says why in place is sound), each becoming one PlannedWrite trimmed to the sectors that change.
import type { Filesystem } from '../btree/fs.js';
import { parseBtreeNode, type BtreeNode } from '../btree/node.js';
import { KeyTable } from '../format/bkey.js';
import { rewriteNode, readNodeHeader, type NodeEdit, type NodeGeometry } from '../format/encode-node.js';
import { btreeName, KEY_TYPE_btree_ptr } from '../format/names.js';
import type { BtreePtr } from '../format/values.js';
import type { FieldChange, PlannedWrite } from '../journal/plan.js';

export function nodeGeometry(fs: Filesystem): NodeGeometry {
  return { nodeBytes: fs.sb.btreeNodeSize * 512, blockBytes: fs.sb.blockSize * 512 };
}

/**
 * The node at `sector` as it reads now, with its own buffer and key table. It is parsed against its own
 * header's range (a v1 pointer: no seq or min_key to disagree with), so the bsets are found even when the
 * parent's pointer and the node disagree.
 */
export function readNodeAtSector(fs: Filesystem, btreeId: number, level: number, sector: number): BtreeNode {
  const { nodeBytes } = nodeGeometry(fs);
  const buf = new Uint8Array(fs.dev.read(sector * 512, nodeBytes));
  const h = readNodeHeader(buf);
  const ptr: BtreePtr = {
    type: KEY_TYPE_btree_ptr, maxKey: h.maxKey, sectorsWritten: 0, flags: 0, raw: new Uint8Array(0),
    ptrs: [{ dev: fs.sb.devIdx, offset: sector, gen: 0, cached: false }],
  };
  return parseBtreeNode(fs.sb, buf, { btreeId, level, ptr }, new KeyTable(64));
}

/** The row of the live key starting at byte `keyOffset` of the node, or -1. */
export function liveRowAt(node: BtreeNode, keyOffset: number): number {
  for (let k = 0; k < node.liveCount; k++) {
    const row = node.live[k]!;
    if (node.keys.keyOff[row] === keyOffset) return row;
  }
  return -1;
}

/** Edits to one node, gathered from several findings, written as one rewrite. */
export class NodeEdits {
  readonly edits: NodeEdit[] = [];
  readonly changes: FieldChange[] = [];

  constructor(readonly node: BtreeNode) {}

  add(edit: NodeEdit, change: FieldChange): void {
    this.edits.push(edit);
    this.changes.push(change);
  }

  /** The rewrite as one write: the sectors from the first to the last changed byte. */
  write(fs: Filesystem, what: string): PlannedWrite {
    const n = this.node;
    const next = rewriteNode(n.buf, n.bsets, this.edits, nodeGeometry(fs));
    let first = 0;
    while (first < next.length && next[first] === n.buf[first]) first++;
    let last = next.length;
    while (last > first && next[last - 1] === n.buf[last - 1]) last--;
    if (first === last) throw new Error(`the edits to the ${btreeName(n.btreeId)} node at sector ${n.sector} change nothing`);
    const start = Math.floor(first / 512) * 512;
    const end = Math.ceil(last / 512) * 512;
    return {
      offset: n.sector * 512 + start,
      old: n.buf.slice(start, end),
      new: next.slice(start, end),
      target: { kind: 'node', btree: btreeName(n.btreeId), level: n.level, sector: n.sector, what },
      changes: this.changes,
    };
  }
}

/** Edits grouped by node (one NodeEdits per btree and sector). */
export class EditsByNode {
  private readonly m = new Map<string, NodeEdits>();

  constructor(private readonly fs: Filesystem) {}

  at(btreeId: number, level: number, sector: number): NodeEdits {
    const k = `${btreeId}:${sector}`;
    let e = this.m.get(k);
    if (!e) {
      e = new NodeEdits(readNodeAtSector(this.fs, btreeId, level, sector));
      this.m.set(k, e);
    }
    return e;
  }

  get all(): NodeEdits[] {
    return [...this.m.values()];
  }
}
