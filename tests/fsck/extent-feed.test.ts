// check_extents from the summary mark and sweep builds (ExtentFeed): on a clean filesystem the pass reads no
// extents node again; where the pass has something to report it walks the extents as always (what it then
// reports is compared with the real fsck -n in fixtures.test.ts and injected.test.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkFilesystem } from '../../src-core/check/index.js';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';
import { PROJECT_ROOT, cleanFixtures, fixturePath } from '../helpers/fixtures.js';

const FS_FIXTURES = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-fs');
const opened: OpenedFilesystem[] = [];
afterAll(() => opened.forEach((o) => o.close()));

/** Nodes the filesystem read while check_extents ran, and the classes the check found. */
async function extentsPass(path: string): Promise<{ nodes: number; classes: string[] }> {
  const o = openFilesystem(path);
  opened.push(o);
  const at = new Map<string, number>();
  const r = await checkFilesystem(o.fs, {
    devName: 'image.img',
    onProgress: (p) => {
      if (p.phase === 'fsck' && p.pass && !at.has(p.pass)) at.set(p.pass, o.fs.nodesRead);
    },
  });
  return { nodes: at.get('check_dirents')! - at.get('check_extents')!, classes: r.findings.map((f) => f.class) };
}

describe('check_extents from the summary mark and sweep builds', () => {
  it.each(cleanFixtures())('%s: nothing to report, no extents node read again', { timeout: 120_000 }, async (fx) => {
    const r = await extentsPass(fixturePath(fx));
    expect(r.classes).toEqual([]);
    expect(r.nodes).toBe(0);
  });

  it.each(['drop-inode-b2', 'inode-sectors-b5', 'inode-size-b4'])('%s: the pass has something to report and walks the extents', { timeout: 120_000 }, async (fx) => {
    const path = join(FS_FIXTURES, fx, 'image.img.gz');
    expect(existsSync(path)).toBe(true);
    const r = await extentsPass(path);
    expect(r.nodes).toBeGreaterThan(0);
    expect(r.classes.some((c) => /^(extent_|inode_i_sectors)/.test(c)), r.classes.join(', ')).toBe(true);
  });
});
