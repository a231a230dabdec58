// `bcachefs-repair check` end to end: fsck exit codes, --json findings against the real fsck -n output.
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fixturePath, readFixtureText } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { multiset, multisetMissing, parseFsckLog } from '../helpers/fsck-log.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The fixture unpacked as image.img in a folder of its own (as bcachefs ran on it), and its sha256. */
function unpacked(fx: string): { dir: string; sha256: () => string } {
  const dir = mkdtempSync(join(tmpdir(), 'bcachefs-repair-check-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'image.img'), gunzipSync(readFileSync(fixturePath(fx))));
  return { dir, sha256: () => createHash('sha256').update(readFileSync(join(dir, 'image.img'))).digest('hex') };
}

describe('bcachefs-repair check', () => {
  it('exits 0 with no finding on a clean image', () => {
    const r = runCli(['check', fixturePath('clean-32k-depth2'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).findings).toEqual([]);
  });

  it.each(['gap-extents-b2', 'stale-b2', 'zeronode-extents-b2', 'alloc-datatype-b2', 'gen-wrap-b2'])(
    '%s: exit 4, and --json holds every error fsck -n printed',
    (fx) => {
      // the image the check opens itself (not a .gz it would unpack to a copy), so that a write would show
      const img = unpacked(fx);
      const before = img.sha256();
      const r = runCli(['check', 'image.img', '--json'], 60_000, img.dir);
      expect(r.status, r.stderr).toBe(4);
      const j = JSON.parse(r.stdout) as { schemaVersion: number; device: { path: string }; findings: { fsck_message: string | null; severity: string; id: string; class: string }[] };
      const log = parseFsckLog(readFixtureText(fx, 'fsck-n.txt')!, Number(readFixtureText(fx, 'fsck-n.exit')!.trim()));
      const want = multiset(log.errors.filter((e) => e.phase !== 'fsck').map((e) => e.message));
      const have = multiset(j.findings.filter((f) => f.fsck_message !== null).map((f) => f.fsck_message!));
      expect(want.size).toBeGreaterThan(0);
      expect(multisetMissing(want, have)).toEqual([]);
      for (const f of j.findings) expect(f.id.startsWith(`${f.class}:`)).toBe(true);
      expect(j).toMatchObject({ schemaVersion: 1, device: { path: 'image.img', size: readFileSync(join(img.dir, 'image.img')).length } });
      // never writes
      expect(img.sha256()).toBe(before);
    },
  );

  it('prints findings for a person, with progress on stderr', () => {
    const r = runCli(['check', fixturePath('gap-extents-b2'), '--progress']);
    expect(r.status).toBe(4);
    expect(r.stdout).toContain('btree node with incorrect min_key at btree extents level 1:\n      prev u64s 11 type btree_ptr_v2 5119:5400:U32_MAX');
    expect(r.stdout).toMatch(/^1 error, 0 warnings, 0 notes .* Nothing was written\.$/m);
    expect(r.stderr).toMatch(/^progress: done: \d+ nodes, [\d.]+ MiB read 100%$/m);
  });

  it('groups the findings into problems, each with the files and data it puts at risk, in the human output and in --json', () => {
    const text = runCli(['check', fixturePath('gen-future-b2')]);
    expect(text.status).toBe(4);
    expect(text.stdout).toMatch(
      /^1 problem explaining 7 findings:\n1\. Pointer gen newer than its bucket's gen \(extents level 0, bucket 0:115\): 7 findings\n {3}files at risk: \/dir0013\/\S*\/f000943_x+\.dat \(inode 5061\)\n {3}data at risk: 8 sectors \(4096 bytes\) in the extents the findings name$/m,
    );
    const j = JSON.parse(runCli(['check', fixturePath('zeronode-extents-b2'), '--json']).stdout) as { findings: { id: string }[]; problems: { findings: string[]; atRisk?: unknown }[] };
    // the flat findings list stays; every finding is in one problem
    expect(j.problems.flatMap((p) => p.findings).sort()).toEqual(j.findings.map((f) => f.id).sort());
    expect(j.problems[0]!.atRisk).toEqual({
      files: [{ inode: '5118', paths: ['/big00.bin'] }, { inode: '5119', paths: ['/sparse00.bin'] }], moreFiles: 0, sectors: null, range: '5118:8121:0 .. 5119:5400:U32_MAX',
    });
  });

  it('bad input is an operational error (8)', () => {
    const r = runCli(['check', '/nonexistent/image.img']);
    expect(r.status).toBe(8);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
