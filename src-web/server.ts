// Browser mode: serves the built renderer on 127.0.0.1 and relays between the page and the service, which
// runs in a child process (src-core/service/child.ts, the same entry Electron's utilityProcess runs).
//
//   POST /api/rpc      {id, method, params}  ->  {id, result} | {id, error: {message, code}}
//   GET  /api/events   Server-Sent Events: one `data: {event, data}` per service event
//
// Only 127.0.0.1 is bound, and every request must carry this run's random token (other local users can reach
// the port, but cannot drive the server): the printed address has it as ?token=; the first page load with it
// sets a cookie (so reloads and the page's own requests carry it) and redirects to the address without it.
// Scripts may send it as the X-Bcachefs-Repair-Token header instead. A request without it, or with another
// one, gets 401 before any other check. Then requests must name this server in Host (no DNS rebinding), and
// an Origin, when sent, must be this server (no cross-site requests from other pages in the same browser).
// Every call then passes the same write gate as in Electron (ServiceGate, src-core/ops/write-gate.ts):
// apply and undo only for the open disk, after write.confirm, and only while it may still be written.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findSampleImage, ServiceGate } from '../src-core/ops/index.js';
import { isMethod, type EventMessage, type Message, type Response } from '../src-core/service/protocol.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** dist/src-web -> project root */
const ROOT = resolve(HERE, '..', '..');
export const HOST = '127.0.0.1';

export interface ServerOptions {
  /** 0 picks a free port */
  port: number;
  /** the built renderer (vite build output) */
  staticDir?: string;
  /** the service child's entry */
  childEntry?: string;
  log?: (line: string) => void;
  /** this run's token (default: 32 random bytes, base64url) */
  token?: string;
}

export interface RunningServer {
  /** the address to open: with ?token= */
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const MAX_BODY = 1 << 20;
export const TOKEN_HEADER = 'x-bcachefs-repair-token';
/** per port: two servers on 127.0.0.1 share the browser's cookies (cookies ignore the port) */
export const tokenCookie = (port: number): string => `bcachefs_repair_token_${port}`;

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
const RESTARTS_PER_MINUTE = 5;

/** The service child: forked with an IPC channel, restarted if it dies. */
class ServiceChild {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private pending = new Map<number, { clientId: unknown; resolve(r: Response): void }>();
  private deaths: number[] = [];
  private stopped = false;
  private gaveUp = false;

  constructor(private readonly entry: string, private readonly onEvent: (m: EventMessage) => void, private readonly log: (l: string) => void) {}

