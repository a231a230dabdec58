// Test double for the e2e tests (loaded through BCACHEFS_REPAIR_TEST_CHECKER): the real checker, run on a
// disk whose every read takes SLOW_DISK_MS longer, so that a check lasts long enough to watch its progress
// and to cancel it. Nothing else differs from the real app.
import { checkFilesystem as realCheck, FINDING_CLASSES } from '../../dist/src-core/check/index.js';

export { FINDING_CLASSES };

const DELAY_MS = Number(process.env.SLOW_DISK_MS ?? 150);
const cell = new Int32Array(new SharedArrayBuffer(4));

export async function checkFilesystem(fs, opts) {
  const dev = fs.dev;
  const read = dev.read;
  dev.read = function slowRead(offset, length) {
    Atomics.wait(cell, 0, 0, DELAY_MS); // a synchronous sleep, like a slow disk
    return read.call(this, offset, length);
  };
  try {
    return await realCheck(fs, opts);
  } finally {
    dev.read = read;
  }
}
