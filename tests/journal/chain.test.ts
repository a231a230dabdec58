// The audit chain: a changed or deleted row in any table fails verify, naming the first bad row.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal, openRepairSession } from '../../src-core/journal/index.js';
import { TABLE_NAMES, TABLES } from '../../src-core/journal/chain.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { scratchDir } from '../device/helpers.js';
import { TOOL, NODES_TXT, workingCopy } from './helpers.js';
// plain ESM, shared with the crash test's child process
import { applySynthetic, nodeSectors } from './synthetic.mjs';

const scratch = scratchDir('chain');
afterAll(() => scratch.cleanup());
const journal = join(scratch.dir, 'good.journal');
// real findings of a damaged fixture, as the checker reported them (tests/golden)
const golden = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests', 'golden', 'findings-2021.json'), 'utf8'));
const findings = golden['bcachefs-2021/stale-b2'];

beforeAll(() => {
  const s = openRepairSession({ toolVersion: TOOL, journal, device: workingCopy(scratch.dir, 'chain.img'), customer: 'ACME' });
  s.recordCheck('before', findings);
  applySynthetic(s, nodeSectors(NODES_TXT()));
  s.recordCheck('after', findings.slice(1));
  s.close();
  // a second session (every table then has at least two rows)
  const s2 = openRepairSession({ toolVersion: TOOL, journal });
  s2.undo({ fix: 3 });
  s2.close();
});

let copies = 0;
function tampered(sql: (db: Database.Database) => void): ReturnType<Journal['verify']> {
  const file = join(scratch.dir, `t${++copies}.journal`);
  copyFileSync(journal, file);
  const db = new Database(file);
  for (const t of TABLE_NAMES) db.exec(`DROP TRIGGER ${t}_no_update; DROP TRIGGER ${t}_no_delete;`);
  sql(db);
  db.close();
  return Journal.verifyFile(file);
}

function count(table: string): number {
  const db = new Database(journal, { readonly: true });
  const n = (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  db.close();
  return n;
}

describe('audit chain', () => {
  it('passes on an untouched journal and gives its head', () => {
    const j = Journal.open(journal);
    const r = j.verify();
    expect(r).toEqual({ ok: true, rows: expect.any(Number), head: j.head() });
    if (r.ok) expect(r.head.seq).toBe(r.rows);
    j.close();
    for (const t of TABLE_NAMES) expect(count(t), t).toBeGreaterThan(1);
    expect(count('findings')).toBe(2 * findings.length - 1);
  });

  it('passes after dropping the triggers alone (the test harness changes nothing else)', () => {
    expect(tampered(() => undefined).ok).toBe(true);
  });

  for (const t of TABLE_NAMES) {
    const col = TABLES[t][TABLES[t].length - 1];
    it(`fails when a row of ${t} is changed`, () => {
      const r = tampered((db) => db.prepare(`UPDATE ${t} SET "${col}" = ? WHERE id = 2`).run(typeof col === 'string' && (col === 'before' || col === 'after') ? Buffer.from('x') : 'x'));
      expect(r).toMatchObject({ ok: false, table: t, id: 2 });
      if (!r.ok) expect(r.problem).toMatch(new RegExp(`^${t} row 2 .* does not match its hash`));
    });
    it(`fails when the first row of ${t} is deleted`, () => {
      const r = tampered((db) => db.prepare(`DELETE FROM ${t} WHERE id = 1`).run());
      expect(r).toMatchObject({ ok: false, table: t, id: 1 });
      if (!r.ok) expect(r.problem).toMatch(/missing/);
    });
    it(`fails when the last row of ${t} is deleted`, () => {
      const last = count(t);
      const r = tampered((db) => db.prepare(`DELETE FROM ${t} WHERE id = ?`).run(last));
      expect(r).toMatchObject({ ok: false, table: t, id: last });
    });
  }

  it('fails when one byte of a before-image is changed', () => {
    const r = tampered((db) => {
      const row = db.prepare('SELECT before FROM writes WHERE id = 1').get() as { before: Buffer };
      row.before[100] ^= 1;
      db.prepare('UPDATE writes SET before = ? WHERE id = 1').run(row.before);
    });
    expect(r).toMatchObject({ ok: false, table: 'writes', id: 1 });
  });

  it('fails when a row is changed and its hash recomputed without the rows after it', () => {
    const r = tampered((db) => db.prepare("UPDATE decisions SET hash = ?, decision = 'rejected' WHERE id = 1").run('0'.repeat(64)));
    expect(r).toMatchObject({ ok: false, table: 'decisions', id: 1 });
  });
});
