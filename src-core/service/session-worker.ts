// The service's session worker: owns the open disk and runs checks off the service's main thread, so that
// the main thread keeps answering (cancel, findings, hello) while a long check runs, even if the checker
// never yields. Talks only to service.ts, with the internal messages below.
import { parentPort, workerData } from 'node:worker_threads';
import { sharedCancellation } from '../ops/index.js';
import { Session, errorInfo } from './session.js';
import type { CheckDone, FindingsResult } from './protocol.js';
import { loadChecker } from './checker.js';
import { history, report } from './repair-calls.js';

export type ToWorker =
  | { op: 'repair'; id: number; method: 'plan' | 'apply' | 'undo' | 'history' | 'report'; params: Record<string, unknown> }
  | { op: 'call'; id: number; method: 'open' | 'superblock' | 'btrees' | 'findings' | 'close' | 'picture.keyRange' | 'picture.buckets' | 'picture.hex'; params?: { path?: string; finding?: string; dev?: number; cells?: number } }
  | { op: 'check'; id: number; checkId: number };

export type FromWorker =
  | { id: number; result: unknown }
  | { id: number; error: { message: string; code?: string } }
  | { event: 'check.progress' | 'plan.progress' | 'apply.progress'; data: unknown }
  | { event: 'check.done'; data: CheckDone; findings: Omit<FindingsResult, 'checkId' | 'status'> };

if (!parentPort) throw new Error('session-worker.ts must run as a worker thread');
const port = parentPort;
/** word 0 is set (non-zero) by the main thread to cancel the running check, without a message: the check may block this thread */
const data = workerData as { cancelFlag: SharedArrayBuffer; checkerModule?: string };
const token = sharedCancellation(new Int32Array(data.cancelFlag));
const session = new Session();
const send = (m: FromWorker): void => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  if (m.op === 'repair') {
    void repairCall(m).then((result) => send({ id: m.id, result }), (e: unknown) => send({ id: m.id, error: errorInfo(e) }));
    return;
  }
  if (m.op === 'check') {
    if (!session.isOpen) {
      send({ id: m.id, error: { code: 'NOT_OPEN', message: 'No image is open. Open an image or device first.' } });
      return;
    }
    send({ id: m.id, result: { checkId: m.checkId } });
    // start after the reply is on its way: a synchronous checker holds this thread until it is done
    setImmediate(async () => {
      const failed = (e: unknown): void =>
        send({ event: 'check.done', data: { checkId: m.checkId, status: 'failed', elapsedMs: 0, findings: 0, bySeverity: {}, error: errorInfo(e), notes: [], limitations: [] }, findings: { findings: [], problems: [], limitations: [], classes: {} } });
      const checker = await loadChecker(data.checkerModule);
      if (!checker) return failed(new Error('the checker module could not be loaded'));
      session.check(m.checkId, { onProgress: (p) => send({ event: 'check.progress', data: p }), token }, checker).then((done) => {
        const { findings, problems, limitations, classes } = session.findings();
        send({ event: 'check.done', data: done, findings: { findings, problems, limitations, classes } });
      }, failed);
    });
    return;
  }
  try {
    let result: unknown;
    switch (m.method) {
      case 'open':
        result = session.open(m.params?.path ?? '');
        break;
      case 'superblock':
        result = session.superblock();
        break;
      case 'btrees':
        result = session.btrees();
        break;
      case 'findings':
        result = session.findings();
        break;
      case 'picture.keyRange':
        result = session.keyRange(m.params?.finding ?? '');
        break;
      case 'picture.buckets':
        result = session.buckets(m.params?.dev ?? 0, m.params?.cells ?? 2048);
        break;
      case 'picture.hex':
        result = session.hex(m.params?.finding ?? '');
        break;
      case 'close':
        result = { closed: session.isOpen };
        session.close();
        break;
    }
    send({ id: m.id, result });
  } catch (e) {
    send({ id: m.id, error: errorInfo(e) });
  }
});

/** The repair flow's calls (repair-calls.ts): plan, apply and undo hold the worker; the cancel flag stops them between steps. */
async function repairCall(m: Extract<ToWorker, { op: 'repair' }>): Promise<unknown> {
  const p = m.params as never as { journal: string; fixes: string[]; who?: string; fix?: number; session?: number; all?: boolean; format: 'html' | 'json' | 'pdf'; output: string };
  switch (m.method) {
    case 'plan':
      return session.plan(token, (d) => send({ event: 'plan.progress', data: d }));
    case 'apply':
    case 'undo': {
      const checker = await loadChecker(data.checkerModule);
      if (!checker) throw new Error('the checker module could not be loaded');
      return m.method === 'apply'
        ? session.apply(p, token, (d) => send({ event: 'apply.progress', data: d }), checker)
        : session.undo(p, checker);
    }
    case 'history':
      return history(p.journal);
    case 'report':
      return report(p);
  }
}
