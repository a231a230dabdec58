// The repair flow after a check (Svelte 5 runes): plan → review (accept / reject / an alternative, per fix
// or per class) → apply (write mode, confirmed here) → history (undo) → report. The service does the work
// (protocol.ts plan, apply, history, undo, report); this holds what the technician decided.
import type {
  ApplyProgress, ApplyResult, EventMessage, FixJson, HistoryResult, PlanProgress, PlanResult, ReportResult, UndoResult, WorkingCopyProposal,
} from '../../src-core/service/protocol';
import type { App, UiError } from './app.svelte';
import { CallError } from './transport';

export type Step = 'open' | 'scan' | 'problems' | 'review' | 'apply' | 'history' | 'report';

/** per fix: 'accept', 'reject', or the id of the alternative chosen instead */
export type Decision = string;

/** Where the journal of a disk goes unless the technician says otherwise: beside an image, not in /dev. */
export function defaultJournal(path: string): string {
  if (path.startsWith('/dev/')) return `/var/tmp/bcachefs-repair-${path.slice(5).replace(/\//g, '_')}.journal`;
  return `${path.replace(/\.gz$/i, '')}.repair-journal`;
}

function sameFindings(a: readonly { id: string }[], b: readonly { id: string }[]): boolean {
  const ids = new Set(a.map((x) => x.id));
  return a.length === b.length && b.every((x) => ids.has(x.id));
}

export class Flow {
  plan = $state<PlanResult | null>(null);
  planning = $state(false);
  planProgress = $state<PlanProgress | null>(null);
  decisions = $state<Record<string, Decision>>({});
  /** the disk the technician confirmed write mode for (in Apply or History), with the journal then named */
  private confirmedFor = $state<string | null>(null);
  cancelling = $state(false);
  journal = $state('');
  applying = $state(false);
  applyProgress = $state<ApplyProgress | null>(null);
  applied = $state<ApplyResult | null>(null);
  history = $state<HistoryResult | null>(null);
  historyLoading = $state(false);
  undoing = $state(false);
  undone = $state<UndoResult | null>(null);
  report = $state<ReportResult | null>(null);
  exporting = $state(false);
  copy = $state<WorkingCopyProposal | null>(null);
  copying = $state(false);
  error = $state<UiError | null>(null);

  constructor(private readonly app: App) {
    app.transport.onEvent((ev: EventMessage) => {
      if (ev.event === 'plan.progress') this.planProgress = ev.data as PlanProgress;
      if (ev.event === 'apply.progress') this.applyProgress = ev.data as ApplyProgress;
    });
  }

  private fail(title: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.error = e instanceof CallError ? { title, message, code: e.code } : { title, message };
  }

  get path(): string {
    return this.app.image?.path ?? '';
  }

  /** write mode: confirmed for the disk open now (another disk opened asks again) */
  get writeMode(): boolean {
    return this.confirmedFor !== null && this.confirmedFor === this.path;
  }

  /** The technician confirms write mode for the open disk and the journal; the desktop app's main process records it. */
  async confirmWrite(): Promise<boolean> {
    if (this.writeMode) return true;
    try {
      await this.app.transport.call('write.confirm', { path: this.path, journal: this.journal });
      this.confirmedFor = this.path;
      return true;
    } catch (e) {
      this.fail('Write mode was refused', e);
      return false;
    }
  }

  /** Stops the plan or apply that runs (an apply between two fixes: each written fix stays whole and journaled). */
  async cancel(): Promise<void> {
    if (!this.planning && !this.applying) return;
    this.cancelling = true;
    try {
      await this.app.transport.call('repair.cancel');
    } catch (e) {
      this.fail('Could not cancel', e);
    }
  }

  /** the disk may not be written as it is (a .gz, the bundled sample): a working copy is repaired instead */
  get needsCopy(): boolean {
    return /\.gz$/i.test(this.path);
  }

  async makePlan(): Promise<void> {
    if (this.planning || !this.app.image) return;
    this.planning = true;
    this.planProgress = null;
    this.error = null;
    try {
      const p = await this.app.transport.call('plan');
      this.plan = p;
      this.decisions = Object.fromEntries(p.fixes.map((f) => [f.id, 'accept']));
      // the plan knows which fix resolves which findings: Problems groups the same findings by it from now on
      const f = this.app.findings;
      if (f && !p.cancelled && sameFindings(f.findings, p.findings)) this.app.findings = { ...f, problems: p.problems };
      this.journal ||= defaultJournal(this.path);
    } catch (e) {
      this.fail('The repair could not be planned', e);
    } finally {
      this.planning = false;
      this.cancelling = false;
    }
  }

