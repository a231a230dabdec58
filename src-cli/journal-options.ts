// What the journal commands (undo, history, verify, report) share: the --journal option, the --fix/--session ID options.
import { UsageError, type OptionSpec } from './command.js';

export const JOURNAL_OPTION: OptionSpec = { type: 'string', value: 'FILE', help: 'the repair journal (the file given to repair --journal)' };

export function journalFile(command: string, values: Record<string, string | boolean | undefined>): string {
  const j = values.journal;
  if (typeof j !== 'string' || j === '') throw new UsageError(`${command}: which journal? (--journal FILE missing)`);
  return j;
}

/** An option that takes a fix or session number (--fix ID, --session ID). */
export function idOption(help: string): OptionSpec {
  return { type: 'string', value: 'ID', help };
}

/** The number given to an idOption, undefined when the option is absent. */
export function idValue(command: string, values: Record<string, string | boolean | undefined>, option: string): number | undefined {
  const v = values[option];
  if (typeof v !== 'string') return undefined;
  if (!/^[1-9]\d{0,9}$/.test(v)) throw new UsageError(`${command}: --${option} takes a number (see history), not "${v}"`);
  return Number(v);
}
