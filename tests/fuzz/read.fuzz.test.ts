// Fuzzing the reader and the checker (every other case): bit flips, byte garbage, zeroed sectors and truncation over real fixture images.
// Every case must end in a clean FsOpenError or a completed walk (damaged nodes reported), never another
// exception or a hang. Deterministic (seeded) so a failure can be replayed.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { BtreeWalk, Filesystem, FsOpenError, forEachKey, forEachNodePointer } from '../../src-core/btree/fs.js';
import { bkeyValToText } from '../../src-core/format/print.js';
import { BTREE_ID_NR } from '../../src-core/format/names.js';
import { fixturePath } from '../helpers/fixtures.js';
import { rng } from '../device/helpers.js';
import { bchChecksum32 } from '../../src-core/format/bytes.js';
import { checkFilesystem } from '../../src-core/check/index.js';

interface Region {
  start: number;
  len: number;
  /** a checksummed range inside it: [from, to) covered by the crc32c stored at `at` */
  csum?: { at: number; from: number; to: number };
}

/** The metadata of an image: superblocks, layout, journal buckets, every btree node. */
function metadataRegions(img: Uint8Array): Region[] {
  const fs = new Filesystem({ size: img.length, read: (o, l) => Buffer.from(img.buffer, img.byteOffset + o, l) });
  const sbLen = fs.sb.bytes.length;
  const regions: Region[] = [{ start: 7 * 512, len: 512 }];
  for (const s of fs.sb.layout.sbOffsets) {
    regions.push({ start: s * 512, len: sbLen, csum: { at: s * 512, from: s * 512 + 16, to: s * 512 + sbLen } });
  }
  const bucketBytes = fs.sb.members[0]!.bucketSize * 512;
  for (const b of fs.sb.journalBuckets[0] ?? []) regions.push({ start: b * bucketBytes, len: 8192 });
  for (let id = 0; id < BTREE_ID_NR; id++) {
    const w = new BtreeWalk(fs, id);
    for (let s = w.next(); s; s = w.next()) {
      if (s.repeat) continue;
      const node = s.node;
      const base = node.sector * 512;
      const first = node.bsets[0];
      regions.push({
        start: base,
        len: node.written * 512 || 4096,
        ...(first ? { csum: { at: base, from: base + 16, to: base + first.keysEnd } } : {}),
      });
    }
  }
  return regions;
}

async function exercise(img: Uint8Array, withCheck: boolean): Promise<'open-error' | 'walked'> {
  const dev = {
    size: img.length,
    read: (o: number, l: number) => {
      if (o < 0 || o + l > img.length) throw new Error(`read past end (${o}+${l})`);
      return Buffer.from(img.subarray(o, o + l));
    },
  };
  let fs: Filesystem;
  try {
    fs = new Filesystem(dev);
  } catch (e) {
    if (e instanceof FsOpenError) return 'open-error';
    throw e;
  }
  let keys = 0;
  for (let id = 0; id < BTREE_ID_NR; id++) {
    forEachKey(fs, id, (t, r) => {
      keys++;
      // printing touches every value decoder
      if (keys % 7 === 0) bkeyValToText(t, r);
    });
    forEachNodePointer(fs, id, 0, () => {});
  }
  if (withCheck) {
    const r = await checkFilesystem(fs, { devName: 'image.img' });
    for (const f of r.findings) {
      if (!f.id || !f.class || !f.explanation) throw new Error(`malformed finding ${JSON.stringify(f)}`);
    }
  }
  return 'walked';
}

const CASES_PER_IMAGE = Number(process.env.FUZZ_CASES ?? 2000);

describe.each(['clean-default-64m', 'clean-32k-depth2'])('fuzz %s', (fx) => {
  let base: Buffer;
  let regions: Region[];
  beforeAll(() => {
    base = gunzipSync(readFileSync(fixturePath(fx)));
    regions = metadataRegions(base);
  });

  it(`${CASES_PER_IMAGE} mutated images: reader and checker, no crash, no hang`, { timeout: 600_000 }, async () => {
    const rand = rng(0x5eed + fx.length);
    const outcomes = { 'open-error': 0, walked: 0 };
    for (let c = 0; c < CASES_PER_IMAGE; c++) {
      // mutate in place and restore afterwards: copying 64 MiB per case would dominate the run
      const img = base;
      const saved = new Map<number, number>();
      const poke = (p: number, v: number): void => {
        if (p >= img.length) return;
        if (!saved.has(p)) saved.set(p, img[p]!);
        img[p] = v;
      };
      const kind = c % 5;
      const reg = regions[Math.floor(rand() * regions.length)]!;
      const at = reg.start + Math.floor(rand() * reg.len);
      let what = '';
      if (kind === 0) {
        const n = 1 + Math.floor(rand() * 8);
        for (let i = 0; i < n; i++) {
          const p = reg.start + Math.floor(rand() * reg.len);
          poke(p, img[p]! ^ (1 << Math.floor(rand() * 8)));
        }
        what = `${n} bit flips in region at ${reg.start}`;
      } else if (kind === 1) {
        const n = 1 + Math.floor(rand() * 64);
        for (let i = 0; i < n; i++) poke(at + i, Math.floor(rand() * 256));
        what = `${n} random bytes at ${at}`;
      } else if (kind === 2) {
        const sector = Math.floor(at / 512) * 512;
        const n = 512 * (1 + Math.floor(rand() * 8));
        for (let i = 0; i < n; i++) poke(sector + i, 0);
        what = `zeroed sectors at ${sector}`;
      } else if (kind === 4) {
        // damage that a checksum does not catch: bit flips with the checksum recomputed
        const withCsum = regions.filter((r) => r.csum);
        const r = withCsum[Math.floor(rand() * withCsum.length)]!.csum!;
        const n = 1 + Math.floor(rand() * 4);
        for (let i = 0; i < n; i++) {
          const p = r.from + Math.floor(rand() * (r.to - r.from));
          poke(p, img[p]! ^ (1 << Math.floor(rand() * 8)));
        }
        const sum = bchChecksum32(1, img, r.from, r.to)!;
        for (let i = 0; i < 4; i++) poke(r.at + i, (sum >>> (8 * i)) & 0xff);
        what = `${n} bit flips under a recomputed checksum at ${r.at}`;
      } else {
        const cut = Math.floor(rand() * img.length);
        what = `truncated to ${cut}`;
        try {
          outcomes[await exercise(img.subarray(0, cut), c % 2 === 1)]++;
        } catch (e) {
          throw new Error(`case ${c} (${what}): ${(e as Error).stack}`);
        }
        continue;
      }
      try {
        outcomes[await exercise(img, c % 2 === 1)]++;
      } catch (e) {
        throw new Error(`case ${c} (${what}): ${(e as Error).stack}`);
      } finally {
        for (const [p, v] of saved) img[p] = v;
      }
    }
    // both outcomes occur: the mutations reach past the superblock into the btrees
    expect(outcomes.walked).toBeGreaterThan(CASES_PER_IMAGE / 4);
    expect(outcomes['open-error']).toBeGreaterThan(0);
  });
});