  decide(fix: FixJson, d: Decision): void {
    this.decisions[fix.id] = d;
  }

  /** fix or alternative ids to apply, in plan order; a fix planned on top of a rejected one is left out */
  get chosen(): string[] {
    const out: string[] = [];
    const taken = new Set<string>();
    for (const f of this.plan?.fixes ?? []) {
      const d = this.decisions[f.id] ?? 'accept';
      if (d === 'reject' || f.dependsOn.some((x) => !taken.has(x))) continue;
      taken.add(f.id);
      out.push(d === 'accept' ? f.id : d);
    }
    return out;
  }

  /** accepted fixes left out because what they were planned on top of is rejected */
  get blocked(): string[] {
    const chosen = new Set(this.chosen.map((id) => this.plan?.fixes.find((f) => f.id === id || f.alternatives.some((a) => a.id === id))?.id));
    return (this.plan?.fixes ?? []).filter((f) => this.decisions[f.id] !== 'reject' && !chosen.has(f.id)).map((f) => f.id);
  }

  async proposeCopy(): Promise<void> {
    try {
      this.copy = await this.app.transport.call('workingCopy.propose', { path: this.path });
    } catch (e) {
      this.fail('No working copy could be proposed', e);
    }
  }

  /** Makes the working copy, opens it, checks it and plans again: the fixes are then for the copy. */
  async makeCopy(folder: string): Promise<void> {
    if (this.copying) return;
    this.copying = true;
    try {
      const c = await this.app.transport.call('workingCopy.make', { path: this.path, folder });
      this.copy = null;
      await this.app.open(c.path);
      if (this.app.image?.path !== c.path) return; // the open failed: its error is shown
      this.journal = defaultJournal(c.path);
      this.plan = null;
      await this.makePlan();
      const p = this.plan as PlanResult | null;
      // the plan checked the copy first: its findings are the copy's
      if (p) this.app.findings = { checkId: null, status: 'completed', findings: p.findings, problems: p.problems, limitations: [], classes: this.app.findings?.classes ?? {} };
    } catch (e) {
      this.fail('The working copy could not be made', e);
    } finally {
      this.copying = false;
    }
  }

  async apply(): Promise<boolean> {
    if (this.applying || !this.writeMode) return false;
    this.applying = true;
    this.applyProgress = null;
    this.error = null;
    try {
      const r = await this.app.transport.call('apply', { journal: this.journal, fixes: this.chosen });
      this.applied = r;
      this.plan = null;
      await this.refreshFindings();
      await this.loadHistory();
      return true;
    } catch (e) {
      this.fail('The repair was not applied', e);
      return false;
    } finally {
      this.applying = false;
      this.cancelling = false;
    }
  }

  private async refreshFindings(): Promise<void> {
    this.app.findings = await this.app.transport.call('findings');
    this.app.selectedId = null;
  }

  async loadHistory(): Promise<void> {
    if (!this.journal) return;
    this.historyLoading = true;
    try {
      this.history = await this.app.transport.call('history', { journal: this.journal });
    } catch (e) {
      this.fail('The journal could not be read', e);
    } finally {
      this.historyLoading = false;
    }
  }

  async undo(target: { fix: number } | { session: number } | { all: true }): Promise<void> {
    if (this.undoing || !this.writeMode) return;
    this.undoing = true;
    this.error = null;
    try {
      this.undone = await this.app.transport.call('undo', { journal: this.journal, ...target });
      await this.refreshFindings();
      await this.loadHistory();
    } catch (e) {
      this.fail('The undo failed', e);
    } finally {
      this.undoing = false;
    }
  }

  async exportReport(format: 'html' | 'json' | 'pdf', output: string): Promise<void> {
    if (this.exporting) return;
    this.exporting = true;
    this.error = null;
    try {
      this.report = await this.app.transport.call('report', { journal: this.journal, format, output });
    } catch (e) {
      this.fail('The report could not be written', e);
    } finally {
      this.exporting = false;
    }
  }
}
