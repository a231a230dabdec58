// Read-ahead: background reads are served only for exactly the range asked for, never stale after a
// write, and forgotten on close.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDevice } from '../../src-core/device/index.js';
import { loadAddon } from '../../src-core/device/native.js';
import { randomFile, scratchDir } from './helpers.js';

const scratch = scratchDir('readahead');
afterAll(() => scratch.cleanup());
const NODE = 256 * 1024;

describe('read-ahead', () => {
  it('serves prefetched ranges byte for byte and releases them when taken', async () => {
    const path = join(scratch.dir, 'ra.img');
    const ref = randomFile(path, 8 * 1024 * 1024);
    const dev = openDevice(path);
    const addon = loadAddon().addon!;
    try {
      expect(dev.direct).toBe(true);
      for (let i = 0; i < 8; i++) dev.prefetch(i * NODE, NODE);
      expect(addon.prefetchBytes()).toBeGreaterThan(0);
      for (let i = 0; i < 8; i++) expect(dev.read(i * NODE, NODE).equals(ref.subarray(i * NODE, (i + 1) * NODE))).toBe(true);
      // a read of a different range than the one prefetched is not served from it
      dev.prefetch(NODE * 10, NODE);
      expect(dev.read(NODE * 10 + 512, 1000).equals(ref.subarray(NODE * 10 + 512, NODE * 10 + 1512))).toBe(true);
    } finally {
      dev.close();
    }
    // a read still in flight at close is freed when it returns
    const until = Date.now() + 5000;
    while (addon.prefetchBytes() !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(addon.prefetchBytes()).toBe(0);
  });

  it('never serves data a write has replaced', () => {
    const src = join(scratch.dir, 'rw-src.img');
    randomFile(src, 4 * 1024 * 1024);
    const path = join(scratch.dir, 'rw.img');
    copyFileSync(src, path);
    const dev = openDevice(path, { write: true });
    try {
      dev.prefetch(NODE, NODE);
      const fresh = Buffer.alloc(4096, 0xab);
      dev.write(NODE + 8192, fresh);
      expect(dev.read(NODE, NODE).subarray(8192, 8192 + 4096).equals(fresh)).toBe(true);
    } finally {
      dev.close();
    }
  });

  it('ignores unaligned hints', () => {
    const path = join(scratch.dir, 'un.img');
    const ref = randomFile(path, 1024 * 1024);
    const dev = openDevice(path);
    try {
      dev.prefetch(100, 5000);
      expect(loadAddon().addon!.prefetchBytes()).toBe(0);
      expect(dev.read(100, 5000).equals(ref.subarray(100, 5100))).toBe(true);
    } finally {
      dev.close();
    }
  });
});
