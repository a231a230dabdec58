// Electron main process: one window, a sandboxed renderer loaded from app://bcachefs-repair/ under a strict
// Content-Security-Policy, a narrow IPC bridge (preload.cts) whose every message is validated here
// (validate.ts) before it reaches the core, and the core service in a utilityProcess
// (src-core/service/child.ts). Main owns device access: it lists the devices itself and decides which one
// may be opened, and how (src-core/ops/write-gate.ts, shared with browser mode); the core then opens it by path.
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session, utilityProcess, type IpcMainInvokeEvent, type UtilityProcess } from 'electron';
import { isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import config from '../electron.config.js';
import { ServiceGate } from '../src-core/ops/index.js';
import type { EventMessage, Message, Response } from '../src-core/service/protocol.js';
import { validateCall } from './validate.js';

const HOST = 'bcachefs-repair';
/** no remote anything: scripts, styles, images and connections only from the app itself */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";
const ORIGIN = `${config.scheme}://${HOST}`;
const appDir = app.getAppPath();
const fromApp = (p: string): string => (isAbsolute(p) ? p : join(appDir, p));
/** packaged apps: files run by a process or loaded as native code live outside the asar archive */
const unpacked = (p: string): string => p.replace(`app.asar${sep}`, `app.asar.unpacked${sep}`);

protocol.registerSchemesAsPrivileged([{ scheme: config.scheme, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

let win: BrowserWindow | null = null;

/** The service in a utility process; (re)started on demand. */
class ServiceProcess {
  private proc: UtilityProcess | null = null;
  private nextId = 1;
  private pending = new Map<number, (r: Response) => void>();
  private stopping = false;

  private start(): UtilityProcess {
    if (this.proc) return this.proc;
    const p = utilityProcess.fork(unpacked(fromApp(config.paths.service)), [], {
      serviceName: `${config.productName} service`,
      stdio: 'inherit',
      env: { ...process.env, BCACHEFS_REPAIR_SAMPLE: unpacked(fromApp(config.paths.sample)) },
    });
    p.on('message', (m: Message) => {
      if ('event' in m) {
        if (m.event === 'session.closed') gate.closed();
        win?.webContents.send('service:event', m);
        return;
      }
      const resolve = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
      if (resolve) {
        this.pending.delete(m.id as number);
        resolve(m);
      }
    });
    p.on('exit', (code) => {
      if (this.proc !== p) return;
      this.proc = null;
      const message = `The service process exited (code ${code}), so the image was closed. Open it again; if this repeats, report it as a bug.`;
      for (const [id, resolve] of this.pending) resolve({ id, error: { code: 'SERVICE_DIED', message } });
      this.pending.clear();
      gate.closed();
      if (!this.stopping) win?.webContents.send('service:event', { event: 'session.closed', data: { message } } satisfies EventMessage);
    });
    this.proc = p;
    return p;
  }

  call(method: string, params: unknown): Promise<Response> {
    const p = this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      p.postMessage({ id, method, params });
    });
  }

  stop(): void {
    this.stopping = true;
    this.proc?.kill();
    this.proc = null;
  }
}


function fromOurPage(e: IpcMainInvokeEvent): boolean {
  return !!win && e.sender === win.webContents && (e.senderFrame?.url ?? '').startsWith(`${ORIGIN}/`);
}

const sampleImage = resolve(unpacked(fromApp(config.paths.sample)));
/** main's own device list, write mode once confirmed (Apply and History ask: write.confirm), and what the core has open */
const gate = new ServiceGate(sampleImage);
const service = new ServiceProcess();

function registerIpc(): void {
  ipcMain.handle('service:call', async (e, method: unknown, params: unknown) => {
    if (!fromOurPage(e)) return { error: { code: 'FORBIDDEN', message: 'Refused: the request did not come from the bcachefs-repair window.' } };
    const v = validateCall(method, params);
    if (!v.ok) return { error: v.error };
    const a = gate.admit(v.method, v.params);
    if ('answer' in a) return { result: a.answer };
    if ('error' in a) return { error: a.error };
    const r = await service.call(v.method, a.forward);
    a.answered(!('error' in r));
    return 'error' in r ? { error: r.error } : { result: r.result };
  });
  ipcMain.handle('dialog:open-image', async (e) => {
    if (!fromOurPage(e) || !win) return null;
    const r = await dialog.showOpenDialog(win, {
      title: 'Open image file (read-only)',
      properties: ['openFile', 'showHiddenFiles', 'treatPackageAsDirectory'],
      filters: config.imageFilters,
    });
    return r.canceled ? null : (r.filePaths[0] ?? null);
  });
}

function serveRenderer(): void {
  const root = normalize(fromApp(config.paths.renderer));
  protocol.handle(config.scheme, async (req) => {
    const url = new URL(req.url);
    if (url.host !== HOST) return new Response('not found', { status: 404 });
    const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = normalize(join(root, rel));
    if (!file.startsWith(root + sep)) return new Response('forbidden', { status: 403 });
    const r = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(r.headers);
    headers.set('Content-Security-Policy', CSP);
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(r.body, { status: r.status, headers });
  });
}

function createWindow(): void {
  win = new BrowserWindow({
    ...config.window,
    title: config.productName,
    show: false,
    webPreferences: {
      preload: fromApp(config.paths.preload),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win?.show());
  win.on('closed', () => {
    win = null;
  });
  if (config.devTools) win.webContents.openDevTools({ mode: 'detach' });
  void win.loadURL(`${ORIGIN}/index.html`);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.setAppUserModelId(config.appId);
  app.on('second-instance', () => {
    if (win?.isMinimized()) win.restore();
    win?.focus();
  });
  app.on('web-contents-created', (_e, contents) => {
    // the page never leaves app://bcachefs-repair/, opens no window and embeds nothing
    contents.on('will-navigate', (ev) => ev.preventDefault());
    contents.on('will-redirect', (ev) => ev.preventDefault());
    contents.on('will-attach-webview', (ev) => ev.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', () => service.stop());
  void app.whenReady().then(() => {
    session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
    session.defaultSession.setPermissionCheckHandler(() => false);
    serveRenderer();
    registerIpc();
    createWindow();
  });
}
