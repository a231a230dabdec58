// End-to-end tests of the workstation in browser mode: the real server (dist/src-web/server.js) and the
// real service, driven through Debian's chromium. `npm run build && npm run build:app` must have run (npm
// test does it). Two servers: one as users get it, one whose checker reads through a slowed-down disk
// (tests/e2e/slow-disk-checker.mjs) so that a check lasts long enough to watch its progress and cancel it.
import { defineConfig } from '@playwright/test';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  throw new Error(`The e2e tests drive Debian's chromium, and ${chromium} is missing. Install it (apt-get install -y chromium) or point CHROMIUM_PATH at a Chromium binary. (Do not run "npx playwright install": it downloads browsers.)`);
}
for (const f of ['dist/src-web/server.js', 'dist/renderer/index.html']) {
  if (!existsSync(f)) throw new Error(`${f} is missing: run "npm run build && npm run build:app" first (npm test does).`);
}

// chosen once by the runner; its workers inherit the environment and so agree on the ports
process.env.E2E_PORT ??= String(await freePort());
process.env.E2E_SLOW_PORT ??= String(await freePort());
const port = Number(process.env.E2E_PORT);
const slowPort = Number(process.env.E2E_SLOW_PORT);

export default defineConfig({
  testDir: 'tests/e2e',
  testMatch: '**/*.e2e.ts',
  outputDir: 'dist/e2e-results',
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: [
    {
      command: `node dist/src-web/server.js --port ${port}`,
      url: `http://127.0.0.1:${port}/`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'pipe',
      stderr: 'pipe',
      // let the server and its service child close the image (and remove the gz temp file)
      gracefulShutdown: { signal: 'SIGTERM', timeout: 5000 },
    },
    {
      command: `node dist/src-web/server.js --port ${slowPort}`,
      url: `http://127.0.0.1:${slowPort}/`,
      reuseExistingServer: false,
      timeout: 30_000,
      env: { BCACHEFS_REPAIR_TEST_CHECKER: 'tests/e2e/slow-disk-checker.mjs', SLOW_DISK_MS: '150' },
      stdout: 'pipe',
      stderr: 'pipe',
      // let the server and its service child close the image (and remove the gz temp file)
      gracefulShutdown: { signal: 'SIGTERM', timeout: 5000 },
    },
  ],
});
