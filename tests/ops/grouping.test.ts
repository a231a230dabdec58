// Findings grouped by cause (src-core/ops/grouping.ts) on the real fixtures: each fault one problem.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Disk, checkDisk, groupFindings, type Finding } from '../../src-core/ops/index.js';
import { PROJECT_ROOT, fixturePath } from '../helpers/fixtures.js';

async function findingsOf(path: string): Promise<Finding[]> {
  const disk = Disk.open(path);
  try {
    return (await checkDisk(disk)).findings;
  } finally {
    disk.close();
  }
}

describe('groupFindings', () => {
  it('the sample: 2 problems (a gap, a pointer gen ahead of its bucket) explain its 8 findings', async () => {
    const findings = await findingsOf(join(PROJECT_ROOT, 'assets', 'sample.img.gz'));
    const problems = groupFindings(findings);
    expect(findings).toHaveLength(8);
    expect(problems).toHaveLength(2);
    expect(problems[0]!.classes).toEqual(['topology_min_key']);
    expect(problems[0]!.where).toBe('node 0:47168');
    expect(problems[1]!.where).toBe('bucket 0:115');
    expect(problems[1]!.title).toMatch(/^Pointer gen newer than its bucket's gen/);
    expect(problems[1]!.findings).toHaveLength(7);
    expect(problems.flatMap((p) => p.findings).sort()).toEqual(findings.map((f) => f.id).sort());
  });

  it('stale-b2: one stale bucket, 1 problem explaining all 29 findings', async () => {
    const findings = await findingsOf(fixturePath('stale-b2'));
    const problems = groupFindings(findings);
    expect(findings).toHaveLength(29);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.findings).toHaveLength(29);
    expect(problems[0]!.title).toMatch(/bucket 0:115/);
    expect(problems[0]!.groupedBy).toBe('location');
  });

  it('with a plan, findings go with the fixes that resolve them, fixes joined by dependsOn', async () => {
    const findings = await findingsOf(fixturePath('stale-b2'));
    const drop = findings.filter((f) => f.class === 'ptr_stale_dirty').map((f) => f.id);
    const alloc = findings.filter((f) => f.location.bucket !== undefined && f.class.startsWith('bucket_')).map((f) => f.id);
    const problems = groupFindings(findings, [
      { id: 'fix-a', title: 'drop the stale pointers', resolves: drop },
      { id: 'fix-b', title: 'rewrite the alloc key', resolves: alloc, dependsOn: ['fix-a'] },
    ]);
    const planned = problems.find((p) => p.id === 'fix-a')!;
    expect(planned.groupedBy).toBe('plan');
    expect(planned.fixes).toEqual(['fix-a', 'fix-b']);
    expect(planned.title).toBe('drop the stale pointers');
    for (const id of [...drop, ...alloc]) expect(planned.findings).toContain(id);
    expect(problems.flatMap((p) => p.findings)).toHaveLength(29);
  });
});
