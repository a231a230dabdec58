// The one btree walk. Every descent (listing, key iteration, the checker's passes) goes through BtreeWalk:
//
//   const w = new BtreeWalk(fs, btreeId, { depth, rootNode });
//   for (let s = w.next(); s; s = w.next()) {
//     if (s.repeat) { ... a second pointer to a node already visited: not read again ... ; continue; }
//     ... s.node (readable or not: s.node.errors says why), s.keys, s.parent, s.childIndex, s.ptr ...
//     if (...) w.skipChildren();
//   }
//
// Depth first, pre-order: a node is seen before its children, children in key order. Each node is read
// once per walk (by its first device pointer); further pointers to it come as `repeat` steps. Read errors
// are in the node (readable = false, errors), never thrown; an unreadable node has no children. A node's
// keys come with the journal's keys laid over them, and its children are taken from those keys. The walk
// reads ahead itself: the pointers it will follow next, from every level of the path, are handed to the
// device's background reads a window ahead of the node being read.
//
// The caller drives the walk (next()), so it may await between steps (yield, cancellation, progress).
// Tables are reused per level: a step's node, keys and pointer key stay valid while the walk is inside
// that node's subtree, that is until the walk reads the next node at the same level.
import { KeyTable } from '../format/bkey.js';
import { btreePtrFromKey, btreePtrTable } from '../format/btree-ptr.js';
import { bkeyValToText } from '../format/print.js';
import type { BtreePtr } from '../format/values.js';
import type { Filesystem } from './fs.js';
import type { BtreeNode } from './node.js';
import { EMPTY_KEY_LIST, nodeKeysWithJournal, type NodeKeyList } from './overlay.js';

export interface WalkOptions {
  /** the lowest level read (default 0: down to the leaves); nodes below it are seen only as keys of their parents */
  depth?: number;
  /** the root node when the caller has read it already: it is the first step and is not read again */
  rootNode?: BtreeNode;
}

interface StepBase {
  btreeId: number;
  level: number;
  /** the decoded pointer that led here (the root entry's for the root) */
  ptr: BtreePtr;
  /** the node holding that pointer; undefined for the root */
  parent: BtreeNode | undefined;
  /** the pointer's index in the parent's keys (parent's step `keys`); -1 for the root */
  childIndex: number;
  /** the pointer's key, to print it: row ptrRow of ptrTable (for the root, a one-row table of the root entry) */
  ptrTable: KeyTable;
  ptrRow: number;
}

/** A node read (readable or not). */
export interface NodeStep extends StepBase {
  repeat: false;
  node: BtreeNode;
  /** the node's live keys with the journal's laid over them; empty for an unreadable node */
  keys: NodeKeyList;
}

/** One more pointer to a node this walk has already reached: it is not read (or descended into) again. */
export interface RepeatStep extends StepBase {
  repeat: true;
}

export type WalkStep = NodeStep | RepeatStep;

interface Frame {
  node: BtreeNode;
  keys: NodeKeyList;
  /** the decoded pointers of keys, undefined where a key is not a btree pointer */
  children: (BtreePtr | undefined)[];
  /** next child to visit */
  next: number;
  /** children before this index have had their read-ahead issued */
  issued: number;
}

/** Bytes the walk keeps in flight ahead of itself (the device's read-ahead holds up to 32 MiB in 64 reads). */
const READAHEAD_BYTES = 8 << 20;
const READAHEAD_MAX_NODES = 32;

export class BtreeWalk {
  private readonly depth: number;
  private readonly stack: Frame[] = [];
  /** the frame of the node returned last: descended into on the next next(), unless skipChildren() */
  private pending: Frame | undefined;
  private started = false;
  private readonly visited = new Set<number>();
  private readonly tables: KeyTable[] = [];
  private readonly window: number;

  constructor(readonly fs: Filesystem, readonly btreeId: number, private readonly opts: WalkOptions = {}) {
    this.depth = opts.depth ?? 0;
    this.window = Math.max(2, Math.min(READAHEAD_MAX_NODES, Math.floor(READAHEAD_BYTES / (fs.sb.btreeNodeSize * 512))));
  }

  /** The next step, or undefined when the walk is done. */
  next(): WalkStep | undefined {
    if (this.pending) {
      this.stack.push(this.pending);
      this.pending = undefined;
    }
    if (!this.started) {
      this.started = true;
      return this.rootStep();
    }
    for (let f = this.stack[this.stack.length - 1]; f; f = this.stack[this.stack.length - 1]) {
      while (f.next < f.children.length) {
        const k = f.next++;
        const ptr = f.children[k];
        if (!ptr) continue;
        const base: StepBase = {
          btreeId: this.btreeId, level: f.node.level - 1, ptr, parent: f.node, childIndex: k, ptrTable: f.keys.table(k), ptrRow: f.keys.row(k),
        };
        if (!this.firstVisit(ptr)) return { ...base, repeat: true };
        return this.read(base);
      }
      this.stack.pop();
    }
    return undefined;
  }

  /** Do not descend into the node of the step returned last. */
  skipChildren(): void {
    this.pending = undefined;
  }

  private rootStep(): WalkStep | undefined {
    const root = this.fs.roots[this.btreeId];
    if (!root || root.fake || root.level < this.depth) return undefined;
    this.firstVisit(root.ptr);
    const base: StepBase = {
      btreeId: this.btreeId, level: root.level, ptr: root.ptr, parent: undefined, childIndex: -1, ptrTable: btreePtrTable(root.ptr), ptrRow: 0,
    };
    const node = this.opts.rootNode;
    return node ? this.stepFor(base, node) : this.read(base);
  }

