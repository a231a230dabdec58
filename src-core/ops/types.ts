// The data the operations layer hands to every front end. Plain JSON (bigints as decimal strings) and no
// Node imports: the service sends these as they are, and the renderer imports them (via protocol.ts).
import type { Finding, Severity } from '../check/findings.js';
import type { CheckStats } from '../check/stats.js';

export type { CheckStats, Finding, Severity };

/** Version of the JSON documents the CLI prints (--json); raised when a field changes meaning or goes. */
export const JSON_SCHEMA_VERSION = 1;

/** What names a disk in every JSON document and, later, in the journal. */
export interface DeviceIdentity {
  /** the path as the user gave it */
  path: string;
  /** bcachefs's external (user) uuid, as show-super prints it */
  uuid: string;
  internalUuid: string;
  /** bytes */
  size: number;
  isBlockDevice: boolean;
}

/** The header of every --json document: which tool, which schema, which disk. */
export interface JsonEnvelope {
  schemaVersion: number;
  tool: { name: string; version: string };
  device: DeviceIdentity;
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

/** An open disk, as the front ends show it. */
export interface DiskInfo {
  /** the path as the user gave it (after ~ expansion) */
  path: string;
  /** bytes */
  size: number;
  /** always true: this version opens every disk read-only */
  readOnly: true;
  isBlockDevice: boolean;
  /** O_DIRECT in use */
  direct: boolean;
  summary: SuperblockSummary;
  /** the sector the superblock was read from (8 unless the backup was used) */
  superblockSector: number;
  usedBackupSuperblock: boolean;
  /** where the btree roots came from: the superblock's clean section or the journal */
  rootsFrom: 'clean' | 'journal';
  /** for the user: fallbacks, backup superblock, temporary files, journal damage */
  notes: string[];
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

/** Progress of a check, computed the same way for every front end. */
export interface CheckProgress {
  /** what the checker is doing: starting, superblock, roots, alloc, btrees, gc_done, leaves, done */
  phase: string;
  /** the btree being walked, in the btrees phase */
  btree?: string;
  nodesDone: number;
  /** estimate from the btree overview (or the checker's own count) */
  nodesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** 0..1, estimated; never goes back; 0.99 until the result is out */
  fraction: number;
  /** estimated seconds left, null while unknown */
  etaSeconds: number | null;
  elapsedMs: number;
}

export interface CheckReport {
  findings: Finding[];
  stats: CheckStats;
  /** cancelled: the findings are those found until then */
  aborted: boolean;
  /** what the checker could not examine, in words */
  limitations: string[];
  /** one line per class: what the class means */
  classes: Record<string, string>;
}
