// Reports of a real repair journal: a damaged fixture checked by our checker, synthetic fixes applied, the
// check run again. JSON content and its verification against the journal, the HTML's content, escaping and
// self-containedness, and a PDF printed by Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFilesystem } from '../../src-core/check/index.js';
import { Journal, openRepairSession } from '../../src-core/journal/index.js';
import { openFilesystem } from '../../src-core/open.js';
import { buildReport, CHROMIUM, escapeHtml, headlessArgs, historyLines, renderHtml, renderPdf, verifyReport, type Report } from '../../src-core/report/index.js';
import { scratchDir } from '../device/helpers.js';
import { TOOL, NODES_TXT, fixtureImage, sha256, workingCopy } from '../journal/helpers.js';
// plain ESM, shared with the crash test's child process
import { applySynthetic, nodeSectors } from '../journal/synthetic.mjs';

const DAMAGED = 'stale-b2';
const HOSTILE = `evil"'><script>alert(1)</script><img src=x onerror=alert(2)>&amp;`;
const scratch = scratchDir('report');
afterAll(() => scratch.cleanup());
const journalFile = join(scratch.dir, 'case.journal');
const image = workingCopy(scratch.dir, 'case.img', DAMAGED);
let findingIds: string[] = [];
let report: Report;
let html: string;

async function check(): Promise<{ id: string; class: string; severity: string }[]> {
  const o = openFilesystem(image);
  try {
    return (await checkFilesystem(o.fs, { devName: 'case.img' })).findings;
  } finally {
    o.close();
  }
}

beforeAll(async () => {
  const before = await check();
  findingIds = before.map((f) => f.id);
  // a finding carrying a name from the disk (file names are attacker-controlled)
  const hostile = { id: `dirent:${HOSTILE}`, class: 'fs_dirent', severity: 'warning', btree: 'dirents', fsck_message: `dirent ${HOSTILE} points nowhere` };
  const s = openRepairSession({ toolVersion: TOOL, journal: journalFile, device: image, who: 'Tech Nician', caseRef: 'CASE-42', customer: HOSTILE, technician: 'T. N.' });
  s.recordCheck('before', [...before, hostile], { findings: before.length + 1 });
  applySynthetic(s, nodeSectors(NODES_TXT(DAMAGED)));
  s.recordDecision('d', 'rejected', { note: HOSTILE });
  s.close();
  const after = await check();
  const s2 = openRepairSession({ toolVersion: TOOL, journal: journalFile });
  s2.recordCheck('after', after);
  s2.close();
  const j = Journal.open(journalFile);
  report = buildReport(j, { generatedBy: TOOL });
  j.close();
  html = renderHtml(report);
}, 120_000);

describe('JSON report', () => {
  it('carries the identity, who and when, every finding, every write with the hashes of the real bytes, and the chain head', () => {
    const j = Journal.open(journalFile);
    expect(report.journal.chainHead).toEqual(j.head());
    expect(report.device).toMatchObject({ uuid: j.devices()[0].uuid, path: image, size: fixtureImage(DAMAGED).length });
    j.close();
    const [s1, s2] = report.sessions;
    expect(s1).toMatchObject({ who: 'Tech Nician', whoSource: 'typed', caseRef: 'CASE-42', customer: HOSTILE, technician: 'T. N.' });
    expect(s1.checks[0].findings.map((f) => f.id)).toEqual([...findingIds, `dirent:${HOSTILE}`]);
    expect(findingIds.length).toBe(29); // stale-b2, as in its CASE.md
    expect(s2.checks[0].stage).toBe('after');
    const original = fixtureImage(DAMAGED);
    const writes = s1.fixes.flatMap((f) => f.writes);
    expect(writes).toHaveLength(5);
    expect(writes[0].beforeSha256).toBe(sha256(original.subarray(writes[0].offset, writes[0].offset + writes[0].length)));
    const disk = readFileSync(image);
    // fix c's writes are still on the disk (nothing rewrote them): their after-hashes are the disk's bytes
    for (const w of s1.fixes[2].writes) expect(w.afterSha256).toBe(sha256(disk.subarray(w.offset, w.offset + w.length)));
    expect(s1.fixes.map((f) => f.state)).toEqual(['applied', 'applied', 'applied']);
  });

  it('verifies against its journal, also after the journal grew, and catches an edited report', () => {
    const j = Journal.open(journalFile);
    const copy = JSON.parse(JSON.stringify(report)) as Report;
    expect(verifyReport(j, copy)).toEqual([]);
    const edited = JSON.parse(JSON.stringify(report)) as Report;
    edited.sessions[0].fixes[0].writes[0].afterSha256 = '0'.repeat(64);
    expect(verifyReport(j, edited)).toEqual(["the report's sessions differ from what the journal records"]);
    const moved = JSON.parse(JSON.stringify(report)) as Report;
    moved.journal.chainHead.hash = 'f'.repeat(64);
    expect(verifyReport(j, moved)[0]).toMatch(/is not in this journal/);
    expect(verifyReport(j, { hello: 1 })[0]).toMatch(/not a bcachefs-repair-report 1 JSON report/);
    j.close();
    const s = openRepairSession({ toolVersion: TOOL, journal: journalFile });
    s.undo({ fix: 3 });
    s.close();
    const j2 = Journal.open(journalFile);
    expect(verifyReport(j2, copy)).toEqual([]); // pinned to its chain head: later rows do not matter
    expect(buildReport(j2, { generatedBy: TOOL }).sessions[0].fixes[2].state).toBe('undone');
    expect(historyLines(buildReport(j2, { generatedBy: TOOL })).join('\n')).toMatch(/session 1 .*Tech Nician.*case CASE-42[\s\S]*fix 3 {2}undone/);
    j2.close();
  });
});

