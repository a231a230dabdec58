// The problem table and the one decision every report goes through, as e2fsck's problem.c and
// fix_problem(): per class of problem, what it means, how bad it is, how bcachefs 2021 reports it (which
// decides what each mode appends to its message), the message and explanation builders, the repair
// bcachefs would make and where that repair is known to fall short.
//
// The table is composable: the mark and sweep classes are in check/problems.ts (GC_PROBLEMS), the fsck
// passes declare theirs in fsck/, and PROBLEMS folds them in. Those files import only types from here.
// No Node imports: the renderer reads these types.
import * as M from './check/messages.js';
import { GC_PROBLEMS } from './check/problems.js';
import { FSCK_CLASSES, type FsckRepairKind } from './fsck/classes.js';

/**
 * error:   bcachefs 2021 reports this during recovery / mark and sweep (an fsck error, or the node read
 *          error that stops it).
 * warning: a real inconsistency that 2021 bcachefs does not report (it repairs it silently, or had already
 *          stopped), or damage it only logs (a bad checksum on a node it still uses).
 * info:    worth knowing, nothing to repair.
 */
export type Severity = 'error' | 'warning' | 'info';

/**
 * Where bcachefs 2021 would report it: during recovery before mark and sweep (root and alloc reads),
 * during mark and sweep, or only later in the fsck passes (leaves gc does not visit).
 */
export type FindingStage = 'recovery' | 'gc' | 'fsck';

/** What bcachefs does about it (with -y, or what it would do if it could). */
export type RepairKind =
  | 'none'
  | 'unimplemented'
  | 'drop_node_pointer'
  | 'set_node_min_key'
  | 'set_node_max_key'
  | 'set_bucket_gen_from_ptr'
  | 'drop_stale_ptr'
  | 'update_btree_ptr_gen'
  | 'set_key_version'
  | 'mark_replicas'
  | 'rewrite_alloc_key'
  | 'rewrite_usage'
  | 'rewrite_superblock'
  | 'fix_on_read'
  | FsckRepairKind;

export interface Repair {
  kind: RepairKind;
  /** what bcachefs would do, in words */
  description: string;
}

/**
 * How bcachefs 2021 reports the problem (error.c's flags); it decides what each mode appends:
 * - fsck_err:         FSCK_CAN_FIX | FSCK_CAN_IGNORE: -n appends ", not fixing", -y ", fixing";
 * - mustfix_fsck_err: FSCK_CAN_FIX only: ", fixing" in every mode (the initial gc fixes it even under -n);
 * - need_fsck:        FSCK_NEED_FSCK (check_bucket_ref): " (run fsck to correct)" in every mode;
 * - no_fix:           neither flag: " (repair unimplemented)" in every mode;
 * - log:              no fsck error, a bch_err log block (the finding's log_message);
 * - silent:           bcachefs says nothing (it repairs silently, or never looks).
 */
export type Reported = 'fsck_err' | 'mustfix_fsck_err' | 'need_fsck' | 'no_fix' | 'log' | 'silent';

/** What `fsck` appends to the message after a comma: -n's 'not fixing', or 'fixing'; null when it appends nothing. */
export type Disposition = 'not fixing' | 'fixing' | null;

/**
 * The mode a report is decided in: 'check' is `fsck -n` (report only; the only one in use until repair
 * lands), 'yes' is `fsck -y` (fix what can be fixed), 'plan' reports as 'check' and hands the fixable ones
 * to the repair planner.
 */
export type Policy = 'check' | 'yes' | 'plan';

/** What expected / actual hold for a class. */
export type ValueKind =
  | 'gen' // a bucket or pointer gen (u8 number)
  | 'pos' // a bpos as bch2_bpos_to_text prints it (the parts are in the repair parameters)
  | 'u64' // a 64-bit counter as an exact decimal string
  | 'count' // sectors, buckets or inodes (numbers; bcachefs's counters that fit 2^53, see RecordedUsage.oversized)
  | 'data_type' // a bch_data_type number
  | 'none';

export interface ProblemRow<I = never> {
  /** what the class means, in one line */
  summary: string;
  severity: Severity;
  /** the stage every finding of the class has (the fsck passes' classes); else the reporting section's */
  stage?: FindingStage;
  reported: Reported;
  /** what the finding's expected / actual hold */
  values: ValueKind;
  /** bcachefs's text (without the suffix `reported` adds); null where this instance prints nothing */
  message?: (i: I) => string | null;
  explain: (i: I) => string;
  repair: Repair | ((i: I) => Repair);
  /**
   * where bcachefs 2021's own repair of this is known to fall short (it aborted, crashed, went read-only or
   * left errors behind on the fixtures with this damage)
   */
  shortfall?: string | ((i: I) => string | undefined);
}

