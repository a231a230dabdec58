// More cases for the passes (check_inodes, check_extents, check_root and check_nlinks above all): clean images
// with damage made by ../shared/tools/inject.py and by injected/patch.py (for what the injector has no kind for),
// listed in tests/fsck/injected/cases.json, against what the real fsck -n printed on the same images (recorded
// by tests/fsck/injected/make.py). Both tools are deterministic, so the images are made again here.
import { describe, expect, it } from 'vitest';
import { checkFilesystem } from '../../src-core/check/index.js';
import { removeTemp } from '../../src-core/device/gz.js';
import { isFsckClass } from '../../src-core/fsck/classes.js';
import { openFilesystem } from '../../src-core/open.js';
import { parseFsckLog } from '../helpers/fsck-log.js';
import { injectedCases as cases, injectedFsckN, makeInjectedImage } from './injected/cases.js';

it('has its cases', () => expect(cases.length).toBeGreaterThanOrEqual(16));

describe.each(cases)('$name', (c) => {
  it('reports what fsck -n printed after "starting fsck"', async () => {
    const real = injectedFsckN(c);
    const log = parseFsckLog(real.text, real.exit);
    const img = makeInjectedImage(c);
    const o = openFilesystem(img.tempPath);
    try {
      const r = await checkFilesystem(o.fs, { devName: 'image.img' });
      const have = r.findings.filter((f) => isFsckClass(f.class) && f.severity === 'error').map((f) => f.fsck_message);
      expect(have).toEqual(log.errors.filter((e) => e.phase === 'fsck').map((e) => e.message));
      // fsck -n exits 8 when fsck stopped with an error ("error in fsck (-5)", a missing parent directory)
      expect(r.limitations.some((l) => l.includes("bcachefs 2021's fsck stops"))).toBe(log.exit === 8);
    } finally {
      o.close();
      removeTemp(img.tempDir);
    }
  }, 60_000);
});

it('names the inode a finding is about by its path (dirty-flags-b1: /sparse00.bin is 4519 in the root, per bcachefs list)', async () => {
  const img = makeInjectedImage(cases.find((c) => c.name === 'dirty-flags-b1')!);
  const o = openFilesystem(img.tempPath);
  try {
    const r = await checkFilesystem(o.fs, { devName: 'image.img' });
    const about4519 = r.findings.filter((f) => f.fsck_message?.includes('inode 4519') || f.class === ('extents_overlapping' as never));
    expect(about4519.length).toBe(3);
    for (const f of about4519) expect(f.explanation).toMatch(/\(inode 4519: \/sparse00\.bin\)$/);
  } finally {
    o.close();
    removeTemp(img.tempDir);
  }
}, 60_000);
