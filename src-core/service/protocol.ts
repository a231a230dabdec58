// The service's message API: the one interface the UI (and anything else out of process) uses.
//
// Requests  {id, method, params}      -> responses {id, result} or {id, error: {message, code?}}
// Events    {event, data}             (no id; progress and completion of a check, session changes)
//
// Every payload is plain JSON (bigints travel as decimal strings), so the same messages go over stdio
// JSON lines, Node IPC, Electron's MessagePort/utilityProcess and HTTP without any other encoding.
// This file has no Node imports (check/findings.ts, whose types it uses, has none either): the renderer
// imports its types.

import type { Finding, Severity } from '../check/findings.js';

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
  /** Machine-readable: NOT_OPEN, CHECK_RUNNING, BAD_REQUEST, OPEN_FAILED, NO_CHECKER, INTERNAL, ... */
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
  /** Opens an image file, a .img.gz (always read-only) or a block device. Closes what was open. */
  open: { path: string; write?: boolean };
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
}

export type Method = keyof Params;

export const METHODS: readonly Method[] = ['hello', 'open', 'superblock', 'btrees', 'check.start', 'check.cancel', 'findings', 'close'];

export interface HelloResult {
  protocol: number;
  version: string;
  /** The bundled sample image, if it was found; the UI proposes it. */
  sampleImage: string | null;
  /** False until the checker (src-core/check) is part of the build. */
  checkAvailable: boolean;
  /** Whether the service would open anything for writing. Always false in this version. */
  writeSupported: boolean;
  /** Currently open image, if any (e.g. after a page reload in browser mode). */
  open: OpenResult | null;
}

export interface OpenResult {
  path: string;
  /** bytes */
  size: number;
  readOnly: boolean;
  isBlockDevice: boolean;
  /** O_DIRECT in use */
  direct: boolean;
  /** superblockSummary() of src-core/format/superblock.ts, JSON-safe */
  summary: SuperblockSummary;
  /** the sector the superblock was read from (8 unless the backup was used) */
  superblockSector: number;
  usedBackupSuperblock: boolean;
  /** where the btree roots came from: the superblock's clean section or the journal */
  rootsFrom: 'clean' | 'journal';
  /** for the user: fallbacks, backup superblock, temporary files, journal damage */
  notes: string[];
}

export interface SuperblockSummary {
  externalUuid: string;
  internalUuid: string;
  deviceIndex: number;
  label: string;
  version: number;
  oldestVersionOnDisk: number;
  created: number;
  seq: string;
  blockSize: number;
  btreeNodeSize: number;
  errorAction: string;
  clean: number;
  features: string;
  compatFeatures: string;
  metadataReplicas: number;
  dataReplicas: number;
  metadataChecksumType: string;
  dataChecksumType: string;
  compressionType: string;
  stringHashType: string;
  devices: { live: number; total: number };
  members: Array<{ device: number; uuid: string; size: number; bucketSize: number; buckets: number; state: string; dataAllowed: string }>;
  [more: string]: unknown;
}

export interface BtreeOverview {
  id: number;
  name: string;
  /** no node on disk (bcachefs's fake root) */
  empty: boolean;
  rootLevel: number;
  /** all nodes, leaves included */
  nodes: number;
  /** nodes per level, index = level */
  nodesPerLevel: number[];
  /** interior nodes that could not be read (their subtrees are not counted) */
  unreadable: number;
  /** device sector of the root node */
  rootSector: number | null;
}

export interface BtreesResult {
  btrees: BtreeOverview[];
  /** total nodes and the bytes a full walk reads (nodes x btree node size) */
  totalNodes: number;
  totalBytes: number;
}

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
  /** what the checker could not examine, in words */
  limitations: string[];
  /** one line per class: what the class means (the checker's FINDING_CLASSES) */
  classes: Record<string, string>;
}

// ---------------------------------------------------------------- events

export type CheckStatus = 'running' | 'completed' | 'cancelled' | 'failed';

export interface CheckProgress {
  checkId: number;
  /** what the checker is doing: superblock, roots, alloc, btrees, gc_done, leaves, done */
  phase: string;
  /** the btree being walked, in the btrees phase */
  btree?: string;
  nodesDone: number;
  /** estimate from the btree overview (or the checker's own count) */
  nodesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** 0..1, estimated */
  fraction: number;
  /** estimated seconds left, null while unknown */
  etaSeconds: number | null;
  elapsedMs: number;
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

export interface Events {
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
}

export function isMethod(m: unknown): m is Method {
  return typeof m === 'string' && (METHODS as readonly string[]).includes(m);
}
