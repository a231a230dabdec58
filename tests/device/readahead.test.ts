// Read-ahead: background reads are served only for exactly the range asked for, never stale after a
// write, forgotten on close, and untaken ones do not turn read-ahead off.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDevice } from '../../src-core/device/index.js';
import { openDeviceForWrite } from '../../src-core/device/write.js';
import { loadAddon } from '../../src-core/device/native.js';
import { randomFile, scratchDir } from './helpers.js';

const scratch = scratchDir('readahead');
afterAll(() => scratch.cleanup());
const NODE = 256 * 1024;

/** Wait until no read-ahead is queued or in flight, so that whether a read is served from it does not depend on timing. */
async function settle(): Promise<void> {
  const addon = loadAddon().addon!;
  const until = Date.now() + 10_000;
  while (addon.prefetchPending() !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  expect(addon.prefetchPending()).toBe(0);
}

describe('read-ahead', () => {
  it('serves prefetched ranges byte for byte and releases them when taken', async () => {
    const path = join(scratch.dir, 'ra.img');
    const ref = randomFile(path, 8 * 1024 * 1024);
    const dev = openDevice(path);
    const addon = loadAddon().addon!;
    try {
      expect(dev.direct).toBe(true);
      for (let i = 0; i < 8; i++) dev.prefetch(i * NODE, NODE);
      expect(addon.prefetchBytes()).toBe(8 * NODE);
      await settle();
      const hits = addon.prefetchHits();
      for (let i = 0; i < 8; i++) expect(dev.read(i * NODE, NODE).equals(ref.subarray(i * NODE, (i + 1) * NODE))).toBe(true);
      expect(addon.prefetchHits()).toBe(hits + 8);
      expect(addon.prefetchBytes()).toBe(0);
      // a read of a different range than the one prefetched is not served from it
      dev.prefetch(NODE * 10, NODE);
      await settle();
      expect(dev.read(NODE * 10 + 512, 1000).equals(ref.subarray(NODE * 10 + 512, NODE * 10 + 1512))).toBe(true);
      expect(addon.prefetchHits()).toBe(hits + 8);
      // a read still in flight at close is freed when it returns
      dev.prefetch(NODE * 20, NODE);
    } finally {
      dev.close();
    }
    await settle();
    expect(addon.prefetchBytes()).toBe(0);
  });

  it('never serves data a write has replaced', async () => {
    const src = join(scratch.dir, 'rw-src.img');
    randomFile(src, 4 * 1024 * 1024);
    const path = join(scratch.dir, 'rw.img');
    copyFileSync(src, path);
    const dev = openDeviceForWrite(path);
    const addon = loadAddon().addon!;
    try {
      dev.prefetch(NODE, NODE);
      await settle(); // the old data is read and waiting
      expect(addon.prefetchBytes()).toBe(NODE);
      const hits = addon.prefetchHits();
      const fresh = Buffer.alloc(4096, 0xab);
      dev.write(NODE + 8192, fresh);
      expect(addon.prefetchBytes()).toBe(0);
      expect(dev.read(NODE, NODE).subarray(8192, 8192 + 4096).equals(fresh)).toBe(true);
      expect(addon.prefetchHits()).toBe(hits);
    } finally {
      dev.close();
    }
  });

  it('never serves data a buffered write has replaced (an image whose size is not a multiple of 4 KiB)', async () => {
    // A write that reaches the partial last block goes through the page cache, not the addon's pwrite:
    // it must still drop the read-ahead of the blocks it covers.
    const path = join(scratch.dir, 'odd.img');
    const size = 4 * 1024 * 1024 + 777;
    randomFile(path, size);
    const dev = openDeviceForWrite(path);
    const addon = loadAddon().addon!;
    try {
      const block = Math.floor((size - 5000) / 4096) * 4096; // the aligned block where the write starts
      dev.prefetch(block, 4096);
      await settle();
      expect(addon.prefetchBytes()).toBe(4096);
      const fresh = Buffer.alloc(5000, 0xcd);
      dev.write(size - 5000, fresh);
      const got = dev.read(block, 4096);
      const inBlock = size - 5000 - block;
      expect(got.subarray(inBlock).equals(fresh.subarray(0, 4096 - inBlock))).toBe(true);
      expect(dev.read(size - 5000, 5000).equals(fresh)).toBe(true);
    } finally {
      dev.close();
    }
    expect(readFileSync(path).subarray(size - 5000).equals(Buffer.alloc(5000, 0xcd))).toBe(true);
  });

  it('evicts the oldest untaken read-aheads instead of turning read-ahead off', async () => {
    const path = join(scratch.dir, 'ev.img');
    const MIB = 1024 * 1024;
    const ref = randomFile(path, 40 * MIB);
    const dev = openDevice(path);
    const addon = loadAddon().addon!;
    try {
      // more entries than slots (64), never taken
      for (let i = 0; i < 80; i++) dev.prefetch(i * 4096, 4096);
      await settle();
      // more bytes than the budget (32 MiB), never taken
      for (let i = 0; i < 36; i++) {
        dev.prefetch(MIB + i * MIB, MIB);
        if (i % 8 === 7) await settle();
      }
      await settle();
      expect(addon.prefetchBytes()).toBeLessThanOrEqual(32 * MIB);
      const hits = addon.prefetchHits();
      // the newest ones are still there, and new ones are still accepted and served
      expect(dev.read(36 * MIB, MIB).equals(ref.subarray(36 * MIB, 37 * MIB))).toBe(true);
      dev.prefetch(38 * MIB, MIB);
      dev.prefetch(0, 4096);
      await settle();
      expect(dev.read(38 * MIB, MIB).equals(ref.subarray(38 * MIB, 39 * MIB))).toBe(true);
      expect(dev.read(0, 4096).equals(ref.subarray(0, 4096))).toBe(true);
      expect(addon.prefetchHits()).toBe(hits + 3);
    } finally {
      dev.close();
    }
    await settle();
    expect(addon.prefetchBytes()).toBe(0);
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

  it('crc32c throws a TypeError when given too few arguments', () => {
    const addon = loadAddon().addon!;
    const call = addon.crc32c as unknown as (...a: unknown[]) => number;
    expect(() => call(new Uint8Array(4), 0, 4)).toThrow(TypeError);
    expect(addon.crc32c(new Uint8Array(4), 0, 4, 0)).toBeTypeOf('number');
  });
});
