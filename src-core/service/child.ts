// The service as a process of its own: the entry that Electron's utilityProcess runs, and that browser
// mode's server (src-web/server.ts) forks. Three transports, chosen by how the process was started:
//
//  * Electron utilityProcess: process.parentPort; messages are the objects themselves.
//  * Node child_process.fork (an IPC channel): process.send / process.on('message').
//  * otherwise stdio: one JSON message per line on stdin, replies and events as JSON lines on stdout
//    (console output goes to stderr so it cannot corrupt the stream).
//
// Messages are those of protocol.ts. The process ends when its parent goes away (the IPC channel
// disconnects, or the parent port closes), closing the open image first. On stdio, the end of stdin only
// ends the requests: what is still owed (answers, a running check's check.done) is sent before it exits, so
// `printf '...' | node child.js` gets every answer.
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Service } from './service.js';
import type { Message } from './protocol.js';

interface ParentPort {
  on(ev: 'message', cb: (e: { data: unknown }) => void): void;
  on(ev: 'close', cb: () => void): void;
  postMessage(m: unknown): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

let send: (m: Message) => void;
let stopping = false;

// Test hook: a module with checkFilesystem's contract used instead of src-core/check (the e2e tests wrap
// the real checker around a slowed-down disk to watch progress and cancel).
const testChecker = process.env.BCACHEFS_REPAIR_TEST_CHECKER;
// `--only-device PATH`: the elevated service (started through pkexec, README "Opening disks") opens that one
// device and nothing else (an argument, not the environment: pkexec clears the environment)
const onlyAt = process.argv.indexOf('--only-device');
const onlyDevice = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (onlyAt >= 0 && !onlyDevice) {
  process.stderr.write('bcachefs-repair service: --only-device needs the path of the device.\n');
  process.exit(16);
}
const service = new Service({
  emit: (ev) => send(ev),
  ...(testChecker ? { checkerModule: pathToFileURL(resolve(testChecker)).href } : {}),
  ...(onlyDevice ? { onlyDevice } : {}),
});

async function stop(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  await service.dispose().catch(() => undefined);
  process.exit(code);
}

/** requests not answered yet */
const owed = new Set<Promise<void>>();

function onRequest(msg: unknown): void {
  const p = service.handle(msg).then((r) => send(r));
  owed.add(p);
  void p.finally(() => owed.delete(p));
}

/** After the last request: every answer, then the end of a running check. */
async function finishOwed(): Promise<void> {
  while (owed.size) await Promise.all(owed);
  await service.idle();
}

if (parentPort) {
  send = (m) => parentPort.postMessage(m);
  parentPort.on('message', (e) => onRequest(e.data));
  parentPort.on('close', () => void stop());
} else if (typeof process.send === 'function') {
  send = (m) => {
    if (process.connected) process.send!(m);
  };
  process.on('message', onRequest);
  process.on('disconnect', () => void stop());
} else {
  const out = process.stdout;
  console.log = console.info = console.warn = console.debug = (...a: unknown[]) => process.stderr.write(a.map(String).join(' ') + '\n');
  send = (m) => {
    out.write(JSON.stringify(m) + '\n');
  };
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      send({ id: -1, error: { code: 'BAD_REQUEST', message: 'A request line was not valid JSON. Send one JSON object {id, method, params} per line.' } });
      return;
    }
    onRequest(msg);
  });
  rl.on('close', () => void finishOwed().then(() => stop()));
}

process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
