// Crash testing hook: with BCACHEFS_REPAIR_CRASH_AT=N the process kills itself with SIGKILL right after its
// N-th journal or device step (a committed journal transaction, a new journal linked into place, a device
// write, a device sync), so a test can stop it between any two steps, deterministically. Tests only; unset
// in normal use.

const crashAt = parseCrashAt(process.env.BCACHEFS_REPAIR_CRASH_AT);
let steps = 0;

function parseCrashAt(v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  if (!/^[1-9]\d*$/.test(v)) {
    throw new Error(`BCACHEFS_REPAIR_CRASH_AT=${JSON.stringify(v)} is not a positive step number. Unset it (it is a test hook).`);
  }
  return Number(v);
}

/** Called after each journal or device step. */
export function stepDone(): void {
  steps++;
  if (steps === crashAt) process.kill(process.pid, 'SIGKILL');
}

/** Steps taken so far in this process (tests use it to know how many kill points a run has). */
export function stepsTaken(): number {
  return steps;
}
