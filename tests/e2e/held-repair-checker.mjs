// Test double for the e2e tests of Cancel (loaded through BCACHEFS_REPAIR_TEST_CHECKER): the real checker,
// and a disk the test can hold in the middle of a plan or an apply until the technician's Cancel has reached
// the service, so that the Cancel lands while the work runs, every time, with no timing. The test creates
// $E2E_HOLD_DIR/plan (or /apply); the next plan stops at its first read of the disk (a picture's read does
// not count), the next apply at the sync that ends its first fix's writes; there it removes the file (so the
// test sees the hold was reached) and waits until the service's cancel flag is set. Nothing else differs.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkFilesystem as realCheck, FINDING_CLASSES } from '../../dist/src-core/check/index.js';
import { DeviceHandle } from '../../dist/src-core/device/handle.js';

export { FINDING_CLASSES };

const HOLD_DIR = process.env.E2E_HOLD_DIR;
const cell = new Int32Array(new SharedArrayBuffer(4));
/** the session worker's cancellation token: one for the worker's life, handed to every check */
let token = null;

/** Removes `marker` and blocks this thread (as a slow disk would) until a cancel is requested, if `marker` exists. */
function holdAt(marker) {
  const file = join(HOLD_DIR, marker);
  if (!token || !existsSync(file)) return;
  rmSync(file);
  while (!token.isCancellationRequested) Atomics.wait(cell, 0, 0, 10);
}

/** a read of the planner (src-core/repair/pipeline.ts planRepair), not of a picture the page asked for */
function inPlan() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  try {
    return /\bplanRepair\b/.test(new Error().stack ?? '');
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const read = DeviceHandle.prototype.read;
DeviceHandle.prototype.read = function heldRead(...args) {
  if (existsSync(join(HOLD_DIR, 'plan')) && inPlan()) holdAt('plan');
  return read.apply(this, args);
};

export function checkFilesystem(fs, opts) {
  token = opts.token ?? token;
  return realCheck(fs, opts);
}

// the writer (src-core/device/write.ts) is a DeviceHandle whose sync, which ends each fix's writes, takes
// the descriptor through openFd('sync')
const openFd = DeviceHandle.prototype.openFd;
DeviceHandle.prototype.openFd = function heldOpenFd(op) {
  if (op === 'sync') holdAt('apply');
  return openFd.call(this, op);
};
