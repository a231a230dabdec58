// The PDF report: the HTML report printed by Chromium headless with JavaScript off (the HTML has no script
// and its CSP forbids one anyway). Debian's chromium at /usr/bin/chromium; the app can use Electron's printToPDF.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Arguments for a headless Chromium run in a fresh profile under dir whose content settings block
 * JavaScript. (--blink-settings=scriptEnabled=false also stops --print-to-pdf from writing anything, and
 * --disable-javascript is not a Chromium switch.)
 */
export function headlessArgs(dir: string): string[] {
  const profile = join(dir, 'profile');
  mkdirSync(join(profile, 'Default'), { recursive: true });
  writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify({ profile: { default_content_setting_values: { javascript: 2 } } }));
  return ['--headless', '--no-sandbox', '--disable-gpu', '--disable-extensions', '--no-first-run', '--no-default-browser-check', `--user-data-dir=${profile}`];
}

/** Prints html to a PDF file; throws with a clear message where Chromium is missing or fails. */
export function renderPdf(html: string, output: string, chromium = CHROMIUM): void {
  if (!existsSync(chromium)) {
    throw new Error(`cannot make a PDF: ${chromium} is not installed. Install Debian's chromium (apt-get install chromium), or write the HTML report (--format html) and print it from a browser.`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'bcachefs-repair-pdf-'));
  try {
    const page = join(dir, 'report.html');
    writeFileSync(page, html);
    const out = resolve(output);
    rmSync(out, { force: true });
    const r = spawnSync(chromium, [...headlessArgs(dir), '--no-pdf-header-footer', `--print-to-pdf=${out}`, pathToFileURL(page).href], { encoding: 'utf8', timeout: 120_000 });
    if (r.error || r.status !== 0 || !existsSync(out) || statSync(out).size === 0) {
      const why = r.error?.message ?? `exit ${r.status}${r.signal ? `, ${r.signal}` : ''}, no PDF written: ${(r.stderr ?? '').trim().split('\n').filter((l) => !/dbus/i.test(l)).slice(-3).join(' / ')}`;
      throw new Error(`Chromium could not print the report to ${out} (${why}). Write the HTML report (--format html) and print it from a browser.`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
