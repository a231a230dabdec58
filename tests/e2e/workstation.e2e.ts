// The workstation as a user sees it in browser mode.
import { expect, test, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLE = join(ROOT, 'assets', 'sample.img.gz');
/** the base fixture's uuid, as the real bcachefs show-super printed it */
const UUID = /External UUID:\s+(\S+)/.exec(readFileSync(join(ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021', 'clean-32k-depth2', 'show-super.txt'), 'utf8'))![1]!;
/** the addresses the servers printed, with their tokens (servers.setup.ts) */
const HOME = process.env.E2E_URL!;
const SLOW = process.env.E2E_SLOW_URL!;
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
mkdirSync(SHOTS, { recursive: true });

async function openSample(page: Page, url = HOME): Promise<void> {
  await page.goto(url);
  await expect(page.getByTestId('read-only')).toBeVisible();
  // the page goes on to what the server has open (a reload): back to Open
  await page.getByTestId('step-open').click();
  await expect(page.getByTestId('path')).toHaveValue(SAMPLE);
  // (an image may be open already: the server keeps it across page loads)
  await page.getByTestId('open').click();
  await expect(page.getByTestId('open')).toHaveText('Open read-only');
  await expect(page.getByTestId('uuid')).toHaveText(UUID);
}

test('opens the bundled sample: superblock, notes, btree overview, read-only', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openSample(page);
  await expect(page.getByTestId('read-only')).toHaveText('Read-only');
  await expect(page.getByText('Nothing is written until you confirm a repair in Apply.')).toBeVisible();
  // how the image was read (a temporary file) is a detail, not a note of the main view
  await expect(page.getByTestId('superblock')).not.toContainText('temporary file');
  await page.getByTestId('superblock-all-toggle').click();
  await expect(page.getByTestId('technical-notes')).toContainText('decompressed');
  await expect(page.getByTestId('technical-notes')).toContainText('read-only');
  const btrees = page.getByTestId('btrees');
  await expect(btrees.getByRole('row', { name: /extents/ })).toContainText('14');
  await expect(btrees.getByRole('row', { name: /extents/ })).toContainText('1 at level 1, 13 at level 0');
  await expect(btrees.getByRole('row', { name: /xattrs/ })).toContainText('empty');
  await expect(btrees).toContainText('26 nodes');
  expect(errors).toEqual([]);
});

test('runs a check and shows the findings grouped, with details and the exact fsck message', async ({ page }) => {
  await openSample(page);
  await page.getByTestId('check-start').click();
  await expect(page.getByTestId('check-result')).toContainText('8 findings (8 errors)');
  const findings = page.getByTestId('problems');
  // 2 problems (the gap; the pointer gen ahead of its bucket, with its bucket and usage findings)
  await expect(findings.getByTestId('problem')).toHaveCount(2);
  await expect(findings.getByTestId('finding')).toHaveCount(8);
  // the first error is selected: the gap in the extents btree
  const detail = page.getByTestId('finding-detail');
  await expect(detail).toContainText('Topology min key');
  await expect(page.getByTestId('expected')).toHaveText('5119:5401:0');
  await expect(page.getByTestId('actual')).toHaveText('5119:5416:0');
  await expect(page.getByTestId('fsck-message')).toContainText('btree node with incorrect min_key at btree extents level 1:');
  await expect(page.getByTestId('fsck-message')).toContainText('ptr: 0:47168 gen 1, not fixing');
  await expect(detail).toContainText('What bcachefs would do');
  // another finding
  await findings.getByTestId('finding').filter({ hasText: 'bucket 0:115 · gen' }).click();
  await expect(detail).toContainText('Ptr gen future');
  await expect(page.getByTestId('fsck-message')).toHaveText('bucket 0:115 data type user ptr gen in the future: 2 > 1, not fixing');
  await expect(page.getByTestId('expected')).toHaveText('1');
  await expect(page.getByTestId('actual')).toHaveText('2');
  await page.screenshot({ path: join(SHOTS, 'workstation-1-findings.png'), fullPage: true });
});

test('a reloaded page shows what is open and the last findings', async ({ page }) => {
  await openSample(page);
  await page.getByTestId('check-start').click();
  await expect(page.getByTestId('problems').getByTestId('finding')).toHaveCount(8);
  await page.reload();
  // the reloaded page goes on where the work stands: the last check's problems, the open disk named in the steps
  await expect(page.getByTestId('step-problems')).toHaveAttribute('aria-current', 'step');
  await expect(page.getByTestId('problems').getByTestId('finding')).toHaveCount(8);
  await expect(page.getByTestId('check-result')).toContainText('8 findings (8 errors)');
  await expect(page.getByTestId('step-open')).toContainText(SAMPLE);
  await page.getByTestId('step-scan').click();
  await expect(page.getByTestId('uuid')).toHaveText(UUID);
  await expect(page.getByTestId('path')).toHaveValue(SAMPLE);
});

test('shows progress while a check runs (slow disk)', async ({ page }) => {
  await openSample(page, SLOW);
  await page.getByTestId('check-start').click();
  const progress = page.getByTestId('progress');
  await expect(progress).toBeVisible();
  await expect(page.getByTestId('phase')).toContainText('Walking the btrees');
  const bar = progress.getByRole('progressbar');
  await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThan(20);
  await expect(progress).toContainText(/\d+ nodes · .* of about 832 KiB/);
  await expect(page.getByTestId('open')).toBeDisabled();
  await page.screenshot({ path: join(SHOTS, 'workstation-2-progress.png') });
  await expect(page.getByTestId('check-result')).toContainText('8 findings', { timeout: 30_000 });
  await expect(progress).toBeHidden();
});

test('cancels a running check', async ({ page }) => {
  await openSample(page, SLOW);
  await page.getByTestId('check-start').click();
  await expect(page.getByTestId('phase')).toContainText('Walking the btrees');
  await page.getByTestId('check-cancel').click();
  await expect(page.getByTestId('check-result')).toContainText('cancelled');
  await expect(page.getByTestId('check-result')).toContainText('only those found until then');
  await expect(page.getByTestId('problems')).toBeVisible();
  expect(await page.getByTestId('problems').getByTestId('finding').count()).toBeLessThan(8);
  // the image is still open and can be checked again
  await expect(page.getByTestId('check-start')).toHaveText('Check again');
  await page.getByTestId('step-open').click();
  await expect(page.getByTestId('open')).toBeEnabled();
});

test('the path field stays the one typed in while the sample opens at first start', async ({ page }) => {
  // counts every path field put into the page: a page that re-creates it loses what is being typed
  await page.addInitScript(() => {
    const w = window as unknown as { pathFields: number };
    w.pathFields = 0;
    new MutationObserver((changes) => {
      for (const c of changes) {
        for (const n of c.addedNodes) {
          if (n instanceof Element && (n.matches('[data-testid="path"]') || n.querySelector('[data-testid="path"]'))) w.pathFields++;
        }
      }
    }).observe(document, { childList: true, subtree: true });
  });
  await page.goto(HOME);
  await expect(page.getByTestId('step-open')).toBeVisible();
  // nothing open and a first start: the sample opens by itself, and the page moves on to Scan
  await page.evaluate(async () => {
    await fetch('/api/rpc', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 1, method: 'close', params: {} }) });
    sessionStorage.clear();
  });
  await page.reload();
  const path = page.getByTestId('path');
  await path.fill('/typed/while/the/sample/opens.img');
  await expect(page.getByTestId('step-scan')).toHaveAttribute('aria-current', 'step');
  await expect(page.getByTestId('uuid')).toHaveText(UUID);
  await expect(path).toHaveValue('/typed/while/the/sample/opens.img');
  expect(await page.evaluate(() => (window as unknown as { pathFields: number }).pathFields)).toBe(1);
});

