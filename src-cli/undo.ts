// bcachefs-repair undo [DEV] --journal FILE (--fix ID | --session ID | --all) [--force] [--yes]
import { OpsError, undoFixes, type UndoTarget } from '../src-core/ops/index.js';
import { EXIT_OK, UsageError, type Command } from './command.js';
import { idOption, idValue, JOURNAL_OPTION, journalFile } from './journal-options.js';

export const undo: Command = {
  name: 'undo',
  args: ['[DEV]'],
  summary: 'undo repairs byte for byte from the journal: one fix, a session, or everything',
  description:
    'Puts back the bytes from before each fix, newest first, after checking that DEV (by default the path the journal ' +
    'recorded) is the disk the journal belongs to. A fix whose bytes were changed since by something else is refused ' +
    '(--force undoes it anyway). Undoing a fix whose bytes a later fix rewrote names those later fixes and needs --yes ' +
    'to undo them too. A fix a crash left half-written is rolled back first (--roll-forward completes it instead).',
  options: {
    journal: JOURNAL_OPTION,
    fix: idOption('undo this fix (its number in history)'),
    session: idOption('undo every fix of this session'),
    all: { type: 'boolean', help: 'undo every fix in the journal' },
    force: { type: 'boolean', help: 'undo even where something else wrote over a fix since' },
    yes: { type: 'boolean', help: 'also undo the later fixes that rewrote the same bytes' },
    who: { type: 'string', value: 'NAME', help: 'who undoes, for the journal (default: the OS user)' },
    'roll-forward': { type: 'boolean', help: 'complete a fix a crash interrupted instead of rolling it back' },
  },
  async run({ values, positionals, out }) {
    const journal = journalFile('undo', values);
    const picked = [values.fix !== undefined, values.session !== undefined, values.all === true].filter(Boolean).length;
    if (picked !== 1) throw new UsageError('undo: say what to undo: exactly one of --fix ID, --session ID, --all');
    const fix = idValue('undo', values, 'fix');
    const session = idValue('undo', values, 'session');
    const target: UndoTarget = fix !== undefined ? { fix } : session !== undefined ? { session } : { all: true };
    try {
      const r = undoFixes({
        journal, target, force: values.force === true, withLater: values.yes === true,
        ...(positionals[0] !== undefined ? { device: positionals[0] } : {}),
        ...(typeof values.who === 'string' ? { who: values.who } : {}),
        ...(values['roll-forward'] ? { recovery: 'forward' as const } : {}),
      });
      for (const m of r.recovered) out.err(`recovery: ${m}`);
      for (const f of r.forced) out.err(`warning: fix ${f.fixId} was undone over bytes something else had written since (at ${f.offsets.join(', ')}), as --force asked.`);
      out.line(`undid ${r.undone.map((n) => `fix ${n}`).join(', ')} on ${r.device} (session ${r.session} of the journal).`);
      return EXIT_OK;
    } catch (e) {
      if (e instanceof OpsError && e.code === 'NOTHING_TO_UNDO') {
        out.line(e.message);
        return EXIT_OK;
      }
      throw e;
    }
  },
};
