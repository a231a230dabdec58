// Electron main process: one window, a sandboxed renderer loaded from app://bcachefs-repair/, a narrow IPC
// bridge (preload.cts), and the core service in a utilityProcess (src-core/service/child.ts). Main itself
// touches no disk: everything goes through the service, which validates its own requests too.
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session, utilityProcess, type IpcMainInvokeEvent, type UtilityProcess } from 'electron';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import config from '../electron.config.js';
import { isMethod, type EventMessage, type Message, type Response } from '../src-core/service/protocol.js';

const HOST = 'bcachefs-repair';
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
    const p = utilityProcess.fork(fromApp(config.paths.service), [], {
      serviceName: `${config.productName} service`,
      stdio: 'inherit',
      env: { ...process.env, BCACHEFS_REPAIR_SAMPLE: unpacked(fromApp(config.paths.sample)) },
    });
    p.on('message', (m: Message) => {
      if ('event' in m) {
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

const service = new ServiceProcess();

function fromOurPage(e: IpcMainInvokeEvent): boolean {
  return !!win && e.sender === win.webContents && (e.senderFrame?.url ?? '').startsWith(`${ORIGIN}/`);
}

function registerIpc(): void {
  ipcMain.handle('service:call', async (e, method: unknown, params: unknown) => {
    if (!fromOurPage(e)) return { error: { code: 'FORBIDDEN', message: 'Refused: the request did not come from the bcachefs-repair window.' } };
    if (!isMethod(method)) return { error: { code: 'BAD_REQUEST', message: `Unknown method ${JSON.stringify(method)}. This is a bug in the window; reload it.` } };
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
      return { error: { code: 'BAD_REQUEST', message: `The parameters of ${method} must be an object. This is a bug in the window; reload it.` } };
    }
    const r = await service.call(method, params ?? {});
    return 'error' in r ? { error: r.error } : { result: r.result };
  });
  ipcMain.handle('dialog:open-image', async (e) => {
    if (!fromOurPage(e) || !win) return null;
    const r = await dialog.showOpenDialog(win, {
      title: 'Open a bcachefs image or device (read-only)',
      properties: ['openFile', 'showHiddenFiles', 'treatPackageAsDirectory'],
      filters: config.imageFilters,
    });
    return r.canceled ? null : (r.filePaths[0] ?? null);
  });
}

function serveRenderer(): void {
  const root = normalize(fromApp(config.paths.renderer));
  protocol.handle(config.scheme, (req) => {
    const url = new URL(req.url);
    if (url.host !== HOST) return new Response('not found', { status: 404 });
    const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = normalize(join(root, rel));
    if (!file.startsWith(root + sep)) return new Response('forbidden', { status: 403 });
    return net.fetch(pathToFileURL(file).toString());
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
    contents.on('will-navigate', (ev) => ev.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', () => service.stop());
  void app.whenReady().then(() => {
    session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
    serveRenderer();
    registerIpc();
    createWindow();
  });
}
