// The node fixes through the real repair path: ops applyRepair (-y: every fix, through the repair journal),
// then our check, the real fsck -n, and undo --all giving the damaged image back byte for byte; and the
// older-copy scan stopping when planning is cancelled.
import { afterAll, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { applyRepair, undoFixes } from '../../src-core/ops/index.js';
import { openDevice } from '../../src-core/device/index.js';
import { CancellationTokenSource } from '../../src-core/base/cancellation.js';
import { planRepair } from '../../src-core/repair/pipeline.js';
import { nodesPlanner } from '../../src-core/repair/nodes.js';
import { checkImage, copyImage, realFsck, removeImages, sha256File, toolMissing } from './core-helpers.js';

afterAll(removeImages);

describe.skipIf(toolMissing)('node fixes through the repair journal', () => {
  it.each(['zeronode-extents-b2', 'zeronode-inodes-b5', 'zeronode-alloc-b6', 'badcsum-extents-b5'])('%s: repair -y, then nothing found and the real fsck -n exits 0; undo --all gives the damaged image back', { timeout: 300_000 }, async (fx) => {
    const img = copyImage(fx);
    const damaged = sha256File(img);
    const journal = join(resolve(img, '..'), 'j.db');
    const r = await applyRepair({ device: img, journal, who: 'test' });
    expect(r.applied.length).toBeGreaterThan(0);
    expect(r.after).toEqual([]);
    expect((await checkImage(img)).findings).toEqual([]);
    const f = realFsck(img);
    expect(f.exit, f.out).toBe(0);
    undoFixes({ journal, device: img, target: { all: true }, who: 'test' });
    expect(sha256File(img)).toBe(damaged);
  });
});

describe('cancelling the older-copy scan', () => {
  it('a cancel while the node planner scans stops planning: the plan says cancelled and holds no node fix', { timeout: 120_000 }, async () => {
    const img = copyImage('zeronode-extents-b2');
    const dev = openDevice(img);
    try {
      const src = new CancellationTokenSource();
      const p = await planRepair(dev, { token: src.token, onProgress: (s) => { if (s.step === nodesPlanner.name) src.cancel(); } });
      expect(p.cancelled).toBe(true);
      expect(p.fixes).toEqual([]);
    } finally {
      dev.close();
    }
  });
});
