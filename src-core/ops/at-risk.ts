// What each problem puts at risk: the files it touches (inode numbers, with their paths resolved through the
// dirents by fsck/paths.ts) and the file data its findings name (the sectors of their extents, each extent
// once). A finding about a key names that key's inode; one about a node (unreadable, a gap or an overlap
// between nodes) names every inode whose keys lie in the node's range, or in the gap; an fsck pass finding
// names its inode. The data of a problem about a node (what the node held, what the gap hides) is not in
// the findings: its sectors are null.
import type { Filesystem } from '../btree/fs.js';
import { forEachKey } from '../btree/fs.js';
import type { Finding } from '../check/findings.js';
import { filesystemOf, type Disk } from './disk.js';
import { groupFindings } from './grouping.js';
import { PathResolver } from '../fsck/paths.js';
import { BTREE_ID_inodes, KEY_TYPE_inode } from '../format/names.js';
import type { AtRisk, FixRef, Problem } from './ui-types.js';

/** btrees whose keys belong to an inode: the inode is the key's inode field (the inodes btree: its offset) */
const FILE_BTREES = new Set(['extents', 'inodes', 'dirents', 'xattrs']);
const NODE_KINDS = new Set(['set_node_min_key', 'set_node_max_key', 'drop_node_pointer']);
/** files listed per problem; the rest are counted */
const MAX_FILES = 20;

interface Range {
  lo: bigint;
  hi: bigint;
  text: string;
}

interface Touched {
  inodes: Set<bigint>;
  ranges: Range[];
  /** key text -> sectors, for the extents named */
  extents: Map<string, number>;
  unknownData: boolean;
}

const TWO32 = 1n << 32n;

/** The inode a position text ("inode:offset:snapshot") belongs to in `btree`. */
function inodeOfPos(btree: string, text: string): bigint | null {
  const m = /^(\d+):(\d+):/.exec(text);
  if (!m) return null;
  return BigInt(btree === 'inodes' ? m[2]! : m[1]!);
}

function touched(findings: readonly Finding[]): Touched {
  const t: Touched = { inodes: new Set(), ranges: [], extents: new Map(), unknownData: false };
  for (const f of findings) {
    const l = f.location;
    if (l.inode !== undefined && /^\d+$/.test(l.inode)) t.inodes.add(BigInt(l.inode));
    const btree = l.btree;
    if (!btree || !FILE_BTREES.has(btree)) continue;
    if (NODE_KINDS.has(f.repair.kind)) {
      // the node's range (its pointer's min_key .. pos), or the gap / overlap between the two keys
      const [a, b] = f.repair.kind === 'drop_node_pointer'
        ? [/ min_key (\S+)/.exec(l.key?.text ?? '')?.[1] ?? l.key?.pos.text, l.key?.pos.text]
        : [typeof f.expected === 'string' ? f.expected : undefined, typeof f.actual === 'string' ? f.actual : undefined];
      const x = a ? inodeOfPos(btree, a) : null;
      const y = b ? inodeOfPos(btree, b) : null;
      if (x !== null && y !== null) t.ranges.push({ lo: x < y ? x : y, hi: x < y ? y : x, text: bposOrder(a!, b!) });
      // which of those files' data the node held (or the gap hides) is not in the findings
      t.unknownData = true;
      continue;
    }
    if (!l.key || l.key.source === 'btree_root' || (l.level ?? 0) !== 0) continue;
    const inum = inodeOfPos(btree, l.key.pos.text);
    if (inum !== null) t.inodes.add(inum);
    if (btree === 'extents') {
      const len = / len (\d+) /.exec(l.key.text);
      if (len) t.extents.set(l.key.text, Number(len[1]));
    }
  }
  return t;
}

function bposOrder(a: string, b: string): string {
  return a === b ? a : `${a} .. ${b}`;
}

/** The inodes (from the inodes btree) whose numbers fall in any of the ranges, per range. */
function inodesIn(fs: Filesystem, ranges: readonly Range[]): Array<Set<bigint>> {
  const out = ranges.map(() => new Set<bigint>());
  if (!ranges.length) return out;
  // each bound as its two 32-bit halves, so the loop over every inode key compares plain numbers; a key
  // becomes a bigint only when it falls in a range (ranges are few and narrow)
  const bounds = ranges.map((r) => [Number(r.lo >> 32n), Number(r.lo & 0xffff_ffffn), Number(r.hi >> 32n), Number(r.hi & 0xffff_ffffn)] as const);
  forEachKey(fs, BTREE_ID_inodes, (k, row) => {
    if (k.type[row] !== KEY_TYPE_inode) return;
    const hi = k.offsetHi[row]!;
    const lo = k.offsetLo[row]!;
    for (let i = 0; i < bounds.length; i++) {
      const [loHi, loLo, hiHi, hiLo] = bounds[i]!;
      if ((hi > loHi || (hi === loHi && lo >= loLo)) && (hi < hiHi || (hi === hiHi && lo <= hiLo))) out[i]!.add(BigInt(hi) * TWO32 + BigInt(lo));
    }
  });
  return out;
}

/** The problems with what each puts at risk, resolved on `fs` (the disk the findings came from). */
export function withAtRisk(fs: Filesystem, findings: readonly Finding[], problems: readonly Problem[]): Problem[] {
  const byId = new Map(findings.map((f) => [f.id, f]));
  const each = problems.map((p) => touched(p.findings.map((id) => byId.get(id)).filter((f): f is Finding => !!f)));
  const allRanges = each.flatMap((t) => t.ranges);
  const inRanges = inodesIn(fs, allRanges);
  const paths = new PathResolver(fs);
  let r = 0;
  return problems.map((p, i) => {
    const t = each[i]!;
    for (const _ of t.ranges) for (const n of inRanges[r++]!) t.inodes.add(n);
    if (!t.inodes.size && !t.extents.size && !t.unknownData) return p;
    const inodes = [...t.inodes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const atRisk: AtRisk = {
      files: inodes.slice(0, MAX_FILES).map((n) => ({ inode: n.toString(), paths: paths.pathsOf(n).map((x) => x.path) })),
      moreFiles: Math.max(0, inodes.length - MAX_FILES),
      sectors: t.unknownData ? null : [...t.extents.values()].reduce((a, b) => a + b, 0),
      ...(t.ranges.length ? { range: t.ranges.map((x) => x.text).join('; ') } : {}),
    };
    return { ...p, atRisk };
  });
}

/** The findings of a check of `disk` grouped into problems (by the plan's fixes, if given), each with what it puts at risk. */
export function problemsOf(disk: Disk, findings: readonly Finding[], fixes: readonly FixRef[] = []): Problem[] {
  return withAtRisk(filesystemOf(disk), findings, groupFindings(findings, fixes));
}