/** A table of problem rows by class name. */
export type ProblemTable = Record<string, ProblemRow<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What decide() says about one report. */
export interface Decision {
  /** whether the message is printed (false: silent, or a log block) */
  printed: boolean;
  /** what follows the message after ", " in this mode */
  disposition: Disposition;
  /** the fixed suffix of the message (" (run fsck to correct)", " (repair unimplemented)"), or '' */
  suffix: string;
  /** what happens to the problem: reported only, fixed now (-y), or handed to the planner */
  action: 'report' | 'fix' | 'plan';
}

/**
 * fix_problem(): the one gate every report goes through. `repair` is the repair kind of this instance;
 * `silent` is set where bcachefs prints nothing for it (gc_done without BCH_COMPAT_alloc_info).
 */
export function decide(reported: Reported, repair: RepairKind, policy: Policy, silent = false): Decision {
  const r = silent ? 'silent' : reported;
  const fixable = repair !== 'none' && repair !== 'unimplemented';
  const action = !fixable || policy === 'check' ? 'report' : policy === 'yes' ? 'fix' : 'plan';
  switch (r) {
    case 'fsck_err':
      return { printed: true, disposition: policy === 'yes' && fixable ? 'fixing' : 'not fixing', suffix: '', action };
    case 'mustfix_fsck_err':
      return { printed: true, disposition: 'fixing', suffix: '', action };
    case 'need_fsck':
      return { printed: true, disposition: null, suffix: ' (run fsck to correct)', action };
    case 'no_fix':
      return { printed: true, disposition: null, suffix: ' (repair unimplemented)', action };
    default:
      return { printed: false, disposition: null, suffix: '', action };
  }
}

/** Folds tables into one; a class declared twice is a programming error. */
export function composeProblems<A extends ProblemTable, B extends ProblemTable>(a: A, b: B): A & B {
  for (const k of Object.keys(b)) if (k in a) throw new Error(`problem class ${k} is declared twice`);
  return { ...a, ...b };
}

/**
 * A class declared as the fsck passes declare theirs (fsck/classes.ts FSCK_CLASSES): an fsck error printed
 * with ", not fixing" under -n, whose message the pass builds itself.
 */
export interface DeclaredClass {
  severity: Severity;
  stage: FindingStage;
  explanation: string;
  /** the repair kind bcachefs -y applies */
  repair: RepairKind;
  repairText: string;
  /** where bcachefs 2021's fsck -y is known to fail at this repair */
  shortfall?: string;
}
export interface DeclaredInput {
  /** bcachefs's text, as the pass built it */
  message: string;
  /** added to the class's explanation */
  detail?: string;
}

/** Rows for declared classes, to fold in with composeProblems. */
export function rowsFromDeclarations<T extends Record<string, DeclaredClass>>(decls: T): { [K in keyof T]: ProblemRow<DeclaredInput> } {
  const rows: Record<string, ProblemRow<DeclaredInput>> = {};
  for (const [cls, d] of Object.entries(decls)) {
    rows[cls] = {
      summary: d.explanation,
      severity: d.severity,
      stage: d.stage,
      reported: 'fsck_err',
      values: 'none',
      message: (i) => M.fsckBuf(i.message),
      explain: (i) => (i.detail ? `${d.explanation}: ${i.detail}` : d.explanation),
      repair: { kind: d.repair, description: d.repairText },
      ...(d.shortfall !== undefined ? { shortfall: d.shortfall } : {}),
    };
  }
  return rows as { [K in keyof T]: ProblemRow<DeclaredInput> };
}

/** Every class: mark and sweep's (check/problems.ts) and the fsck passes' (fsck/classes.ts). */
export const PROBLEMS = composeProblems(GC_PROBLEMS, rowsFromDeclarations(FSCK_CLASSES));
export type ProblemClass = keyof typeof PROBLEMS;
/** The input a class's builders take. */
export type ProblemInput<C extends ProblemClass> = (typeof PROBLEMS)[C] extends ProblemRow<infer I> ? I : never;

/** One line per class: what it means (the UI's legend). */
export const FINDING_CLASSES: Record<ProblemClass, string> = Object.fromEntries(
  Object.entries(PROBLEMS).map(([k, r]) => [k, r.summary]),
) as Record<ProblemClass, string>;
