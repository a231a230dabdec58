// Shared by the fs-level repair tests: a fixture of bcachefs-2021-fs copied, older node copies made
// unfindable, and the end to end run: plan (the expected fix, every finding with a fix), repair -y through
// the built CLI and the repair journal, our check finds nothing, the real fsck -n exits 0, exactly the
// expected base image keys are missing, and undo --all gives the damaged image back byte for byte.
import { expect } from 'vitest';
import { resolve } from 'node:path';
import { openDevice } from '../../src-core/device/index.js';
import { Filesystem } from '../../src-core/btree/fs.js';
import { BtreeWalk } from '../../src-core/btree/walk.js';
import { openFilesystem } from '../../src-core/open.js';
import { scanForNodes } from '../../src-core/repair/older-copies.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { writeAt } from '../format/encode-helpers.js';
import { basePositions, checkImage, cli, copyImage, DATA_BTREES, expectFsckCleanThenUndo, sha256File } from './core-helpers.js';

/** A copy of a bcachefs-2021-fs fixture's image. */
export function fsFixture(fx: string): string {
  return copyImage(fx, resolve(FIXTURES, '..', 'bcachefs-2021-fs', fx, 'image.img.gz'));
}

/** The sectors of the nodes of a btree as the image reads now. */
export function liveNodes(img: string, btreeId: number): number[] {
  const o = openFilesystem(img);
  try {
    const out: number[] = [];
    const w = new BtreeWalk(o.fs, btreeId);
    for (let s = w.next(); s; s = w.next()) if (!s.repeat) out.push(s.node.sector);
    return out;
  } finally {
    o.close();
  }
}

/** Takes the magic off every node of `btreeId` on the device but the live ones (`live`), so no node scan finds them. */
export function wipeOlderCopies(img: string, btreeId: number, live: readonly number[]): void {
  const dev = openDevice(img);
  const old = scanForNodes(new Filesystem(dev), undefined).filter((n) => n.btreeId === btreeId && !live.includes(n.sector));
  dev.close();
  expect(old.length, 'older copies to wipe').toBeGreaterThan(0);
  for (const n of old) writeAt(img, n.sector * 512 + 16, new Uint8Array(8));
}

/** `base`: the fixture whose base image keys are compared (a bcachefs-2021 name, or ../bcachefs-2021-fs/NAME). */
export async function expectRepairedEndToEnd(img: string, base: string, title: RegExp, missing: readonly string[]): Promise<void> {
  const damaged = sha256File(img);
  const p = cli(img, ['plan', 'image.img']);
  expect(p.stdout, p.stderr).toMatch(title);
  expect(p.stdout).toMatch(/, 0 findings without a fix\./);
  const r = cli(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
  expect(r.status, `repair -y:\n${r.stdout}\n${r.stderr}`).toBe(1);
  expect(r.stdout).toMatch(/the check after the repair finds nothing/);
  const after = await checkImage(img);
  expect(after.findings.map((f) => f.id), 'our check after the repair').toEqual([]);
  const gone = DATA_BTREES.flatMap((b) => basePositions(base, b).filter((k) => !after.keys.get(b)!.has(k)).map((k) => `${b} ${k}`));
  expect(gone.sort(), 'base image keys missing after the repair').toEqual([...missing].sort());
  expectFsckCleanThenUndo(img, damaged);
}
