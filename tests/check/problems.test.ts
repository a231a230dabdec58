// The problem table and decide(): what each mode prints after a message, and which reports a fix can act on.
import { describe, expect, it } from 'vitest';
import { FindingList } from '../../src-core/check/findings.js';
import { GC_PROBLEMS } from '../../src-core/check/problems.js';
import { composeProblems, decide, FINDING_CLASSES, PROBLEMS, rowsFromDeclarations, type ProblemRow } from '../../src-core/problems.js';

describe('decide (fix_problem)', () => {
  it('gives what fsck -n and fsck -y append, as error.c does', () => {
    expect(decide('fsck_err', 'drop_stale_ptr', 'check')).toEqual({ printed: true, disposition: 'not fixing', suffix: '', action: 'report' });
    expect(decide('fsck_err', 'drop_stale_ptr', 'yes')).toEqual({ printed: true, disposition: 'fixing', suffix: '', action: 'fix' });
    expect(decide('fsck_err', 'drop_stale_ptr', 'plan')).toMatchObject({ disposition: 'not fixing', action: 'plan' });
    // must-fix errors say ", fixing" even under -n (the initial gc repairs them in memory)
    expect(decide('mustfix_fsck_err', 'fix_on_read', 'check')).toMatchObject({ disposition: 'fixing', action: 'report' });
    expect(decide('need_fsck', 'none', 'yes')).toEqual({ printed: true, disposition: null, suffix: ' (run fsck to correct)', action: 'report' });
    expect(decide('no_fix', 'unimplemented', 'plan')).toEqual({ printed: true, disposition: null, suffix: ' (repair unimplemented)', action: 'report' });
    expect(decide('log', 'none', 'check').printed).toBe(false);
    // gc_done without BCH_COMPAT_alloc_info: bcachefs corrects silently, a planner still plans it
    expect(decide('fsck_err', 'rewrite_alloc_key', 'plan', true)).toEqual({ printed: false, disposition: null, suffix: '', action: 'plan' });
  });

  it('is what every report goes through: the policy changes the disposition, not the call sites', () => {
    const input = { dev: 0, bucket: 115, ptrDataType: 4, ptrGen: 1, bucketGen: 2, cached: false, btreePtr: false, isRoot: false };
    const r = { id: 'x', at: { dev: 0, bucket: 115 } };
    const n = new FindingList('check').report('ptr_stale_dirty', input, r);
    const y = new FindingList('yes').report('ptr_stale_dirty', input, r);
    expect(n.fsck_message).toBe('bucket 0:115 data type user stale dirty ptr: 1 < 2');
    expect([n.fsck_disposition, y.fsck_disposition]).toEqual(['not fixing', 'fixing']);
    expect(n.repair.kind).toBe('drop_stale_ptr');
    const silent = new FindingList('check').report('bucket_gen', { dev: 0, bucket: 1, gen: 1, dataType: 4, field: 'gen', got: 1, should: 2 }, { ...r, silent: 'no alloc info' });
    expect(silent).toMatchObject({ severity: 'warning', fsck_message: null, fsck_disposition: null });
    expect(silent.explanation).toMatch(/\(no alloc info\)$/);
  });
});

describe('the table', () => {
  it('has a summary, a severity, a repair and an explanation for every class', () => {
    expect(Object.keys(FINDING_CLASSES)).toEqual(Object.keys(PROBLEMS));
    for (const [cls, row] of Object.entries(PROBLEMS)) {
      expect(row.summary.length, cls).toBeGreaterThan(10);
      expect(['error', 'warning', 'info']).toContain(row.severity);
      expect(typeof row.explain).toBe('function');
      // a class bcachefs prints has a message builder; one it does not print has none
      expect(row.message !== undefined, cls).toBe(row.reported !== 'log' && row.reported !== 'silent');
    }
  });

  it('folds in the rows of another table (the fsck passes), refusing a class declared twice', () => {
    const fsck = {
      dirent_points_to_missing_inode: {
        summary: 'a dirent points to an inode that does not exist', severity: 'error', reported: 'fsck_err', values: 'none',
        message: (i) => `dirent ${i.name} points to missing inode`, explain: (i) => `the dirent ${i.name} names no inode`,
        repair: { kind: 'none', description: 'bcachefs removes the dirent' },
      } satisfies ProblemRow<{ name: string }>,
    };
    const all = composeProblems(GC_PROBLEMS, fsck);
    expect(Object.keys(all)).toHaveLength(Object.keys(GC_PROBLEMS).length + 1);
    expect(all.dirent_points_to_missing_inode.message!({ name: 'a' })).toBe('dirent a points to missing inode');
    expect(() => composeProblems(GC_PROBLEMS, { ptr_gen_future: fsck.dirent_points_to_missing_inode })).toThrow(/declared twice/);
  });

  it('takes in classes declared as the fsck passes declare theirs (stage fsck, a message the pass builds)', () => {
    const rows = rowsFromDeclarations({
      dirent_in_missing_dir: {
        severity: 'error', stage: 'fsck', explanation: 'a dirent lies in a directory inode number that has no inode', repair: 'delete_key', repairText: 'deletes the dirent',
      },
    });
    const row = composeProblems(GC_PROBLEMS, rows).dirent_in_missing_dir;
    expect(row.stage).toBe('fsck');
    expect(row.message!({ message: 'x'.repeat(600) })).toHaveLength(511);
    expect(row.explain({ message: 'm', detail: 'inode 4097' })).toBe('a dirent lies in a directory inode number that has no inode: inode 4097');
    expect(decide(row.reported, 'delete_key' as never, 'check').disposition).toBe('not fixing');
  });
});