test('errors say what happened and what to do', async ({ page }) => {
  await page.goto(HOME);
  await page.getByTestId('step-open').click();
  await page.getByTestId('path').fill('/nonexistent/disk.img');
  await page.getByTestId('open').click();
  const err = page.getByTestId('error');
  // the device's errno code reaches the page as a code, not only as text
  await expect(err).toContainText('Could not open /nonexistent/disk.img: no such file or device');
  await expect(page.getByTestId('error-code')).toHaveText('ENOENT');
  await expect(err).toContainText('Check the path');
  await err.getByRole('button', { name: /dismiss/i }).click();
  await expect(err).toBeHidden();
  await page.getByTestId('path').fill('/etc/hostname');
  await page.getByTestId('open').click();
  await expect(err).toContainText('Could not open /etc/hostname: no bcachefs this tool can read');
  await expect(page.getByTestId('error-code')).toHaveText('EBADFS');
  await expect(err).toContainText('Check that this is the right disk or image');
});

test('node errors name the device as bcachefs prints it', async ({ page }) => {
  const image = join(ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021', 'zeronode-extents-b2', 'image.img.gz');
  // the path as typed, without .gz (bcachefs runs on the unpacked image), cut to bcachefs's 31 bytes
  const dev = Buffer.from(image.replace(/\.gz$/, '')).subarray(0, 31).toString();
  await page.goto(HOME);
  await page.getByTestId('step-open').click();
  await page.getByTestId('path').fill(image);
  await page.getByTestId('open').click();
  await expect(page.getByTestId('open')).toHaveText('Open read-only');
  await page.getByTestId('check-start').click();
  await expect(page.getByTestId('check-result')).toContainText('findings');
  // the first error is selected: the zeroed leaf
  await expect(page.getByTestId('fsck-message')).toContainText('Unreadable btree node at btree extents level 0:');
  await expect(page.getByTestId('log-message')).toContainText(`error validating btree node on ${dev} at btree extents level 0/1`);
});
