import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { crc32cUpdateJs, bchChecksum32, BCH_CSUM_CRC32C_NONZERO, BCH_CSUM_CRC32C } from '../../src-core/format/bytes.js';
import { loadAddon } from '../../src-core/device/native.js';

describe('CRC-32C', () => {
  it('has the standard check value for "123456789"', () => {
    const b = Buffer.from('123456789');
    expect(bchChecksum32(BCH_CSUM_CRC32C_NONZERO, b, 0, 9)).toBe(0xe3069283);
    // the type-5 variant has no pre/post inversion
    expect(bchChecksum32(BCH_CSUM_CRC32C, b, 0, 9)).toBe(crc32cUpdateJs(0, b, 0, 9));
  });

  it('the native (addon) and JS implementations agree on unaligned ranges', () => {
    const addon = loadAddon().addon;
    expect(addon, `addon loads: ${loadAddon().reason}`).not.toBeNull();
    const buf = randomBytes(70_000);
    for (const [s, e] of [[0, 70_000], [1, 69_999], [3, 11], [7, 7], [4093, 8200]] as const) {
      for (const init of [0, 0xffffffff, 0x12345678]) {
        expect(addon!.crc32c(buf, s, e, init)).toBe(crc32cUpdateJs(init, buf, s, e));
      }
    }
  });
});
