// The service: validates requests, answers what it can itself, and hands the rest to the session worker
// (session-worker.ts) that owns the open filesystem. One Service per process (child.ts), or in-process.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { completePath, listDevices, makeWorkingCopy, findSampleImage, projectRoot, proposeWorkingCopy, toolVersion } from '../ops/index.js';
import { loadChecker } from './checker.js';
import { errorInfo, ServiceError } from './session.js';
import type { FromWorker, ToWorker } from './session-worker.js';
import {
  PARAM_NAMES, PROTOCOL_VERSION, isMethod, type BtreesResult, type CheckDone, type ErrorInfo, type EventMessage,
  type FindingsResult, type HelloResult, type OpenResult, type Request, type RequestId, type Response,
} from './protocol.js';

export interface ServiceOptions {
  /** where events go */
  emit(ev: EventMessage): void;
  /** the session worker's script (default: session-worker.js beside this module, or in dist/ when run from source) */
  workerUrl?: URL;
  /** the bundled sample (default: $BCACHEFS_REPAIR_SAMPLE, else assets/sample.img.gz found upwards from here) */
  sampleImage?: string | null;
  /** how long a cancelled check may take to stop before its worker is terminated */
  cancelGraceMs?: number;
  /** file URL of a module to use instead of src-core/check (tests) */
  checkerModule?: string;
  /**
   * The elevated service: opens only this device (compared by real path), and neither lists devices nor
   * folders nor copies files, so that running it as root gives the window nothing but that one disk.
   */
  onlyDevice?: string;
}

/** What the elevated service refuses outright. */
const NOT_ELEVATED: readonly string[] = ['devices', 'complete', 'workingCopy.propose', 'workingCopy.make'];

const HERE = dirname(fileURLToPath(import.meta.url));


function defaultWorkerUrl(): URL {
  if (import.meta.url.endsWith('.ts')) {
    // running from source (vitest): workers need JavaScript, so use the build
    const root = projectRoot() ?? resolve(HERE, '..', '..');
    const built = join(root, 'dist', 'src-core', 'service', 'session-worker.js');
    return pathToFileURL(built);
  }
  return new URL('./session-worker.js', import.meta.url);
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: ServiceError): void;
}

