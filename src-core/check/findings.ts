// What the checker reports: one Finding per problem, in the order bcachefs's mark and sweep (btree_gc.c,
// 2021) would print its messages.

import {
  decide, PROBLEMS, type Disposition, type FindingStage, type Policy, type ProblemClass, type ProblemInput, type ProblemRow, type Repair,
  type RepairKind, type Severity,
} from '../problems.js';

export type { Disposition, FindingStage, Policy, Repair, RepairKind, Severity };
export { FINDING_CLASSES } from '../problems.js';
export type FindingClass = ProblemClass;

/**
 * A bpos, exactly: the text bcachefs prints and the parts (64-bit fields as exact decimal strings, never a
 * rounded JS number).
 */
export interface PosParts {
  text: string;
  inode: string;
  offset: string;
  snapshot: number;
}

const U64_MAX_TEXT = '18446744073709551615';
const POS_WORDS: Record<string, string> = { U64_MAX: U64_MAX_TEXT };

/**
 * The position of a key from its text as bcachefs prints it ("u64s 7 type dirent 4096:123:U32_MAX len 0
 * ver 0: ..."), exactly (decimal strings), for findings whose pass holds only the key's text.
 */
export function posPartsFromText(keyText: string): PosParts {
  const text = /^u64s \d+ type \S+ (\S+)/.exec(keyText)?.[1] ?? 'POS_MIN';
  if (text === 'POS_MIN') return { text, inode: '0', offset: '0', snapshot: 0 };
  if (text === 'POS_MAX') return { text, inode: U64_MAX_TEXT, offset: U64_MAX_TEXT, snapshot: 0xffffffff };
  const [inode = '0', offset = '0', snap = '0'] = text.split(':');
  return { text, inode: POS_WORDS[inode] ?? inode, offset: POS_WORDS[offset] ?? offset, snapshot: snap === 'U32_MAX' ? 0xffffffff : Number(snap) };
}

/** A btree node on a device. */
export interface NodeAddr {
  dev: number;
  sector: number;
  /** the seq in the node's header, as read (decimal u64); absent when the node was not read */
  seq?: string;
  /** the seq the pointer to it expects (btree_ptr_v2, decimal u64) */
  ptr_seq?: string;
}

/** A key: what it says, where it is, and where its bytes are. */
export interface KeyLocation {
  /** the key as bcachefs prints it (bch2_bkey_val_to_text, with " stale" marks from the alloc gens) */
  text: string;
  pos: PosParts;
  /**
   * where the key is stored: a bset of the node holding it, a journal entry laid over that node (not yet
   * in a node), or the btree root entry (superblock clean section / journal)
   */
  source: 'bset' | 'journal' | 'btree_root';
  /** source 'bset': which bset of the node (0 = first) and the key's byte offset in the node */
  bset?: number;
  byte_offset?: number;
  /** its index among the node's keys as gc walks them (journal keys laid over) */
  index?: number;
}

/**
 * Where a finding is. Two families, each field with one meaning:
 * - key findings (pointers, marking, key version, replicas, topology): `node` is the node holding `key`,
 *   `level` its level; `child` is the node a btree pointer key points to;
 * - node findings (unreadable or damaged node, root range, empty node): `node` is the node itself, `key`
 *   the pointer to it, held by `parent` (absent for a root, whose pointer is in the btree root entry);
 * - bucket and usage findings have only `dev` (and `bucket`).
 * The root's own key (marked last, at level root + 1) is a key finding without `node`: key.source is 'btree_root'.
 */
export interface FindingLocation {
  btree_id?: number;
  /** btree name ("extents", ...) */
  btree?: string;
  level?: number;
  node?: NodeAddr;
  parent?: NodeAddr & { child_index: number };
  key?: KeyLocation;
  child?: NodeAddr;
  /** index of the pointer within the key (bkey_for_each_ptr order) */
  ptr_index?: number;
  /** device of the bucket, or of the pointer */
  dev?: number;
  bucket?: number;
  /** fsck pass findings: the inode concerned, as an exact decimal */
  inode?: string;
}

/** The alloc key fields a rewrite would write (gc's view of the bucket). */
export interface AllocFields {
  gen: number;
  oldest_gen: number;
  data_type: number;
  dirty_sectors: number;
  cached_sectors: number;
}

