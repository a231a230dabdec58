// Cancel in Review (while planning) and in Apply (while applying), on the server whose disk the test can hold
// mid-plan or mid-apply (tests/e2e/held-repair-checker.mjs): the Cancel is pressed while the work is held, so
// it always lands while the work runs. On a copy of the bundled sample (2 fixes): a cancelled plan offers
// nothing to apply and "Plan again" plans both; an apply cancelled after its first fix writes no second one,
// the journal says so, and the page is back at rest (no Cancel, no progress) with History showing it.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const HELD = process.env.E2E_HELD_URL!;
const HOLD_DIR = process.env.E2E_HOLD_DIR!;

function sampleCopy(): string {
  const img = join(mkdtempSync(join(tmpdir(), 'cancel-e2e-')), 'sample.img');
  execFileSync('sh', ['-c', `gunzip -c "${join(ROOT, 'assets', 'sample.img.gz')}" > "${img}"`]);
  return img;
}

/** holds the next plan or apply until Cancel; resolves once it is held (the test double removed the file) */
function hold(what: 'plan' | 'apply'): { held: () => Promise<void> } {
  const file = join(HOLD_DIR, what);
  writeFileSync(file, '');
  return { held: () => expect.poll(() => existsSync(file), { message: `the ${what} reached the hold` }).toBe(false) };
}

async function rpc(page: Page, method: string, params: unknown): Promise<any> {
  return page.evaluate(async ([m, p]) => {
    const r = await fetch('/api/rpc', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 1, method: m, params: p }) });
    return r.json();
  }, [method, params] as const);
}

test.afterEach(async ({ page }) => {
  await rpc(page, 'close', {});
});

test('Cancel while planning, then while applying: nothing after the fix being written, the journal says so', async ({ page }) => {
  const img = sampleCopy();
  const journal = `${img}.repair-journal`;
  await page.goto(HELD);
  await page.getByTestId('step-open').click();
  await page.getByTestId('path').fill(img);
  await page.getByTestId('open').click();
  await page.getByTestId('check-start').click();
  await expect(page.getByTestId('problems-summary')).toContainText('2 problems explaining 8 findings');

  // planning, held at its first read: Cancel
  const plan = hold('plan');
  await page.getByTestId('go-review').click();
  await expect(page.getByTestId('planning')).toBeVisible();
  await plan.held();
  await page.getByTestId('plan-cancel').click();
  await expect(page.getByTestId('plan-cancelled')).toBeVisible();
  await expect(page.getByTestId('planning')).toHaveCount(0);
  await expect(page.getByTestId('plan-cancel')).toHaveCount(0);
  await expect(page.getByTestId('fix')).toHaveCount(0);
  await expect(page.getByTestId('go-apply')).toBeDisabled();
  // the cancel was for that plan only
  await page.getByTestId('replan').click();
  await expect(page.getByTestId('fix')).toHaveCount(2);
  await expect(page.getByTestId('plan-cancelled')).toHaveCount(0);

  // applying, held once the first fix is written: Cancel
  await page.getByTestId('go-apply').click();
  await expect(page.getByTestId('journal')).toHaveValue(journal);
  await page.getByTestId('confirm-write').check();
  const apply = hold('apply');
  await page.getByTestId('apply-now').click();
  await expect(page.getByTestId('applying')).toBeVisible();
  await apply.held();
  await page.getByTestId('apply-cancel').click();

  // at rest, in History: the first fix applied, the second never started
  await expect(page.getByTestId('step-history')).toHaveAttribute('aria-current', 'step');
  await expect(page.getByTestId('applying')).toHaveCount(0);
  await expect(page.getByTestId('apply-cancel')).toHaveCount(0);
  await expect(page.getByTestId('history-fix')).toHaveCount(1);
  await expect(page.getByTestId('history-fix')).toContainText('applied');
  await expect(page.getByTestId('history-fix')).toContainText('set min_key');
  const h = (await rpc(page, 'history', { journal })).result;
  const fixes = h.sessions.flatMap((s: { fixes: { state: string; title: string }[] }) => s.fixes);
  expect(fixes.map((f: { state: string }) => f.state)).toEqual(['applied']);
  // the second fix's problem (the stale bucket's 7 findings) is still on the disk, the first one's is gone
  await page.getByTestId('step-problems').click();
  await expect(page.getByTestId('problems-summary')).toContainText('1 problem explaining 7 findings');
});
