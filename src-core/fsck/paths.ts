// Paths of inodes, for findings, repair plans, the UI and reports. A name comes from the dirent that points
// to the inode: the one its backpointer (bi_dir:bi_dir_offset, metadata version 13) names when that dirent
// points back, and for files with several links every other dirent pointing to it. The directory's path is
// found the same way, up to the root. Works from an FsckContext after check_dirents (its inode table and
// dirent index), or from a bare Filesystem, reading what it needs (the dirent index on first use).
import type { Filesystem } from '../btree/fs.js';
import { btreePtrFromKey, forEachKey, nodeKeysWithJournal } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import { readU32, u64HiLoToString } from '../format/bytes.js';
import type { KeyTable } from '../format/bkey.js';
import { BTREE_ID_dirents, BTREE_ID_inodes, KEY_TYPE_dirent, KEY_TYPE_inode } from '../format/names.js';
import { BCACHEFS_ROOT_INO, type FsckContext } from './context.js';
import { DirentIndex } from './dirent-index.js';
import { InodeTable } from './inode-table.js';

export interface InodePath {
  /** "/dir/file"; when the walk up does not reach the root it starts at "<inode N>", the first unnamed one */
  path: string;
  /** the walk reached the root */
  complete: boolean;
}

/** node bytes kept for point lookups (least recently used dropped first) */
const NODE_CACHE_BYTES = 32 << 20;
/** deeper than any real path: a chain this long is a loop */
const MAX_DEPTH = 4096;
const utf8 = new TextDecoder('utf-8');

export class PathResolver {
  private inodes: InodeTable | undefined;
  private dirents: DirentIndex | undefined;
  private readonly nodes = new Map<string, BtreeNode>();
  private readonly dirPaths = new Map<string, InodePath>();
  /** the key a lookup found: its table and row */
  private ft: KeyTable | undefined;
  private fr = 0;

  constructor(private readonly fs: Filesystem, from?: { inodes: InodeTable; dirents: DirentIndex | undefined }) {
    this.inodes = from?.inodes;
    this.dirents = from?.dirents;
  }

  static fromContext(ctx: FsckContext): PathResolver {
    return new PathResolver(ctx.fs, ctx);
  }

  /**
   * Every path of inode `inum`: the one through its backpointer first, then the other dirents pointing to it
   * (hard links) in btree order. [] for an inode no dirent points to (other than the root, "/").
   */
  pathsOf(inum: number | bigint): InodePath[] {
    const [hi, lo] = halves(inum);
    if (hi === 0 && lo === BCACHEFS_ROOT_INO) return [{ path: '/', complete: true }];
    const out: InodePath[] = [];
    const primary = this.backpointerOf(hi, lo);
    if (primary) out.push(this.viaDirent(primary[0], primary[1], primary[2], primary[3], 0));
    const idx = this.direntIndex();
    idx.rowsPointingTo(hi, lo, (row) => {
      const d = idx.dirOfRow(row);
      const dh = idx.dirHi[d]!;
      const dl = idx.dirLo[d]!;
      const oh = idx.offHi[row]!;
      const ol = idx.offLo[row]!;
      if (primary && primary[0] === dh && primary[1] === dl && primary[2] === oh && primary[3] === ol) return;
      out.push(this.viaDirent(dh, dl, oh, ol, 0));
    });
    return out;
  }

  /** The first of pathsOf, or a name for an inode nothing points to ("<inode N>"). */
  pathOf(inum: number | bigint): InodePath {
    const [hi, lo] = halves(inum);
    return this.pathsOf(inum)[0] ?? { path: `<inode ${u64HiLoToString(hi, lo)}>`, complete: false };
  }

