// End-to-end tests of the workstation in browser mode: the real server (dist/src-web/server.js) and the
// real service, driven through Debian's chromium. `npm run build && npm run build:app` must have run (npm
// test does it). Three servers (tests/e2e/servers.setup.ts): one as users get it, one whose checker reads
// through a slowed-down disk (tests/e2e/slow-disk-checker.mjs) so that a check lasts long enough to watch
// its progress and cancel it, and one whose disk a test can hold mid-plan or mid-apply until its Cancel has
// arrived (tests/e2e/held-repair-checker.mjs). Each test opens the address its server printed, token and all.
import { defineConfig } from '@playwright/test';
import { existsSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  throw new Error(`The e2e tests drive Debian's chromium, and ${chromium} is missing. Install it (apt-get install -y chromium) or point CHROMIUM_PATH at a Chromium binary. (Do not run "npx playwright install": it downloads browsers.)`);
}
for (const f of ['dist/src-web/server.js', 'dist/renderer/index.html']) {
  if (!existsSync(f)) throw new Error(`${f} is missing: run "npm run build && npm run build:app" first (npm test does).`);
}

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
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  // the servers print their address with this run's token; the tests take it from there (servers.setup.ts)
  globalSetup: './tests/e2e/servers.setup.ts',
});
