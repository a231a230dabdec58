// Ctrl+C stops a check at the next node: what was found so far is printed, marked partial, exit 32.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT, fixturePath } from '../helpers/fixtures.js';

interface Run {
  status: number | null;
  stdout: string;
  progress: string[];
}

/**
 * Runs check on the fixture with the most nodes (1106; about 0.4 s of walking) and sends SIGINT at its first
 * progress line (the handler is in place by then), so that the signal lands well before the walk is over.
 */
function runOnce(extra: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'bcachefs-repair'), 'check', fixturePath('clean-32k-128m-dirents-depth3'), '--progress', ...extra]);
    let stdout = '';
    const progress: string[] = [];
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    createInterface({ input: c.stderr }).on('line', (l) => {
      if (!l.startsWith('progress:')) return;
      if (!progress.length) c.kill('SIGINT');
      progress.push(l);
    });
    c.on('error', reject);
    c.on('exit', (status) => resolve({ status, stdout, progress }));
  });
}

/**
 * On a loaded machine the signal can come after the walk is over (the check then completes: exit 0 with its
 * last progress line); only that is retried. A check that ignores the signal completes every time and fails.
 */
async function interrupted(extra: string[]): Promise<Run> {
  let r: Run;
  let attempts = 0;
  do r = await runOnce(extra);
  while (++attempts < 3 && r.status === 0 && r.progress.some((l) => l.startsWith('progress: done')));
  return r;
}

describe('check, interrupted', () => {
  it('prints the partial result and exits 32', async () => {
    const r = await interrupted([]);
    expect(r.status, r.stdout).toBe(32);
    expect(r.stdout).toMatch(/^check CANCELLED: partial result\. 0 errors, 0 warnings, 0 notes \((\d+) nodes, .* Nothing was written\.$/m);
    const nodes = Number(/\((\d+) nodes,/.exec(r.stdout)![1]);
    expect(nodes).toBeLessThan(1106);
    expect(r.progress.some((l) => l.startsWith('progress: done'))).toBe(false);
  });

  it('--json says aborted', async () => {
    const r = await interrupted(['--json']);
    expect(r.status).toBe(32);
    const j = JSON.parse(r.stdout) as { aborted: boolean; stats: { nodesRead: number } };
    expect(j.aborted).toBe(true);
    expect(j.stats.nodesRead).toBeLessThan(1106);
  });
});
