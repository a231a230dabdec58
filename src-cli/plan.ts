// bcachefs-repair plan DEV [--json] [--output PLAN.json]
import { writeFileSync } from 'node:fs';
import { Disk, planDocument, planRepair, type PlanProgress } from '../src-core/ops/index.js';
import { EXIT_CANCELED, EXIT_ERRORS_UNCORRECTED, EXIT_OK, type Command } from './command.js';
import { fixText, unresolvedText } from './plan-text.js';
import { cancelOnSigint } from './sigint.js';

export const plan: Command = {
  name: 'plan',
  args: ['DEV'],
  summary: 'plan the repair of every finding (what changes, why, the exact bytes); writes nothing to the disk',
  description:
    'Checks the disk, then plans fixes in rounds: each round’s fixes are laid over the disk in memory and the check runs again, ' +
    'until nothing is left or nothing more can be fixed. Every fix says what it changes in bcachefs’s terms, the evidence, what ' +
    'is kept and what is lost, and the alternatives. --output writes the plan for `repair --plan`. Exit 0 when there is nothing ' +
    'to repair, 4 when there is.',
  options: {
    json: { type: 'boolean', help: 'the plan as one JSON document on stdout' },
    output: { type: 'string', value: 'PLAN.json', help: 'also write the plan to this file (for repair --plan)' },
    progress: { type: 'boolean', help: 'progress lines on stderr' },
  },
  async run({ values, positionals, out }) {
    const disk = Disk.open(positionals[0]!);
    try {
      const p = await cancelOnSigint((token) => planRepair(disk, {
        token,
        ...(values.progress ? { onProgress: (x: PlanProgress) => out.err(`progress: round ${x.round}: ${x.step} (${x.fixes} fixes so far)`) } : {}),
      }));
      const doc = planDocument(disk, p);
      if (typeof values.output === 'string') writeFileSync(values.output, JSON.stringify(doc, null, 1) + '\n');
      if (values.json) out.line(JSON.stringify(doc, null, 1));
      else {
        for (const f of p.fixes) out.line(fixText(f) + '\n');
        for (const u of p.unresolved) out.line(unresolvedText(u));
        out.line(
          `${p.cancelled ? 'plan CANCELLED: partial. ' : ''}${p.before.length} findings, ${p.fixes.length} fixes planned in ${p.rounds} rounds, ` +
            `${p.unresolved.length} findings without a fix. Nothing was written.${typeof values.output === 'string' ? ` Plan written to ${values.output}.` : ''}`,
        );
      }
      if (p.cancelled) return EXIT_CANCELED;
      return p.before.length ? EXIT_ERRORS_UNCORRECTED : EXIT_OK;
    } finally {
      disk.close();
    }
  },
};
