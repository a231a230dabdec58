// Repair for the front ends: plan (reads only, through an in-memory overlay) and apply (through the repair
// journal, the only writer). After applying, the disk is checked again and what is left is returned.
import { checkFilesystem, type Finding } from '../check/index.js';
import { Filesystem } from '../btree/fs.js';
import { NEVER_CANCELLED, type CancellationToken } from '../base/cancellation.js';
import { DeviceError, type BlockReader } from '../device/index.js';
import { JournalError, openRepairSession, planFromJson, planToJson, type ApplyProgress, type FixPlanJson } from '../journal/index.js';
import { planRepair as planRounds, type PlanProgress, type RepairPlan, type Unresolved } from '../repair/pipeline.js';
import { Overlay } from '../repair/overlay.js';
import type { RepairFix } from '../repair/types.js';
import { withAtRisk } from './at-risk.js';
import { Disk, filesystemOf, OpsError } from './disk.js';
import { groupFindings } from './grouping.js';
import { TOOL_NAME, toolVersion } from './version.js';
import type { JsonEnvelope } from './types.js';

export type { PlanProgress, RepairFix, RepairPlan, Unresolved, ApplyProgress };

export interface PlanRequest {
  token?: CancellationToken;
  onProgress?: (p: PlanProgress) => void;
}

/** Plans the repair of an open disk; writes nothing. */
export async function planRepair(disk: Disk, req: PlanRequest = {}): Promise<RepairPlan> {
  return planRounds(filesystemOf(disk).dev, { devName: disk.devName, ...req });
}

/** A fix as JSON: bytes as hex, alternatives too. */
export interface RepairFixJson extends Omit<RepairFix, 'writes' | 'alternatives'>, Pick<FixPlanJson, 'writes'> {
  alternatives: RepairFixJson[];
}

/** A plan as a file (plan --output): what `repair --plan` applies exactly. */
export interface PlanDocument extends JsonEnvelope {
  kind: 'bcachefs-repair plan';
  fixes: RepairFixJson[];
  unresolved: { id: string; class: string; severity: string; reason: string }[];
  findings: Finding[];
  rounds: number;
  cancelled: boolean;
}

function fixToJson(f: RepairFix): RepairFixJson {
  return { ...planToJson(f), ...pick(f), alternatives: f.alternatives.map(fixToJson) } as RepairFixJson;
}

function pick(f: RepairFix): Omit<RepairFix, 'writes' | 'alternatives' | 'id' | 'title' | 'resolves'> {
  return { summary: f.summary, evidence: f.evidence, lost: f.lost, kept: f.kept, dependsOn: f.dependsOn };
}

function fixFromJson(j: RepairFixJson): RepairFix {
  return { ...planFromJson(j), ...pick(j as unknown as RepairFix), alternatives: (j.alternatives ?? []).map(fixFromJson) };
}

export function planDocument(disk: Disk, plan: RepairPlan): PlanDocument {
  return {
    ...disk.envelope(), kind: 'bcachefs-repair plan', fixes: plan.fixes.map(fixToJson),
    unresolved: plan.unresolved.map((u) => ({ id: u.finding.id, class: u.finding.class, severity: u.finding.severity, reason: u.reason })),
    findings: plan.before, rounds: plan.rounds, cancelled: plan.cancelled,
  };
}

/** Reads a plan file; refuses what is not one. */
export function fixesFromDocument(doc: unknown): { uuid: string; fixes: RepairFix[] } {
  const d = doc as Partial<PlanDocument>;
  if (!d || d.kind !== 'bcachefs-repair plan' || !Array.isArray(d.fixes) || typeof d.device?.uuid !== 'string') {
    throw new OpsError('BAD_REQUEST', 'this file is not a plan written by `bcachefs-repair plan --output`. Give the plan file exported for this disk.');
  }
  try {
    return { uuid: d.device.uuid, fixes: d.fixes.map(fixFromJson) };
  } catch (e) {
    throw new OpsError('BAD_REQUEST', `the plan file is damaged: ${(e as Error).message}. Export the plan again.`);
  }
}