  /** The dirent at dir:off, if it points back to (hi, lo): its directory, offset. */
  private backpointerOf(hi: number, lo: number): [number, number, number, number] | undefined {
    let bp: [number, number, number, number];
    const t = this.inodes;
    if (t) {
      const r = t.find(hi, lo);
      if (r < 0) return undefined;
      bp = [t.dirHi[r]!, t.dirLo[r]!, t.dirOffHi[r]!, t.dirOffLo[r]!];
    } else {
      if (!this.lookup(BTREE_ID_inodes, 0, 0, hi, lo) || this.ft!.type[this.fr] !== KEY_TYPE_inode) return undefined;
      const one = new InodeTable();
      const k = this.ft!;
      if (one.push(hi, lo, k.buf, k.valOff[this.fr]!, k.valOff[this.fr]! + k.valLen[this.fr]!) < 0) return undefined;
      bp = [one.dirHi[0]!, one.dirLo[0]!, one.dirOffHi[0]!, one.dirOffLo[0]!];
    }
    if ((bp[0] | bp[1] | bp[2] | bp[3]) === 0) return undefined;
    if (!this.lookup(BTREE_ID_dirents, bp[0], bp[1], bp[2], bp[3]) || !this.pointsTo(hi, lo)) return undefined;
    return bp;
  }

  /** The path through the dirent at dir:off: the directory's path, then the dirent's name. */
  private viaDirent(dh: number, dl: number, oh: number, ol: number, depth: number): InodePath {
    if (!this.lookup(BTREE_ID_dirents, dh, dl, oh, ol) || this.ft!.type[this.fr] !== KEY_TYPE_dirent) {
      return { path: `<inode ${u64HiLoToString(dh, dl)}>/?`, complete: false };
    }
    const name = this.name();
    const dir = this.dirPath(dh, dl, depth + 1);
    return { path: dir.path === '/' ? `/${name}` : `${dir.path}/${name}`, complete: dir.complete };
  }

  /** A directory's path, through its backpointer (directories have one name). */
  private dirPath(hi: number, lo: number, depth: number): InodePath {
    if (hi === 0 && lo === BCACHEFS_ROOT_INO) return { path: '/', complete: true };
    const key = `${hi}:${lo}`;
    const known = this.dirPaths.get(key);
    if (known) return known;
    const unnamed = { path: `<inode ${u64HiLoToString(hi, lo)}>`, complete: false };
    let p: InodePath = unnamed;
    if (depth < MAX_DEPTH) {
      // a placeholder while resolving: a loop ends at it instead of recursing for ever
      this.dirPaths.set(key, unnamed);
      const bp = this.backpointerOf(hi, lo);
      if (bp) p = this.viaDirent(bp[0], bp[1], bp[2], bp[3], depth);
      else {
        // no usable backpointer: the first dirent pointing to it names it
        const idx = this.direntIndex();
        let first = -1;
        idx.rowsPointingTo(hi, lo, (row) => {
          if (first < 0) first = row;
        });
        if (first >= 0) {
          const d = idx.dirOfRow(first);
          p = this.viaDirent(idx.dirHi[d]!, idx.dirLo[d]!, idx.offHi[first]!, idx.offLo[first]!, depth);
        }
      }
    }
    this.dirPaths.set(key, p);
    return p;
  }

  private pointsTo(hi: number, lo: number): boolean {
    const t = this.ft!;
    const v = t.valOff[this.fr]!;
    return t.type[this.fr] === KEY_TYPE_dirent && readU32(t.buf, v) === lo && readU32(t.buf, v + 4) === hi;
  }

  /** The name of the dirent found last (bytes up to the first NUL, as UTF-8). */
  private name(): string {
    const t = this.ft!;
    const v = t.valOff[this.fr]! + 9;
    const end = t.valOff[this.fr]! + t.valLen[this.fr]!;
    let e = v;
    while (e < end && t.buf[e] !== 0) e++;
    return utf8.decode(t.buf.subarray(v, e));
  }