/** What a fix needs beyond the location (which fields are set depends on repair.kind). */
export interface RepairParams {
  /** the gen to set: the bucket's (set_bucket_gen_from_ptr) or the pointer's (update_btree_ptr_gen) */
  gen?: number;
  /** drop_stale_ptr: the pointer to drop (also location.ptr_index) */
  drop_ptr?: number;
  /** set_node_min_key / set_node_max_key: the key to set on the node (location.child, or node) and its pointer */
  min_key?: PosParts;
  max_key?: PosParts;
  /** rewrite_alloc_key: the recomputed bucket */
  alloc?: AllocFields;
  /** set_key_version: the version to record (decimal u64) */
  key_version?: string;
  /** mark_replicas: the entry to add */
  replicas?: { data_type: number; nr_required: number; devs: number[] };
  /** rewrite_usage: the recomputed counter (location and field say which) */
  value?: number;
}

export interface FindingRepair extends Repair {
  params?: RepairParams;
}

/** expected / actual: per class one type (the problem table's `values`: gen, pos text, u64 string, count) */
export type FindingValue = number | string | null;

export interface Finding {
  /** stable across runs: class and location (plus #n when one location has several of the same class) */
  id: string;
  class: FindingClass;
  severity: Severity;
  stage: FindingStage;
  location: FindingLocation;
  /** field concerned, for usage/bucket findings ("dirty_sectors", "user sectors", ...) */
  field?: string;
  expected?: FindingValue;
  actual?: FindingValue;
  repair: FindingRepair;
  /**
   * The exact text bcachefs 2021 prints for this error during fsck (continuation lines joined with "\n",
   * with the fixed suffixes " (run fsck to correct)" / " (repair unimplemented)" but without the
   * mode-dependent ", not fixing"/", fixing"); null when bcachefs prints no fsck error for it.
   */
  fsck_message: string | null;
  /** what `fsck -n` appends to fsck_message (", not fixing" → 'not fixing'); null if nothing */
  fsck_disposition: Disposition;
  /** a log line bcachefs prints for it that is not an fsck error ("error validating btree node ...") */
  log_message?: string;
  /** why it is an error, and why the severity is what it is */
  explanation: string;
  /** where bcachefs 2021's own repair of this is known to fall short: read it before trusting fsck -y */
  known_2021_shortfall?: string;
}

/** How a check site reports one problem: the class's builders get `input`; the rest is this instance's. */
export interface Report {
  /** the location part of the id */
  id: string;
  at: FindingLocation;
  field?: string;
  expected?: FindingValue;
  actual?: FindingValue;
  params?: RepairParams;
  log?: string;
  /** bcachefs prints nothing for this instance, and why (it becomes a warning) */
  silent?: string;
}

/** Collects findings: every report goes through the problem table and decide(), and gets a stable id. */
export class FindingList {
  readonly items: Finding[] = [];
  private readonly seen = new Map<string, number>();
  /** the stage given to findings added from now on */
  stage: FindingStage = 'gc';

  constructor(readonly policy: Policy = 'check') {}

  report<C extends ProblemClass>(cls: C, input: ProblemInput<C>, r: Report): Finding {
    const row = PROBLEMS[cls] as ProblemRow<ProblemInput<C>>;
    const repair: FindingRepair = { ...(typeof row.repair === 'function' ? row.repair(input) : row.repair) };
    if (r.params) repair.params = r.params;
    const d = decide(row.reported, repair.kind, this.policy, r.silent !== undefined);
    const message = d.printed ? (row.message?.(input) ?? null) : null;
    const base = `${cls}:${r.id}`;
    const n = (this.seen.get(base) ?? 0) + 1;
    this.seen.set(base, n);
    const f: Finding = {
      id: n === 1 ? base : `${base}#${n}`,
      class: cls,
      severity: r.silent !== undefined && row.severity === 'error' ? 'warning' : row.severity,
      stage: row.stage ?? this.stage,
      location: r.at,
      ...(r.field !== undefined ? { field: r.field } : {}),
      ...(r.expected !== undefined ? { expected: r.expected } : {}),
      ...(r.actual !== undefined ? { actual: r.actual } : {}),
      repair,
      fsck_message: message === null ? null : message + d.suffix,
      fsck_disposition: message === null ? null : d.disposition,
      ...(r.log !== undefined ? { log_message: r.log } : {}),
      explanation: row.explain(input) + (r.silent ? ` (${r.silent})` : ''),
    };
    const shortfall = typeof row.shortfall === 'function' ? row.shortfall(input) : row.shortfall;
    if (shortfall) f.known_2021_shortfall = shortfall;
    this.items.push(f);
    return f;
  }
}

/** The line(s) `fsck -n` prints for a finding, as they appear in its output. */
export function fsckPrintedText(f: Finding): string | null {
  if (f.fsck_message === null) return null;
  return f.fsck_disposition ? `${f.fsck_message}, ${f.fsck_disposition}` : f.fsck_message;
}

/** Thrown where a check (mark and sweep, the fsck passes) stops because it was cancelled. */
export class CheckAborted extends Error {
  constructor() {
    super('check aborted');
  }
}
