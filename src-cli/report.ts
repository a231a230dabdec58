// bcachefs-repair report --journal FILE --format html|json|pdf --output FILE [--session ID]
import { writeReport, type ReportFormat } from '../src-core/ops/index.js';
import { EXIT_OK, UsageError, type Command } from './command.js';
import { idOption, idValue, JOURNAL_OPTION, journalFile } from './journal-options.js';

const FORMATS: ReportFormat[] = ['html', 'json', 'pdf'];

export const report: Command = {
  name: 'report',
  args: [],
  summary: 'the report of a repair journal: HTML, JSON or PDF',
  description:
    'The case, the device identity, who and when, the findings, the decisions, every write with its hashes and changed ' +
    'fields, the check after repair, and the chain head that pins the report to the journal. The HTML is one file that ' +
    'loads nothing; the PDF is that HTML printed by chromium (/usr/bin/chromium).',
  options: {
    journal: JOURNAL_OPTION,
    format: { type: 'string', value: 'html|json|pdf', help: 'what to write' },
    output: { type: 'string', value: 'FILE', help: 'where to write it' },
    session: idOption('only this session'),
  },
  async run({ values, out }) {
    const file = journalFile('report', values);
    const format = values.format as ReportFormat;
    if (!FORMATS.includes(format)) throw new UsageError(`report: --format must be one of ${FORMATS.join(', ')}${values.format ? `, not "${values.format}"` : ''}`);
    if (typeof values.output !== 'string' || values.output === '') throw new UsageError('report: where to? (--output FILE missing)');
    const session = idValue('report', values, 'session');
    const r = writeReport(file, format, values.output, session);
    out.line(`wrote the ${format.toUpperCase()} report of ${file} to ${values.output} (chain head at position ${r.journal.chainHead.seq}: ${r.journal.chainHead.hash}).`);
    return EXIT_OK;
  },
};
