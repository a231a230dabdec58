/**
 * .img.gz support: stream-gunzip into a sparse temporary file, synchronously.
 *
 * openDevice() is synchronous, but Node has no public synchronous streaming gunzip
 * (zlib.gunzipSync needs the whole output in memory; images are GiBs). So a worker
 * thread runs an ordinary stream pipeline while this thread blocks in Atomics.wait;
 * the result comes back through receiveMessageOnPort. The worker bumps a progress
 * counter for every 64 KiB it produces; if that stalls for STALL_MS we give up
 * (no hang on a stuck input).
 *
 * All-zero 64 KiB chunks are not written (the file is extended by ftruncate at the
 * end), so a 4 GiB image that is mostly zeros costs only its real data on disk.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { DeviceError, errorCode } from './errors.js';

const GZ_CHUNK = 64 * 1024;
const STALL_MS = 60_000;
const START_MS = 15_000;

export interface GunzipResult {
  tempDir: string;
  tempPath: string;
  size: number;
  /** 64 KiB chunks left as holes */
  zeroChunks: number;
  dataChunks: number;
  ms: number;
}

// Runs inside the worker (eval). Self-contained, and valid both as a CommonJS script and
// as an ES module (an --input-type=module parent makes eval workers ES modules), so it
// gets builtins from process.getBuiltinModule (Node >= 20.16) rather than require.
const WORKER_SOURCE = `
const load = (m) => (typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule(m) : require(m));
const { workerData } = load('node:worker_threads');
const { src, dst, port, shared, chunk: CH } = workerData;
const state = new Int32Array(shared);
Atomics.add(state, 1, 1); // started
(async () => {
  let out;
  let result;
  let fs;
  try {
    fs = load('node:fs');
    const zlib = load('node:zlib');
    out = fs.openSync(dst, 'wx', 0o600);
    const stage = Buffer.alloc(CH);
    const zero = Buffer.alloc(CH);
    let fill = 0, pos = 0, zeroChunks = 0, dataChunks = 0;
    // Write one chunk (all of buf[start, start+len)) unless it is all zeros.
    const emit = (buf, start, len) => {
      const isZero = len === CH ? buf.subarray(start, start + len).equals(zero) : buf.subarray(start, start + len).equals(zero.subarray(0, len));
      if (isZero) zeroChunks++;
      else {
        let o = 0;
        while (o < len) o += fs.writeSync(out, buf, start + o, len - o, pos + o);
        dataChunks++;
      }
      pos += len;
      Atomics.add(state, 1, 1);
    };
    const flush = () => {
      emit(stage, 0, fill);
      fill = 0;
    };
    const input = fs.createReadStream(src, { highWaterMark: 1 << 20 });
    const gunzip = zlib.createGunzip({ chunkSize: 16 * CH });
    input.on('error', (e) => gunzip.destroy(e));
    input.pipe(gunzip);
    for await (const c of gunzip) {
      let off = 0;
      // whole chunks straight from zlib's output, without copying
      while (fill === 0 && c.length - off >= CH) {
        emit(c, off, CH);
        off += CH;
      }
      while (off < c.length) {
        const n = Math.min(CH - fill, c.length - off);
        c.copy(stage, fill, off, off + n);
        fill += n;
        off += n;
        if (fill === CH) flush();
      }
    }
    if (fill > 0) flush();
    fs.ftruncateSync(out, pos);
    fs.closeSync(out);
    out = undefined;
    result = { ok: true, size: pos, zeroChunks, dataChunks };
  } catch (e) {
    if (out !== undefined && fs) { try { fs.closeSync(out); } catch {} }
    result = { ok: false, code: (e && e.code) || '', errno: (e && e.errno) || 0, message: String((e && e.message) || e) };
  }
  try { port.postMessage(result); } catch {}
  port.close();
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
})();
`;

const liveTempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const d of liveTempDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
    liveTempDirs.clear();
  });
}

