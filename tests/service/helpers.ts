// Driving a Service in-process: requests, and waiting for its events.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Service, type ServiceOptions } from '../../src-core/service/service.js';
import type { EventMessage, EventName, Events, Method, Params, Results } from '../../src-core/service/protocol.js';
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
