// Playwright global setup: starts the browser-mode servers as a user would (node dist/src-web/server.js)
// and takes the address each prints, token included, into E2E_URL / E2E_SLOW_URL / E2E_HELD_URL for the
// tests (the held one: tests/e2e/held-repair-checker.mjs, holding a plan or apply in $E2E_HOLD_DIR's say). Returns
// the teardown, which stops them with SIGTERM (the service child closes the image, removing its temp file).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['dist/src-web/server.js', '--port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the browser-mode server printed no address within 30 s: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /running at (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.once('exit', (code) => reject(new Error(`the browser-mode server exited (code ${code}): ${out}`)));
  });
}

export default async function setup(): Promise<() => Promise<void>> {
  const plain = await startServer({});
  const slow = await startServer({ BCACHEFS_REPAIR_TEST_CHECKER: 'tests/e2e/slow-disk-checker.mjs', SLOW_DISK_MS: '150' });
  const holdDir = mkdtempSync(join(tmpdir(), 'e2e-hold-'));
  const held = await startServer({ BCACHEFS_REPAIR_TEST_CHECKER: 'tests/e2e/held-repair-checker.mjs', E2E_HOLD_DIR: holdDir });
  process.env.E2E_URL = plain.url;
  process.env.E2E_SLOW_URL = slow.url;
  process.env.E2E_HELD_URL = held.url;
  process.env.E2E_HOLD_DIR = holdDir;
  return async () => {
    await Promise.all([plain.child, slow.child, held.child].map((c) => new Promise<void>((res) => {
      if (c.exitCode !== null) return res();
      const t = setTimeout(() => {
        c.kill('SIGKILL');
        res();
      }, 5000);
      c.once('exit', () => {
        clearTimeout(t);
        res();
      });
      c.kill('SIGTERM');
    })));
  };
}