export class Service {
  private worker: Worker | null = null;
  private cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  private nextInternalId = 1;
  private pending = new Map<number, Pending>();
  private openInfo: OpenResult | null = null;
  private btreesCache: BtreesResult | null = null;
  private nextCheckId = 1;
  private running: { checkId: number; started: number; cancelTimer: NodeJS.Timeout | null } | null = null;
  private last: FindingsResult | null = null;
  private lastDone: CheckDone | null = null;
  private readonly sample: string | null;
  private disposed = false;
  /** plans and applies accepted and not finished (running or queued), and whether they were asked to stop */
  private repairs = 0;
  private repairCancelled = false;
  /** requests that touch the session run one after another, in arrival order */
  private queue: Promise<unknown> = Promise.resolve();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: ServiceOptions) {
    this.sample = opts.sampleImage === undefined ? findSampleImage() : opts.sampleImage;
  }

  /** Answers one request; never throws (errors become {id, error}). */
  async handle(msg: unknown): Promise<Response> {
    const req = msg as Partial<Request> | null;
    const id: RequestId = req && (typeof req.id === 'number' || typeof req.id === 'string') ? req.id : -1;
    try {
      if (!req || typeof req !== 'object' || id === -1) throw new ServiceError('BAD_REQUEST', 'A request must be an object {id, method, params}. This is a bug in the front end.');
      if (!isMethod(req.method)) throw new ServiceError('BAD_REQUEST', `Unknown method ${JSON.stringify(req.method)}. This is a bug in the front end.`);
      if (req.params !== undefined && (typeof req.params !== 'object' || req.params === null || Array.isArray(req.params))) {
        throw new ServiceError('BAD_REQUEST', `The parameters of ${req.method} must be an object. This is a bug in the front end.`);
      }
      const method = req.method;
      const params = (req.params ?? {}) as Record<string, unknown>;
      const allowed = PARAM_NAMES[method] as readonly string[];
      for (const k of Object.keys(params)) {
        if (!allowed.includes(k)) {
          const takes = allowed.length ? `it takes only ${allowed.join(', ')}` : 'it takes none';
          throw new ServiceError('BAD_REQUEST', `${method} has no parameter "${k}" (${takes}${method === 'open' ? '; every disk is opened read-only' : ''}). This is a bug in the front end.`);
        }
      }
      if (this.opts.onlyDevice !== undefined) this.refuseIfElevated(method, params);
      let result: unknown;
      if (method === 'hello' || method === 'check.cancel' || method === 'repair.cancel' || method === 'findings' || method === 'devices' || method === 'complete' || method.startsWith('workingCopy.')) {
        result = await this.dispatch(method, params);
      } else if (method === 'plan' || method === 'apply') {
        // counted from now, so that a cancel reaches one still waiting in the queue
        this.repairs++;
        const run = this.queue.then(() => this.dispatch(method, params));
        this.queue = run.catch(() => undefined);
        try {
          result = await run;
        } finally {
          if (--this.repairs === 0) this.repairCancelled = false;
        }
      } else {
        const run = this.queue.then(() => this.dispatch(method, params));
        this.queue = run.catch(() => undefined);
        result = await run;
      }
      return { id, result } as Response;
    } catch (e) {
      return { id, error: errorInfo(e) };
    }
  }

  private async dispatch(method: Request['method'], params: Record<string, unknown>): Promise<unknown> {
    if (this.disposed) throw new ServiceError('CLOSED', 'The service is shutting down. Restart bcachefs-repair.');
    switch (method) {
      case 'hello': {
        const r: HelloResult = {
          protocol: PROTOCOL_VERSION,
          version: toolVersion(),
          sampleImage: this.sample,
          open: this.openInfo,
          lastCheck: this.openInfo ? this.lastDone : null,
          runningCheck: this.running?.checkId ?? null,
        };
        return r;
      }
      case 'open': {
        if (typeof params.path !== 'string') throw new ServiceError('BAD_REQUEST', 'No image or device path was given. Enter the path of an image file (.img or .img.gz) or a block device.');
        this.refuseWhileChecking('open another image');
        const r = (await this.toWorker({ op: 'call', id: 0, method: 'open', params: { path: params.path } })) as OpenResult;
        this.openInfo = r;
        this.btreesCache = null;
        this.last = null;
        this.lastDone = null;
        return r;
      }
      case 'superblock': {
        if (!this.openInfo) throw notOpen();
        if (this.running) return this.openInfo;
        const r = (await this.toWorker({ op: 'call', id: 0, method: 'superblock' })) as OpenResult;
        this.openInfo = r;
        return r;
      }
      case 'btrees': {
        if (!this.openInfo) throw notOpen();
        if (!this.btreesCache) this.btreesCache = (await this.toWorker({ op: 'call', id: 0, method: 'btrees' })) as BtreesResult;
        return this.btreesCache;
      }
      case 'check.start': {
        if (!this.openInfo) throw notOpen();
        this.refuseWhileChecking('start another one');
        if (!(await loadChecker(this.opts.checkerModule))) {
          throw new ServiceError('NO_CHECKER', 'The checker could not be loaded, so nothing can be checked. Reinstall bcachefs-repair (npm ci).');
        }
        const checkId = this.nextCheckId++;
        Atomics.store(this.cancelFlag, 0, 0);
        this.running = { checkId, started: Date.now(), cancelTimer: null };
        this.last = { checkId, status: 'running', findings: [], problems: [], limitations: [], classes: {} };
        this.lastDone = null;
        try {
          return await this.toWorker({ op: 'check', id: 0, checkId });
        } catch (e) {
          this.running = null;
          this.last = null;
          throw e;
        }
      }
      case 'check.cancel': {
        const run = this.running;
        if (!run) return { cancelling: false };
        Atomics.store(this.cancelFlag, 0, 1);
        run.cancelTimer ??= setTimeout(() => void this.forceStop(run.checkId), this.opts.cancelGraceMs ?? 3000);
        return { cancelling: true };
      }
      case 'repair.cancel': {
        if (!this.repairs) return { cancelling: false };
        this.repairCancelled = true;
        Atomics.store(this.cancelFlag, 0, 1);
        return { cancelling: true };
      }
      case 'write.confirm': {
        const path = stringParam(params, 'path', 'the disk to be written');
        const journal = stringParam(params, 'journal', 'the journal file');
        if (!this.openInfo) throw notOpen();
        if (resolve(path) !== resolve(this.openInfo.path)) {
          throw new ServiceError('NOT_OPEN', `Write mode can only be confirmed for the open disk, ${this.openInfo.path}, not ${path}. Open ${path} first.`);
        }
        return { path: this.openInfo.path, journal };
      }
      case 'findings': {
        if (!this.openInfo && !this.last) throw notOpen();
        return this.last ?? { checkId: null, status: null, findings: [], problems: [], limitations: [], classes: (await loadChecker(this.opts.checkerModule))?.classes ?? {} };
      }
      case 'devices':
        return listDevices();
      case 'complete':
        return completePath(stringParam(params, 'path', 'the text typed so far'));
      case 'workingCopy.propose': {
        const path = stringParam(params, 'path', 'the image to copy');
        const folder = params.folder === undefined ? undefined : stringParam(params, 'folder', 'the folder for the copy');
        return proposeWorkingCopy(path, this.sample !== null && resolve(path) === this.sample, folder);
      }
      case 'workingCopy.make':
        return makeWorkingCopy(stringParam(params, 'path', 'the image to copy'), stringParam(params, 'folder', 'the folder for the copy'));
      case 'picture.keyRange':
      case 'picture.hex':
      case 'picture.buckets': {
        if (!this.openInfo) throw notOpen();
        this.refuseWhileChecking('ask for a picture');
        const p: { finding?: string; dev?: number; cells?: number } = {};
        if (method !== 'picture.buckets') {
          if (typeof params.finding !== 'string') throw new ServiceError('BAD_REQUEST', `${method} needs the id of a finding ("finding"). This is a bug in the front end.`);
          p.finding = params.finding;
        } else {
          for (const k of ['dev', 'cells'] as const) {
            const v = params[k];
            if (v === undefined) continue;
            if (typeof v !== 'number' || !Number.isInteger(v) || v < (k === 'cells' ? 1 : 0) || v > 1 << 20) throw new ServiceError('BAD_REQUEST', `picture.buckets: "${k}" must be a whole number${k === 'cells' ? ' from 1' : ' from 0'}. This is a bug in the front end.`);
            p[k] = v;
          }
        }
        return this.toWorker({ op: 'call', id: 0, method, params: p });
      }
      case 'plan':
      case 'apply':
      case 'undo':
      case 'history':
      case 'report':
        return this.repairCall(method, params);
      case 'close': {
        this.refuseWhileChecking('close the image');
        const was = this.openInfo !== null;
        if (this.worker) await this.toWorker({ op: 'call', id: 0, method: 'close' });
        this.openInfo = null;
        this.btreesCache = null;
        this.last = null;
        this.lastDone = null;
        return { closed: was };
      }
    }
  }

  private refuseIfElevated(method: string, params: Record<string, unknown>): void {
    const only = this.opts.onlyDevice!;
    const real = (p: string): string => {
      try {
        return realpathSync(p);
      } catch {
        return resolve(p);
      }
    };
    if (NOT_ELEVATED.includes(method)) {
      throw new ServiceError('NOT_ALLOWED', `The service running with administrator rights only opens ${only}; ${method} is done by the normal one. This is a bug in the front end.`);
    }
    if (method === 'open' && (typeof params.path !== 'string' || real(params.path) !== real(only))) {
      throw new ServiceError('NOT_ALLOWED', `The service running with administrator rights was started for ${only} only, not ${String(params.path)}. Open the other disk from the device list: it asks for rights again.`);
    }
  }

  /** The repair flow (repair-calls.ts in the worker): parameters checked here, the check after kept as the last findings. */
  private async repairCall(method: 'plan' | 'apply' | 'undo' | 'history' | 'report', params: Record<string, unknown>): Promise<unknown> {
    const bad = (what: string): never => {
      throw new ServiceError('BAD_REQUEST', `${method}: ${what}. This is a bug in the front end.`);
    };
    if (method !== 'history' && method !== 'report') {
      if (!this.openInfo) throw notOpen();
      this.refuseWhileChecking(method === 'plan' ? 'plan the repair' : method);
    }
    if (method !== 'plan' && (typeof params.journal !== 'string' || !params.journal)) bad('"journal" (the journal file) is missing');
    if (method === 'apply' && (!Array.isArray(params.fixes) || !params.fixes.every((x) => typeof x === 'string'))) bad('"fixes" must be a list of fix ids');
    if (method === 'undo') {
      const given = ['fix', 'session', 'all'].filter((k) => params[k] !== undefined);
      if (given.length !== 1) bad('give exactly one of fix, session, all');
      if (params.all !== undefined && params.all !== true) bad('"all" can only be true');
      for (const k of ['fix', 'session']) if (params[k] !== undefined && !(Number.isInteger(params[k]) && (params[k] as number) > 0)) bad(`"${k}" must be a journal number (from history)`);
    }
    if (method === 'report') {
      if (!['html', 'json', 'pdf'].includes(params.format as string)) bad('"format" must be html, json or pdf');
      if (typeof params.output !== 'string' || !params.output) bad('"output" (the file to write) is missing');
    }
    // (a cancel that came while this waited in the queue stands)
    if (!this.repairCancelled) Atomics.store(this.cancelFlag, 0, 0);
    const r = await this.toWorker({ op: 'repair', id: 0, method, params });
    if (method === 'apply' || method === 'undo') {
      this.btreesCache = null;
      // the check after, as the worker grouped it (problems, files at risk)
      const after = (await this.toWorker({ op: 'call', id: 0, method: 'findings' })) as FindingsResult;
      this.last = { ...after, checkId: this.nextCheckId++, status: 'completed', limitations: [], classes: this.last?.classes ?? after.classes };
    }
    return r;
  }

  private refuseWhileChecking(what: string): void {
    if (this.running) throw new ServiceError('CHECK_RUNNING', `A check is running. Wait for it to finish or cancel it, then ${what}.`);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const url = this.opts.workerUrl ?? defaultWorkerUrl();
    if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
      throw new ServiceError('INTERNAL', `The service's worker script ${fileURLToPath(url)} is missing. Run "npm run build" (or "npm ci") in the project directory.`);
    }
    const w = new Worker(url, { workerData: { cancelFlag: this.cancelFlag.buffer, checkerModule: this.opts.checkerModule } });
    w.on('message', (m: FromWorker) => this.fromWorker(m));
    w.on('error', (e) => this.workerGone(w, `the service's worker failed: ${e.message}`));
    w.on('exit', (code) => this.workerGone(w, `the service's worker exited (code ${code})`));
    this.worker = w;
    return w;
  }

  private toWorker(m: ToWorker & { id: number }): Promise<unknown> {
    const w = this.ensureWorker();
    const id = this.nextInternalId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...m, id });
    });
  }

  private fromWorker(m: FromWorker): void {
    if ('id' in m) {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new ServiceError(m.error.code ?? 'INTERNAL', m.error.message));
      else p.resolve(m.result);
      return;
    }
    if (m.event === 'plan.progress' || m.event === 'apply.progress') {
      this.opts.emit({ event: m.event, data: m.data as never });
      return;
    }
    if (m.event === 'check.progress') {
      const d = m.data as { checkId: number };
      if (this.running?.checkId === d.checkId) this.opts.emit({ event: 'check.progress', data: m.data as never });
      return;
    }
    if (m.event === 'check.done') {
      const d = m.data as CheckDone;
      if (this.running?.checkId !== d.checkId) return; // already reported (forced stop)
      this.finishCheck(d, m.findings);
    }
  }

  private finishCheck(d: CheckDone, f: Omit<FindingsResult, 'checkId' | 'status'>): void {
    if (this.running?.cancelTimer) clearTimeout(this.running.cancelTimer);
    this.running = null;
    this.last = { ...f, checkId: d.checkId, status: d.status };
    this.lastDone = d;
    this.opts.emit({ event: 'check.done', data: d });
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when no check is running: its check.done has been emitted. */
  async idle(): Promise<void> {
    while (this.running) await new Promise<void>((res) => this.idleWaiters.push(res));
  }

  /** The checker ignored the cancel: stop its worker, open the same image again, then report. */
  private async forceStop(checkId: number): Promise<void> {
    if (this.running?.checkId !== checkId || !this.worker) return;
    const elapsedMs = Date.now() - this.running.started;
    const w = this.worker;
    const reopen = this.openInfo?.path;
    this.worker = null;
    this.failPending('The check was stopped forcibly. Try again.');
    await w.terminate();
    const grace = this.opts.cancelGraceMs ?? 3000;
    const notes = [`The checker did not stop within ${grace / 1000} s of the cancel, so it was stopped forcibly; what it had found is lost.`];
    let lost: string | null = null;
    if (reopen) {
      try {
        this.openInfo = (await this.toWorker({ op: 'call', id: 0, method: 'open', params: { path: reopen } })) as OpenResult;
      } catch (e) {
        this.openInfo = null;
        this.btreesCache = null;
        lost = `After stopping the check, ${reopen} could not be opened again: ${errorInfo(e).message}`;
      }
    }
    this.finishCheck({ checkId, status: 'cancelled', elapsedMs, findings: 0, bySeverity: {}, notes, limitations: [] }, { findings: [], problems: [], limitations: [], classes: {} });
    if (lost) this.opts.emit({ event: 'session.closed', data: { message: lost } });
  }

  private failPending(message: string, code = 'INTERNAL'): void {
    for (const p of this.pending.values()) p.reject(new ServiceError(code, message));
    this.pending.clear();
  }

  private workerGone(w: Worker, why: string): void {
    if (this.worker !== w) return; // terminated on purpose
    this.worker = null;
    const message = `The image was closed because ${why}. Open it again; if this repeats, report it as a bug.`;
    this.failPending(message);
    if (this.running) {
      const error: ErrorInfo = { code: 'INTERNAL', message };
      this.finishCheck({ checkId: this.running.checkId, status: 'failed', elapsedMs: Date.now() - this.running.started, findings: 0, bySeverity: {}, error, notes: [], limitations: [] }, { findings: [], problems: [], limitations: [], classes: {} });
    }
    if (this.openInfo && !this.disposed) this.opts.emit({ event: 'session.closed', data: { message } });
    this.openInfo = null;
    this.btreesCache = null;
  }

  /** Closes the image and stops the worker. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const w = this.worker;
    this.worker = null;
    if (this.running?.cancelTimer) clearTimeout(this.running.cancelTimer);
    this.running = null;
    for (const w of this.idleWaiters.splice(0)) w();
    this.failPending('The service is shutting down.', 'CLOSED');
    if (w) {
      // let the session close (removes a gz temp file) before the worker goes
      await new Promise<void>((res) => {
        const t = setTimeout(res, 1000);
        w.once('message', () => {
          clearTimeout(t);
          res();
        });
        w.postMessage({ op: 'call', id: -1, method: 'close' } satisfies ToWorker);
      });
      await w.terminate();
    }
  }
}

function stringParam(params: Record<string, unknown>, name: string, what: string): string {
  const v = params[name];
  if (typeof v !== 'string') throw new ServiceError('BAD_REQUEST', `The parameter "${name}" (${what}) must be a string. This is a bug in the front end.`);
  return v;
}

function notOpen(): ServiceError {
  return new ServiceError('NOT_OPEN', 'No image is open. Open an image or device first.');
}
