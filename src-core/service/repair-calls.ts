// The repair flow's service calls, run in the session worker over the open disk: plan (reads only), apply
// and undo through the repair journal (the only writer, src-core/ops/repair.ts and ops/journal.ts), history
// and report. Results are plain JSON (protocol.ts).
import { readFileSync } from 'node:fs';
import {
  applyRepair, journalHistory, planDocument, planRepair, problemsOf, selectFixes, undoFixes, writeReport,
  type CancellationToken, type Disk, type RepairPlan,
} from '../ops/index.js';
import type { ApplyProgress, ApplyResult, HistoryResult, PlanProgress, PlanResult, ReportResult, UndoResult } from './protocol.js';
import { ServiceError } from './session.js';

export async function planFor(disk: Disk, token: CancellationToken, onProgress: (p: PlanProgress) => void): Promise<{ plan: RepairPlan; result: PlanResult }> {
  const plan = await planRepair(disk, { token, onProgress });
  const doc = planDocument(disk, plan);
  const result: PlanResult = {
    fixes: doc.fixes as unknown as PlanResult['fixes'],
    unresolved: doc.unresolved as PlanResult['unresolved'],
    findings: plan.before,
    problems: problemsOf(disk, plan.before, plan.fixes),
    rounds: plan.rounds,
    cancelled: plan.cancelled,
  };
  return { plan, result };
}

export function refuseCompressed(path: string): void {
  if (/\.gz$/i.test(path)) {
    throw new ServiceError('EREADONLY', `${path} is a compressed image and is never written. Make a working copy (Open → "Repair a working copy") and repair that.`);
  }
}

/** Applies the chosen fixes (ids of the plan just shown; planned again on the disk as it is now). */
export async function applyChosen(
  path: string, req: { journal: string; fixes: string[]; who?: string }, token: CancellationToken, onProgress: (p: ApplyProgress) => void,
): Promise<ApplyResult> {
  refuseCompressed(path);
  if (!req.fixes.length) throw new ServiceError('BAD_REQUEST', 'No fix was accepted: accept at least one in the review, then apply.');
  const r = await applyRepair({
    device: path, journal: req.journal, token, onProgress,
    // a plan cut short by a cancel has not got every fix: nothing is chosen, nothing written
    choose: (plan) => (plan.cancelled ? [] : selectFixes(plan.fixes, req.fixes)),
    ...(req.who ? { who: req.who } : {}),
  });
  return { device: r.device, journal: req.journal, session: r.session, recovered: r.recovered, applied: r.applied, skipped: r.skipped, cancelled: r.cancelled, after: r.after };
}

export function history(journal: string): HistoryResult {
  const { report, lines } = journalHistory(journal);
  return {
    journal,
    lines,
    sessions: report.sessions.map((s) => ({
      id: s.id, who: s.who, startedAt: s.startedAt, devicePath: s.devicePath,
      checks: s.checks.map((c) => ({ stage: c.stage, at: c.at, findings: c.findings })),
      fixes: s.fixes.map((f) => ({ id: f.id, planId: f.planId, title: f.title, resolves: f.resolves, state: f.state, startedAt: f.startedAt, writes: f.writes.map((w) => ({ offset: w.offset, length: w.length })) })),
    })),
  };
}

export function undo(path: string, req: { journal: string; fix?: number; session?: number; all?: boolean }): Omit<UndoResult, 'after'> {
  refuseCompressed(path);
  const target = req.fix !== undefined ? { fix: req.fix } : req.session !== undefined ? { session: req.session } : req.all ? { all: true as const } : null;
  if (!target) throw new ServiceError('BAD_REQUEST', 'undo needs a fix, a session or all. This is a bug in the front end.');
  // also the later fixes that rewrote the same bytes: the UI says so before asking
  const r = undoFixes({ journal: req.journal, device: path, target, withLater: true });
  return { device: r.device, session: r.session, undone: r.undone, recovered: r.recovered };
}

export function report(req: { journal: string; format: 'html' | 'json' | 'pdf'; output: string }): ReportResult {
  writeReport(req.journal, req.format, req.output);
  return { format: req.format, path: req.output, ...(req.format === 'html' ? { html: readFileSync(req.output, 'utf8') } : {}) };
}
