// Shared by the repair-core tests: a fixture copy in a temp dir, the built CLI's repair on it, our check,
// the real fsck -n, the base image's data keys, and sha256 of the whole image.
import { expect } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem, forEachKey } from '../../src-core/btree/fs.js';
import { checkFilesystem, type Finding } from '../../src-core/check/index.js';
import { bposToText } from '../../src-core/format/bpos.js';
import { btreeIdByName } from '../../src-core/format/names.js';
import { PROJECT_ROOT, readFixtureText } from '../helpers/fixtures.js';
import { runCli, type CliResult } from '../helpers/cli.js';

import { realFsck, toolMissing } from '../format/encode-helpers.js';

export { copyImage, realFsck, removeImages, toolMissing } from '../format/encode-helpers.js';

const BASE_FIXTURE: Record<string, string> = {
  B1: 'clean-default-64m', B2: 'clean-32k-depth2', B4: 'clean-default-128m-depth2', B5: 'clean-64k-128m', B6: 'clean-32k-256m-alloc-depth2',
  B7: 'clean-32k-128m-dirents-depth3',
};
export const DATA_BTREES = ['extents', 'inodes', 'dirents', 'xattrs'];

/** Key positions `bcachefs list -b btree` printed for the clean image the fixture was made from (CASE.md names it). */
export function basePositions(fx: string, btree: string): string[] {
  const base = /Base image: `(B\d)\.img`/.exec(readFixtureText(fx, 'CASE.md')!)![1]!;
  const text = BASE_FIXTURE[base]
    ? readFixtureText(BASE_FIXTURE[base]!, `list/${btree}.keys.txt`) ?? ''
    : btree === 'xattrs'
      ? readFileSync(resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-base-keys', base, 'xattrs.keys.txt'), 'latin1')
      : gunzipSync(readFileSync(resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-base-keys', base, `${btree}.keys.txt.gz`))).toString('latin1');
  return text.split('\n').filter((l) => l.startsWith('u64s')).map((l) => / type \w+ (\S+) len /.exec(l)![1]!);
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Our check of an image, and every data btree's key positions. */
export async function checkImage(img: string): Promise<{ findings: Finding[]; keys: Map<string, Set<string>> }> {
  const dev = openDevice(img);
  try {
    const fs = new Filesystem(dev);
    const r = await checkFilesystem(fs, { devName: 'image.img' });
    const keys = new Map<string, Set<string>>();
    for (const b of DATA_BTREES) {
      const s = new Set<string>();
      forEachKey(fs, btreeIdByName(b), (t, row) => s.add(bposToText(t.pos(row))));
      keys.set(b, s);
    }
    return { findings: r.findings, keys };
  } finally {
    dev.close();
  }
}

/** Every data key of the fixture's base image is on the image. */
export function expectBaseKeys(fx: string, keys: Map<string, Set<string>>): void {
  for (const b of DATA_BTREES) {
    const have = keys.get(b)!;
    expect(basePositions(fx, b).filter((k) => !have.has(k)), `${b} keys of the base image missing after the repair`).toEqual([]);
  }
}

/** The built CLI, run from the image's folder (so bcachefs-style device names are "image.img"). */
export function cli(img: string, args: string[], env?: Record<string, string>): CliResult {
  if (!env) return runCli(args, 300_000, resolve(img, '..'));
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return runCli(args, 300_000, resolve(img, '..'));
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

/**
 * The last two judges of a repair: the real fsck -n exits 0 on the repaired image (where it runs here), and
 * undo --all of the repair's journal gives back the damaged image (damagedSha: its sha256 before the repair).
 */
export function expectFsckCleanThenUndo(img: string, damagedSha: string): void {
  if (!toolMissing) {
    const f = realFsck(img);
    expect(f.exit, `real fsck -n on the repaired image:\n${f.out}`).toBe(0);
  }
  const u = cli(img, ['undo', '--journal', 'j.db', '--all']);
  expect(u.status, u.stderr).toBe(0);
  expect(sha256File(img), 'undo --all gives the damaged image back').toBe(damagedSha);
}
