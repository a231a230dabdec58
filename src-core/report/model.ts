// The report of a repair journal as data (the JSON report; the HTML and PDF are made from it). A report is
// pinned to the chain head it was made at: verifyReport rebuilds it from the journal up to that head and
// compares, so an edited report, or a journal changed since, is caught.
import { isDeepStrictEqual } from 'node:util';
import type { ChainHead } from '../journal/chain.js';
import { isoNow, Journal, type DecisionRecord, type DeviceRecord, type EventKind, type FixState, type SessionRecord, type WriteTarget, type FieldChange } from '../journal/index.js';

export const REPORT_FORMAT = 'bcachefs-repair-report 1';

export interface ReportFinding {
  id: string;
  class: string;
  severity: string;
  btree?: string;
  /** what bcachefs prints, or our explanation when it prints nothing */
  message?: string;
}

export interface ReportWrite {
  offset: number;
  sector: number;
  length: number;
  beforeSha256: string;
  afterSha256: string;
  target: WriteTarget;
  changes: FieldChange[];
}

export interface ReportFix {
  id: number;
  planId: string;
  title: string;
  resolves: string[];
  state: FixState;
  startedAt: string;
  events: { kind: EventKind; at: string; session: number; detail: Record<string, unknown> }[];
  writes: ReportWrite[];
}

/** A journal session as reported: the device by its path instead of its row. */
export interface ReportSession extends Omit<SessionRecord, 'seq' | 'deviceId'> {
  devicePath: string;
  checks: { stage: 'before' | 'after'; at: string; summary: Record<string, unknown>; findings: ReportFinding[] }[];
  decisions: Omit<DecisionRecord, 'sessionId'>[];
  /** the fixes this session started (their later events, such as an undo, included) */
  fixes: ReportFix[];
}

export interface Report {
  format: typeof REPORT_FORMAT;
  generatedAt: string;
  generatedBy: string;
  journal: { file: string; chainHead: ChainHead; rows: number };
  /** only this session, when the report was asked for one */
  sessionFilter: number | null;
  device: Omit<DeviceRecord, 'id' | 'at' | 'sbFromBackup'> | null;
  sessions: ReportSession[];
}

function finding(f: Record<string, unknown>): ReportFinding {
  const msg = (f.fsck_message ?? f.log_message ?? f.explanation) as string | null | undefined;
  return {
    id: String(f.id), class: String(f.class), severity: String(f.severity),
    ...(typeof f.btree === 'string' ? { btree: f.btree } : {}), ...(msg ? { message: msg } : {}),
  };
}

/**
 * Builds the report from the journal (refuses a journal whose chain is broken: run verify). asOf pins it
 * to an earlier chain head; session limits it to one session.
 */
