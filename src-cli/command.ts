// What a CLI command is: one file per command (show-super.ts, list.ts, check.ts, ...), registered in commands.ts.
import type { Output } from './output.js';

/** fsck's exit codes, and ours for usage errors and cancels */
export const EXIT_OK = 0;
export const EXIT_FIXED = 1;
export const EXIT_ERRORS_UNCORRECTED = 4;
export const EXIT_OPERATIONAL = 8;
export const EXIT_USAGE = 16;
export const EXIT_CANCELED = 32;

/** Every exit code, for --help. */
export const EXIT_CODES: ReadonlyArray<[number, string]> = [
  [EXIT_OK, 'success; check: no problems found; repair: nothing to do'],
  [EXIT_FIXED, 'repair: problems fixed, none left (with 4: some fixed, some left)'],
  [EXIT_ERRORS_UNCORRECTED, 'check: problems found (errors or warnings), none fixed; list: nodes could not be read; verify: the journal or report fails'],
  [EXIT_OPERATIONAL, 'operational error: the device cannot be opened or is not bcachefs, or an internal error'],
  [EXIT_USAGE, 'usage error: unknown command or option, missing or extra argument, bad value'],
  [EXIT_CANCELED, 'cancelled (Ctrl+C): the output so far is partial'],
];

/** A mistake in the command line: printed with a pointer to the help, exit 16. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** a string option that may be given several times (its value is then a string[]) */
  multiple?: boolean;
  /** for string options: what the value is, in the help ("NAME") */
  value?: string;
  help: string;
}

export interface Invocation {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  out: Output;
}

export interface Command {
  name: string;
  /** the positional arguments, in order, as the help names them ("DEV") */
  args: string[];
  /** one line for the command list */
  summary: string;
  /** what `help CMD` adds under the synopsis */
  description: string;
  options: Record<string, OptionSpec>;
  run(inv: Invocation): Promise<number>;
}
