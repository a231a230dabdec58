// npm run bench: walks every key of the 4 GiB big-1m-extents image and prints keys/s, MB/s and peak RSS.
// The image is gunzipped to a sparse temporary file first (not timed).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFilesystem } from '../../src-core/open.js';
import { forEachKey } from '../../src-core/btree/fs.js';
import { BTREE_IDS } from '../../src-core/format/names.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const image = join(root, '..', 'shared', 'fixtures', 'bcachefs-2021-perf', 'big-1m-extents', 'image.img.gz');

function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function main(): Promise<void> {
  if (!existsSync(image)) {
    console.error(`bench: ${image} not found (the perf fixture lives in ../shared)`);
    process.exit(8);
  }
  let t = performance.now();
  const o = openFilesystem(image);
  console.log(`prepare: decompressed to a temporary file in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const rssBefore = peakRssMB();
  try {
    for (let run = 1; run <= runs; run++) {
      o.fs.nodeBytesRead = 0;
      o.fs.nodesRead = 0;
      const counts: number[] = [];
      t = performance.now();
      for (let id = 0; id < BTREE_IDS.length; id++) {
        let n = 0;
        forEachKey(o.fs, id, () => n++);
        counts.push(n);
      }
      const s = (performance.now() - t) / 1000;
      const keys = counts.reduce((a, b) => a + b, 0);
      console.log(
        `walk run ${run}: ${keys} keys (${BTREE_IDS.map((b, i) => `${b} ${counts[i]}`).filter((x) => !x.endsWith(' 0')).join(', ')}) ` +
          `in ${s.toFixed(3)} s = ${(keys / s / 1e6).toFixed(2)} M keys/s, ${o.fs.nodesRead} nodes, ` +
          `${(o.fs.nodeBytesRead / s / 1e6).toFixed(0)} MB/s of node bytes; peak RSS ${peakRssMB().toFixed(0)} MB`,
      );
    }
  } finally {
    o.close();
  }
  console.log(`peak RSS ${peakRssMB().toFixed(0)} MB (${rssBefore.toFixed(0)} MB before the walks); target: walk <= 0.6 s, <= 150 MB`);
}

void main();
