// Runs the built CLI (bin/bcachefs-repair -> dist/) as a user would.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './fixtures.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export function runCli(args: string[], timeoutMs = 60_000, cwd?: string): CliResult {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'bcachefs-repair'), ...args], {
    ...(cwd ? { cwd } : {}),
    encoding: 'latin1',
    timeout: timeoutMs,
    maxBuffer: 512 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
