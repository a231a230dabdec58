// The command line as people expect it: strict options, help on stdout, usage errors on stderr with exit 16.
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../helpers/fixtures.js';
import { PACKAGE_VERSION, runCli } from '../helpers/cli.js';

const EXIT_CODES = [0, 4, 8, 16, 32];
const COMMANDS = ['show-super', 'list', 'check'];
/** a path that would give exit 8 if the command got as far as opening it */
const NO_SUCH = '/nonexistent/image.img';

function usageError(args: string[], pattern: RegExp): string {
  const r = runCli(args);
  expect(r.status, r.stderr).toBe(16);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/); // no stack trace
  return r.stderr;
}

describe('help and version', () => {
  it('no arguments: the usage on stderr, exit 16', () => {
    const r = runCli([]);
    expect(r.status).toBe(16);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^usage: bcachefs-repair COMMAND DEV/);
  });

  it('--version prints the package version', () => {
    const r = runCli(['--version']);
    expect(r).toMatchObject({ status: 0, stdout: `bcachefs-repair ${PACKAGE_VERSION}\n`, stderr: '' });
  });

  it('--help and help: every command and every exit code, on stdout, exit 0', () => {
    for (const args of [['--help'], ['help'], ['-h']]) {
      const r = runCli(args);
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
      for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
      for (const code of EXIT_CODES) expect(r.stdout).toMatch(new RegExp(`^ +${code}  \\S`, 'm'));
    }
  });

  it.each(COMMANDS)('help %s and %s --help: the same page, with its options and the exit codes', (c) => {
    const a = runCli(['help', c]);
    const b = runCli([c, '--help']);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toMatch(new RegExp(`^usage: bcachefs-repair ${c} DEV`));
    expect(a.stdout).toMatch(/^  --json +\S/m);
    for (const code of EXIT_CODES) expect(a.stdout).toMatch(new RegExp(`^ +${code}  \\S`, 'm'));
    // --help wins over a missing DEV or other options
    expect(runCli([c, NO_SUCH, '--json', '--help']).stdout).toBe(a.stdout);
  });

  it('help for an unknown command is a usage error', () => {
    usageError(['help', 'chek'], /help: unknown command "chek" \(did you mean check\?\)/);
  });
});

describe('usage errors name the problem, exit 16, and open nothing', () => {
  it('an unknown or misspelt option', () => {
    usageError(['check', NO_SUCH, '--jsno'], /^bcachefs-repair: check: unknown option --jsno \(did you mean --json\?\)\nSee "bcachefs-repair help check"\.\n$/);
    usageError(['list', NO_SUCH, '--btree', 'extents', '--levle', '1'], /list: unknown option --levle \(did you mean --level\?\)/);
    usageError(['show-super', NO_SUCH, '-x'], /show-super: unknown option -x/);
    usageError(['--json', 'check', NO_SUCH], /unknown option --json: options go after the command/);
  });

  it('an option without its value, or with one it does not take', () => {
    usageError(['list', NO_SUCH, '--btree'], /list: --btree needs a value/);
    usageError(['check', NO_SUCH, '--json=yes'], /check: --json takes no value/);
  });

  it('a missing or an extra argument, an unknown command', () => {
    usageError(['check'], /check: which device or image\? \(DEV missing\)/);
    usageError(['check', NO_SUCH, 'other.img'], /check: unexpected argument "other\.img"/);
    usageError(['chek', NO_SUCH], /unknown command "chek" \(did you mean check\?\)/);
  });

  it('bad values of list', () => {
    usageError(['list', NO_SUCH], /list needs --btree NAME/);
    usageError(['list', NO_SUCH, '--btree', 'nosuchtree'], /unknown btree "nosuchtree": give one of extents, inodes/);
    usageError(['list', NO_SUCH, '--btree', 'extents', '--level', '7'], /level 7 does not exist: give a level from 0 \(leaves\) to 3/);
    usageError(['list', NO_SUCH, '--btree', 'extents', '--level', 'one'], /--level must be a number from 0 to 3, not "one"/);
  });
});

describe('list says when there is nothing to show', () => {
  it('an empty btree', () => {
    const r = runCli(['list', fixturePath('clean-default-64m'), '--btree', 'xattrs']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^note: btree xattrs is empty \(it has no root node on disk\): nothing to list$/m);
  });

  it('a level above the root', () => {
    const r = runCli(['list', fixturePath('clean-32k-depth2'), '--btree', 'extents', '--level', '3']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^note: btree extents has its root at level 1: nothing at level 3 \(levels 0-1 exist\)$/m);
  });

  it('says nothing when there is something', () => {
    const r = runCli(['list', fixturePath('clean-32k-depth2'), '--btree', 'extents', '--level', '1']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/nothing/);
  });
});
