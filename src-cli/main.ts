// bcachefs-repair: the command line. Parses the arguments (node:util parseArgs, strict), then runs one
// command of commands.ts; everything it does with a disk goes through the operations layer (src-core/ops).
import { parseArgs } from 'node:util';
import { OpsError, TOOL_NAME, toolVersion } from '../src-core/ops/index.js';
import { COMMANDS, findCommand } from './commands.js';
import { EXIT_OK, EXIT_OPERATIONAL, EXIT_USAGE, UsageError, type Command } from './command.js';
import { commandHelp, usage } from './help.js';
import { Output } from './output.js';

/** Edit distance, to suggest the option or command a typo meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function suggest(word: string, candidates: string[]): string {
  const best = candidates.map((c) => [c, distance(word, c)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= 2 ? ` (did you mean ${best[0]}?)` : '';
}

/** parseArgs's errors, as one line naming the option. */
function optionError(c: Command, e: { code?: string; message: string }): UsageError {
  const opt = /'(-[^' ]*)/.exec(e.message)?.[1] ?? '';
  const known = [...Object.keys(c.options), 'help'].map((o) => `--${o}`);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`${c.name}: unknown option ${opt}${suggest(opt.replace(/=.*/, ''), known)}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(c.options[opt.replace(/^--/, '')]?.type === 'string' ? `${c.name}: ${opt} needs a value` : `${c.name}: ${opt} takes no value`);
    default:
      return new UsageError(`${c.name}: ${e.message}`);
  }
}

async function run(argv: string[], out: Output): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    out.err(usage());
    return EXIT_USAGE;
  }
  if (first === '--version' || first === '-V') {
    out.line(`${TOOL_NAME} ${toolVersion()}`);
    return EXIT_OK;
  }
  if (first === '--help' || first === '-h') {
    out.line(usage());
    return EXIT_OK;
  }
  if (first === 'help') {
    if (rest.length > 1) throw new UsageError(`help takes one command, not ${rest.length}`);
    if (!rest[0]) {
      out.line(usage());
      return EXIT_OK;
    }
    const c = findCommand(rest[0]);
    if (!c) throw new UsageError(`help: unknown command "${rest[0]}"${suggest(rest[0], COMMANDS.map((x) => x.name))}`);
    out.line(commandHelp(c));
    return EXIT_OK;
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first}: options go after the command`);
  const c = findCommand(first);
  if (!c) throw new UsageError(`unknown command "${first}"${suggest(first, COMMANDS.map((x) => x.name))}`);
  try {
    return await runCommand(c, rest, out);
  } catch (e) {
    // point at the command's own help
    if (e instanceof UsageError && e.command === undefined) throw new UsageError(e.message, c.name);
    throw e;
  }
}

async function runCommand(c: Command, rest: string[], out: Output): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...Object.fromEntries(Object.entries(c.options).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }])), help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw optionError(c, e as { code?: string; message: string });
  }
  if (parsed.values.help) {
    out.line(commandHelp(c));
    return EXIT_OK;
  }
  const { positionals } = parsed;
  const required = c.args.filter((a) => !a.startsWith('[')).length; // [DEV]: optional
  if (positionals.length < required) throw new UsageError(`${c.name}: which device or image? (${c.args[positionals.length]} missing)`);
  if (positionals.length > c.args.length) throw new UsageError(`${c.name}: unexpected argument "${positionals[c.args.length]}"`);
  return c.run({ values: parsed.values as Record<string, string | boolean | undefined>, positionals, out });
}

export async function main(argv: string[]): Promise<number> {
  const out = new Output();
  try {
    return await run(argv, out);
  } catch (e) {
    if (e instanceof UsageError) {
      out.err(`${TOOL_NAME}: ${e.message}\nSee "${TOOL_NAME} ${e.command ? `help ${e.command}` : '--help'}".`);
      return EXIT_USAGE;
    }
    if (e instanceof OpsError) {
      out.err(`${TOOL_NAME}: ${e.message}`);
      return EXIT_OPERATIONAL;
    }
    // true by construction: the operations layer gives out read-only disks only
    out.err(`${TOOL_NAME}: internal error: ${(e as Error).message ?? e}. Nothing was written. Please report this with the command line used.`);
    return EXIT_OPERATIONAL;
  } finally {
    await out.flush();
  }
}
