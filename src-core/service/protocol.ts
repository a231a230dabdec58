// The service's message API: the one interface the UI (and anything else out of process) uses.
//
// Requests  {id, method, params}      -> responses {id, result} or {id, error: {message, code?}}
// Events    {event, data}             (no id; progress and completion of a check, session changes)
//
// Every payload is plain JSON (bigints travel as decimal strings), so the same messages go over stdio
// JSON lines, Node IPC, Electron's MessagePort/utilityProcess and HTTP without any other encoding.
// This file has no Node imports (ops/types.ts, whose types it uses, has none either): the renderer
// imports its types.

import type {
  ApplyResult, BucketCell, BucketMap, FixJson, FixWriteJson, HexField, HexView, HistoryResult, KeyRangeMap, PlanResult, Problem, RangeChild, ReportResult, UndoResult,
} from '../ops/ui-types.js';
import type { BtreesResult, CheckProgress as OpsCheckProgress, DiskInfo, Finding, Severity } from '../ops/types.js';
import type { Completion, DeviceList, WorkingCopy, WorkingCopyProposal } from '../ops/device-types.js';

export type { Problem };
export type { ApplyResult, BucketCell, BucketMap, FixJson, FixWriteJson, HexField, HexView, HistoryResult, KeyRangeMap, PlanResult, RangeChild, ReportResult, UndoResult };
export type { BtreeOverview, BtreesResult, DeviceIdentity, SuperblockSummary } from '../ops/types.js';
export type { Completion, CompletionEntry, DeviceList, SystemDevice, WorkingCopy, WorkingCopyProposal } from '../ops/device-types.js';

export const PROTOCOL_VERSION = 1;

export type RequestId = number | string;

export interface Request<M extends Method = Method> {
  id: RequestId;
  method: M;
  params?: Params[M];
}

export interface ErrorInfo {
  /** One or two sentences for the user: what happened, then what to do. */
  message: string;
  /**
   * Machine-readable. Opening a device: its errno name (ENOENT, EACCES, EPERM, EBUSY, EROFS, ENXIO, ...), or
   * EBADFS when it holds no bcachefs this tool can read. Otherwise NOT_OPEN, CHECK_RUNNING, BAD_REQUEST,
   * NO_CHECKER, CLOSED, INTERNAL.
   */
  code?: string;
}

export type Response<M extends Method = Method> =
  | { id: RequestId; result: Results[M] }
  | { id: RequestId; error: ErrorInfo };

export interface EventMessage<E extends EventName = EventName> {
  event: E;
  data: Events[E];
}

export type Message = Response | EventMessage;

// ---------------------------------------------------------------- methods

export interface Params {
  /** Service facts the UI needs before anything is open. */
  hello: Record<string, never> | undefined;
  /** Opens an image file, a .img.gz or a block device, read-only. Closes what was open. */
  open: { path: string };
  /** The open filesystem's superblock summary and notes (same as open's result). */
  superblock: Record<string, never> | undefined;
  /** Per btree: root level and node counts (interior nodes are read; leaves are counted, not read). */
  btrees: Record<string, never> | undefined;
  /** Starts a check of the open filesystem; progress and completion arrive as events. */
  'check.start': Record<string, never> | undefined;
  /** Asks the running check to stop. */
  'check.cancel': Record<string, never> | undefined;
  /** Findings of the last check (completed or cancelled: what was found so far). */
  findings: Record<string, never> | undefined;
  /** Closes the open image (a gz image's temporary file is removed). */
  close: Record<string, never> | undefined;
  /** The machine's block devices now (lsblk), with size, model, serial, filesystem and mount state. */
  devices: Record<string, never> | undefined;
  /** Entries of the folder being typed whose names start with what was typed (path completion). */
  complete: { path: string };
  /** Where a working copy of an image would go (default folder unless one is given); nothing is written. */
  'workingCopy.propose': { path: string; folder?: string };
  /** Makes the working copy (unpacked) in the folder the user confirmed; never overwrites anything. */
  'workingCopy.make': { path: string; folder: string };
  /** A topology finding's key-range map (ops/pictures.ts), from the last check. */
  'picture.keyRange': { finding: string };
  /** The buckets of a device in at most `cells` cells, from the last check (default device 0, 2048 cells). */
  'picture.buckets': { dev?: number; cells?: number };
  /** A finding's node in hex with its decoded structure, the damaged field marked. */
  'picture.hex': { finding: string };
  /** Plans the repair of the open disk (reads only); progress as plan.progress events. */
  plan: Record<string, never> | undefined;
  /**
   * Applies the chosen fixes of the last plan (fix or alternative ids; a fix planned on top of another needs
   * it too) to the open image through the journal `journal`, then checks again. This is the write mode:
   * the front end asks for it only after the technician confirmed the device and the journal file.
   */
  apply: { journal: string; fixes: string[]; who?: string };
  /**
   * Asks the plan or apply that is running (or waiting to run) to stop: a plan at its next step, an apply
   * before its next fix (the fixes written so far stay written and journaled, each whole).
   */
  'repair.cancel': Record<string, never> | undefined;
  /**
   * The technician confirmed write mode for the open disk (`path`, which must be the open one) with the
   * journal `journal`. The front end (Electron's main, browser mode's server) records it and refuses apply and
   * undo without it (ServiceGate, src-core/ops/write-gate.ts).
   */
  'write.confirm': { path: string; journal: string };
  /** The journal's sessions, fixes and checks. */
  history: { journal: string };
  /** Undoes one fix, one session, or everything the journal did to the open image, then checks again. */
  undo: { journal: string; fix?: number; session?: number; all?: boolean };
  /** Writes the journal's report (html, json or pdf) to `output`. */
  report: { journal: string; format: 'html' | 'json' | 'pdf'; output: string };
}