  private start(): ChildProcess {
    if (this.child) return this.child;
    const c = fork(this.entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    c.on('message', (m: Message) => {
      if ('event' in m) {
        this.onEvent(m);
        return;
      }
      const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
      if (!p) return;
      this.pending.delete(m.id as number);
      p.resolve({ ...m, id: p.clientId } as Response);
    });
    c.on('exit', (code, signal) => {
      if (this.child !== c) return;
      this.child = null;
      const why = signal ? `was killed (${signal})` : `exited (code ${code})`;
      for (const [id, p] of this.pending) {
        p.resolve({ id: p.clientId as number, error: { code: 'SERVICE_DIED', message: `The service process ${why} while answering. It is restarted on the next request; open the image again.` } });
        this.pending.delete(id);
      }
      if (this.stopped) return;
      this.log(`service process ${why}`);
      const now = Date.now();
      this.deaths = this.deaths.filter((t) => now - t < 60_000);
      this.deaths.push(now);
      if (this.deaths.length > RESTARTS_PER_MINUTE) this.gaveUp = true;
      this.onEvent({ event: 'session.closed', data: { message: `The service process ${why}, so the image was closed. Open it again; if this repeats, report it as a bug with the image you opened.` } });
    });
    this.child = c;
    return c;
  }

  call(clientId: unknown, method: string, params: unknown): Promise<Response> {
    if (this.gaveUp) {
      return Promise.resolve({ id: clientId as number, error: { code: 'SERVICE_DIED', message: `The service process died ${RESTARTS_PER_MINUTE + 1} times within a minute, so it is no longer restarted. Restart bcachefs-repair and report the problem.` } });
    }
    const c = this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { clientId, resolve });
      c.send({ id, method, params });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((res) => {
      const t = setTimeout(() => {
        c.kill('SIGKILL');
        res();
      }, 3000);
      c.once('exit', () => {
        clearTimeout(t);
        res();
      });
      c.disconnect(); // the child closes the image (removing a gz temp file) and exits
    });
  }
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`bcachefs-repair: ${l}\n`));
  const staticDir = resolve(opts.staticDir ?? join(ROOT, 'dist', 'renderer'));
  const childEntry = opts.childEntry ?? join(ROOT, 'dist', 'src-core', 'service', 'child.js');
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new Error(`the user interface is not built (${join(staticDir, 'index.html')} is missing). Run "npm run build" first.`);
  }
  if (!existsSync(childEntry)) throw new Error(`the service is not built (${childEntry} is missing). Run "npm run build" first.`);

  const clients = new Set<ServerResponse>();
  const broadcast = (m: EventMessage): void => {
    const line = `data: ${JSON.stringify(m)}\n\n`;
    for (const c of clients) c.write(line);
  };
  const gate = new ServiceGate(findSampleImage());
  const service = new ServiceChild(childEntry, (m) => {
    if (m.event === 'session.closed') gate.closed();
    broadcast(m);
  }, log);
  let port = opts.port;
  const allowedHosts = (): string[] => [`${HOST}:${port}`, `localhost:${port}`];
  const allowedOrigins = (): string[] => allowedHosts().map((h) => `http://${h}`);

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'Cache-Control': 'no-store', ...headers });
    res.end(text);
  };

  const token = opts.token ?? randomBytes(32).toString('base64url');
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${HOST}:${port}`);
    const header = req.headers[TOKEN_HEADER];
    const fromQuery = url.searchParams.get('token') ?? undefined;
    const authorised = sameToken(typeof header === 'string' ? header : undefined, token)
      || sameToken(cookieValue(req.headers.cookie, tokenCookie(port)), token)
      || sameToken(fromQuery, token);
    if (!authorised) {
      return send(res, 401, 'This bcachefs-repair server needs the token it printed when it started: open the whole address it printed (http://127.0.0.1:PORT/?token=...). If you lost it, restart the server (npm start) and use the new address.');
    }
    if (!allowedHosts().includes(req.headers.host ?? '')) return send(res, 421, 'Unknown Host header: open the address bcachefs-repair printed.');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().includes(origin)) return send(res, 403, 'Requests from other sites are refused.');
    if (fromQuery !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
      // keep the token out of the address bar and history: the cookie carries it from now on
      url.searchParams.delete('token');
      return send(res, 303, 'See the page without the token in its address.', {
        Location: `${url.pathname}${url.search}`,
        'Set-Cookie': `${tokenCookie(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`,
      });
    }

    if (url.pathname === '/api/rpc') {
      if (req.method !== 'POST') return send(res, 405, 'POST only', { Allow: 'POST' });
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return send(res, 415, 'Content-Type must be application/json');
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_BODY) return send(res, 413, 'request too large');
        chunks.push(c as Buffer);
      }
      let msg: { id?: unknown; method?: unknown; params?: unknown };
      try {
        msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, { id: null, error: { code: 'BAD_REQUEST', message: 'The request was not valid JSON. This is a bug in the page; reload it.' } });
      }
      if (!msg || typeof msg !== 'object' || !isMethod(msg.method)) {
        return send(res, 400, { id: (msg as { id?: unknown })?.id ?? null, error: { code: 'BAD_REQUEST', message: `Unknown method ${JSON.stringify(msg?.method)}. This is a bug in the page; reload it.` } });
      }
      const a = gate.admit(msg.method, msg.params);
      if ('answer' in a) return send(res, 200, { id: msg.id, result: a.answer });
      if ('error' in a) return send(res, 200, { id: msg.id, error: a.error });
      const r = await service.call(msg.id, msg.method, a.forward);
      a.answered(!('error' in r));
      return send(res, 200, r);
    }

    if (url.pathname === '/api/events') {
      if (req.method !== 'GET') return send(res, 405, 'GET only', { Allow: 'GET' });
      res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
      res.write(': connected\n\n');
      clients.add(res);
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      req.on('close', () => {
        clearInterval(keepAlive);
        clients.delete(res);
      });
      return;
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only', { Allow: 'GET, HEAD' });
    let rel = decodeURIComponent(url.pathname);
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = normalize(join(staticDir, rel));
    if (!file.startsWith(staticDir + sep)) return send(res, 403, 'forbidden');
    let st;
    try {
      st = statSync(file);
    } catch {
      return send(res, 404, 'not found');
    }
    if (!st.isFile()) return send(res, 404, 'not found');
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': String(st.size),
      'Cache-Control': rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (extname(file) === '.html') headers['Content-Security-Policy'] = CSP;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log(`request failed: ${(e as Error).message}`);
      if (!res.headersSent) send(res, 500, { id: null, error: { code: 'INTERNAL', message: `The browser-mode server failed: ${(e as Error).message}. Restart it; if this repeats, report it.` } });
      else res.end();
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port, HOST, () => res());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${HOST}:${port}/?token=${token}`,
    token,
    port,
    async close() {
      for (const c of clients) c.end();
      clients.clear();
      await service.stop();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

function parsePort(argv: string[]): number {
  const i = argv.findIndex((a) => a === '--port' || a.startsWith('--port='));
  const env = process.env.BCACHEFS_REPAIR_PORT;
  const raw = i < 0 ? env : argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port ${raw}: give a port number from 0 to 65535 (0 picks a free one).`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  let running: RunningServer;
  try {
    running = await startServer({ port: parsePort(argv) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const msg = err.code === 'EADDRINUSE' ? `port ${parsePort(argv)} is in use on ${HOST}: pick another with --port N, or --port 0 for a free one.` : err.message;
    process.stderr.write(`bcachefs-repair: cannot start browser mode: ${msg}\n`);
    process.exit(8);
  }
  process.stdout.write(`bcachefs-repair (browser mode) is running at ${running.url}\nOpen that whole address (it carries this run's access token) in a browser on this machine. Press Ctrl+C to stop.\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2));
}