/** The fixes an ID names: a fix (or an alternative of one), or the fix resolving a finding of that id. */
export function selectFixes(fixes: readonly RepairFix[], ids: readonly string[]): RepairFix[] {
  const chosen = new Map<string, RepairFix>();
  for (const id of ids) {
    const direct = fixes.find((f) => f.id === id);
    const alt = fixes.find((f) => f.alternatives.some((a) => a.id === id));
    const byFinding = fixes.find((f) => f.resolves.includes(id));
    const main = direct ?? alt ?? byFinding;
    if (!main) throw new OpsError('BAD_REQUEST', `no fix of this plan is or resolves "${id}". Run plan to see the fix and finding ids.`);
    chosen.set(main.id, direct || byFinding ? main : main.alternatives.find((a) => a.id === id)!);
  }
  // a fix planned on top of another needs it: its old bytes are what that one writes
  const out: RepairFix[] = [];
  for (const f of fixes) {
    const c = chosen.get(f.id);
    if (!c) continue;
    for (const dep of c.dependsOn) {
      if (!chosen.has(dep)) throw new OpsError('BAD_REQUEST', `fix ${f.id} was planned on top of fix ${dep}: choose ${dep} too (--only ${dep}).`);
    }
    out.push(c);
  }
  return out;
}

export interface ApplyRequest {
  device: string;
  journal: string;
  /** which fixes of the plan made now: all, or what choose returns (in plan order); or `fixes` to apply exactly */
  choose?: (plan: RepairPlan) => Promise<RepairFix[]> | RepairFix[];
  /** a plan exported earlier, applied exactly: refused unless every old byte is still on the disk */
  fixes?: { uuid: string; fixes: RepairFix[] };
  who?: string;
  caseRef?: string;
  customer?: string;
  technician?: string;
  token?: CancellationToken;
  onPlanProgress?: (p: PlanProgress) => void;
  onProgress?: (p: ApplyProgress) => void;
}

export interface ApplyOutcome {
  device: string;
  session: number;
  recovered: string[];
  /** the findings before, the fixes applied (id -> journal fix number), and the findings after */
  before: Finding[];
  applied: { id: string; fix: number }[];
  /** fixes planned but not chosen */
  skipped: string[];
  cancelled: boolean;
  after: Finding[];
  /**
   * where `after` comes from: 'check', a check of the disk after the writes; or 'plan', when every planned
   * fix was applied and the written bytes, read back, are the planned ones (writtenBytes of them): the disk
   * then holds the state the plan's last check saw, and that check stands
   */
  afterFrom: 'check' | 'plan';
  writtenBytes: number;
  /** the plan's reasons for what it could not fix */
  unresolved: Unresolved[];
}

function asOps<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((e: unknown) => {
    if (e instanceof JournalError || e instanceof DeviceError) throw new OpsError(e.code, e.message);
    throw e;
  });
}

/**
 * Opens a repair session (recovering a crashed run first), plans on the device as it then is, applies the
 * chosen fixes through the journal (each all-or-nothing, cancel between fixes), checks again, and records both checks.
 */