export type Method = keyof Params;

export const METHODS: readonly Method[] = [
  'hello', 'open', 'superblock', 'btrees', 'check.start', 'check.cancel', 'findings', 'close', 'devices', 'complete', 'workingCopy.propose', 'workingCopy.make',
  'picture.keyRange', 'picture.buckets', 'picture.hex', 'plan', 'apply', 'repair.cancel', 'write.confirm', 'history', 'undo', 'report',
];

/** The parameters each method takes; the service refuses any other (a misspelt one must not be ignored). */
export const PARAM_NAMES: { readonly [M in Method]-?: readonly (keyof NonNullable<Params[M]>)[] } = {
  hello: [], open: ['path'], superblock: [], btrees: [], 'check.start': [], 'check.cancel': [], findings: [], close: [],
  devices: [], complete: ['path'], 'workingCopy.propose': ['path', 'folder'], 'workingCopy.make': ['path', 'folder'],
  'picture.keyRange': ['finding'], 'picture.buckets': ['dev', 'cells'], 'picture.hex': ['finding'],
  plan: [], apply: ['journal', 'fixes', 'who'], 'repair.cancel': [], 'write.confirm': ['path', 'journal'], history: ['journal'], undo: ['journal', 'fix', 'session', 'all'], report: ['journal', 'format', 'output'],
};

export interface HelloResult {
  protocol: number;
  version: string;
  /** The bundled sample image, if it was found; the UI proposes it. */
  sampleImage: string | null;
  /** Currently open image, if any (e.g. after a page reload in browser mode). */
  open: OpenResult | null;
  /** How the last check of the open image ended (null: none yet, or one is running), so a reloaded page can say it again. */
  lastCheck: CheckDone | null;
  /** The check running now, if any (a reloaded page shows its progress again). */
  runningCheck: number | null;
}

/** The open disk: path, size, superblock summary, notes (ops/types.ts). */
export type OpenResult = DiskInfo;

export interface CheckStartResult {
  checkId: number;
}

export interface CheckCancelResult {
  /** false when no check was running */
  cancelling: boolean;
}

export type FindingSeverity = Severity;
/** One finding, exactly as the checker reports it (plain JSON data). */
export type { Finding };

export interface FindingsResult {
  checkId: number | null;
  status: CheckStatus | null;
  findings: Finding[];
  /** the findings grouped by cause (ops/grouping.ts): every finding in exactly one problem */
  problems: Problem[];
  /** what the checker could not examine, in words */
  limitations: string[];
  /** one line per class: what the class means (the checker's FINDING_CLASSES) */
  classes: Record<string, string>;
}

// ---------------------------------------------------------------- events

export type CheckStatus = 'running' | 'completed' | 'cancelled' | 'failed';

/** ops' progress of a check, with the check it belongs to. */
export interface CheckProgress extends OpsCheckProgress {
  checkId: number;
}

export interface CheckDone {
  checkId: number;
  status: Exclude<CheckStatus, 'running'>;
  elapsedMs: number;
  findings: number;
  /** counts by severity */
  bySeverity: Record<string, number>;
  /** failed: what happened and what to do */
  error?: ErrorInfo;
  /** e.g. that the checker had to be stopped forcibly */
  notes: string[];
  /** what the checker could not examine, in words */
  limitations: string[];
}

export interface SessionClosed {
  /** why the open image was closed without being asked to */
  message: string;
}

/** Planning: which round, what it does ('check' or a planner), findings and fixes so far. */
export interface PlanProgress {
  round: number;
  step: string;
  findings: number;
  fixes: number;
}

/** Applying: fixes done of the total, the one being applied next. */
export interface ApplyProgress {
  done: number;
  total: number;
  planId?: string;
}

export interface Events {
  'plan.progress': PlanProgress;
  'apply.progress': ApplyProgress;
  'check.progress': CheckProgress;
  'check.done': CheckDone;
  'session.closed': SessionClosed;
}

export type EventName = keyof Events;

export interface Results {
  hello: HelloResult;
  open: OpenResult;
  superblock: OpenResult;
  btrees: BtreesResult;
  'check.start': CheckStartResult;
  'check.cancel': CheckCancelResult;
  findings: FindingsResult;
  close: { closed: boolean };
  devices: DeviceList;
  complete: Completion;
  'workingCopy.propose': WorkingCopyProposal;
  'workingCopy.make': WorkingCopy;
  'picture.keyRange': KeyRangeMap;
  'picture.buckets': BucketMap;
  'picture.hex': HexView;
  plan: PlanResult;
  apply: ApplyResult;
  'repair.cancel': { cancelling: boolean };
  'write.confirm': { path: string; journal: string };
  history: HistoryResult;
  undo: UndoResult;
  report: ReportResult;
}

export function isMethod(m: unknown): m is Method {
  return typeof m === 'string' && (METHODS as readonly string[]).includes(m);
}
