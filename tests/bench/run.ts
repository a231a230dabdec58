// npm run bench: our `check` against the real `bcachefs fsck -n` (bcachefs-tools a76f36fc6, ../shared/tools)
// on the 4 GiB big-1m-extents image, each as a whole process, side by side and in alternating order, several
// rounds; medians of wall time and peak RSS, then where the time goes phase by phase. The image is gunzipped
// once to a sparse temporary file first (not timed). The machine may be shared: the load is printed with
// the figures, and only figures from the same run compare.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipToTemp, removeTemp } from '../../src-core/device/gz.js';
import { openFilesystem } from '../../src-core/open.js';
import { forEachKey } from '../../src-core/btree/fs.js';
import { checkFilesystem, type CheckProgress } from '../../src-core/check/index.js';
import { BTREE_IDS } from '../../src-core/format/names.js';

const here = fileURLToPath(import.meta.url);
const projectRoot = resolve(dirname(here), '..', '..', '..');
const shared = join(projectRoot, '..', 'shared');
const image = join(shared, 'fixtures', 'bcachefs-2021-perf', 'big-1m-extents', 'image.img.gz');
const bcachefs = join(shared, 'tools', 'bcachefs-2021', 'bcachefs');
const cli = join(projectRoot, 'bin', 'bcachefs-repair');
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);

interface Run {
  ms: number;
  /** user + system CPU time of the process and its threads */
  cpuMs: number;
  rssMB: number;
  code: number | null;
  /** output lines with the time they arrived, ms after the start */
  lines: { ms: number; text: string }[];
}

