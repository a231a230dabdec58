// npm run bench: on the 4 GiB big-1m-extents image, times a plain walk of every key and a full check,
// each in its own process so that each peak RSS is its own. The image is gunzipped once to a sparse
// temporary file first (not timed).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipToTemp, removeTemp } from '../../src-core/device/gz.js';
import { openFilesystem } from '../../src-core/open.js';
import { forEachKey } from '../../src-core/btree/fs.js';
import { checkFilesystem } from '../../src-core/check/index.js';
import { BTREE_IDS } from '../../src-core/format/names.js';

const here = fileURLToPath(import.meta.url);
const projectRoot = resolve(dirname(here), '..', '..', '..');
const image = join(projectRoot, '..', 'shared', 'fixtures', 'bcachefs-2021-perf', 'big-1m-extents', 'image.img.gz');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;

async function walk(path: string): Promise<void> {
  const o = openFilesystem(path);
  try {
    for (let run = 1; run <= RUNS; run++) {
      o.fs.nodeBytesRead = 0;
      o.fs.nodesRead = 0;
      const counts: number[] = [];
      const t = performance.now();
      for (let id = 0; id < BTREE_IDS.length; id++) {
        let n = 0;
        forEachKey(o.fs, id, () => n++);
        counts.push(n);
      }
      const s = (performance.now() - t) / 1000;
      const keys = counts.reduce((a, b) => a + b, 0);
      console.log(
        `walk  run ${run}: ${(s).toFixed(3)} s, ${keys} keys (${BTREE_IDS.map((b, i) => `${b} ${counts[i]}`).filter((x) => !x.endsWith(' 0')).join(', ')}), ` +
          `${(keys / s / 1e6).toFixed(2)} M keys/s, ${o.fs.nodesRead} nodes, ${(o.fs.nodeBytesRead / s / 1e6).toFixed(0)} MB/s of node bytes`,
      );
    }
  } finally {
    o.close();
  }
  console.log(`walk  peak RSS ${peakRssMB().toFixed(0)} MB (target: <= 0.6 s, <= 150 MB)`);
}

async function check(path: string): Promise<void> {
  const o = openFilesystem(path);
  try {
    for (let run = 1; run <= RUNS; run++) {
      const t = performance.now();
      const r = await checkFilesystem(o.fs, { devName: 'image.img' });
      const s = (performance.now() - t) / 1000;
      console.log(`check run ${run}: ${s.toFixed(3)} s, ${r.findings.length} findings (${r.findings.filter((f) => f.severity === 'error').length} errors), ${o.fs.nodesRead} nodes read so far`);
    }
  } finally {
    o.close();
  }
  console.log(`check peak RSS ${peakRssMB().toFixed(0)} MB (target: <= 0.65 s, <= 130 MB; real bcachefs fsck -n: 1.25-1.48 s, ~130 MB)`);
}

async function main(): Promise<void> {
  const [mode, path] = process.argv.slice(2);
  if (mode === 'walk' && path) return walk(path);
  if (mode === 'check' && path) return check(path);
  if (!existsSync(image)) {
    console.error(`bench: ${image} not found (the perf fixture lives in ../shared)`);
    process.exit(8);
  }
  const t = performance.now();
  const gz = gunzipToTemp(image);
  console.log(`prepare: gunzipped big-1m-extents to a sparse temporary file in ${((performance.now() - t) / 1000).toFixed(1)} s (not timed below)`);
  try {
    for (const m of ['walk', 'check']) {
      const r = spawnSync(process.execPath, [here, m, gz.tempPath], { stdio: 'inherit' });
      if (r.status !== 0) process.exitCode = r.status ?? 8;
    }
  } finally {
    removeTemp(gz.tempDir);
  }
}

void main();
