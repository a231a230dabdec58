// The open step as a new user meets it (browser mode): the sample open at first start, its superblock in
// bcachefs show-super's words and units, the device list, path completion, a failed open, the token.
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLE = join(ROOT, 'assets', 'sample.img.gz');
const HOME = process.env.E2E_URL!;
/** the sample's base fixture: the same superblock, as the real bcachefs show-super printed it (in UTC) */
const SHOW_SUPER = readFileSync(join(ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021', 'clean-32k-depth2', 'show-super.txt'), 'utf8');
const field = (name: string): string => new RegExp(`^\\s*${name}:\\s+(.*)$`, 'm').exec(SHOW_SUPER)![1]!.trim();
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
mkdirSync(SHOTS, { recursive: true });

test.use({ timezoneId: 'UTC' });

const row = (page: import('@playwright/test').Page, scope: string, label: string) =>
  page.getByTestId(scope).getByRole('row', { name: new RegExp(`^${label}\\b`) }).getByRole('cell');

test('the sample is open at first start, its superblock in the words and units of show-super', async ({ page }) => {
  await page.goto(HOME);
  // nothing pressed: the sample opens by itself
  await expect(page.getByTestId('uuid')).toHaveText(field('External UUID'));
  await expect(page.getByTestId('path')).toHaveValue(SAMPLE);
  await expect(row(page, 'superblock', 'Created')).toHaveText(field('Created'));
  await expect(row(page, 'superblock', 'Block size / btree node size')).toHaveText('4 KiB / 32 KiB'); // show-super: 4.0K, 32.0K
  await expect(page.getByTestId('clean')).toHaveText('cleanly unmounted');
  await expect(row(page, 'superblock', 'Member 0')).toHaveText('64 MiB: 512 buckets of 128 KiB, rw');
  await expect(page.getByTestId('superblock')).not.toContainText(/temporary|\/tmp\//);
  await page.screenshot({ path: join(SHOTS, 'open-1-first-start.png') });

  await page.getByTestId('superblock-all-toggle').click();
  const all = page.getByTestId('superblock-all');
  await expect(row(page, 'superblock-all', 'Internal UUID')).toHaveText(field('Internal UUID'));
  await expect(row(page, 'superblock-all', 'Sequence number')).toHaveText(field('Squence number'));
  await expect(row(page, 'superblock-all', 'Btree node size')).toHaveText('32 KiB');
  await expect(row(page, 'superblock-all', 'Error action')).toHaveText(field('Error action'));
  await expect(row(page, 'superblock-all', 'Features')).toHaveText(field('Features').split(',').join(', '));
  await expect(row(page, 'superblock-all', 'Metadata checksum type')).toHaveText(field('Metadata checksum type'));
  await expect(row(page, 'superblock-all', 'GC reserve percentage')).toHaveText(field('GC reserve percentage'));
  await expect(row(page, 'superblock-all', 'Superblock size')).toHaveText(`${field('Superblock size')} bytes`);
  await expect(row(page, 'superblock-all', 'Last mount')).toHaveText(field('Last mount'));
  await expect(row(page, 'superblock-all', 'Bucket size')).toHaveText('128 KiB');
  await expect(row(page, 'superblock-all', 'Buckets')).toHaveText(field('Buckets'));
  // no programmer's names, no epoch seconds
  await expect(all).not.toContainText(/externalUuid|btreeNodeSize|lastMount|\b1795556066\b/);
  await page.screenshot({ path: join(SHOTS, 'open-2-all-fields.png'), fullPage: true });

  // a favicon the page really gets
  const icon = await page.locator('link[rel="icon"]').getAttribute('href');
  const r = await page.request.get(new URL(icon!, page.url()).href);
  expect(r.status()).toBe(200);
  expect(await r.text()).toContain('<svg');
});

test('after a failed open the previous superblock is gone, also after a reload; the message points at the real device list', async ({ page }) => {
  await page.goto(HOME);
  await expect(page.getByTestId('uuid')).toHaveText(field('External UUID'));
  await page.getByTestId('path').fill('/nonexistent/disk.img');
  await page.getByTestId('open').click();
  const err = page.getByTestId('error');
  await expect(err).toContainText('Could not open /nonexistent/disk.img: no such file or device');
  await expect(err).toContainText(`${SAMPLE} was closed; nothing is open now.`);
  await expect(page.getByTestId('superblock')).toHaveCount(0);
  await expect(page.getByTestId('path')).toHaveValue('/nonexistent/disk.img');
  // the message tells to pick the disk from the device list: it is there
  await expect(err).toContainText('device list');
  await expect(page.getByRole('heading', { name: 'Device list' })).toBeVisible();
  await page.screenshot({ path: join(SHOTS, 'open-3-failed-open.png') });
  await page.reload();
  await expect(page.getByText('Nothing open')).toBeVisible();
  await expect(page.getByTestId('superblock')).toHaveCount(0);
  // a reload is not a first start: the sample is proposed, not opened
  await expect(page.getByTestId('path')).toHaveValue(SAMPLE);
  await page.getByTestId('open').click();
  await expect(page.getByTestId('uuid')).toHaveText(field('External UUID'));
});

test('the device list shows this machine\'s block devices with size and mount state, and refreshes', async ({ page }) => {
  const lsblk = JSON.parse(execFileSync('lsblk', ['--json', '--bytes', '--output', 'PATH,MOUNTPOINTS'], { encoding: 'utf8' })) as { blockdevices: Array<{ path: string; mountpoints: Array<string | null>; children?: unknown[] }> };
  const flat: Array<{ path: string; mountpoints: Array<string | null> }> = [];
  const walk = (ds: typeof lsblk.blockdevices): void => ds.forEach((d) => { flat.push(d); walk((d.children ?? []) as typeof ds); });
  walk(lsblk.blockdevices);
  await page.goto(HOME);
  const list = page.getByTestId('device-list');
  await expect(list.getByTestId('device')).toHaveCount(new Set(flat.map((d) => d.path)).size);
  for (const d of flat) {
    const mounted = d.mountpoints.filter((m): m is string => !!m);
    const state = list.locator(`[data-path="${d.path}"]`).getByTestId('device-state');
    if (mounted.length) await expect(state).toContainText(`mounted at ${mounted.join(', ')}`);
  }
  await list.getByTestId('devices-refresh').click();
  await expect(list.getByTestId('devices-refresh')).toHaveText('Refresh');
  await expect(list.getByTestId('device')).toHaveCount(new Set(flat.map((d) => d.path)).size);
  await page.screenshot({ path: join(SHOTS, 'open-4-device-list.png') });
});

test('typing a path proposes the entries of that folder', async ({ page }) => {
  await page.goto(HOME);
  await expect(page.getByTestId('uuid')).toBeVisible();
  await page.getByTestId('path').fill(join(ROOT, 'assets', 'sa'));
  const options = page.getByTestId('path-completions').locator('option');
  await expect(options).toHaveCount(2);
  await expect(options.first()).toHaveAttribute('value', SAMPLE);
  await page.getByTestId('path').fill(`${join(ROOT, 'asse')}`);
  await expect(options).toHaveCount(1);
  await expect(options.first()).toHaveAttribute('value', `${join(ROOT, 'assets')}/`);
});

test('browser mode refuses a page without the token (401) and says which address to open', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const r = await page.goto(new URL(HOME).origin + '/');
  expect(r!.status()).toBe(401);
  await expect(page.locator('body')).toContainText('open the whole address it printed');
  const wrong = await page.goto(`${new URL(HOME).origin}/?token=not-the-token`);
  expect(wrong!.status()).toBe(401);
  await context.close();
});
