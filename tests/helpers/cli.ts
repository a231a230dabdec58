// Runs the built CLI (bin/bcachefs-repair -> dist/) as a user would.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from './fixtures.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], timeoutMs = 60_000): CliResult {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'bcachefs-repair'), ...args], {
    encoding: 'latin1',
    timeout: timeoutMs,
    maxBuffer: 512 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
