// The journal's tables and the SHA-256 chain over every row of every table.
//
// Each row carries `seq` (its position in one chain across all tables, from 1) and `hash` = SHA-256 of the
// previous row's hash, the table name and the row's columns in schema order. A changed row breaks its own
// hash; a deleted row leaves a gap in seq (and in its table's ids, which SQLite's AUTOINCREMENT counter
// remembers, so a deleted last row is seen too). Rows are never updated: triggers refuse UPDATE and DELETE.
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

export type Cell = null | number | string | Buffer;

/** Columns after id/seq/hash, per table, in hashing order. */
export const TABLES = {
  meta: ['key', 'value'],
  devices: ['uuid', 'path', 'size', 'is_block', 'serial', 'wwn', 'sb_sha256', 'at'],
  sessions: ['device_id', 'who', 'who_source', 'started_at', 'tool_version', 'case_ref', 'customer', 'technician'],
  checks: ['session_id', 'stage', 'at', 'summary'],
  findings: ['check_id', 'finding_id', 'class', 'severity', 'btree', 'json'],
  decisions: ['session_id', 'plan_id', 'decision', 'alternative', 'note', 'at'],
  fixes: ['session_id', 'plan_id', 'title', 'resolves', 'plan', 'at'],
  writes: ['fix_id', 'idx', 'offset', 'length', 'before', 'after', 'before_sha256', 'after_sha256', 'target', 'changes'],
  events: ['session_id', 'fix_id', 'kind', 'at', 'detail'],
} as const;
export type TableName = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

const COLUMN_TYPES: Record<string, string> = {
  size: 'INTEGER', is_block: 'INTEGER', device_id: 'INTEGER', session_id: 'INTEGER', check_id: 'INTEGER',
  fix_id: 'INTEGER', idx: 'INTEGER', offset: 'INTEGER', length: 'INTEGER', before: 'BLOB', after: 'BLOB',
};

export const GENESIS = '0'.repeat(64);

export function createSchema(db: Database.Database): void {
  for (const t of TABLE_NAMES) {
    const cols = TABLES[t].map((c) => `"${c}" ${COLUMN_TYPES[c] ?? 'TEXT'}`).join(', ');
    db.exec(`CREATE TABLE IF NOT EXISTS ${t} (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL UNIQUE, hash TEXT NOT NULL, ${cols})`);
    db.exec(`CREATE TRIGGER IF NOT EXISTS ${t}_no_update BEFORE UPDATE ON ${t} BEGIN SELECT RAISE(ABORT, 'the repair journal is append-only'); END`);
    db.exec(`CREATE TRIGGER IF NOT EXISTS ${t}_no_delete BEFORE DELETE ON ${t} BEGIN SELECT RAISE(ABORT, 'the repair journal is append-only'); END`);
  }
  db.exec('CREATE INDEX IF NOT EXISTS writes_fix ON writes(fix_id)');
  db.exec('CREATE INDEX IF NOT EXISTS events_fix ON events(fix_id)');
}

function encode(v: Cell): [string, string | null] {
  if (v === null || v === undefined) return ['n', null];
  if (typeof v === 'number') return ['i', String(v)];
  if (typeof v === 'string') return ['t', v];
  return ['b', Buffer.from(v).toString('hex')];
}

export function rowHash(prev: string, table: TableName, row: Record<string, Cell>): string {
  const cells = ['id', 'seq', ...TABLES[table]].map((c) => encode(row[c] ?? null));
  return createHash('sha256').update(`${prev}\n${table}\n${JSON.stringify(cells)}`).digest('hex');
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export function chainHead(db: Database.Database): ChainHead {
  let head: ChainHead = { seq: 0, hash: GENESIS };
  for (const t of TABLE_NAMES) {
    const r = db.prepare(`SELECT seq, hash FROM ${t} ORDER BY seq DESC LIMIT 1`).get() as ChainHead | undefined;
    if (r && r.seq > head.seq) head = r;
  }
  return head;
}

/** The chain head as it was when the chain had `seq` rows (undefined past the end). */
export function chainHeadAt(db: Database.Database, seq: number): ChainHead | undefined {
  if (seq === 0) return { seq: 0, hash: GENESIS };
  for (const t of TABLE_NAMES) {
    const r = db.prepare(`SELECT seq, hash FROM ${t} WHERE seq = ?`).get(seq) as ChainHead | undefined;
    if (r) return r;
  }
  return undefined;
}

export type VerifyResult =
  | { ok: true; rows: number; head: ChainHead }
  | { ok: false; rows: number; problem: string; table?: TableName; id?: number; seq?: number };

/** Walks the whole chain; names the first bad row. */
export function verifyChain(db: Database.Database): VerifyResult {
  const all: { table: TableName; row: Record<string, Cell> }[] = [];
  for (const t of TABLE_NAMES) {
    const rows = db.prepare(`SELECT * FROM ${t} ORDER BY id`).all() as Record<string, Cell>[];
    const counter = db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(t) as { seq: number } | undefined;
    const last = rows.length ? (rows[rows.length - 1].id as number) : 0;
    if ((counter?.seq ?? 0) !== last) {
      return { ok: false, rows: all.length, table: t, id: last + 1, problem: `table ${t}: row ${last + 1} and after are missing (its id counter is at ${counter?.seq ?? 0}): rows were deleted` };
    }
    for (const [i, row] of rows.entries()) {
      if (row.id !== i + 1) return { ok: false, rows: all.length, table: t, id: i + 1, problem: `table ${t}: row ${i + 1} is missing (deleted)` };
      all.push({ table: t, row });
    }
  }
  all.sort((a, b) => (a.row.seq as number) - (b.row.seq as number));
  let prev = GENESIS;
  for (const [i, { table, row }] of all.entries()) {
    const id = row.id as number;
    const seq = row.seq as number;
    if (seq !== i + 1) {
      return { ok: false, rows: all.length, table, id, seq, problem: `chain position ${i + 1} is missing (a row was deleted before ${table} row ${id})` };
    }
    if (rowHash(prev, table, row) !== row.hash) {
      return { ok: false, rows: all.length, table, id, seq, problem: `${table} row ${id} (chain position ${seq}) does not match its hash: it was changed, or a row before it was` };
    }
    prev = row.hash as string;
  }
  return { ok: true, rows: all.length, head: { seq: all.length, hash: prev } };
}
