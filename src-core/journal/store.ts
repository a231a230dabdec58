// The repair journal file: one SQLite database (WAL, synchronous=FULL) chosen by the user, append-only,
// every row chained (chain.ts). This module records and reads; apply.ts decides what to write when.
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';
import Database from 'better-sqlite3';
import { chainHead, chainHeadAt, createSchema, rowHash, TABLES, verifyChain, type Cell, type ChainHead, type TableName, type VerifyResult } from './chain.js';
import { stepDone } from './crash.js';
import { sha256Hex, type DeviceIdentity } from './device.js';
import { JournalError } from './errors.js';
import { planToJson, type FieldChange, type FixPlan, type FixPlanJson, type WriteTarget } from './plan.js';

export const JOURNAL_FORMAT = 'bcachefs-repair-journal 1';
const ALL = Number.MAX_SAFE_INTEGER;
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Makes a new name in a folder durable (the file's own bytes are synced by SQLite). */
function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** ISO 8601 with the local time zone's offset, e.g. 2026-12-01T10:15:02.123+01:00. */
export function isoNow(d = new Date()): string {
  const off = -d.getTimezoneOffset();
  const p = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const local = new Date(d.getTime() + off * 60_000);
  return `${local.getUTCFullYear()}-${p(local.getUTCMonth() + 1)}-${p(local.getUTCDate())}T${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}.${p(local.getUTCMilliseconds(), 3)}${off < 0 ? '-' : '+'}${p(Math.trunc(off / 60))}:${p(off % 60)}`;
}

export type EventKind =
  | 'session_opened'
  | 'check_recorded'
  | 'decision'
  | 'fix_started'
  | 'fix_applied'
  | 'fix_rolled_back'
  | 'undo_started'
  | 'fix_undone';

export type FixState = 'started' | 'applied' | 'rolled_back' | 'undoing' | 'undone';
const STATE_OF: Partial<Record<EventKind, FixState>> = {
  fix_started: 'started', fix_applied: 'applied', fix_rolled_back: 'rolled_back', undo_started: 'undoing', fix_undone: 'undone',
};

export interface SessionInfo {
  /** a name typed in; the OS user when absent */
  who?: string;
  /** the tool and its version, e.g. "bcachefs-repair 0.1.0" */
  toolVersion: string;
  caseRef?: string;
  customer?: string;
  technician?: string;
}

export interface SessionRecord {
  id: number;
  seq: number;
  deviceId: number;
  who: string;
  whoSource: 'os' | 'typed';
  startedAt: string;
  toolVersion: string;
  caseRef: string | null;
  customer: string | null;
  technician: string | null;
}

/** One write of a fix (its images come from Journal.images: a report or an overlap test needs none). */
export interface WriteRecord {
  idx: number;
  offset: number;
  length: number;
  beforeSha256: string;
  afterSha256: string;
  target: WriteTarget;
  changes: FieldChange[];
}

export interface EventRecord {
  id: number;
  seq: number;
  hash: string;
  sessionId: number;
  fixId: number | null;
  kind: EventKind;
  at: string;
  detail: Record<string, unknown>;
}

export interface FixRecord {
  /** the journal's fix number (what `undo --fix` takes) */
  id: number;
  sessionId: number;
  planId: string;
  title: string;
  resolves: string[];
  plan: FixPlanJson;
  startedAt: string;
  state: FixState;
  writes: WriteRecord[];
  events: EventRecord[];
}

export interface CheckRecord {
  id: number;
  sessionId: number;
  stage: 'before' | 'after';
  at: string;
  summary: Record<string, unknown>;
  findings: Record<string, unknown>[];
}

export interface DecisionRecord {
  sessionId: number;
  planId: string;
  decision: 'accepted' | 'rejected' | 'alternative';
  alternative: string | null;
  note: string | null;
  at: string;
}

export interface DeviceRecord extends DeviceIdentity {
  id: number;
  at: string;
}

type Row = Record<string, Cell>;

export class Journal {
  private constructor(
    readonly file: string,
    private readonly db: Database.Database,
  ) {}

  /** Opens a journal file; creates it only with create (a repair starting a journal). */
  static open(file: string, opts: { create?: boolean } = {}): Journal {
    let db: Database.Database;
    try {
      if (opts.create === true && !existsSync(file)) Journal.createAside(file);
      db = new Database(file, { fileMustExist: true });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
    } catch (e) {
      if (e instanceof JournalError) throw e;
      if (opts.create !== true && !existsSync(file)) {
        throw new JournalError('NOT_FOUND', `the repair journal ${file} does not exist. Give the journal file the repair wrote (repair --journal FILE).`);
      }
      throw new JournalError('BAD_JOURNAL', `cannot open the repair journal ${file}: ${(e as Error).message}. Pick a journal file (or a new file name) on a disk other than the one being repaired.`);
    }
    const j = new Journal(file, db);
    try {
      j.init(opts.create === true);
    } catch (e) {
      db.close();
      if (e instanceof JournalError) throw e;
      throw new JournalError('BAD_JOURNAL', `${file} is not a bcachefs-repair journal (${(e as Error).message}). Pick the journal file written by the repair, or a new file name.`);
    }
    return j;
  }

  /**
   * A new journal is made beside its name (FILE.new-PID) and linked into place whole, then the folder is
   * synced: a kill while it is made leaves no journal (at most that file beside it), never an empty
   * database that undo and verify could not tell from a file that is no journal.
   */
  private static createAside(file: string): void {
    // SQLite would take a -wal left beside the name as the new journal's and replay someone else's pages into it
    for (const f of [`${file}-wal`, `${file}-shm`]) {
      if (existsSync(f)) {
        throw new JournalError('BAD_JOURNAL', `${f} is there but the journal ${file} is not: the journal was moved or deleted and its write-ahead log stayed. Put the journal back beside it, or move ${f} away (it belongs to that journal), then run again.`);
      }
    }
    const aside = `${file}.new-${process.pid}`;
    const asideFiles = [aside, `${aside}-wal`, `${aside}-shm`];
    // a leftover of a killed run that had the same process id
    for (const f of asideFiles) rmSync(f, { force: true });
    const db = new Database(aside);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      new Journal(aside, db).init(true);
    } finally {
      db.close(); // checkpoints: everything is in the file itself, the -wal is gone
    }
    try {
      linkSync(aside, file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (NO_HARD_LINKS.has(code)) {
        // FAT and some network filesystems have no hard links; a rename would replace a journal made since the check
        if (!existsSync(file)) renameSync(aside, file);
      } else if (code !== 'EEXIST') {
        // EEXIST: another repair made the journal meanwhile, and that one is opened
        throw e;
      }
    } finally {
      for (const f of asideFiles) rmSync(f, { force: true });
    }
    syncFolder(dirname(file));
    stepDone();
  }

  private init(create: boolean): void {
    const hasMeta = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").get();
    if (!hasMeta) {
      const tables = this.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type='table'").get() as { n: number };
      if (tables.n > 0) {
        throw new JournalError('BAD_JOURNAL', `${this.file} is an SQLite database but not a bcachefs-repair journal. Pick another file name for the journal.`);
      }
      if (!create) {
        throw new JournalError('BAD_JOURNAL', `${this.file} holds no repair journal (it is empty). Give the journal file the repair wrote.`);
      }
      this.tx(() => {
        createSchema(this.db);
        this.insert('meta', { key: 'format', value: JOURNAL_FORMAT });
        this.insert('meta', { key: 'created_at', value: isoNow() });
      });
      return;
    }
    const fmt = this.db.prepare("SELECT value FROM meta WHERE key='format' ORDER BY id LIMIT 1").get() as { value: string } | undefined;
    if (!fmt) {
      throw new JournalError('BAD_JOURNAL', `${this.file} has lost the row naming its format: the journal was changed outside this tool. Run verify on it to see where, and keep it as evidence.`);
    }
    if (fmt.value !== JOURNAL_FORMAT) {
      throw new JournalError('BAD_JOURNAL', `${this.file} is a journal of format ${JSON.stringify(fmt.value)}, this tool reads ${JSON.stringify(JOURNAL_FORMAT)}. Use the tool version that wrote it.`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Runs fn in one immediate transaction, committed (and synced, synchronous=FULL) before it returns. */
  tx<T>(fn: () => T): T {
    const r = this.db.transaction(fn).immediate();
    stepDone();
    return r;
  }

  /** Appends a row (inside tx) and returns its id. */
  private insert(table: TableName, values: Row): number {
    const id = ((this.db.prepare(`SELECT coalesce(max(id), 0) AS m FROM ${table}`).get() as { m: number }).m) + 1;
    const head = chainHead(this.db);
    const row: Row = { id, seq: head.seq + 1, ...values };
    const cols = ['id', 'seq', 'hash', ...TABLES[table]];
    row.hash = rowHash(head.hash, table, row);
    this.db.prepare(`INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => row[c] ?? null));
    return id;
  }

  /** Checks the chain of a journal file without opening it for writing (works on a damaged one too). */
  static verifyFile(file: string): VerifyResult {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
    } catch (e) {
      if (!existsSync(file)) throw new JournalError('NOT_FOUND', `the repair journal ${file} does not exist. Check the file name.`);
      throw new JournalError('BAD_JOURNAL', `cannot open the repair journal ${file}: ${(e as Error).message}. Check the file name.`);
    }
    try {
      return verifyChain(db);
    } catch (e) {
      throw new JournalError('BAD_JOURNAL', `${file} cannot be verified: ${(e as Error).message}. It is not a bcachefs-repair journal, or its tables were altered.`);
    } finally {
      db.close();
    }
  }

  head(): ChainHead {
    return chainHead(this.db);
  }

  /** The head when the chain had seq rows (what a report made then pinned). */
  headAt(seq: number): ChainHead | undefined {
    return chainHeadAt(this.db, seq);
  }

  verify(): VerifyResult {
    return verifyChain(this.db);
  }

  // --- recording -----------------------------------------------------------------------------------------

  /** Records the device the journal belongs to (once per session: the path may change across replugs). */
  private addDevice(id: DeviceIdentity): number {
    return this.insert('devices', {
      uuid: id.uuid, path: id.path, size: id.size, is_block: id.isBlockDevice ? 1 : 0, serial: id.serial, wwn: id.wwn, sb_sha256: id.sbSha256, at: isoNow(),
    });
  }

  startSession(identity: DeviceIdentity, info: SessionInfo): SessionRecord {
    const id = this.tx(() => {
      const deviceId = this.addDevice(identity);
      const typed = info.who?.trim();
      const sid = this.insert('sessions', {
        device_id: deviceId, who: typed || userInfo().username, who_source: typed ? 'typed' : 'os', started_at: isoNow(),
        tool_version: info.toolVersion, case_ref: info.caseRef ?? null, customer: info.customer ?? null, technician: info.technician ?? null,
      });
      this.event(sid, null, 'session_opened', { device: identity.path });
      return sid;
    });
    return this.session(id)!;
  }

  private event(sessionId: number, fixId: number | null, kind: EventKind, detail: Record<string, unknown> = {}): number {
    return this.insert('events', { session_id: sessionId, fix_id: fixId, kind, at: isoNow(), detail: JSON.stringify(detail) });
  }

  /** A check's findings (objects with at least id, class, severity), before or after the repair. */
  recordCheck(sessionId: number, stage: 'before' | 'after', findings: readonly { id: string; class: string; severity: string; btree?: string }[], summary: Record<string, unknown> = {}): number {
    return this.tx(() => {
      const cid = this.insert('checks', { session_id: sessionId, stage, at: isoNow(), summary: JSON.stringify(summary) });
      for (const f of findings) {
        this.insert('findings', { check_id: cid, finding_id: f.id, class: f.class, severity: f.severity, btree: f.btree ?? null, json: JSON.stringify(f) });
      }
      this.event(sessionId, null, 'check_recorded', { check: cid, stage, findings: findings.length });
      return cid;
    });
  }

  recordDecision(sessionId: number, planId: string, decision: DecisionRecord['decision'], opts: { alternative?: string; note?: string } = {}): void {
    this.tx(() => {
      this.insert('decisions', { session_id: sessionId, plan_id: planId, decision, alternative: opts.alternative ?? null, note: opts.note ?? null, at: isoNow() });
      this.event(sessionId, null, 'decision', { plan: planId, decision });
    });
  }

  /** The fix, its before-images (read from the disk by the caller) and fix_started, in one transaction. */
  recordFixStarted(sessionId: number, plan: FixPlan, before: Uint8Array[]): number {
    return this.tx(() => {
      const json = planToJson(plan);
      const fid = this.insert('fixes', {
        session_id: sessionId, plan_id: plan.id, title: plan.title, resolves: JSON.stringify(plan.resolves), plan: JSON.stringify(json), at: isoNow(),
      });
      plan.writes.forEach((w, i) => {
        this.insert('writes', {
          fix_id: fid, idx: i, offset: w.offset, length: w.new.length, before: Buffer.from(before[i]), after: Buffer.from(w.new),
          before_sha256: sha256Hex(before[i]), after_sha256: sha256Hex(w.new), target: JSON.stringify(w.target), changes: JSON.stringify(w.changes ?? []),
        });
      });
      this.event(sessionId, fid, 'fix_started', { plan: plan.id, writes: plan.writes.length });
      return fid;
    });
  }

  /** A change of a fix's state (fix_applied, fix_rolled_back, undo_started, fix_undone). */
  recordFixEvent(sessionId: number, fixId: number, kind: EventKind, detail: Record<string, unknown> = {}): void {
    this.tx(() => this.event(sessionId, fixId, kind, detail));
  }

  // --- reading (asOf: only rows up to that chain position, for reports pinned to a chain head) -----------

  devices(asOf = ALL): DeviceRecord[] {
    return (this.db.prepare('SELECT * FROM devices WHERE seq <= ? ORDER BY id').all(asOf) as Row[]).map((r) => ({
      id: r.id as number, uuid: r.uuid as string, path: r.path as string, size: r.size as number, isBlockDevice: r.is_block === 1,
      serial: r.serial as string | null, wwn: r.wwn as string | null, sbSha256: r.sb_sha256 as string, sbFromBackup: false, at: r.at as string,
    }));
  }

  sessions(asOf = ALL): SessionRecord[] {
    return (this.db.prepare('SELECT * FROM sessions WHERE seq <= ? ORDER BY id').all(asOf) as Row[]).map(sessionFromRow);
  }

  session(id: number): SessionRecord | undefined {
    const r = this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    return r && sessionFromRow(r);
  }

  checks(asOf = ALL): CheckRecord[] {
    const checks = this.db.prepare('SELECT * FROM checks WHERE seq <= ? ORDER BY id').all(asOf) as Row[];
    const findings = this.db.prepare('SELECT check_id, json FROM findings WHERE seq <= ? ORDER BY id').all(asOf) as Row[];
    return checks.map((c) => ({
      id: c.id as number, sessionId: c.session_id as number, stage: c.stage as 'before' | 'after', at: c.at as string,
      summary: JSON.parse(c.summary as string), findings: findings.filter((f) => f.check_id === c.id).map((f) => JSON.parse(f.json as string)),
    }));
  }

  decisions(asOf = ALL): DecisionRecord[] {
    return (this.db.prepare('SELECT * FROM decisions WHERE seq <= ? ORDER BY id').all(asOf) as Row[]).map((r) => ({
      sessionId: r.session_id as number, planId: r.plan_id as string, decision: r.decision as DecisionRecord['decision'],
      alternative: r.alternative as string | null, note: r.note as string | null, at: r.at as string,
    }));
  }

  events(asOf = ALL): EventRecord[] {
    return (this.db.prepare('SELECT * FROM events WHERE seq <= ? ORDER BY id').all(asOf) as Row[]).map((r) => ({
      id: r.id as number, seq: r.seq as number, hash: r.hash as string, sessionId: r.session_id as number, fixId: r.fix_id as number | null,
      kind: r.kind as EventKind, at: r.at as string, detail: JSON.parse(r.detail as string),
    }));
  }

  /** A fix's before- and after-images, in the order of its writes. */
  images(fixId: number): { before: Buffer; after: Buffer }[] {
    return this.db.prepare('SELECT before, after FROM writes WHERE fix_id = ? ORDER BY idx').all(fixId) as { before: Buffer; after: Buffer }[];
  }

  /** Every fix with its writes (without their images), events and current state, oldest first. */
  fixes(asOf = ALL): FixRecord[] {
    const events = this.events(asOf);
    const writes = this.db.prepare('SELECT fix_id, idx, offset, length, before_sha256, after_sha256, target, changes FROM writes WHERE seq <= ? ORDER BY id').all(asOf) as Row[];
    return (this.db.prepare('SELECT * FROM fixes WHERE seq <= ? ORDER BY id').all(asOf) as Row[]).map((f) => {
      const ev = events.filter((e) => e.fixId === f.id);
      let state: FixState = 'started';
      for (const e of ev) state = STATE_OF[e.kind] ?? state;
      return {
        id: f.id as number, sessionId: f.session_id as number, planId: f.plan_id as string, title: f.title as string,
        resolves: JSON.parse(f.resolves as string), plan: JSON.parse(f.plan as string), startedAt: f.at as string, state, events: ev,
        writes: writes.filter((w) => w.fix_id === f.id).map((w) => ({
          idx: w.idx as number, offset: w.offset as number, length: w.length as number,
          beforeSha256: w.before_sha256 as string, afterSha256: w.after_sha256 as string, target: JSON.parse(w.target as string), changes: JSON.parse(w.changes as string),
        })),
      };
    });
  }
}

function sessionFromRow(r: Row): SessionRecord {
  return {
    id: r.id as number, seq: r.seq as number, deviceId: r.device_id as number, who: r.who as string, whoSource: r.who_source as 'os' | 'typed',
    startedAt: r.started_at as string, toolVersion: r.tool_version as string, caseRef: r.case_ref as string | null,
    customer: r.customer as string | null, technician: r.technician as string | null,
  };
}
