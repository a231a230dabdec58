// The CLI's help texts: the overall usage, and one page per command.
import { TOOL_NAME } from '../src-core/ops/index.js';
import { COMMANDS } from './commands.js';
import { EXIT_CODES, type Command } from './command.js';

const DEV =
  'DEV is a block device (/dev/sdb1), an image file, or a gzip-compressed image (.img.gz, unpacked to a temporary file).\n' +
  'Disks are opened read-only; only repair and undo write, and only through the repair journal.';

function exitCodes(): string {
  return 'Exit codes:\n' + EXIT_CODES.map(([code, what]) => `  ${String(code).padStart(2)}  ${what}`).join('\n');
}

function optionLines(c: Command): string[] {
  const opts = Object.entries(c.options).map(([name, o]) => [`--${name}${o.value ? ` ${o.value}` : ''}`, o.help] as const);
  opts.push(['--help', 'this help']);
  const w = Math.max(...opts.map(([l]) => l.length));
  return opts.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`);
}

export function synopsis(c: Command): string {
  const opts = Object.entries(c.options).map(([name, o]) => `[--${name}${o.value ? ` ${o.value}` : ''}]`);
  return [TOOL_NAME, c.name, ...c.args, ...opts].join(' ');
}

export function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `usage: ${TOOL_NAME} COMMAND DEV [options]`,
    `       ${TOOL_NAME} help [COMMAND] | --help | --version`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    DEV,
    `"${TOOL_NAME} help COMMAND" or "${TOOL_NAME} COMMAND --help" shows a command's options.`,
    '',
    exitCodes(),
  ].join('\n');
}

export function commandHelp(c: Command): string {
  return [`usage: ${synopsis(c)}`, '', c.summary, '', c.description, '', 'Options:', ...optionLines(c), '', DEV, '', exitCodes()].join('\n');
}
