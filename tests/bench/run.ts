// npm run bench: our `check` against the real `bcachefs fsck -n` (bcachefs-tools a76f36fc6, ../shared/tools)
// on the 4 GiB big-1m-extents image, each as a whole process, side by side and in alternating order, several
// rounds; medians of wall time and peak RSS, then where the time goes phase by phase. The image is gunzipped
// once to a sparse temporary file first (not timed). The machine may be shared: the load is printed with
// the figures, and only figures from the same run compare.
// Then repair: one fault injected with ../shared/tools/inject.py (BENCH_FAULT, default alloc-sectors) into a
// copy, and on fresh sparse copies of it our `plan`, our `repair -y` and the real `fsck -y`, side by side
// (BENCH_REPAIR_RUNS rounds, default 3), with what each wrote and whether the real fsck -n is clean after.
// The target: a repair that changes a few nodes costs about one check, and under half the real fsck -y.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipToTemp, removeTemp } from '../../src-core/device/gz.js';
import { openFilesystem } from '../../src-core/open.js';
import { forEachKey } from '../../src-core/btree/fs.js';
import { checkFilesystem } from '../../src-core/check/index.js';
import { BTREE_IDS } from '../../src-core/format/names.js';

const here = fileURLToPath(import.meta.url);
const projectRoot = resolve(dirname(here), '..', '..', '..');
const shared = join(projectRoot, '..', 'shared');
const image = join(shared, 'fixtures', 'bcachefs-2021-perf', 'big-1m-extents', 'image.img.gz');
const bcachefs = join(shared, 'tools', 'bcachefs-2021', 'bcachefs');
const cli = join(projectRoot, 'bin', 'bcachefs-repair');
const inject = join(shared, 'tools', 'inject.py');
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const REPAIR_ROUNDS = Number(process.env.BENCH_REPAIR_RUNS ?? 3);
/**
 * alloc-sectors: one alloc key's dirty_sectors changed, a one-node repair that the real fsck -y also completes
 * (on gen-future and stale, which we repair too, the 2021 fsck -y aborts in malloc within 0.2 s: no comparison).
 */
const FAULT = process.env.BENCH_FAULT ?? 'alloc-sectors';
const FAULT_SEED = process.env.BENCH_FAULT_SEED ?? '1';

interface Run {
  ms: number;
  /** user + system CPU time of the process and its threads */
  cpuMs: number;
  rssMB: number;
  /** bytes the process dirtied in files (getrusage ru_oublock x 512: what it wrote, journal included) */
  outBytes: number;
  code: number | null;
  /** the signal that ended the process, as GNU time reports it into its -o file ('' if none) */
  signal: string;
  /** output lines with the time they arrived, ms after the start */
  lines: { ms: number; text: string }[];
}