/** Runs a command under /usr/bin/time (for its peak RSS and CPU time), timing it and each line it prints. */
function run(cmd: string, args: string[], tmp: string): Promise<Run> {
  const rssFile = join(tmp, 'rss');
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Run['lines'] = [];
    const collect = (stream: NodeJS.ReadableStream): void => {
      let rest = '';
      stream.setEncoding('latin1');
      stream.on('data', (chunk: string) => {
        const ms = performance.now() - t0;
        const parts = (rest + chunk).split('\n');
        rest = parts.pop()!;
        for (const text of parts) lines.push({ ms, text });
      });
    };
    collect(child.stdout!);
    collect(child.stderr!);
    child.on('error', fail);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      const [rss, user, sys] = readFileSync(rssFile, 'latin1').trim().split('\n').pop()!.split(' ').map(Number);
      done({ ms, cpuMs: (user! + sys!) * 1000, rssMB: rss! / 1024, code, lines });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** fsck -n -v phases from its line timestamps (ms); the open runs from the start to "journal read done". */
function fsckPhases(r: Run): Record<string, number> {
  const at = (prefix: string): number => {
    const l = r.lines.find((x) => x.text.startsWith(prefix));
    if (!l) throw new Error(`bcachefs fsck -n -v printed no "${prefix}" line; got:\n${r.lines.map((x) => x.text).join('\n')}`);
    return l.ms;
  };
  return {
    open: at('journal read done'),
    alloc: at('alloc read done') - at('starting alloc read'),
    markSweep: at('mark and sweep done') - at('starting mark and sweep'),
    fsckPasses: at('fsck done') - at('starting fsck'),
    total: r.ms,
  };
}

/** Child mode `phases`: one check in this process, timed from its progress callback; prints JSON. */
async function phases(path: string): Promise<void> {
  // performance.now() counts from the process start: this is node's start and the loading of our modules
  const started = performance.now();
  const o = openFilesystem(path);
  const opened = performance.now();
  const start: Partial<Record<CheckProgress['phase'], number>> = {};
  try {
    await checkFilesystem(o.fs, { devName: 'image.img', onProgress: (p) => void (start[p.phase] ??= performance.now()) });
  } finally {
    o.close();
  }
  const end = performance.now();
  const s = (p: CheckProgress['phase']): number => start[p] ?? end;
  const out = {
    start: started,
    open: opened - started,
    alloc: s('btrees') - s('roots'),
    markSweep: s('leaves') - s('btrees'),
    leaves: s('done') - s('leaves'),
  };
  console.log(JSON.stringify(out));
}

/** Child mode `walk`: every key of every btree through forEachKey, for the keys/s figure. */
function walk(path: string): void {
  const o = openFilesystem(path);
  try {
    const t = performance.now();
    let keys = 0;
    for (let id = 0; id < BTREE_IDS.length; id++) forEachKey(o.fs, id, () => keys++);
    const s = (performance.now() - t) / 1000;
    console.log(
      `walk (forEachKey, every btree): ${s.toFixed(3)} s, ${keys} keys, ${(keys / s / 1e6).toFixed(2)} M keys/s, ${o.fs.nodesRead} nodes, ` +
        `${(o.fs.nodeBytesRead / s / 1e6).toFixed(0)} MB/s of node bytes, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
  } finally {
    o.close();
  }
}

const f2 = (ms: number): string => (ms / 1000).toFixed(3).padStart(7);

async function main(): Promise<void> {
  const [mode, path] = process.argv.slice(2);
  if (mode === 'phases' && path) return phases(path);
  if (mode === 'walk' && path) return walk(path);
  for (const [what, p] of [['perf image', image], ['bcachefs 2021 binary', bcachefs], ['bcachefs-repair CLI', cli], ['GNU time', '/usr/bin/time']] as const) {
    if (!existsSync(p)) {
      console.error(`bench: the ${what} ${p} is missing (the image and the tool live in ../shared; the CLI is built by npm run build; /usr/bin/time measures peak RSS: apt-get install time)`);
      process.exit(8);
    }
  }
  if (spawnSync('stdbuf', ['--version']).error) {
    console.error('bench: stdbuf (GNU coreutils) is missing: it makes bcachefs fsck -v print line by line, for its phase timestamps');
    process.exit(8);
  }
  const t = performance.now();
  const gz = gunzipToTemp(image);
  const tmp = mkdtempSync(join(tmpdir(), 'bcachefs-repair-bench-'));
  console.log(`prepare: gunzipped big-1m-extents to a sparse temporary file in ${((performance.now() - t) / 1000).toFixed(1)} s (not timed below)`);
  const img = gz.tempPath;
  const fsck: Run[] = [];
  const ours: Run[] = [];
  const fsckP: Record<string, number>[] = [];
  const oursP: Record<string, number>[] = [];
  const loads: number[] = [];
  try {
    await run(process.execPath, [here, 'walk', img], tmp).then((r) => r.lines.forEach((l) => console.log(l.text)));
    for (let round = 0; round < ROUNDS; round++) {
      loads.push(loadavg()[0]!);
      const pair = [
        async () => fsck.push(await run(bcachefs, ['fsck', '-n', img], tmp)),
        async () => ours.push(await run(process.execPath, [cli, 'check', img], tmp)),
      ];
      if (round % 2) pair.reverse();
      for (const p of pair) await p();
      fsckP.push(fsckPhases(await run('stdbuf', ['-oL', bcachefs, 'fsck', '-n', '-v', img], tmp)));
      const p = await run(process.execPath, [here, 'phases', img], tmp);
      oursP.push(JSON.parse(p.lines.find((l) => l.text.startsWith('{'))!.text) as Record<string, number>);
      const [a, b] = [fsck[fsck.length - 1]!, ours[ours.length - 1]!];
      console.log(
        `round ${round + 1}: bcachefs fsck -n ${f2(a.ms)} s (cpu ${f2(a.cpuMs).trim()} s) ${a.rssMB.toFixed(0)} MB (exit ${a.code}) | ` +
          `check ${f2(b.ms)} s (cpu ${f2(b.cpuMs).trim()} s) ${b.rssMB.toFixed(0)} MB (exit ${b.code}) ` +
          `| ratio ${(b.ms / a.ms).toFixed(2)} | load ${loads[loads.length - 1]!.toFixed(1)}`,
      );
    }
  } finally {
    removeTemp(gz.tempDir);
    rmSync(tmp, { recursive: true, force: true });
  }
  const mf = median(fsck.map((r) => r.ms));
  const mo = median(ours.map((r) => r.ms));
  console.log('');
  console.log(`whole process, median of ${ROUNDS} (1-min load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} on ${availableParallelism()} CPUs):`);
  const cf = median(fsck.map((r) => r.cpuMs));
  const co = median(ours.map((r) => r.cpuMs));
  console.log(`  bcachefs fsck -n      ${f2(mf)} s, cpu ${f2(cf)} s, peak RSS ${median(fsck.map((r) => r.rssMB)).toFixed(0)} MB`);
  console.log(`  bcachefs-repair check ${f2(mo)} s, cpu ${f2(co)} s, peak RSS ${median(ours.map((r) => r.rssMB)).toFixed(0)} MB`);
  console.log(`  ratio check / fsck -n: ${(mo / mf).toFixed(2)} wall (target <= 0.50; median of the per-round ratios ${median(ours.map((r, i) => r.ms / fsck[i]!.ms)).toFixed(2)}), ${(co / cf).toFixed(2)} cpu`);
  console.log('  (on a busy machine wall times follow the load; cpu time, all threads of each process, follows it less)');
  console.log('');
  const m = (xs: Record<string, number>[], k: string): number => median(xs.map((x) => x[k]!));
  const row = (name: string, a: number | undefined, b: number | undefined, note = ''): string =>
    `  ${name.padEnd(34)} ${a === undefined ? '      -' : f2(a)} s  ${b === undefined ? '      -' : f2(b)} s  ${a !== undefined && b !== undefined ? (b / a).toFixed(2).padStart(5) : '     '}  ${note}`;
  console.log(`per phase, median of ${ROUNDS} (fsck -n -v line timestamps; check's progress callback, in a process of its own):`);
  console.log(`  ${'phase'.padEnd(34)} ${'fsck -n'.padStart(9)}  ${'check'.padStart(9)}  ratio`);
  console.log(row('start, superblock, journal', m(fsckP, 'open'), m(oursP, 'start') + m(oursP, 'open'), 'process start to the journal read'));
  console.log(row('  of which node and our modules', undefined, m(oursP, 'start')));
  console.log(row('roots and alloc read', m(fsckP, 'alloc'), m(oursP, 'alloc'), 'ours: the roots read too (fsck reads them while opening)'));
  console.log(row('mark and sweep (btree_gc.c)', m(fsckP, 'markSweep'), m(oursP, 'markSweep'), 'both: every node, every key marked, gc_done'));
  console.log(row('fsck.c passes', m(fsckP, 'fsckPasses'), undefined, 'not in our check yet (h-fsck adds them)'));
  console.log(row('  leaves mark and sweep skips', undefined, m(oursP, 'leaves'), 'dirents/xattrs leaves, which fsck reads in its passes'));
  console.log(row('whole process', mf, mo));
  console.log(
    `  so far our check does mark and sweep and reads the leaves it skips; bcachefs also runs its fsck.c passes (${f2(m(fsckP, 'fsckPasses')).trim()} s ` +
      `of its ${f2(mf).trim()} s), which ours does not yet: the whole-process ratio flatters us by that much.`,
  );
}

void main();
