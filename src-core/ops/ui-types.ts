// Types of what the UI is sent beyond the check's findings: problems (ops/grouping.ts), the pictures'
// data (ops/pictures.ts) and the repair flow (plan, apply, history, undo, report through the service).
// Plain JSON and no Node imports: the renderer imports them through src-core/service/protocol.ts.
import type { Finding, Severity } from '../check/findings.js';

export interface Problem {
  /** stable for the same findings (and plan): the first fix's id, else the first finding's */
  id: string;
  /** one line: what is wrong, and where */
  title: string;
  /** 'plan': grouped by the fixes that resolve them; 'location': by the node or bucket they are about */
  groupedBy: 'plan' | 'location';
  /** the worst severity among its findings */
  severity: Severity;
  /** btree concerned, if one */
  btree?: string;
  /** the node (dev:sector) or bucket (dev:bucket) concerned, if one */
  where?: string;
  /** fix ids (plan order) when grouped by plan */
  fixes: string[];
  /** classes of its findings, most frequent first */
  classes: string[];
  /** its findings' ids, in check order */
  findings: string[];
  /** the files and data it puts at risk (ops/at-risk.ts), when the disk was at hand to resolve them */
  atRisk?: AtRisk;
}

/** What a problem puts at risk: the files it touches, by inode and path, and the file data its findings name. */
export interface AtRisk {
  /** inode numbers (exact decimals), each with its paths through the dirents ([]: no dirent names it) */
  files: Array<{ inode: string; paths: string[] }>;
  /** files beyond those listed */
  moreFiles: number;
  /** sectors of file data in the extents its findings name (each extent once); null when the findings do not say (a problem about a node: what it held, what a gap hides) */
  sectors: number | null;
  /** for a problem about a node: the key range the files were taken from */
  range?: string;
}

/** What grouping needs of a fix (a RepairFix has these). */
export interface FixRef {
  id: string;
  title: string;
  resolves: readonly string[];
  dependsOn?: readonly string[];
}

export interface RangeChild {
  /** index among the parent's children */
  index: number;
  /** the child's node (dev:sector) */
  node: string;
  /** [min_key, max_key] as the parent's pointer gives them */
  min: string;
  max: string;
  /** the child's own header range and first/last key (read only for the children near the finding) */
  header?: { min: string; max: string };
  firstKey?: string;
  lastKey?: string;
  /** how this child's min follows the previous child's max: 'ok', or a gap / an overlap between them */
  join: 'first' | 'ok' | 'gap' | 'overlap';
  /** the finding is about this child */
  subject: boolean;
}

export interface KeyRangeMap {
  btree: string;
  /** the parent's level (the children are one below) */
  level: number;
  parent: { node: string; min: string; max: string };
  /** the children around the finding's (at most 9), in key order */
  children: RangeChild[];
  /** children of the parent not shown, before and after */
  hiddenBefore: number;
  hiddenAfter: number;
  /** the same children after the finding's repair (the key it sets), or null when it sets none */
  after: RangeChild[] | null;
  /** what the repair changes, in words */
  afterNote: string | null;
}

export type CellState = 'free' | 'sb' | 'journal' | 'btree' | 'user' | 'cached' | 'parity' | 'damaged' | 'unknown';

export interface BucketCell {
  /** first and last bucket of the cell */
  first: number;
  last: number;
  /** the data type most of its buckets hold (gc's recomputed view), or damaged/unknown */
  state: CellState;
  /** buckets whose alloc key disagrees with what gc recomputed */
  mismatched: number;
  /** buckets a finding is about */
  flagged: number;
  /** a one-bucket cell: its fields, alloc key (as recorded) → gc (recomputed) */
  bucket?: { gen: [number, number]; oldest_gen: [number, number]; data_type: [string, string]; dirty_sectors: [number, number]; cached_sectors: [number, number] };
  /** sectors in use in the cell (gc view) */
  sectors: number;
}

export interface BucketMap {
  dev: number;
  buckets: number;
  bucketSize: number;
  /** buckets per cell (1 when every bucket has its own) */
  perCell: number;
  cells: BucketCell[];
  /** buckets of the findings, as "dev:bucket" */
  flagged: string[];
  counts: Record<string, number>;
}

export interface HexField {
  /** "header.min_key", "bset 0.seq", "key 12", ... */
  name: string;
  /** byte range within the node [start, end) */
  start: number;
  end: number;
  /** decoded value, as text */
  value: string;
  /** the finding is about these bytes */
  damaged?: boolean;
}

export interface HexView {
  /** the node: btree, level, dev:sector, and its device byte offset */
  title: string;
  deviceOffset: number;
  /** the window shown, within the node */
  start: number;
  /** its bytes, hex */
  hex: string;
  /** the structure: header fields, bsets, keys (those overlapping the window, and every header field) */
  fields: HexField[];
  /** the node's size and how much of it is written */
  nodeBytes: number;
  writtenBytes: number;
  /** read errors, in bcachefs's words */
  errors: string[];
}

export interface HexRequest {
  btreeId: number;
  level: number;
  dev: number;
  sector: number;
  /** a byte in the node to centre on (default: the header) */
  focus?: number;
  /** bytes of the window (default 512, at most 4096) */
  length?: number;
  /** fields to mark damaged (names as in HexField.name, or "key@OFFSET") */
  damaged?: string[];
}

// ---------------------------------------------------------------- the repair flow

/** One write of a fix, bytes as hex (as the journal stores them). */
export interface FixWriteJson {
  /** device byte offset */
  offset: number;
  old: string;
  new: string;
  target: { kind: string; btree?: string; level?: number; sector?: number; pos?: string; nodeSector?: number; field?: string; what?: string };
  changes?: { field: string; before: string; after: string }[];
}

/** A planned fix (repair/types.ts RepairFix) as JSON. */
export interface FixJson {
  id: string;
  title: string;
  resolves: string[];
  writes: FixWriteJson[];
  summary: string;
  evidence: string[];
  lost: string[];
  kept: string[];
  alternatives: FixJson[];
  dependsOn: string[];
}

export interface PlanResult {
  /** in the order they must be applied */
  fixes: FixJson[];
  /** findings no fix resolves, and why */
  unresolved: { id: string; class: string; severity: Severity; reason: string }[];
  /** the findings the plan was made for */
  findings: Finding[];
  /** those findings grouped by the fixes that resolve them */
  problems: Problem[];
  rounds: number;
  cancelled: boolean;
}

export interface ApplyResult {
  device: string;
  journal: string;
  /** the journal's session number */
  session: number;
  /** what was finished for a crashed run first */
  recovered: string[];
  /** fixes applied: plan id -> journal fix number */
  applied: { id: string; fix: number }[];
  skipped: string[];
  cancelled: boolean;
  /** the check after */
  after: Finding[];
}

/** The journal in the words of history (report/model.ts Report, the parts the UI shows). */
export interface HistoryResult {
  journal: string;
  lines: string[];
  sessions: {
    id: number;
    who: string;
    startedAt: string;
    devicePath: string;
    checks: { stage: 'before' | 'after'; at: string; findings: { id: string; class: string; severity: string; message?: string }[] }[];
    fixes: { id: number; planId: string; title: string; resolves: string[]; state: string; startedAt: string; writes: { offset: number; length: number }[] }[];
  }[];
}

export interface UndoResult {
  device: string;
  session: number;
  /** journal fix numbers undone */
  undone: number[];
  recovered: string[];
  /** the check after the undo */
  after: Finding[];
}

export interface ReportResult {
  format: 'html' | 'json' | 'pdf';
  /** the file written */
  path: string;
  /** html: the document, to show it */
  html?: string;
}
