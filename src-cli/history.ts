// bcachefs-repair history --journal FILE [--json]
import { journalHistory } from '../src-core/ops/index.js';
import { EXIT_OK, type Command } from './command.js';
import { JOURNAL_OPTION, journalFile } from './journal-options.js';

export const history: Command = {
  name: 'history',
  args: [],
  summary: 'the sessions and fixes of a repair journal, with their states',
  description: 'One line per session (who, when, device, case) and per fix (its number for undo --fix, state, writes). Writes nothing.',
  options: { journal: JOURNAL_OPTION, json: { type: 'boolean', help: 'the JSON report of the whole journal' } },
  async run({ values, out }) {
    const h = journalHistory(journalFile('history', values));
    if (values.json) out.line(JSON.stringify(h.report, null, 1));
    else for (const l of h.lines) out.line(l);
    return EXIT_OK;
  },
};
