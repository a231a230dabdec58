// The repair journal for the front ends: undo, history, verify and report (src-core/journal, src-core/report).
// Failures come out as OpsError with the journal's or the device's code and its message.
import { readFileSync, writeFileSync } from 'node:fs';
import { DeviceError } from '../device/index.js';
import { Journal, JournalError, openRepairSession, type ChainHead, type UndoResult, type UndoTarget } from '../journal/index.js';
import { buildReport, historyLines, renderHtml, renderPdf, verifyReport, type Report } from '../report/index.js';
import { OpsError } from './disk.js';
import { TOOL_NAME, toolVersion } from './version.js';

export type { Report, UndoTarget };

function tool(): string {
  return `${TOOL_NAME} ${toolVersion()}`;
}

/** Runs fn, turning the journal's and the device's refusals into OpsError. */
function asOps<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof JournalError || e instanceof DeviceError) throw new OpsError(e.code, e.message);
    throw e;
  }
}

export interface UndoRequest {
  journal: string;
  /** defaults to the path the journal recorded; checked against the journal's device identity */
  device?: string;
  target: UndoTarget;
  /** undo over foreign writes */
  force?: boolean;
  /** also undo later fixes that rewrote the same bytes */
  withLater?: boolean;
  /** a name typed in (the OS user otherwise) */
  who?: string;
  /** a fix a crash left half-written: roll it back (default) or forward, before the undo */
  recovery?: 'back' | 'forward';
}

export interface UndoOutcome extends UndoResult {
  device: string;
  session: number;
  /** what was finished for a crashed run first, one line each */
  recovered: string[];
}

export function undoFixes(req: UndoRequest): UndoOutcome {
  return asOps(() => {
    const s = openRepairSession({
      journal: req.journal, create: false, toolVersion: tool(),
      ...(req.device !== undefined ? { device: req.device } : {}), ...(req.who !== undefined ? { who: req.who } : {}), ...(req.recovery ? { recovery: req.recovery } : {}),
    });
    try {
      const r = s.undo(req.target, { force: req.force === true, withLater: req.withLater === true });
      return { ...r, device: s.dev.path, session: s.session.id, recovered: s.recovered.messages };
    } finally {
      s.close();
    }
  });
}

/** The whole journal (or one session) as a report document, pinned to the current chain head. */
export function journalReport(file: string, session?: number): Report {
  return asOps(() => {
    const j = Journal.open(file);
    try {
      return buildReport(j, { generatedBy: tool(), ...(session !== undefined ? { session } : {}) });
    } catch (e) {
      if (e instanceof JournalError) throw e;
      throw new OpsError('BAD_JOURNAL', (e as Error).message);
    } finally {
      j.close();
    }
  });
}

export function journalHistory(file: string): { report: Report; lines: string[] } {
  const report = journalReport(file);
  return { report, lines: historyLines(report) };
}

export interface VerifyOutcome {
  ok: boolean;
  rows: number;
  head?: ChainHead;
  /** the first bad row */
  problem?: string;
  /** with a report: how it differs from the journal ([] = it matches) */
  reportProblems?: string[];
}

/** Checks the journal's audit chain and, given a JSON report file, that report against the journal. */
export function verifyJournal(file: string, reportFile?: string): VerifyOutcome {
  return asOps(() => {
    const v = Journal.verifyFile(file);
    if (!v.ok) return { ok: false, rows: v.rows, problem: v.problem };
    if (reportFile === undefined) return { ok: true, rows: v.rows, head: v.head };
    let report: unknown;
    try {
      report = JSON.parse(readFileSync(reportFile, 'utf8'));
    } catch (e) {
      throw new OpsError('BAD_REQUEST', `cannot read the report ${reportFile}: ${(e as Error).message}. Give the JSON report (report --format json).`);
    }
    const j = Journal.open(file);
    try {
      const reportProblems = verifyReport(j, report);
      return { ok: reportProblems.length === 0, rows: v.rows, head: v.head, reportProblems };
    } finally {
      j.close();
    }
  });
}

export type ReportFormat = 'html' | 'json' | 'pdf';

export function writeReport(file: string, format: ReportFormat, output: string, session?: number): Report {
  const report = journalReport(file, session);
  if (format === 'json') writeFileSync(output, JSON.stringify(report, null, 1) + '\n');
  else if (format === 'html') writeFileSync(output, renderHtml(report));
  else {
    try {
      renderPdf(renderHtml(report), output);
    } catch (e) {
      throw new OpsError('NO_PDF', (e as Error).message);
    }
  }
  return report;
}
