// What the journal commands (undo, history, verify, report) share: the --journal option.
import { UsageError, type OptionSpec } from './command.js';

export const JOURNAL_OPTION: OptionSpec = { type: 'string', value: 'FILE', help: 'the repair journal (the file given to repair --journal)' };

export function journalFile(command: string, values: Record<string, string | boolean | undefined>): string {
  const j = values.journal;
  if (typeof j !== 'string' || j === '') throw new UsageError(`${command}: which journal? (--journal FILE missing)`);
  return j;
}

/** A fix or session number as typed. */
export function positiveInt(command: string, option: string, v: string): number {
  if (!/^[1-9]\d{0,9}$/.test(v)) throw new UsageError(`${command}: --${option} takes a number (see history), not "${v}"`);
  return Number(v);
}