  private direntIndex(): DirentIndex {
    if (!this.dirents) {
      const idx = new DirentIndex();
      forEachKey(this.fs, BTREE_ID_dirents, (t, r) => {
        if (t.type[r] !== KEY_TYPE_dirent) return;
        const v = t.valOff[r]!;
        idx.push(t.inodeHi[r]!, t.inodeLo[r]!, t.offsetHi[r]!, t.offsetLo[r]!, readU32(t.buf, v + 4), readU32(t.buf, v), t.buf[v + 8]!);
      });
      this.dirents = idx;
    }
    return this.dirents;
  }

  /**
   * Point lookup of the key at inode:offset (any snapshot) with the journal laid over the btree; sets ft/fr.
   * Descends from the root through the children covering the position, reading each node once.
   */
  private lookup(btreeId: number, ih: number, il: number, oh: number, ol: number): boolean {
    const root = this.fs.roots[btreeId];
    if (!root || root.fake) return false;
    let ptr = root.ptr;
    for (let level = root.level; level >= 0; level--) {
      const node = this.node(btreeId, level, ptr);
      if (!node.readable) return false;
      const keys = nodeKeysWithJournal(this.fs, node);
      // first key at or after the position (interior keys sit at their child's max_key)
      let a = 0;
      let b = keys.count;
      while (a < b) {
        const m = (a + b) >>> 1;
        if (cmpPos(keys.table(m), keys.row(m), ih, il, oh, ol) < 0) a = m + 1;
        else b = m;
      }
      if (a === keys.count) return false;
      const found = a;
      const t = keys.table(found);
      const r = keys.row(found);
      if (level === 0) {
        if (cmpPos(t, r, ih, il, oh, ol) !== 0) return false;
        this.ft = t;
        this.fr = r;
        return true;
      }
      const child = btreePtrFromKey(t, r);
      if (!child) return false;
      ptr = child;
    }
    return false;
  }

  private node(btreeId: number, level: number, ptr: { ptrs: { dev: number; offset: number }[] }): BtreeNode {
    const p = ptr.ptrs[0];
    const key = `${btreeId}:${p?.dev}:${p?.offset}`;
    let n = this.nodes.get(key);
    if (n) {
      // most recently used last
      this.nodes.delete(key);
    } else {
      n = this.fs.readNodeAt(btreeId, level, ptr as Parameters<Filesystem['readNodeAt']>[2]);
      const max = Math.max(8, Math.floor(NODE_CACHE_BYTES / (this.fs.sb.btreeNodeSize * 512)));
      if (this.nodes.size >= max) this.nodes.delete(this.nodes.keys().next().value!);
    }
    this.nodes.set(key, n);
    return n;
  }
}

/** Paths of an inode, from an FsckContext (after check_dirents) or a Filesystem (reads what it needs). */
export function pathsOf(from: FsckContext | Filesystem, inum: number | bigint): InodePath[] {
  const r = 'inodes' in from && 'fs' in from ? PathResolver.fromContext(from) : new PathResolver(from as Filesystem);
  return r.pathsOf(inum);
}

/** Row's (inode, offset) against a position, snapshot ignored. */
function cmpPos(t: KeyTable, r: number, ih: number, il: number, oh: number, ol: number): number {
  const a = t.inodeHi[r]!;
  if (a !== ih) return a < ih ? -1 : 1;
  const b = t.inodeLo[r]!;
  if (b !== il) return b < il ? -1 : 1;
  const c = t.offsetHi[r]!;
  if (c !== oh) return c < oh ? -1 : 1;
  const d = t.offsetLo[r]!;
  if (d !== ol) return d < ol ? -1 : 1;
  return 0;
}

function halves(inum: number | bigint): [number, number] {
  if (typeof inum === 'bigint') return [Number((inum >> 32n) & 0xffff_ffffn), Number(inum & 0xffff_ffffn)];
  if (!Number.isSafeInteger(inum) || inum < 0) throw new RangeError(`inode number ${inum} is not a u64 held exactly: pass a bigint`);
  return [Math.floor(inum / 2 ** 32), inum >>> 0];
}