export function buildReport(journal: Journal, opts: { generatedBy: string; session?: number; asOf?: number }): Report {
  const v = journal.verify();
  if (!v.ok) throw new Error(`the journal ${journal.file} fails its audit chain (${v.problem}): a report from it would not be trustworthy. Keep the file as evidence.`);
  const asOf = opts.asOf ?? v.head.seq;
  const head = journal.headAt(asOf);
  if (!head) throw new Error(`the journal ${journal.file} has ${v.rows} rows, fewer than the report's chain position ${asOf}: rows were removed since the report was made, or it is another journal.`);
  const devices = journal.devices(asOf);
  const checks = journal.checks(asOf);
  const decisions = journal.decisions(asOf);
  const fixes = journal.fixes(asOf);
  const sessions = journal.sessions(asOf).filter((s) => opts.session === undefined || s.id === opts.session);
  if (opts.session !== undefined && sessions.length === 0) throw new Error(`the journal ${journal.file} has no session ${opts.session}. See history for the session numbers.`);
  const last = devices.at(-1);
  return {
    format: REPORT_FORMAT,
    generatedAt: isoNow(),
    generatedBy: opts.generatedBy,
    journal: { file: journal.file, chainHead: head, rows: asOf },
    sessionFilter: opts.session ?? null,
    device: last ? { uuid: last.uuid, path: last.path, size: last.size, isBlockDevice: last.isBlockDevice, serial: last.serial, wwn: last.wwn, sbSha256: last.sbSha256 } : null,
    sessions: sessions.map((s) => ({
      id: s.id, who: s.who, whoSource: s.whoSource, startedAt: s.startedAt, toolVersion: s.toolVersion,
      caseRef: s.caseRef, customer: s.customer, technician: s.technician,
      devicePath: devices.find((d) => d.id === s.deviceId)?.path ?? '',
      checks: checks.filter((c) => c.sessionId === s.id).map((c) => ({ stage: c.stage, at: c.at, summary: c.summary, findings: c.findings.map(finding) })),
      decisions: decisions.filter((d) => d.sessionId === s.id).map(({ sessionId: _, ...d }) => d),
      fixes: fixes.filter((f) => f.sessionId === s.id).map((f) => ({
        id: f.id, planId: f.planId, title: f.title, resolves: f.resolves, state: f.state, startedAt: f.startedAt,
        events: f.events.map((e) => ({ kind: e.kind, at: e.at, session: e.sessionId, detail: e.detail })),
        writes: f.writes.map((w) => ({
          offset: w.offset, sector: Math.floor(w.offset / 512), length: w.length, beforeSha256: w.beforeSha256, afterSha256: w.afterSha256, target: w.target, changes: w.changes,
        })),
      })),
    })),
  };
}

/** Differences between a JSON report and the journal it names, as of the report's chain head ([] = it matches). */
export function verifyReport(journal: Journal, report: unknown): string[] {
  const r = report as Partial<Report>;
  if (r?.format !== REPORT_FORMAT || typeof r.journal?.chainHead?.seq !== 'number') {
    return [`this is not a ${REPORT_FORMAT} JSON report`];
  }
  const head = journal.headAt(r.journal.chainHead.seq);
  if (!head || head.hash !== r.journal.chainHead.hash) {
    return [`the report's chain head (position ${r.journal.chainHead.seq}, ${r.journal.chainHead.hash}) is not in this journal: it was made from another journal, or the journal was rewritten since`];
  }
  let now: Report;
  try {
    now = buildReport(journal, { generatedBy: '', asOf: r.journal.chainHead.seq, ...(r.sessionFilter != null ? { session: r.sessionFilter } : {}) });
  } catch (e) {
    return [(e as Error).message];
  }
  const problems: string[] = [];
  for (const key of ['sessionFilter', 'device', 'sessions'] as const) {
    if (!isDeepStrictEqual(r[key], now[key])) problems.push(`the report's ${key} differ from what the journal records`);
  }
  if (r.journal.rows !== now.journal.rows) problems.push("the report's row count differs from the journal's");
  return problems;
}

/** One line per session and per fix, for `history`. */
export function historyLines(report: Report): string[] {
  const out: string[] = [];
  for (const s of report.sessions) {
    const ctx = [s.caseRef && `case ${s.caseRef}`, s.customer && `customer ${s.customer}`, s.technician && `technician ${s.technician}`].filter(Boolean).join(', ');
    out.push(`session ${s.id}  ${s.startedAt}  ${s.who}${s.whoSource === 'os' ? ' (OS user)' : ''}  ${s.devicePath}  ${s.toolVersion}${ctx ? `  ${ctx}` : ''}`);
    for (const c of s.checks) out.push(`  check (${c.stage} repair) ${c.at}: ${c.findings.length} finding${c.findings.length === 1 ? '' : 's'}`);
    for (const f of s.fixes) {
      const bytes = f.writes.reduce((a, w) => a + w.length, 0);
      out.push(`  fix ${f.id}  ${f.state.padEnd(11)} ${f.planId}: ${f.title}  (${f.writes.length} write${f.writes.length === 1 ? '' : 's'}, ${bytes} bytes; resolves ${f.resolves.join(', ') || 'nothing named'})`);
    }
  }
  out.push(`chain head: position ${report.journal.chainHead.seq}, ${report.journal.chainHead.hash}`);
  return out;
}
