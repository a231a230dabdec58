// The whole repair flow in browser mode at 1280x800, on copies of fixtures in a temp dir: layout after a
// check (first problem in view, distinct rows, nothing overflowing), then open → scan → problem with its
// pictures → review → accept → apply → check clean → undo → HTML report. Screenshots per step under
// test-artifacts/ui/.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021');
const HOME = process.env.E2E_URL!;
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
mkdirSync(SHOTS, { recursive: true });

function copyOf(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'flow-e2e-'));
  const img = join(dir, `${name}.img`);
  execFileSync('sh', ['-c', `gunzip -c "${join(FIXTURES, name, 'image.img.gz')}" > "${img}"`]);
  return img;
}

async function openAndCheck(page: Page, path: string): Promise<void> {
  await page.goto(HOME);
  await expect(page.getByTestId('read-only')).toBeVisible();
  await page.getByTestId('step-open').click();
  await page.getByTestId('path').fill(path);
  await page.getByTestId('open').click();
  await expect(page.getByTestId('step-scan')).toHaveAttribute('aria-current', 'step');
  await page.getByTestId('check-start').click();
  await expect(page.getByTestId('problems')).toBeVisible();
}

// leave nothing open: the other e2e files expect the sample at first start
test.afterEach(async ({ page }) => {
  await page.evaluate(() => fetch('/api/rpc', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 1, method: 'close', params: {} }) }));
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

test('after a check the first problem is in view, every stale-b2 row has its own label, nothing overflows', async ({ page }) => {
  await openAndCheck(page, join(FIXTURES, 'stale-b2', 'image.img.gz'));
  await expect(page.getByTestId('problems-summary')).toContainText('1 problem explaining 29 findings');
  const first = page.getByTestId('problem').first();
  await expect(first).toBeInViewport();
  const box = (await first.boundingBox())!;
  expect(box.y + 30).toBeLessThan(800);
  await shot(page, 'layout-1-stale-b2-problems');
  const labels = await page.getByTestId('finding').allTextContents();
  expect(labels).toHaveLength(29);
  expect(new Set(labels.map((l) => l.trim())).size).toBe(29);
  // the last row is reachable in the page itself (no nested scroll box hides it)
  const last = page.getByTestId('finding').last();
  await last.scrollIntoViewIfNeeded();
  await expect(last).toBeInViewport();
  await last.click();
  await expect(page.getByTestId('fsck-message')).toBeVisible();
  for (const el of await page.locator('pre, [data-testid="finding"], .ptitle').all()) {
    const { sw, cw } = await el.evaluate((e) => ({ sw: e.scrollWidth, cw: e.clientWidth }));
    expect(sw).toBeLessThanOrEqual(cw);
  }
  // the bucket map marks the stale bucket
  await expect(page.getByTestId('bucket-map').locator('rect[data-flagged="true"]')).toHaveCount(1);
  await page.getByTestId('bucket-flagged').first().click();
  await expect(page.getByTestId('bucket-hover')).toContainText('bucket 115');
  await shot(page, 'layout-2-stale-b2-bucket-map');
  // keyboard: Down moves through the rows
  await page.getByTestId('problem-toggle').first().focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByTestId('finding').first()).toBeFocused();
});

test('gap-extents-b2: key-range map, review, accept, apply, clean, undo, HTML report', async ({ page }) => {
  const img = copyOf('gap-extents-b2');
  const journal = `${img}.repair-journal`;
  await openAndCheck(page, img);
  await shot(page, 'flow-1-problems');
  await expect(page.getByTestId('problems-summary')).toContainText('1 problem explaining 1 finding');
  await page.getByTestId('finding').first().click();
  const map = page.getByTestId('key-range-map');
  await expect(map.getByTestId('krm-now')).toBeVisible();
  await expect(map.getByTestId('krm-now').getByTestId('krm-gap')).toHaveCount(1);
  await expect(map.getByTestId('krm-after').getByTestId('krm-gap')).toHaveCount(0);
  await map.scrollIntoViewIfNeeded();
  await shot(page, 'flow-2-key-range-map');
  await page.getByText('Bytes of the node').click();
  await expect(page.getByTestId('hex-view').locator('li.dmg')).toContainText('header.min_key');
  await shot(page, 'flow-3-hex-view');

  await page.getByTestId('go-review').click();
  await expect(page.getByTestId('fix')).toHaveCount(1);
  const fix = page.getByTestId('fix').first();
  await expect(fix).toContainText('set min_key');
  await expect(fix).toContainText('Nothing is lost.');
  await expect(fix.getByTestId('fix-bytes').first()).toBeVisible();
  await expect(fix.getByTestId('accept')).toBeChecked();
  await shot(page, 'flow-4-review');

  await page.getByTestId('go-apply').click();
  await expect(page.getByTestId('apply-device')).toHaveText(img);
  await expect(page.getByTestId('journal')).toHaveValue(journal);
  await expect(page.getByTestId('apply-now')).toBeDisabled();
  await page.getByTestId('confirm-write').check();
  await shot(page, 'flow-5-apply-confirm');
  await page.getByTestId('apply-now').click();

  // history: the session, its fix, and the check after: clean
  await expect(page.getByTestId('history-fix')).toContainText('applied');
  await expect(page.getByTestId('session').last()).toContainText('after the repair');
  await expect(page.getByTestId('session').last()).toContainText('clean');
  await shot(page, 'flow-6-history');
  await page.getByTestId('step-problems').click();
  await expect(page.getByTestId('no-findings')).toBeVisible();
  await page.getByTestId('step-history').click();

  await page.getByTestId('undo-fix').click();
  await expect(page.getByTestId('undone')).toContainText('The check after found 1 finding');
  await expect(page.getByTestId('history-fix')).not.toContainText('applied');
  await shot(page, 'flow-7-undone');

  await page.getByTestId('go-report').click();
  await page.getByTestId('format-html').check();
  const out = `${img}.report.html`;
  await page.getByTestId('report-output').fill(out);
  await page.getByTestId('export').click();
  await expect(page.getByTestId('report-written')).toContainText(out);
  const html = readFileSync(out, 'utf8');
  expect(html).toContain('set min_key of extents level 0 node 47168');
  const frame = page.frameLocator('[data-testid="report-frame"]');
  await expect(frame.locator('body')).toContainText('set min_key');
  await shot(page, 'flow-8-report');
});

