// The journal commands of the built CLI (undo, history, verify, report) on a journal of real byte changes.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRepairSession } from '../../src-core/journal/index.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../device/helpers.js';
import { TOOL, NODES_TXT, fixtureImage, sha256, sha256File, workingCopy } from './helpers.js';
// plain ESM, shared with the crash test's child process
import { applySynthetic, nodeSectors } from './synthetic.mjs';

const scratch = scratchDir('journal-cli');
afterAll(() => scratch.cleanup());
const journal = join(scratch.dir, 'case.journal');
const image = join(scratch.dir, 'case.img');

beforeAll(() => {
  workingCopy(scratch.dir, 'case.img');
  const s = openRepairSession({ toolVersion: TOOL, journal, device: image, who: 'cli tester', caseRef: 'K-7' });
  applySynthetic(s, nodeSectors(NODES_TXT()));
  s.close();
});

describe('journal commands', () => {
  it('history lists sessions and fixes with their states', () => {
    const r = runCli(['history', '--journal', journal]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^session 1 .* cli tester .*case K-7\n {2}fix 1 {2}applied .*\n {2}fix 2 {2}applied .*\n {2}fix 3 {2}applied .*\nchain head: position \d+, [0-9a-f]{64}\n$/);
    const j = JSON.parse(runCli(['history', '--journal', journal, '--json']).stdout);
    expect(j.sessions[0].fixes.map((f: { state: string }) => f.state)).toEqual(['applied', 'applied', 'applied']);
  });

  it('verify passes, then fails naming the first bad row of a tampered copy', () => {
    expect(runCli(['verify', '--journal', journal])).toMatchObject({ status: 0, stdout: expect.stringMatching(/audit chain intact, \d+ rows/) });
    const bad = join(scratch.dir, 'bad.journal');
    copyFileSync(journal, bad);
    const db = new Database(bad);
    db.exec('DROP TRIGGER writes_no_update');
    db.prepare('UPDATE writes SET after_sha256 = ? WHERE id = 2').run('0'.repeat(64));
    db.close();
    const r = runCli(['verify', '--journal', bad]);
    expect(r.status).toBe(4);
    expect(r.stdout).toMatch(/FAILS its audit chain: writes row 2 \(chain position \d+\) does not match its hash/);
  });

  it('report writes JSON that verify --report accepts, HTML, and refuses a bad format', () => {
    const json = join(scratch.dir, 'r.json');
    expect(runCli(['report', '--journal', journal, '--format', 'json', '--output', json]).status).toBe(0);
    expect(runCli(['verify', '--journal', journal, '--report', json])).toMatchObject({ status: 0, stdout: expect.stringContaining('r.json: matches the journal') });
    const edited = JSON.parse(readFileSync(json, 'utf8'));
    edited.sessions[0].who = 'someone else';
    const ej = join(scratch.dir, 'edited.json');
    writeFileSync(ej, JSON.stringify(edited));
    expect(runCli(['verify', '--journal', journal, '--report', ej])).toMatchObject({ status: 4, stdout: expect.stringContaining("the report's sessions differ") });
    const html = join(scratch.dir, 'r.html');
    expect(runCli(['report', '--journal', journal, '--format', 'html', '--output', html]).status).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('K-7');
    expect(runCli(['report', '--journal', journal, '--format', 'docx', '--output', html])).toMatchObject({ status: 16, stderr: expect.stringContaining('--format must be one of html, json, pdf, not "docx"') });
  });

  it('undo refuses shared blocks without --yes, then undoes; undo --all gives the original back', () => {
    const r = runCli(['undo', '--journal', journal, '--fix', '1']);
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/later fixes rewrote bytes .*fix 2 .*--yes/);
    expect(runCli(['undo', '--journal', journal, '--fix', '1', '--yes'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^undid fix 2, fix 1 on .*case\.img/) });
    expect(runCli(['undo', image, '--journal', journal, '--all'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^undid fix 3 /) });
    expect(sha256File(image)).toBe(sha256(fixtureImage()));
    expect(runCli(['undo', '--journal', journal, '--all'])).toMatchObject({ status: 0, stdout: expect.stringContaining('nothing to undo') });
  });

  it('says what is wrong with the command line or the journal file', () => {
    expect(runCli(['undo', '--journal', journal])).toMatchObject({ status: 16, stderr: expect.stringContaining('exactly one of --fix ID, --session ID, --all') });
    expect(runCli(['undo', '--journal', journal, '--fix', 'x'])).toMatchObject({ status: 16, stderr: expect.stringContaining('--fix takes a number') });
    expect(runCli(['history'])).toMatchObject({ status: 16, stderr: expect.stringContaining('--journal FILE missing') });
    expect(runCli(['verify', '--journal', join(scratch.dir, 'none.journal')])).toMatchObject({ status: 8, stderr: expect.stringContaining('does not exist') });
    expect(runCli(['undo', '--journal', image, '--all'])).toMatchObject({ status: 8, stderr: expect.stringMatching(/not a bcachefs-repair journal|cannot open the repair journal/) });
  });
});