export function removeTemp(tempDir: string): void {
  try {
    rmSync(tempDir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
  liveTempDirs.delete(tempDir);
}

/** Temp dirs currently held (for tests). */
export function liveGzTempDirs(): string[] {
  return [...liveTempDirs];
}

const TEMP_PREFIX = 'bcachefs-repair-gz-';

/**
 * Remove temp dirs left by processes that died without running their exit hook
 * (killed by a signal, crashed). The dir name carries the owner's pid. Deleting one
 * that is still open elsewhere (pid namespaces sharing /tmp) only unlinks it: the
 * open fd keeps working until closed.
 */
export function sweepStaleTemps(dir = tmpdir()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^bcachefs-repair-gz-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // alive
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue; // EPERM: alive, someone else's
    }
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed++;
    } catch {
      /* not ours to remove */
    }
  }
  return removed;
}

export function gunzipToTemp(gzPath: string): GunzipResult {
  const t0 = Date.now();
  installExitHook();
  sweepStaleTemps();
  const tempDir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`));
  liveTempDirs.add(tempDir);
  const name = basename(gzPath).replace(/\.gz$/i, '') || 'image.img';
  const tempPath = join(tempDir, name);

  const shared = new SharedArrayBuffer(8);
  const st = new Int32Array(shared);
  const { port1, port2 } = new MessageChannel();
  let worker: Worker | undefined;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { src: gzPath, dst: tempPath, port: port2, shared, chunk: GZ_CHUNK },
      transferList: [port2],
      execArgv: [],
    });
    let lastProgress = 0;
    let lastChange = Date.now();
    while (Atomics.load(st, 0) === 0) {
      Atomics.wait(st, 0, 0, 250);
      const p = Atomics.load(st, 1);
      if (p !== lastProgress) {
        lastProgress = p;
        lastChange = Date.now();
      } else if (p === 0 && Date.now() - lastChange > START_MS) {
        throw new DeviceError('EGZIP', `the decompression worker thread for ${gzPath} did not start within ${START_MS / 1000} s. Gunzip it yourself and open the .img.`, { path: gzPath });
      } else if (Date.now() - lastChange > STALL_MS) {
        throw new DeviceError(
          'ETIMEDOUT',
          `decompressing ${gzPath} made no progress for ${STALL_MS / 1000} s; the source may be on a stalled disk or network share. Copy it locally (or gunzip it yourself) and open the copy.`,
          { path: gzPath },
        );
      }
    }
    const msg = receiveMessageOnPort(port1)?.message as
      | { ok: true; size: number; zeroChunks: number; dataChunks: number }
      | { ok: false; code: string; errno: number; message: string }
      | undefined;
    if (!msg) {
      throw new DeviceError('EGZIP', `decompressing ${gzPath} failed without a result from the worker thread. Gunzip it yourself and open the .img.`, { path: gzPath });
    }
    if (!msg.ok) {
      const code = msg.code && /^E[A-Z0-9]+$/.test(msg.code) ? msg.code : errorCode({ errno: msg.errno });
      if (code === 'ENOSPC') {
        throw new DeviceError('ENOSPC', `no space left in ${tmpdir()} while decompressing ${gzPath}. Free space there or set TMPDIR to a larger filesystem.`, { path: gzPath });
      }
      if ((msg.code && msg.code.startsWith('Z_')) || /zlib|gzip|header|end of file|invalid/i.test(msg.message)) {
        throw new DeviceError('EGZIP', `cannot decompress ${gzPath}: ${msg.message} (${msg.code || 'gzip error'}); the file is corrupt or truncated. Download or copy it again.`, { path: gzPath });
      }
      throw new DeviceError(code === 'EUNKNOWN' ? 'EGZIP' : code, `decompressing ${gzPath} to ${tempPath} failed: ${msg.message} (${msg.code || code}). Check the file and free space in ${tmpdir()}.`, { path: gzPath });
    }
    return { tempDir, tempPath, size: msg.size, zeroChunks: msg.zeroChunks, dataChunks: msg.dataChunks, ms: Date.now() - t0 };
  } catch (err) {
    removeTemp(tempDir);
    if (err instanceof DeviceError) throw err;
    throw new DeviceError('EGZIP', `decompressing ${gzPath} failed: ${err instanceof Error ? err.message : String(err)}. Gunzip it yourself and open the .img.`, { path: gzPath, cause: err });
  } finally {
    port1.close();
    if (worker) {
      worker.unref();
      void worker.terminate().catch(() => undefined);
    }
  }
}

/** Size on disk of a file in bytes (allocated blocks), for notes/tests. */
export function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512;
}