/** Review's one fix accepted → apply (write mode confirmed) → the check after is clean → undo → HTML report. */
async function applyUndoReport(page: Page, img: string, step: (n: number, name: string) => Promise<void>, o: { findings: number; fixTitle: string; fileAtRisk: string }): Promise<void> {
  await page.getByTestId('go-apply').click();
  await expect(page.getByTestId('apply-device')).toHaveText(img);
  await expect(page.getByTestId('apply-now')).toBeDisabled();
  await page.getByTestId('confirm-write').check();
  await step(5, 'apply-confirm');
  await page.getByTestId('apply-now').click();
  await expect(page.getByTestId('history-fix')).toContainText('applied');
  await expect(page.getByTestId('session').last()).toContainText('after the repair');
  await expect(page.getByTestId('session').last()).toContainText('clean');
  await expect(page.getByTestId('read-only')).toHaveText('Write mode');
  await step(6, 'history');
  await page.getByTestId('step-problems').click();
  await expect(page.getByTestId('no-findings')).toBeVisible();
  await step(7, 'clean');
  await page.getByTestId('step-history').click();
  await page.getByTestId('undo-fix').click();
  await expect(page.getByTestId('undone')).toContainText(`The check after found ${o.findings} finding`);
  await expect(page.getByTestId('history-fix')).not.toContainText('applied');
  await step(8, 'undone');
  await page.getByTestId('go-report').click();
  await page.getByTestId('format-html').check();
  const out = `${img}.report.html`;
  await page.getByTestId('report-output').fill(out);
  await page.getByTestId('export').click();
  await expect(page.getByTestId('report-written')).toContainText(out);
  expect(readFileSync(out, 'utf8')).toContain(o.fixTitle.replace(/'/g, '&#39;'));
  const report = page.frameLocator('[data-testid="report-frame"]');
  await expect(report.locator('body')).toContainText(o.fixTitle);
  // the check before the repair: its problems, with the files they put at risk
  await expect(report.locator('table.problems').first()).toContainText(o.fileAtRisk);
  await step(9, 'report');
}

test('gen-future-b2: bucket map and hex view, review, accept, apply, clean, undo, HTML report', async ({ page }) => {
  const img = copyOf('gen-future-b2');
  const step = (n: number, name: string) => shot(page, `gen-${n}-${name}`);
  await openAndCheck(page, img);
  await expect(page.getByTestId('problems-summary')).toContainText('1 problem explaining 7 findings');
  // the file it puts at risk, by path, and the data its findings name
  const risk = page.getByTestId('problem').first().getByTestId('at-risk');
  await expect(risk.getByTestId('at-risk-file')).toHaveCount(1);
  await expect(risk.getByTestId('at-risk-file')).toContainText(/^\/dir0013\/.*\/f000943_x+\.dat \(inode 5061\)$/);
  await expect(risk.getByTestId('at-risk-data')).toHaveText('Data: 4 KiB (8 sectors) in the extents the findings name.');
  await step(1, 'problems');
  await page.getByTestId('finding').filter({ hasText: 'bucket 0:115 · gen' }).click();
  await expect(page.getByTestId('fsck-message')).toHaveText('bucket 0:115 data type user ptr gen in the future: 2 > 1, not fixing');
  // the bucket map: the one bucket the findings are about, with its gen
  const map = page.getByTestId('bucket-map');
  await expect(map.locator('rect[data-flagged="true"]')).toHaveCount(1);
  await page.getByTestId('bucket-flagged').first().click();
  await expect(page.getByTestId('bucket-hover')).toContainText('bucket 115');
  await expect(page.getByTestId('bucket-hover')).toContainText('gen 1');
  await map.scrollIntoViewIfNeeded();
  await step(2, 'bucket-map');
  // the node holding the pointer, the key with the pointer marked as the damaged field
  await page.getByText('Bytes of the node').click();
  await expect(page.getByTestId('hex-view').locator('li.dmg')).toContainText('5061:8:U32_MAX');
  await step(3, 'hex-view');

  await page.getByTestId('go-review').click();
  await expect(page.getByTestId('fix')).toHaveCount(1);
  const fix = page.getByTestId('fix').first();
  await expect(fix).toContainText("Set the gen of 1 pointer into bucket 0:115 to the bucket's gen 1");
  await expect(fix.getByRole('row', { name: /ptr 0 gen/ })).toContainText(/2\s*→\s*1/);
  await expect(fix).toContainText('Nothing is lost.');
  // bcachefs 2021's way is the alternative, with its evidence
  await expect(fix.getByTestId('alternative')).toHaveCount(1);
  await fix.getByText(/Alternatives and their evidence/).click();
  await expect(fix).toContainText("bcachefs 2021's repair: raises the bucket's gen to the pointer's");
  await expect(fix.getByTestId('accept')).toBeChecked();
  await step(4, 'review');
  await applyUndoReport(page, img, step, { findings: 7, fixTitle: "Set the gen of 1 pointer into bucket 0:115 to the bucket's gen 1", fileAtRisk: '/f000943_xxxxxxxxx.dat (inode 5061)' });
});

test('zeronode-extents-b2: what is lost and what comes back from the older copy, apply, clean, undo, HTML report', async ({ page }) => {
  const img = copyOf('zeronode-extents-b2');
  const step = (n: number, name: string) => shot(page, `zeronode-${n}-${name}`);
  await openAndCheck(page, img);
  // the check alone groups by node and bucket: the lost leaf, and the buckets whose usage it no longer explains
  await expect(page.getByTestId('problems-summary')).toContainText('14 problems explaining 29 findings (grouped by the node or bucket they are about)');
  // the two files whose extents the leaf held; how much of their data it held cannot be read
  const risk = page.getByTestId('problem').first().getByTestId('at-risk');
  await expect(risk.getByTestId('at-risk-file')).toHaveText(['/big00.bin (inode 5118)', '/sparse00.bin (inode 5119)']);
  await expect(risk.getByTestId('at-risk-data')).toHaveText('Data: not known from the findings (the files with keys in 5118:8121:0 .. 5119:5400:U32_MAX).');
  await step(1, 'problems');
  await page.getByTestId('finding').first().click();
  await expect(page.getByTestId('fsck-message')).toContainText('Unreadable btree node at btree extents level 0:');
  // the lost leaf among its parent's children
  await expect(page.getByTestId('key-range-map')).toContainText('extents level 1 node 0:29312');
  await expect(page.getByTestId('key-range-map')).toContainText('0:40832');
  // the node's bytes: zeroes where a header should be, its magic marked
  await page.getByText('Bytes of the node').click();
  await expect(page.getByTestId('hex-view').locator('li.dmg')).toContainText('magic');
  await step(2, 'hex-view');
  await expect(page.getByTestId('bucket-map')).toBeVisible();
  await page.getByTestId('bucket-map').scrollIntoViewIfNeeded();
  await step(3, 'bucket-map');

  await page.getByTestId('go-review').click();
  await expect(page.getByTestId('fix')).toHaveCount(1);
  const fix = page.getByTestId('fix').first();
  const title = 'Restore the unreadable extents leaf at sector 40832 from older copies (339 keys)';
  await expect(fix).toContainText(title);
  // what comes back, and what cannot
  await expect(fix).toContainText('339 keys of 5118:8121:0 .. 5119:5400:U32_MAX come back from older copies');
  await expect(fix.locator('.lost').first()).toContainText('any key written to the lost node after journal seq 16');
  // bcachefs 2021's way (drop the node) is the alternative, and says what it loses
  await fix.getByText(/Alternatives and their evidence/).click();
  await expect(fix).toContainText('Drop the unreadable extents node at sector 40832');
  await expect(fix).toContainText('dropping it loses the 339 keys older copies still hold');
  await expect(fix.getByTestId('alternative-lost')).toContainText('type extent 5118:8192:U32_MAX');
  await expect(fix.getByTestId('accept')).toBeChecked();
  await step(4, 'review');
  // the plan knows the cause: one fix resolves all 29, and Problems now says so
  await page.getByTestId('step-problems').click();
  await expect(page.getByTestId('problems-summary')).toContainText('1 problem explaining 29 findings (grouped by the fix that resolves them)');
  await step(5, 'problems-by-fix');
  await page.getByTestId('step-review').click();
  await applyUndoReport(page, img, step, { findings: 29, fixTitle: title, fileAtRisk: '/big00.bin (inode 5118)' });
});
