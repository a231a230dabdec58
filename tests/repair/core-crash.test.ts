// The journal's crash test on a real repair: `repair -y` (the built CLI) on a gen and an alloc fixture, killed
// with SIGKILL after each of its journal and device steps in turn (BCACHEFS_REPAIR_CRASH_AT=N, N = 1, 2, … until
// a run completes). After every kill, `undo --all` (which recovers first) gives back the damaged image byte for
// byte, and a second `repair -y` leaves it clean for our check and the real fsck -n.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { checkImage, copyImage, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

function repairCrashingAt(img: string, n: number): ReturnType<typeof spawnSync> {
  return spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'bcachefs-repair'), 'repair', 'image.img', '--journal', 'j.db', '-y'], {
    cwd: resolve(img, '..'), env: { ...process.env, BCACHEFS_REPAIR_CRASH_AT: String(n) }, encoding: 'utf8', timeout: 120_000,
  });
}

function cliIn(img: string, args: string[]): ReturnType<typeof spawnSync> {
  const env = { ...process.env };
  delete env.BCACHEFS_REPAIR_CRASH_AT;
  return spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'bcachefs-repair'), ...args], { cwd: resolve(img, '..'), env, encoding: 'utf8', timeout: 120_000 });
}

describe('repair -y killed at every step', () => {
  it.each(['gen-future-b2', 'alloc-sectors-b2'])('%s', { timeout: 600_000 }, async (fx) => {
    const img = copyImage(fx);
    const damagedCopy = `${img}.damaged`;
    copyFileSync(img, damagedCopy);
    const damaged = sha256File(img);
    const dir = resolve(img, '..');
    let killed = 0;
    for (let n = 1; ; n++) {
      copyFileSync(damagedCopy, img);
      for (const f of ['j.db', 'j.db-wal', 'j.db-shm']) rmSync(join(dir, f), { force: true });
      const r = repairCrashingAt(img, n);
      if (r.signal !== 'SIGKILL') {
        // the run got past its last step: it repaired
        expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(1);
        break;
      }
      killed++;
      const u = cliIn(img, ['undo', 'image.img', '--journal', 'j.db', '--all']);
      expect(u.status, `undo --all after a kill at step ${n}: ${u.stdout}\n${u.stderr}`).toBe(0);
      expect(sha256File(img), `the damaged image again after a kill at step ${n}`).toBe(damaged);
      const again = cliIn(img, ['repair', 'image.img', '--journal', 'j.db', '-y']);
      expect(again.status, `second repair after a kill at step ${n}: ${again.stdout}\n${again.stderr}`).toBe(1);
      expect((await checkImage(img)).findings.map((f) => f.id), `our check after the second repair (kill at ${n})`).toEqual([]);
      if (!toolMissing) expect(realFsck(img).exit, `real fsck -n after the second repair (kill at ${n})`).toBe(0);
      expect(n, 'a repair of one fix takes a handful of steps').toBeLessThan(40);
    }
    // sessions, checks, decisions, the fix's before-images, each write, the sync, fix applied, the after check
    expect(killed).toBeGreaterThanOrEqual(4);
  });
});
