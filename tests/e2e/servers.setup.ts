// Playwright global setup: starts the browser-mode servers as a user would (node dist/src-web/server.js)
// and takes the address each prints, token included, into E2E_URL / E2E_SLOW_URL for the tests. Returns
// the teardown, which stops them with SIGTERM (the service child closes the image, removing its temp file).
import { spawn, type ChildProcess } from 'node:child_process';

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
  process.env.E2E_URL = plain.url;
  process.env.E2E_SLOW_URL = slow.url;
  return async () => {
    await Promise.all([plain.child, slow.child].map((c) => new Promise<void>((res) => {
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
