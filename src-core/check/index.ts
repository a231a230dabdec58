// The read-only checker: bcachefs 2021's recovery-time mark and sweep (btree_gc.c bch2_gc with
// initial = true), reproduced step by step so that every fsck error it prints becomes a Finding with the
// same text, in the same order. Nothing is ever written. One file per section:
//   recovery.ts  read_btree_roots (in btree id order); usage.ts reads the recorded usage (journal_replay_early)
//   alloc.ts     bch2_alloc_read: the alloc btree into the alloc view of the buckets
//   mark.ts      bch2_mark_superblocks, then bch2_gc_mark_key for every key gc visits
//   gc.ts        bch2_gc_btrees: each btree in gc phase order, depth first (topology.ts checks interior nodes)
//   gc-done.ts   bch2_gc_done: buckets, device and filesystem usage against what was recorded
//   leaves.ts    the leaves gc skips, which bcachefs reads only in its fsck passes
// The findings go through the problem table (../problems.ts); the gc state is returned with them.
import type { Filesystem } from '../btree/fs.js';
import { BCH_DATA_journal, BCH_DATA_sb } from '../format/names.js';
import { readAllocInfo } from './alloc.js';
import { devUsageFromBuckets, newDevUsage, type DevBuckets, type DevUsage } from './buckets.js';
import { Gc } from './context.js';
import { gcBtrees } from './gc.js';
import { gcDone } from './gc-done.js';
import { readSkippedLeaves } from './leaves.js';
import { ExtentFeed, gcLeftUnfixed, InodeFeed, runFsckPasses } from '../fsck/index.js';
import { Marker, markSuperblocks } from './mark.js';
import { readBtreeRoots } from './recovery.js';
import type { CheckReuse } from './reuse.js';
import { CheckAborted } from './findings.js';
import type { CheckOptions, CheckResult, GcState } from './result.js';
import { recordedFsUsage, type FsUsage } from './usage.js';

export * from './findings.js';
export * from './result.js';
export type { WrittenRange } from './reuse.js';

export async function checkFilesystem(fs: Filesystem, opts: CheckOptions = {}): Promise<CheckResult> {
  const prev = opts.since?.check.reuse;
  if (prev?.coversOnlyAllocNodes(opts.since!.writes)) {
    const r = await runCheck(fs, opts, prev);
    if (r) return r;
  }
  return (await runCheck(fs, opts, undefined))!;
}

/**
 * One check; with `prev`, taking over what the alloc nodes rewritten since it cannot change (reuse.ts), or
 * undefined as soon as an input of those parts differs (the caller then checks in full).
 */