  private read(base: StepBase): NodeStep {
    const table = (this.tables[base.level] ??= new KeyTable(base.level ? 256 : 4096));
    return this.stepFor(base, this.fs.readNodeAt(this.btreeId, base.level, base.ptr, table));
  }

  private stepFor(base: StepBase, node: BtreeNode): NodeStep {
    const keys = node.readable ? nodeKeysWithJournal(this.fs, node) : EMPTY_KEY_LIST;
    if (node.readable && node.level > this.depth) {
      const children: (BtreePtr | undefined)[] = [];
      for (let k = 0; k < keys.count; k++) children.push(btreePtrFromKey(keys.table(k), keys.row(k)));
      this.pending = { node, keys, children, next: 0, issued: 0 };
    }
    this.readAhead();
    return { ...base, repeat: false, node, keys };
  }

  /** Each node is read once per walk, known by its first device pointer. */
  private firstVisit(ptr: BtreePtr): boolean {
    const p = ptr.ptrs[0];
    if (!p) return true;
    const key = p.dev * 2 ** 44 + p.offset;
    if (this.visited.has(key)) return false;
    this.visited.add(key);
    return true;
  }

  /**
   * Keeps `window` reads in flight ahead of the walk: the next children of the node just read, then the
   * remaining siblings at each level up the path, which is the order the walk will read them in.
   */
  private readAhead(): void {
    let ahead = 0;
    for (let d = this.stack.length - (this.pending ? 0 : 1); d >= 0 && ahead < this.window; d--) {
      const f = d === this.stack.length ? this.pending! : this.stack[d]!;
      let i = f.next;
      for (; i < f.children.length && ahead < this.window; i++) {
        const c = f.children[i];
        if (!c) continue;
        ahead++;
        if (i >= f.issued) this.fs.prefetchNode(c);
      }
      if (i > f.issued) f.issued = i;
    }
  }
}

/**
 * Every live key of a btree's leaves with the journal's keys laid over them (bcachefs's
 * btree_and_journal_iter): a journal key replaces the btree key at its position, a deleted one hides it.
 * Journal keys in the range of an unreadable leaf are still seen. `cb(t, row)` sees each key; t and row
 * are only valid during the call. `onNode` sees every node read.
 */
export function forEachKey(fs: Filesystem, btreeId: number, cb: (t: KeyTable, row: number) => void, onNode?: (node: BtreeNode) => void): void {
  const jk = fs.journalKeys;
  const jt = jk.table;
  const jlist = fs.journalRows(btreeId, 0);
  let j = 0;
  const w = new BtreeWalk(fs, btreeId);
  for (let s = w.next(); s; s = w.next()) {
    if (s.repeat) continue;
    const node = s.node;
    onNode?.(node);
    if (node.level !== 0 || !node.readable) continue;
    const t = node.keys;
    for (let k = 0; k < node.liveCount; k++) {
      const row = node.live[k]!;
      // journal keys before this one; one at its very position replaces it
      let replaced = false;
      while (j < jlist.length) {
        const jr = jlist[j]!;
        const c = jt.cmpPosWith(jr, t, row);
        if (c > 0) break;
        if (!jt.whiteout(jr)) cb(jt, jr);
        j++;
        if (c === 0) {
          replaced = true;
          break;
        }
      }
      if (!replaced) cb(t, row);
    }
  }
  for (; j < jlist.length; j++) if (!jt.whiteout(jlist[j]!)) cb(jt, jlist[j]!);
}

/**
 * The pointers to every node at `minLevel` and above, as `bcachefs list -m nodes --level` prints them: in
 * post-order (a node's pointer after those of its children), ending with the root. `cb` gets each
 * pointer's key text. Nodes at `minLevel` itself are not read.
 */
export function forEachNodePointer(fs: Filesystem, btreeId: number, minLevel: number, cb: (text: string, level: number) => void, onNode?: (node: BtreeNode) => void): void {
  const root = fs.roots[btreeId]!;
  if (minLevel > root.level) return;
  // pointers whose subtrees are still being walked, deepest last
  const open: { text: string; level: number }[] = [];
  const closeUpTo = (level: number): void => {
    while (open.length && open[open.length - 1]!.level <= level) {
      const p = open.pop()!;
      cb(p.text, p.level);
    }
  };
  const w = new BtreeWalk(fs, btreeId, { depth: minLevel + 1 });
  for (let s = w.next(); s; s = w.next()) {
    closeUpTo(s.level);
    open.push({ text: bkeyValToText(s.ptrTable, s.ptrRow), level: s.level });
    if (s.repeat) continue;
    onNode?.(s.node);
    if (s.level !== minLevel + 1) continue;
    for (let k = 0; k < s.keys.count; k++) {
      const t = s.keys.table(k);
      const row = s.keys.row(k);
      if (btreePtrFromKey(t, row)) cb(bkeyValToText(t, row), minLevel);
    }
  }
  closeUpTo(Infinity);
  // a root at minLevel (or a btree without nodes) is not read: only its pointer is printed
  if (root.fake || root.level === minLevel) cb(bkeyValToText(btreePtrTable(root.ptr), 0), root.level);
}