export function applyRepair(req: ApplyRequest): Promise<ApplyOutcome> {
  if (/\.gz$/i.test(req.device)) {
    return Promise.reject(new OpsError('EREADONLY', `${req.device} is a compressed image: it cannot be repaired in place. Unpack a working copy (gunzip -k ${req.device}) and repair that; the original stays as it is.`));
  }
  return asOps(async () => {
    const token = req.token ?? NEVER_CANCELLED;
    const s = openRepairSession({
      journal: req.journal, device: req.device, create: true, toolVersion: `${TOOL_NAME} ${toolVersion()}`,
      ...(req.who !== undefined ? { who: req.who } : {}), ...(req.caseRef !== undefined ? { caseRef: req.caseRef } : {}),
      ...(req.customer !== undefined ? { customer: req.customer } : {}), ...(req.technician !== undefined ? { technician: req.technician } : {}),
    });
    try {
      const devName = req.device.slice(0, 31);
      let plan: RepairPlan;
      let chosen: RepairFix[];
      if (req.fixes) {
        const fs = new Filesystem(s.dev);
        if (fs.sb.userUuid !== req.fixes.uuid) {
          throw new OpsError('WRONG_DEVICE', `the plan is for the filesystem ${req.fixes.uuid}, but ${req.device} holds ${fs.sb.userUuid}. Give the disk the plan was made for.`);
        }
        const r = await checkFilesystem(fs, { token, devName });
        plan = { fixes: req.fixes.fixes, unresolved: [], before: r.findings, rounds: 0, cancelled: r.aborted };
        chosen = req.fixes.fixes;
        // all or nothing: every fix's old bytes must be on the disk, each after the ones before it
        const o = new Overlay(s.dev);
        for (const f of chosen) {
          try {
            o.apply(f);
          } catch {
            throw new OpsError('STALE_PLAN', `fix ${f.id} of the plan no longer matches the disk (its old bytes are not there): the disk changed since the plan was made. Nothing was written; make a new plan.`);
          }
        }
      } else {
        plan = await planRounds(s.dev, { token, devName, ...(req.onPlanProgress ? { onProgress: req.onPlanProgress } : {}) });
        chosen = req.choose ? await req.choose(plan) : plan.fixes;
      }
      // the problems with the files and data each puts at risk, for the report
      s.recordCheck('before', plan.before, { findings: plan.before.length, problems: withAtRisk(new Filesystem(s.dev), plan.before, groupFindings(plan.before, plan.fixes)) });
      const chosenIds = new Set(chosen.map((f) => f.id));
      for (const f of plan.fixes) {
        const alt = f.alternatives.find((a) => chosenIds.has(a.id));
        if (alt) s.recordDecision(f.id, 'alternative', { alternative: alt.id });
        else s.recordDecision(f.id, chosenIds.has(f.id) ? 'accepted' : 'rejected');
      }
      const r = plan.cancelled ? { applied: [], cancelled: true } : s.applyAll(chosen, { token, ...(req.onProgress ? { onProgress: req.onProgress } : {}) });
      s.dev.dropPrefetch();
      const whole = !req.fixes && !r.cancelled && r.applied.length === plan.fixes.length && chosen.every((f, i) => f === plan.fixes[i]);
      const verified = whole ? writtenAsPlanned(s.dev, chosen) : undefined;
      const afterFs = new Filesystem(s.dev);
      const after = verified !== undefined
        ? { findings: plan.unresolved.map((u) => u.finding) }
        : await checkFilesystem(afterFs, { devName });
      const afterFrom = verified !== undefined ? 'plan' : 'check';
      s.recordCheck('after', after.findings, {
        findings: after.findings.length, from: afterFrom, ...(verified !== undefined ? { bytesReadBack: verified } : {}),
        problems: withAtRisk(afterFs, after.findings, groupFindings(after.findings)),
      });
      return {
        device: s.dev.path, session: s.session.id, recovered: s.recovered.messages, before: plan.before,
        applied: r.applied.map((n, i) => ({ id: chosen[i]!.id, fix: n })),
        skipped: plan.fixes.filter((f) => !chosenIds.has(f.id) && !f.alternatives.some((a) => chosenIds.has(a.id))).map((f) => f.id),
        cancelled: r.cancelled, after: after.findings, afterFrom, writtenBytes: chosen.slice(0, r.applied.length).reduce((n, f) => n + f.writes.reduce((m, w) => m + w.new.length, 0), 0),
        unresolved: plan.unresolved,
      };
    } finally {
      s.close();
    }
  });
}

/**
 * Reads back every range the fixes wrote; returns how many bytes when the device holds at each what the plan
 * left there (a write's bytes, with those of later writes over the same bytes laid on top), else undefined.
 */
function writtenAsPlanned(dev: BlockReader, fixes: readonly RepairFix[]): number | undefined {
  const writes = fixes.flatMap((f) => f.writes);
  let bytes = 0;
  for (const [i, w] of writes.entries()) {
    const want = Buffer.from(w.new);
    for (const later of writes.slice(i + 1)) {
      const from = Math.max(w.offset, later.offset);
      const to = Math.min(w.offset + want.length, later.offset + later.new.length);
      if (from < to) want.set(later.new.subarray(from - later.offset, to - later.offset), from - w.offset);
    }
    if (!Buffer.from(dev.read(w.offset, want.length)).equals(want)) return undefined;
    bytes += want.length;
  }
  return bytes;
}
