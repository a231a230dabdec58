// bcachefs-repair verify --journal FILE [--report R.json]
import { verifyJournal } from '../src-core/ops/index.js';
import { EXIT_ERRORS_UNCORRECTED, EXIT_OK, type Command } from './command.js';
import { JOURNAL_OPTION, journalFile } from './journal-options.js';

export const verify: Command = {
  name: 'verify',
  args: [],
  summary: "check a repair journal's audit chain (and a JSON report against it); exit 4 if it fails",
  description:
    'Every row of every table of the journal is covered by a SHA-256 chain: a changed or deleted row fails, and the ' +
    'first bad row is named. With --report, the JSON report must be what the journal records up to the chain head it names.',
  options: { journal: JOURNAL_OPTION, report: { type: 'string', value: 'R.json', help: 'a JSON report (report --format json) to check against the journal' } },
  async run({ values, out }) {
    const file = journalFile('verify', values);
    const v = verifyJournal(file, typeof values.report === 'string' ? values.report : undefined);
    if (v.problem) {
      out.line(`${file}: FAILS its audit chain: ${v.problem}. Keep the file as evidence; do not undo from it.`);
      return EXIT_ERRORS_UNCORRECTED;
    }
    out.line(`${file}: audit chain intact, ${v.rows} rows, head at position ${v.head!.seq}: ${v.head!.hash}`);
    if (v.reportProblems) {
      if (v.reportProblems.length) {
        for (const p of v.reportProblems) out.line(`${values.report}: ${p}`);
        return EXIT_ERRORS_UNCORRECTED;
      }
      out.line(`${values.report}: matches the journal`);
    }
    return EXIT_OK;
  },
};