/** Runs a command under /usr/bin/time (for its peak RSS and CPU time), timing it and each line it prints. */
function run(cmd: string, args: string[], tmp: string): Promise<Run> {
  const rssFile = join(tmp, 'rss');
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S %O', '-o', rssFile, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      const report = readFileSync(rssFile, 'latin1');
      const [rss, user, sys, out] = report.trim().split('\n').pop()!.split(' ').map(Number);
      const signal = /terminated by signal (\d+)/.exec(report)?.[1] ?? '';
      done({ ms, cpuMs: (user! + sys!) * 1000, rssMB: rss! / 1024, outBytes: out! * 512, code, signal, lines });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The fsck.c passes as the bench shows them: fsck -n -v prints no line for check_directory_structure (it is in "root"). */
const PASS_ROWS = [
  ['inodes', 'check_inodes', 'starting fsck'],
  ['extents', 'check_extents', 'checking extents'],
  ['dirents', 'check_dirents', 'checking dirents'],
  ['xattrs', 'check_xattrs', 'checking xattrs'],
  ['root, directory structure', 'check_root', 'checking root directory'],
  ['nlinks', 'check_nlinks', 'checking inode nlinks'],
] as const;

/** fsck -n -v phases from its line timestamps (ms); the open runs from the start to "journal read done". */
function fsckPhases(r: Run): Record<string, number> {
  const at = (prefix: string): number => {
    const l = r.lines.find((x) => x.text.startsWith(prefix));
    if (!l) throw new Error(`bcachefs fsck -n -v printed no "${prefix}" line; got:\n${r.lines.map((x) => x.text).join('\n')}`);
    return l.ms;
  };
  const out: Record<string, number> = {
    open: at('journal read done'),
    alloc: at('alloc read done') - at('starting alloc read'),
    markSweep: at('mark and sweep done') - at('starting mark and sweep'),
    fsckPasses: at('fsck done') - at('starting fsck'),
    total: r.ms,
  };
  PASS_ROWS.forEach(([name, , line], i) => (out[name] = at(PASS_ROWS[i + 1]?.[2] ?? 'fsck done') - at(line)));
  return out;
}

/**
 * Child mode `phases`: one check in this process, timed (wall and this process's CPU time) from its progress
 * callback, each fsck pass from the progress the passes' onPass hook gives; prints JSON.
 */
async function phases(path: string): Promise<void> {
  // performance.now() counts from the process start: this is node's start and the loading of our modules
  const started = performance.now();
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const o = openFilesystem(path);
  const opened = performance.now();
  const start = new Map<string, [number, number]>();
  const mark = (k: string): void => void (start.has(k) || start.set(k, [performance.now(), cpu()]));
  try {
    await checkFilesystem(o.fs, { devName: 'image.img', onProgress: (p) => mark(p.phase === 'fsck' ? p.pass! : p.phase) });
  } finally {
    o.close();
  }
  mark('done');
  const span = (from: string, to: string, c: 0 | 1): number => (start.get(to) ?? start.get('done')!)[c] - (start.get(from) ?? start.get('done')!)[c];
  const out: Record<string, number> = { start: started, open: opened - started };
  for (const c of [0, 1] as const) {
    const x = c ? 'Cpu' : '';
    out[`alloc${x}`] = span('roots', 'btrees', c);
    out[`markSweep${x}`] = span('btrees', 'leaves', c);
    out[`leaves${x}`] = span('leaves', 'check_inodes', c);
    out[`fsckPasses${x}`] = span('check_inodes', 'done', c);
    PASS_ROWS.forEach(([name, pass], i) => (out[`${name}${x}`] = span(pass, PASS_ROWS[i + 1]?.[1] ?? 'done', c)));
  }
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
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;

interface RepairRound {
  plan: Run;
  repair: Run;
  fsckY: Run;
  /** bytes our repair wrote to the device, from the journal (history --json) */
  deviceBytes: number;
  /** exit codes of the real fsck -n after our repair and after its own fsck -y */
  cleanAfterOurs: number | null;
  cleanAfterFsckY: number | null;
  load: number;
}

/** A fresh sparse copy of the damaged image (cp reads only its data extents). */
function copyOf(src: string, dst: string): string {
  rmSync(dst, { force: true });
  const r = spawnSync('cp', ['--sparse=always', src, dst]);
  if (r.status !== 0) throw new Error(`bench: cp --sparse=always ${src} ${dst} failed: ${r.stderr}`);
  return dst;
}

/** Injects FAULT into a copy of the clean image with inject.py, then times plan, repair -y and the real fsck -y. */
async function repairRounds(clean: string, tmp: string): Promise<RepairRound[]> {
  const damaged = copyOf(clean, join(tmp, 'damaged.img'));
  const inj = spawnSync('python3', [inject, 'inject', damaged, FAULT, '--seed', FAULT_SEED], { encoding: 'latin1' });
  if (inj.status !== 0) throw new Error(`bench: inject.py inject ${FAULT} failed (exit ${inj.status}): ${inj.stderr}${inj.error ?? ''}`);
  const report = JSON.parse(inj.stdout) as Record<string, unknown>;
  console.log(`fault: inject.py inject IMG ${FAULT} --seed ${FAULT_SEED}: ${JSON.stringify({ ...report, image: undefined })}`);
  const before = await run(bcachefs, ['fsck', '-n', damaged], tmp);
  console.log(`  the real fsck -n on the damaged image: exit ${before.code} (${before.code ? 'the fault is seen' : 'CLEAN: the fault is not seen'})`);
  const rounds: RepairRound[] = [];
  for (let round = 0; round < REPAIR_ROUNDS; round++) {
    const load = loadavg()[0]!;
    const ours = copyOf(damaged, join(tmp, 'ours.img'));
    const theirs = copyOf(damaged, join(tmp, 'theirs.img'));
    const journal = join(tmp, `round-${round}.journal`);
    let repair!: Run;
    let fsckY!: Run;
    const plan = await run(process.execPath, [cli, 'plan', ours], tmp);
    const pair = [
      async () => (repair = await run(process.execPath, [cli, 'repair', ours, '--journal', journal, '-y'], tmp)),
      async () => (fsckY = await run(bcachefs, ['fsck', '-y', theirs], tmp)),
    ];
    if (round % 2) pair.reverse();
    for (const p of pair) await p();
    const h = spawnSync(process.execPath, [cli, 'history', '--journal', journal, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (h.status !== 0) throw new Error(`bench: history --journal ${journal} --json failed (exit ${h.status}): ${h.stderr}`);
    const sessions = (JSON.parse(h.stdout) as { sessions: { fixes: { writes: { length: number }[] }[] }[] }).sessions;
    const deviceBytes = sessions.flatMap((s) => s.fixes.flatMap((f) => f.writes)).reduce((a, w) => a + w.length, 0);
    const r: RepairRound = {
      plan, repair, fsckY, deviceBytes, load,
      cleanAfterOurs: (await run(bcachefs, ['fsck', '-n', ours], tmp)).code,
      cleanAfterFsckY: (await run(bcachefs, ['fsck', '-n', theirs], tmp)).code,
    };
    rounds.push(r);
    console.log(
      `repair round ${round + 1}: plan ${f2(plan.ms)} s (exit ${plan.code}) | repair -y ${f2(repair.ms)} s (cpu ${f2(repair.cpuMs).trim()} s, ` +
        `exit ${repair.code}, fsck -n after: exit ${r.cleanAfterOurs}) | bcachefs fsck -y ${f2(fsckY.ms)} s (cpu ${f2(fsckY.cpuMs).trim()} s, ` +
        `exit ${fsckY.code}${fsckY.signal ? `, killed by signal ${fsckY.signal}` : ''}, fsck -n after: exit ${r.cleanAfterFsckY}) | ratio ${(repair.ms / fsckY.ms).toFixed(2)} | load ${load.toFixed(1)}`,
    );
  }
  return rounds;
}

/** The repair figures: medians of the rounds, against the real fsck -y and against our check of the clean image. */
function printRepair(rs: RepairRound[], imageBytes: number, checkMs: number, checkCpuMs: number): void {
  const loads = rs.map((r) => r.load);
  console.log('');
  console.log(
    `repair of one injected fault (${FAULT}), whole process on a fresh copy each, median of ${rs.length} ` +
      `(1-min load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} on ${availableParallelism()} CPUs):`,
  );
  const line = (name: string, runs: Run[]): void =>
    console.log(
      `  ${name.padEnd(28)} ${f2(median(runs.map((r) => r.ms)))} s, cpu ${f2(median(runs.map((r) => r.cpuMs)))} s, ` +
        `peak RSS ${median(runs.map((r) => r.rssMB)).toFixed(0)} MB, wrote ${mb(median(runs.map((r) => r.outBytes)))} to files, exit ${[...new Set(runs.map((r) => r.code))].join('/')}`,
    );
  const [plan, repair, fsckY] = [rs.map((r) => r.plan), rs.map((r) => r.repair), rs.map((r) => r.fsckY)];
  line('bcachefs fsck -y', fsckY);
  line('bcachefs-repair plan', plan);
  line('bcachefs-repair repair -y', repair);
  const mr = median(repair.map((r) => r.ms));
  const mp = median(plan.map((r) => r.ms));
  const mf = median(fsckY.map((r) => r.ms));
  const cr = median(repair.map((r) => r.cpuMs));
  const cf = median(fsckY.map((r) => r.cpuMs));
  console.log(
    `  ratio repair -y / fsck -y: ${(mr / mf).toFixed(2)} wall (target <= 0.50; median of the per-round ratios ` +
      `${median(rs.map((r) => r.repair.ms / r.fsckY.ms)).toFixed(2)}), ${(cr / cf).toFixed(2)} cpu; plan / fsck -y ${(mp / mf).toFixed(2)} wall`,
  );
  console.log(
    `  repair -y / check of the clean image: ${(mr / checkMs).toFixed(2)} wall, ${(cr / checkCpuMs).toFixed(2)} cpu ` +
      '(repair = a check, planning rounds that re-check only what their writes can change, the journal, the check after)',
  );
  const fromPlan = rs.filter((r) => r.repair.lines.some((l) => /bytes written were read back and are the planned ones/.test(l.text))).length;
  console.log(
    `  the check after the repair: ${fromPlan === rs.length ? "the plan's last check (the written bytes read back and compared)" : fromPlan ? `the plan's in ${fromPlan} of ${rs.length} rounds` : 'a check of the disk'}`,
  );
  console.log(
    `  our repair wrote ${[...new Set(rs.map((r) => r.deviceBytes))].map(mb).join('/')} to the device (journal: history --json), ` +
      `of a ${mb(imageBytes)} image; the rest of its file writes is the journal`,
  );
  const codes = (xs: (number | null)[]): string => [...new Set(xs)].join('/');
  const crashed = [...new Set(fsckY.filter((r) => r.signal).map((r) => r.signal))];
  if (crashed.length) console.log(`  the real fsck -y was killed by signal ${crashed.join('/')} (it did not finish its repair): its times compare with nothing`);
  console.log(
    `  the real fsck -n after our repair: exit ${codes(rs.map((r) => r.cleanAfterOurs))}; after its own fsck -y: exit ${codes(rs.map((r) => r.cleanAfterFsckY))} (0 = clean)`,
  );
}

async function main(): Promise<void> {
  const [mode, path] = process.argv.slice(2);
  if (mode === 'phases' && path) return phases(path);
  if (mode === 'walk' && path) return walk(path);
  for (const [what, p] of [['perf image', image], ['bcachefs 2021 binary', bcachefs], ['bcachefs-repair CLI', cli], ['fault injector', inject], ['GNU time', '/usr/bin/time']] as const) {
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
  let repairs: RepairRound[] = [];
  const imageBytes = statSync(img).size;
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
    if (REPAIR_ROUNDS > 0) repairs = await repairRounds(img, tmp);
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
  const row = (name: string, a: number | undefined, b: number | undefined, cpu?: number, note = ''): string =>
    `  ${name.padEnd(34)} ${a === undefined ? '      -' : f2(a)} s  ${b === undefined ? '      -' : f2(b)} s  ${cpu === undefined ? '      -' : f2(cpu)} s  ` +
    `${a !== undefined && b !== undefined && a >= 1 ? (b / a).toFixed(2).padStart(5) : '     '}  ${note}`;
  console.log(`per phase, median of ${ROUNDS} (fsck -n -v line timestamps; check's progress callback and the passes' onPass hook, in a process of its own):`);
  console.log(`  ${'phase'.padEnd(34)} ${'fsck -n'.padStart(9)}  ${'check'.padStart(9)}  ${'check cpu'.padStart(9)}  ratio (wall)`);
  console.log(row('start, superblock, journal', m(fsckP, 'open'), m(oursP, 'start') + m(oursP, 'open'), undefined, 'process start to the journal read'));
  console.log(row('  of which node and our modules', undefined, m(oursP, 'start')));
  console.log(row('roots and alloc read', m(fsckP, 'alloc'), m(oursP, 'alloc'), m(oursP, 'allocCpu'), 'ours: the roots read too (fsck reads them while opening)'));
  console.log(row('mark and sweep (btree_gc.c)', m(fsckP, 'markSweep'), m(oursP, 'markSweep'), m(oursP, 'markSweepCpu'), 'both: every node, every key marked, gc_done; ours builds the inode table too'));
  console.log(row('leaves mark and sweep skips', undefined, m(oursP, 'leaves'), m(oursP, 'leavesCpu'), 'dirents/xattrs leaves for their node errors: after the passes, only those no pass read without errors (their time is in the nlinks row)'));
  console.log(row('fsck.c passes', m(fsckP, 'fsckPasses'), m(oursP, 'fsckPasses'), m(oursP, 'fsckPassesCpu')));
  for (const [name] of PASS_ROWS) console.log(row(`  ${name}`, m(fsckP, name), m(oursP, name), m(oursP, `${name}Cpu`)));
  console.log(row('whole process', mf, mo, co));
  if (repairs.length) printRepair(repairs, imageBytes, mo, co);
}

void main();
