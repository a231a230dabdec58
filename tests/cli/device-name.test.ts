// The device name in bcachefs's messages is the path as the user typed it, cut to 31 bytes: compared with
// what the real bcachefs 2021 prints for the same path, typed the same way, from the same folder.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, fixturePath } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

const BCACHEFS = join(PROJECT_ROOT, '..', 'shared', 'tools', 'bcachefs-2021', 'bcachefs');
const dir = mkdtempSync(join(tmpdir(), 'bcachefs-repair-devname-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nodeErrorLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('error validating btree node on '));

describe('device name in fsck_message', () => {
  const paths = ['zeronode.img', './zeronode.img', 'a/rather/long/folder/name/zeronode.img'];
  mkdirSync(join(dir, 'a', 'rather', 'long', 'folder', 'name'), { recursive: true });
  const image = gunzipSync(readFileSync(fixturePath('zeronode-extents-b2')));
  for (const p of paths) writeFileSync(join(dir, p), image);
  const probe = spawnSync(BCACHEFS, ['version'], { encoding: 'utf8' });
  const runs = probe.status === 0;
  const skipped = runs ? '' : ` [skipped: ${BCACHEFS} does not run here: install the runtime packages its README names]`;

  it.skipIf(!runs)(`is what bcachefs fsck -n prints, for short, ./ and long paths (real bcachefs 2021)${skipped}`, () => {
    for (const p of paths) {
      const real = spawnSync(BCACHEFS, ['fsck', '-n', p], { cwd: dir, encoding: 'latin1', timeout: 60_000 });
      const want = nodeErrorLines(real.stdout + real.stderr);
      expect(want.length, `bcachefs printed a node error for ${p}`).toBeGreaterThan(0);
      const r = runCli(['check', p, '--json'], 60_000, dir);
      const { findings } = JSON.parse(r.stdout) as { findings: { fsck_message: string | null; log_message?: string }[] };
      const have = findings.flatMap((f) => [f.fsck_message, f.log_message].flatMap((t) => nodeErrorLines(t ?? '')));
      expect(have, p).toEqual(want);
    }
    // the long one is cut to 31 bytes, as bcachefs cuts it
    expect(nodeErrorLines(spawnSync(BCACHEFS, ['fsck', '-n', paths[2]!], { cwd: dir, encoding: 'latin1' }).stdout)[0]).toMatch(/ on a\/rather\/long\/folder\/name\/zeron at /);
  });
});
