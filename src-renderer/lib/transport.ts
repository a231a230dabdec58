// How the renderer talks to the service: one interface, two implementations.
//  * Electron: the preload's narrow bridge (window.bcachefsRepair), relayed by main to the utility process.
//  * Browser mode: POST /api/rpc for requests, Server-Sent Events on /api/events for events.
import type { ErrorInfo, EventMessage, Method, Params, Results } from '../../src-core/service/protocol';

export class CallError extends Error {
  readonly code: string;
  constructor(info: ErrorInfo) {
    super(info.message);
    this.code = info.code ?? 'ERROR';
  }
}

export interface Transport {
  readonly kind: 'electron' | 'browser';
  call<M extends Method>(method: M, params?: Params[M]): Promise<Results[M]>;
  onEvent(cb: (ev: EventMessage) => void): () => void;
  /** the native file picker (Electron only) */
  readonly pickImage: (() => Promise<string | null>) | null;
  /** browser mode: false while the event stream to the server is down */
  onConnection(cb: (connected: boolean) => void): () => void;
}

/** What src-main/preload.cts exposes. */
export interface Bridge {
  call(method: string, params: unknown): Promise<{ result?: unknown; error?: ErrorInfo }>;
  onEvent(cb: (ev: EventMessage) => void): () => void;
  pickImage(): Promise<string | null>;
}

declare global {
  interface Window {
    bcachefsRepair?: Bridge;
  }
}

function electronTransport(bridge: Bridge): Transport {
  return {
    kind: 'electron',
    async call(method, params) {
      const r = await bridge.call(method, params ?? {});
      if (r.error) throw new CallError(r.error);
      return r.result as never;
    },
    onEvent: (cb) => bridge.onEvent(cb),
    pickImage: () => bridge.pickImage(),
    onConnection: () => () => undefined,
  };
}

function browserTransport(): Transport {
  let nextId = 1;
  const listeners = new Set<(ev: EventMessage) => void>();
  const connListeners = new Set<(ok: boolean) => void>();
  let es: EventSource | null = null;
  const connect = (): void => {
    if (es) return;
    es = new EventSource('/api/events');
    es.onopen = () => connListeners.forEach((cb) => cb(true));
    es.onerror = () => connListeners.forEach((cb) => cb(false)); // EventSource reconnects by itself
    es.onmessage = (e) => {
      let m: EventMessage;
      try {
        m = JSON.parse(e.data as string) as EventMessage;
      } catch {
        return;
      }
      listeners.forEach((cb) => cb(m));
    };
  };
  return {
    kind: 'browser',
    async call(method, params) {
      let res: Response;
      try {
        res = await fetch('/api/rpc', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ id: nextId++, method, params: params ?? {} }),
        });
      } catch {
        throw new CallError({
          code: 'UNREACHABLE',
          message: `Cannot reach the bcachefs-repair server at ${location.origin}. Is it still running? Start it again (npm start), then reload this page.`,
        });
      }
      const text = await res.text();
      let body: { result?: unknown; error?: ErrorInfo };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new CallError({ code: `HTTP_${res.status}`, message: `The bcachefs-repair server refused the request (HTTP ${res.status}: ${text.slice(0, 200)}). Reload the page; if this repeats, restart the server.` });
      }
      if (body.error) throw new CallError(body.error);
      return body.result as never;
    },
    onEvent(cb) {
      connect();
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    pickImage: null,
    onConnection(cb) {
      connListeners.add(cb);
      return () => connListeners.delete(cb);
    },
  };
}

export function createTransport(): Transport {
  return window.bcachefsRepair ? electronTransport(window.bcachefsRepair) : browserTransport();
}
