// bcachefs-repair repair DEV --journal FILE (-y | --interactive | --only ID [--only ID …] | --plan PLAN.json)
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import {
  applyRepair, fixesFromDocument, OpsError, selectFixes, type ApplyOutcome, type RepairFix, type RepairPlan,
} from '../src-core/ops/index.js';
import { EXIT_CANCELED, EXIT_ERRORS_UNCORRECTED, EXIT_FIXED, EXIT_OK, UsageError, type Command } from './command.js';
import { JOURNAL_OPTION, journalFile } from './journal-options.js';
import { fixText, unresolvedText } from './plan-text.js';
import { cancelOnSigint } from './sigint.js';

/** Asks about each fix on the terminal: y (apply), n (skip), a (its first alternative), q (stop asking). */
async function askEach(plan: RepairPlan, out: { line(s: string): void }): Promise<RepairFix[]> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const chosen: RepairFix[] = [];
  try {
    for (const f of plan.fixes) {
      out.line(fixText(f));
      if (f.dependsOn.some((d) => !chosen.some((c) => c.id === d || c.id.startsWith(`${d}:`)))) {
        out.line(`    skipped: it was planned on top of ${f.dependsOn.join(', ')}, not chosen`);
        continue;
      }
      const a = (await rl.question(`apply ${f.id}? [y/n${f.alternatives.length ? '/a' : ''}/q] `)).trim().toLowerCase();
      if (a === 'q') break;
      if (a === 'y') chosen.push(f);
      else if (a === 'a' && f.alternatives[0]) chosen.push(f.alternatives[0]);
    }
  } finally {
    rl.close();
  }
  return chosen;
}

function exitFor(r: ApplyOutcome): number {
  if (r.cancelled) return EXIT_CANCELED;
  if (!r.before.length) return EXIT_OK;
  const left = r.after.filter((f) => f.severity !== 'info').length;
  return (r.applied.length ? EXIT_FIXED : 0) | (left ? EXIT_ERRORS_UNCORRECTED : 0);
}

export const repair: Command = {
  name: 'repair',
  args: ['DEV'],
  summary: 'plan and apply repairs through the journal (undo restores every byte); exit 0 nothing to do, 1 fixed, 4 errors left',
  description:
    'Opens DEV for writing through the repair journal (recovering a crashed run first), plans as `plan` does, applies the chosen ' +
    'fixes each all-or-nothing, then checks again and prints what is left. Choose with -y (every fix), --interactive (ask for ' +
    'each), --only ID (a fix, an alternative, or a finding and so the fix resolving it; repeatable) or --plan PLAN.json (exactly ' +
    'a plan exported earlier; refused if any of its old bytes are no longer on the disk). A .img.gz is refused: repair an unpacked copy.',
  options: {
    journal: JOURNAL_OPTION,
    yes: { type: 'boolean', short: 'y', help: 'apply every planned fix' },
    interactive: { type: 'boolean', help: 'ask about each fix' },
    only: { type: 'string', value: 'ID', multiple: true, help: 'apply this fix (or the fix resolving this finding); repeatable' },
    plan: { type: 'string', value: 'PLAN.json', help: 'apply exactly this exported plan' },
    who: { type: 'string', value: 'NAME', help: 'who repairs, for the journal (default: the OS user)' },
    case: { type: 'string', value: 'REF', help: 'case reference for the report' },
    customer: { type: 'string', value: 'NAME', help: 'customer for the report' },
    technician: { type: 'string', value: 'NAME', help: 'technician for the report' },
  },
  async run({ values, positionals, out }) {
    const journal = journalFile('repair', values);
    const only = values.only as unknown as string[] | undefined;
    const modes = [values.yes === true, values.interactive === true, !!only?.length, typeof values.plan === 'string'].filter(Boolean).length;
    if (modes !== 1) throw new UsageError('repair: say which fixes: exactly one of -y, --interactive, --only ID, --plan PLAN.json');
    let fixes: ReturnType<typeof fixesFromDocument> | undefined;
    if (typeof values.plan === 'string') {
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(values.plan, 'utf8'));
      } catch (e) {
        throw new OpsError('BAD_REQUEST', `cannot read the plan ${values.plan}: ${(e as Error).message}. Give the file written by plan --output.`);
      }
      fixes = fixesFromDocument(doc);
    }
    const r = await cancelOnSigint((token) => applyRepair({
      device: positionals[0]!, journal, token,
      ...(fixes ? { fixes } : {}),
      ...(values.interactive ? { choose: (p: RepairPlan) => askEach(p, out) } : {}),
      ...(only?.length ? { choose: (p: RepairPlan) => selectFixes(p.fixes, only) } : {}),
      ...(typeof values.who === 'string' ? { who: values.who } : {}),
      ...(typeof values.case === 'string' ? { caseRef: values.case } : {}),
      ...(typeof values.customer === 'string' ? { customer: values.customer } : {}),
      ...(typeof values.technician === 'string' ? { technician: values.technician } : {}),
      onProgress: (p) => { if (p.planId) out.err(`applying ${p.planId} (${p.done + 1}/${p.total})`); },
    }));
    for (const m of r.recovered) out.err(`recovery: ${m}`);
    out.line(`${r.before.length} findings before; applied ${r.applied.length} fix${r.applied.length === 1 ? '' : 'es'}${r.applied.length ? ` (${r.applied.map((a) => `${a.id} = journal fix ${a.fix}`).join(', ')})` : ''}; session ${r.session} of ${journal}.`);
    if (r.skipped.length) out.line(`not applied: ${r.skipped.join(', ')}`);
    if (r.cancelled) out.line('repair CANCELLED between fixes: the fixes applied so far stay applied (undo with the journal).');
    const reasons = new Map(r.unresolved.map((u) => [u.finding.id, u]));
    for (const f of r.after) out.line(reasons.has(f.id) ? unresolvedText(reasons.get(f.id)!) : `LEFT ${f.id} (${f.severity})`);
    if (r.afterFrom === 'plan') {
      out.line(`the ${r.writtenBytes} bytes written were read back and are the planned ones: the disk holds the state the plan's last check saw, so that check is the check after the repair (the disk is not read again).`);
    }
    out.line(r.after.length ? `${r.after.length} findings left after the repair.` : 'the check after the repair finds nothing.');
    return exitFor(r);
  },
};
