// The service as a process (dist/src-core/service/child.js): stdio JSON lines and Node IPC, the two
// transports plain Node uses (Electron's utilityProcess uses its parentPort, not available here).
import { fork, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { SAMPLE } from './helpers.js';
import type { Message } from '../../src-core/service/protocol.js';

const CHILD = join(PROJECT_ROOT, 'dist', 'src-core', 'service', 'child.js');

function collect(onLine: (cb: (m: Message) => void) => void): (pred: (m: Message) => boolean, ms?: number) => Promise<Message> {
  const got: Message[] = [];
  const waiters: Array<() => void> = [];
  onLine((m) => {
    got.push(m);
    waiters.splice(0).forEach((w) => w());
  });
  return async (pred, ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const i = got.findIndex(pred);
      if (i >= 0) return got.splice(i, 1)[0]!;
      if (Date.now() > end) throw new Error(`timed out; have ${JSON.stringify(got).slice(0, 500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  };
}

const gzDirsOf = (pid: number): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith(`bcachefs-repair-gz-${pid}-`));

describe('child.ts', () => {
  it('speaks JSON lines on stdio; stdout carries nothing else; exits and cleans up when stdin closes', async () => {
    expect(existsSync(CHILD), 'run npm run build first').toBe(true);
    const c = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
    const nonJson: string[] = [];
    const wait = collect((cb) =>
      createInterface({ input: c.stdout! }).on('line', (l) => {
        try {
          cb(JSON.parse(l) as Message);
        } catch {
          nonJson.push(l);
        }
      }),
    );
    const send = (m: unknown): void => void c.stdin!.write(JSON.stringify(m) + '\n');
    send({ id: 1, method: 'hello' });
    send({ id: 2, method: 'open', params: { path: SAMPLE } });
    c.stdin!.write('this is not json\n');
    const hello = await wait((m) => 'id' in m && m.id === 1);
    expect(hello).toMatchObject({ result: { protocol: 1, sampleImage: SAMPLE } });
    const open = await wait((m) => 'id' in m && m.id === 2);
    expect(open).toMatchObject({ result: { path: SAMPLE, readOnly: true } });
    expect(await wait((m) => 'id' in m && m.id === -1)).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    expect(gzDirsOf(c.pid!)).toHaveLength(1);
    send({ id: 3, method: 'check.start' });
    expect(await wait((m) => 'event' in m && m.event === 'check.done')).toMatchObject({ data: { status: 'completed', findings: 8 } });
    const code = await new Promise<number | null>((res) => {
      c.on('exit', (code) => res(code));
      c.stdin!.end();
    });
    expect(code).toBe(0);
    expect(nonJson).toEqual([]);
    expect(gzDirsOf(c.pid!)).toEqual([]);
  });

  it('speaks Node IPC when forked; exits when the parent disconnects', async () => {
    const c = fork(CHILD, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const wait = collect((cb) => c.on('message', (m) => cb(m as Message)));
    c.send({ id: 'a', method: 'open', params: { path: '/nonexistent.img' } });
    const r = await wait((m) => 'id' in m && m.id === 'a');
    expect(r).toMatchObject({ error: { code: 'ENOENT', message: expect.stringMatching(/ENOENT/) } });
    const code = await new Promise<number | null>((res) => {
      c.on('exit', (code) => res(code));
      c.disconnect();
    });
    expect(code).toBe(0);
  });

  it("the README's example works as printed: the end of stdin does not drop answers or a running check", () => {
    // the command exactly as README.md prints it (after its npm run build line)
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const block = /```sh\nnpm run build\n(printf [^`]*child\.js)\n```/.exec(readme);
    expect(block, 'README.md shows the printf | child.js example').not.toBeNull();
    const r = spawnSync('sh', ['-c', block![1]!], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const msgs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Message);
    expect(msgs.find((m) => 'id' in m && m.id === 1)).toMatchObject({ result: { path: 'assets/sample.img.gz', readOnly: true } });
    expect(msgs.find((m) => 'id' in m && m.id === 2)).toMatchObject({ result: { checkId: 1 } });
    expect(msgs.some((m) => 'event' in m && m.event === 'check.progress')).toBe(true);
    // the last message: the check's end, with the sample's 8 errors
    expect(msgs.at(-1)).toMatchObject({ event: 'check.done', data: { checkId: 1, status: 'completed', findings: 8, bySeverity: { error: 8 } } });
  });
});
