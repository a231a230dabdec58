// Driving a Service in-process, or as a process of its own: requests, and waiting for its events.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Service, type ServiceOptions } from '../../src-core/service/service.js';
import type { EventMessage, EventName, Events, Message, Method, Params, Results } from '../../src-core/service/protocol.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

export const SAMPLE = join(PROJECT_ROOT, 'assets', 'sample.img.gz');
export const SLOW_DISK_CHECKER = pathToFileURL(join(PROJECT_ROOT, 'tests', 'e2e', 'slow-disk-checker.mjs')).href;
export const fixtureChecker = (name: string): string => pathToFileURL(join(PROJECT_ROOT, 'tests', 'service', 'fixtures', name)).href;

export class Driver {
  readonly events: EventMessage[] = [];
  private waiters: Array<() => void> = [];
  readonly service: Service;
  private id = 1;

  constructor(opts: Partial<ServiceOptions> = {}) {
    this.service = new Service({
      ...opts,
      emit: (ev) => {
        this.events.push(ev);
        for (const w of this.waiters.splice(0)) w();
      },
    });
  }

  async call<M extends Method>(method: M, params?: Params[M]): Promise<Results[M]> {
    const r = await this.service.handle({ id: this.id++, method, params });
    if ('error' in r) throw Object.assign(new Error(r.error.message), { code: r.error.code });
    return r.result as Results[M];
  }

  /** the error a request ends in */
  async fail(method: string, params?: unknown): Promise<{ message: string; code?: string }> {
    const r = await this.service.handle({ id: this.id++, method, params });
    if (!('error' in r)) throw new Error(`${method} succeeded`);
    return r.error;
  }

  async next<E extends EventName>(event: E, pred: (d: Events[E]) => boolean = () => true, timeoutMs = 30_000): Promise<Events[E]> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.events.length; seen++) {
        const ev = this.events[seen]!;
        if (ev.event === event && pred(ev.data as Events[E])) {
          this.events.splice(0, seen + 1);
          return ev.data as Events[E];
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${event} event within ${timeoutMs} ms; saw ${this.events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }
}

/** The service as a process (dist/src-core/service/child.js) speaking JSON lines on stdio, as the README shows. */
export class ServiceProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** every message received, in order */
  readonly received: Message[] = [];
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];
  private id = 1;

  constructor(cwd: string = PROJECT_ROOT) {
    this.child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'src-core', 'service', 'child.js')], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout }).on('line', (l) => {
      this.received.push(JSON.parse(l) as Message);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((res) => this.child.on('exit', (code) => res(code)));
  }

  send(method: Method, params?: unknown): number {
    const id = this.id++;
    this.child.stdin.write(JSON.stringify({ id, method, params }) + '\n');
    return id;
  }

  async call<M extends Method>(method: M, params?: Params[M]): Promise<Results[M]> {
    const id = this.send(method, params);
    const r = (await this.wait((m) => 'id' in m && m.id === id)) as { result?: Results[M]; error?: { message: string } };
    if (r.error) throw new Error(r.error.message);
    return r.result!;
  }

  async wait(pred: (m: Message) => boolean, timeoutMs = 60_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.received.find(pred);
      if (m) return m;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received ${JSON.stringify(this.received).slice(0, 500)}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  /** Ends stdin and waits for the process to exit. */
  async end(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }
}
