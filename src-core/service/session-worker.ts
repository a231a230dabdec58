// The service's session worker: owns the open filesystem and runs checks off the service's main thread,
// so that the main thread keeps answering (cancel, findings, hello) while a long check runs, even if the
// checker never yields. Talks only to service.ts, with the internal messages below.
import { parentPort, workerData } from 'node:worker_threads';
import { Session, errorInfo } from './session.js';
import type { FindingsResult } from './protocol.js';
import { loadChecker } from './checker.js';

export type ToWorker =
  | { op: 'call'; id: number; method: 'open' | 'superblock' | 'btrees' | 'close'; params?: { path?: string; write?: boolean } }
  | { op: 'check'; id: number; checkId: number }
  | { op: 'cancel'; checkId: number };

export type FromWorker =
  | { id: number; result: unknown }
  | { id: number; error: { message: string; code?: string } }
  | { event: 'check.progress'; data: unknown }
  | { event: 'check.done'; data: unknown; findings: Omit<FindingsResult, 'checkId' | 'status'> };

if (!parentPort) throw new Error('session-worker.ts must run as a worker thread');
const port = parentPort;
/** [0] = id of the check to cancel; set by the main thread without a message (the check may block this thread) */
const data = workerData as { cancelFlag: SharedArrayBuffer; checkerModule?: string };
const cancelFlag = new Int32Array(data.cancelFlag);
const session = new Session();
const send = (m: FromWorker): void => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  if (m.op === 'cancel') {
    session.cancel();
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
      const checker = await loadChecker(data.checkerModule);
      session
        .check(m.checkId, {
          onProgress: (p) => send({ event: 'check.progress', data: p }),
          isCancelled: () => Atomics.load(cancelFlag, 0) === m.checkId,
        }, checker)
        .then(
          (done) => {
            const { findings, limitations, classes } = session.findings();
            send({ event: 'check.done', data: done, findings: { findings, limitations, classes } });
          },
          (e) => send({ event: 'check.done', data: { checkId: m.checkId, status: 'failed', elapsedMs: 0, findings: 0, bySeverity: {}, error: errorInfo(e), notes: [], limitations: [] }, findings: { findings: [], limitations: [], classes: {} } }),
        );
    });
    return;
  }
  try {
    let result: unknown;
    switch (m.method) {
      case 'open':
        result = session.open(m.params?.path ?? '', m.params?.write === true);
        break;
      case 'superblock':
        result = session.superblock();
        break;
      case 'btrees':
        result = session.btrees();
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