async function runCheck(fs: Filesystem, opts: CheckOptions, prev: CheckReuse | undefined): Promise<CheckResult | undefined> {
  const g = new Gc(fs, opts);
  const keep = g.keep;
  const t0 = performance.now();
  let aborted = false;
  let recordedFs: FsUsage | undefined;
  const devUsage = new Map<number, { gc: DevUsage; recorded: DevUsage }>();
  const fsckToo = opts.readAllLeaves !== false;
  try {
    g.out.stage = 'recovery';
    if (fs.sbRead.usedBackup) {
      g.out.report('superblock_primary_damaged', { problems: fs.sbRead.problems.join('; '), backupSector: fs.sb.sector }, { id: `sb:${fs.sb.devIdx}`, at: { dev: fs.sb.devIdx } });
    }
    g.progress('roots');
    readBtreeRoots(g);
    g.progress('alloc');
    await readAllocInfo(g);
    if (prev && !prev.sameAllocInputs(g)) return undefined;
    keep?.saveAllocInputs(g);
    for (const d of g.devs) d?.startGc();
    g.out.stage = 'gc';
    markSuperblocks(g);
    // check_inodes' table, built from the inodes leaves gc reads anyway
    if (fsckToo && !prev) {
      g.inodeFeed = new InodeFeed(fs, g.recorded.nrInodes);
      // check_extents' summary, from the extents leaves gc reads anyway
      g.extentFeed = new ExtentFeed(fs, g.recorded.nrInodes);
    }
    keep?.startWalks(g);
    g.progress('btrees');
    await gcBtrees(g, new Marker(g), {
      ...(prev ? { takeOver: () => prev.adoptWalks(g) } : {}),
      ...(keep ? { beforeAlloc: () => keep.saveBeforeAllocWalk(g) } : {}),
    });
    g.progress('gc_done');
    recordedFs = finishUsage(g, devUsage);
    gcDone(
      {
        devs: g.devs.filter((d): d is DevBuckets => d !== undefined), devUsage, gcFs: g.gcFs, recordedFs, table: g.table,
        ...(g.allocInfoValid ? {} : { silent: 'the superblock does not claim valid alloc info, so bcachefs replaces it without a message' }),
      },
      g.out,
    );
    if (fsckToo) {
      const gcUnfixed = gcLeftUnfixed(g.out.items);
      g.out.stage = 'fsck';
      keep?.startFsck(g);
      if (prev) {
        if (!prev.adoptFsck(g, gcUnfixed)) return undefined;
      } else {
        g.progress('leaves');
        const leavesAt = { items: g.out.items.length, limitations: g.limitations.length };
        // bcachefs's fsck.c passes, after mark and sweep (src-core/fsck)
        const ctx = await runFsckPasses(fs, g.out, {
          token: g.token, keyText: (t, row) => g.keyText(t, row), limitations: g.limitations, inodesExpected: g.gcFs.nrInodes, ...(g.inodeFeed ? { inodeFeed: g.inodeFeed } : {}),
          ...(g.extentFeed ? { extentFeed: g.extentFeed } : {}),
          onPass: (pass) => g.progress('fsck', pass),
        });
        // the leaves gc skips: what they show comes before the passes' findings, as if read first
        const passesEnd = { items: g.out.items.length, limitations: g.limitations.length };
        await readSkippedLeaves(g, (id, sector) => ctx.readClean(id, sector));
        g.out.items.splice(leavesAt.items, 0, ...g.out.items.splice(passesEnd.items));
        g.limitations.splice(leavesAt.limitations, 0, ...g.limitations.splice(passesEnd.limitations));
      }
      keep?.saveFsck(g, gcUnfixed);
    }
    if (prev && keep) prev.carryNodes(keep);
    g.progress('done');
  } catch (e) {
    if (e instanceof CheckAborted) aborted = true;
    else throw e;
  }
  const gc: GcState = {
    devs: g.devs,
    devUsage,
    fsUsage: { gc: g.gcFs, recorded: recordedFs ?? recordedFsUsage(g.recorded, g.table, new Map()) },
    replicas: g.table,
    recorded: g.recorded,
    allocInfoValid: g.allocInfoValid,
  };
  return {
    findings: g.out.items,
    aborted,
    limitations: g.limitations,
    gc,
    stats: {
      nodesRead: g.nodesRead,
      bytesRead: g.bytesRead,
      keysVisited: g.keysVisited,
      ptrsMarked: g.ptrsMarked,
      buckets: g.devs.reduce((n, d) => n + (d ? d.nbuckets : 0), 0),
      ms: performance.now() - t0,
    },
    ...(keep && !aborted ? { reuse: keep } : {}),
    ...(opts.since ? { reused: prev !== undefined } : {}),
  };
}

/**
 * The end of gc: device usage summed from the final bucket states, the hidden sectors (superblock and
 * journal buckets) they give, and the recorded usage as bch2_fs_usage_initialize derives it.
 */
function finishUsage(g: Gc, devUsage: Map<number, { gc: DevUsage; recorded: DevUsage }>): FsUsage {
  const bucketSizes = new Map<number, number>();
  for (const d of g.devs) {
    if (!d) continue;
    const u = devUsageFromBuckets(d);
    devUsage.set(d.dev, { gc: u, recorded: g.recorded.devs.get(d.dev) ?? newDevUsage() });
    g.gcFs.hidden += (u.d[BCH_DATA_sb]!.buckets + u.d[BCH_DATA_journal]!.buckets) * d.bucketSize;
    bucketSizes.set(d.dev, d.bucketSize);
  }
  return recordedFsUsage(g.recorded, g.table, bucketSizes);
}