describe('HTML report', () => {
  it('shows the identity, every finding id, every write\'s hashes and the chain head', () => {
    expect(html).toContain(report.device!.uuid);
    expect(html).toContain(escapeHtml(image));
    for (const id of findingIds) expect(html).toContain(escapeHtml(id));
    for (const w of report.sessions.flatMap((s) => s.fixes.flatMap((f) => f.writes))) {
      expect(html).toContain(`before ${w.beforeSha256}`);
      expect(html).toContain(`after ${w.afterSha256}`);
    }
    expect(html).toContain(report.journal.chainHead.hash);
    expect(html).toContain('Check after repair');
    expect(html).toContain('Tech Nician');
  });

  it('escapes text from the disk and from the user', () => {
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain(escapeHtml(HOSTILE));
    expect(escapeHtml(HOSTILE)).not.toMatch(/[<>"']/);
  });

  it('loads nothing from outside and carries a strict Content-Security-Policy', () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    expect(csp).toMatch(/^default-src &#39;none&#39;; style-src &#39;sha256-[A-Za-z0-9+/=]+&#39;; script-src &#39;none&#39;/);
    // no tag with a source or a link (escaped text has no '<'), no style loading anything
    expect(html).not.toMatch(/<[^>]*\b(?:src|href|srcset|action|data)\s*=/i);
    expect(html).not.toMatch(/url\(|@import|@font-face|<link|<iframe|<object|<embed/i);
  });

  it.skipIf(!existsSync(CHROMIUM))('prints to PDF in chromium', () => {
    const out = join(scratch.dir, 'report.pdf');
    renderPdf(html, out);
    const pdf = readFileSync(out);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(10_000);
    expect(pdf.toString('latin1')).toMatch(/\/Type\s*\/Page\b/);
  }, 120_000);

  it.skipIf(!existsSync(CHROMIUM))('runs chromium with JavaScript off', () => {
    const dir = join(scratch.dir, 'js');
    const page = join(scratch.dir, 'js.html');
    writeFileSync(page, '<html><body>x<script>document.body.append("JS" + "RAN")</script></body></html>');
    const dom = (args: string[]) => spawnSync(CHROMIUM, [...args, '--dump-dom', pathToFileURL(page).href], { encoding: 'utf8', timeout: 60_000 }).stdout;
    expect(dom(['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${join(dir, 'plain')}`])).toContain('JSRAN'); // the page's script does run normally
    expect(dom(headlessArgs(dir))).toMatch(/<body>x<script>/);
    expect(dom(headlessArgs(dir))).not.toContain('JSRAN');
  }, 120_000);

  it('says clearly when chromium is missing', () => {
    expect(() => renderPdf(html, join(scratch.dir, 'x.pdf'), '/nonexistent/chromium')).toThrow(/is not installed\. Install Debian's chromium .*\(--format html\)/);
  });
});
