// The workstation's state and the actions on it (Svelte 5 runes). Components read it and call its methods.
import type {
  BtreesResult, CheckDone, CheckProgress, DeviceList, EventMessage, FindingsResult, HelloResult, OpenResult,
} from '../../src-core/service/protocol';
import { CallError, createTransport, type Transport } from './transport';

export interface UiError {
  /** what happened, in a few words */
  title: string;
  /** the service's message: what happened and what to do */
  message: string;
  /** the service's code (a device's errno name such as EBUSY, or NOT_OPEN, ...), shown for support */
  code?: string;
}

/** Why an open failed, by the device's errno name (protocol.ts ErrorInfo.code); the message says what to do. */
const OPEN_FAILURES: Record<string, string> = {
  ENOENT: 'no such file or device',
  ENOTDIR: 'no such file or device',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EBUSY: 'the device is in use',
  EROFS: 'the device is read-only',
  EISDIR: 'that is a directory',
  ENOTBLK: 'not an image file or block device',
  ENXIO: 'the device is gone',
  ENODEV: 'the device is gone',
  EIO: 'the device could not be read',
  EMPTY: 'the file is empty',
  EGZIP: 'the .gz image could not be unpacked',
  EBADFS: 'no bcachefs this tool can read',
};

/** True once per window (sessionStorage survives a reload, not a new window or run). */
function firstStart(): boolean {
  try {
    if (sessionStorage.getItem('bcachefs-repair.started')) return false;
    sessionStorage.setItem('bcachefs-repair.started', '1');
  } catch {
    // storage disabled: a reload may open the sample again, which is harmless
  }
  return true;
}

export type CheckUiState =
  | { state: 'running'; checkId: number | null; progress: CheckProgress | null; cancelling: boolean }
  | { state: 'done'; done: CheckDone };

export class App {
  readonly transport: Transport;
  hello = $state<HelloResult | null>(null);
  /** what the server had open is restored (or there was nothing): the page may show its steps. Before that
   * the step would jump (Open → Problems) under the user's hands, taking the field being typed in with it. */
  ready = $state(false);
  path = $state('');
  opening = $state(false);
  image = $state<OpenResult | null>(null);
  /** counts the opens that succeeded: opening the same path again is an open too */
  opens = $state(0);
  btrees = $state<BtreesResult | null>(null);
  btreesLoading = $state(false);
  check = $state<CheckUiState | null>(null);
  findings = $state<FindingsResult | null>(null);
  selectedId = $state<string | null>(null);
  error = $state<UiError | null>(null);
  connected = $state(true);
  /** the machine's block devices (null until listed) */
  devices = $state<DeviceList | null>(null);
  devicesLoading = $state(false);

  constructor(transport: Transport = createTransport()) {
    this.transport = transport;
    transport.onEvent((ev) => this.onEvent(ev));
    transport.onConnection((ok) => {
      const was = this.connected;
      this.connected = ok;
      // the server may have been restarted: resynchronise
      if (ok && !was) void this.start();
    });
  }

  private fail(title: string, e: unknown): void {
    const message = e instanceof CallError || e instanceof Error ? e.message : String(e);
    this.error = e instanceof CallError ? { title, message, code: e.code } : { title, message };
  }

  /** First contact: what the service offers, and what is open already (a reloaded page). */
  async start(): Promise<void> {
    try {
      const h = await this.transport.call('hello');
      const first = firstStart();
      this.hello = h;
      if (!this.path) this.path = h.open?.path ?? h.sampleImage ?? '';
      void this.loadDevices();
      if (h.open) {
        this.image = h.open;
        // the check as it stands on the server: running (its progress events keep coming) or how it ended
        if (h.runningCheck !== null) this.check = { state: 'running', checkId: h.runningCheck, progress: null, cancelling: false };
        else if (h.lastCheck) this.check = { state: 'done', done: h.lastCheck };
        await this.loadBtrees();
        const f = await this.transport.call('findings');
        if (f.checkId !== null && f.status !== 'running') this.findings = f;
        this.ready = true;
      } else {
        this.image = null;
        this.ready = true;
        // first start of this window: show the sample at once (a reload keeps what the user left)
        if (h.sampleImage && first) await this.open(h.sampleImage);
      }
    } catch (e) {
      this.fail('Could not reach the bcachefs-repair service', e);
    } finally {
      this.ready = true;
    }
  }

  async loadDevices(): Promise<void> {
    if (this.devicesLoading) return;
    this.devicesLoading = true;
    try {
      this.devices = await this.transport.call('devices');
    } catch (e) {
      this.fail('Could not list the devices', e);
    } finally {
      this.devicesLoading = false;
    }
  }

  async open(path = this.path): Promise<void> {
    if (this.opening) return;
    const p = path.trim();
    if (!p) {
      this.error = { title: 'No image given', message: 'Enter the path of an image file (.img or .img.gz) or a block device such as /dev/sdb1, then press Open.' };
      return;
    }
    this.opening = true;
    this.error = null;
    try {
      const r = await this.transport.call('open', { path: p });
      this.image = r;
      this.opens++;
      // (unless the user has typed something else meanwhile)
      if (this.path.trim() === p) this.path = r.path;
      this.btrees = null;
      this.check = null;
      this.findings = null;
      this.selectedId = null;
      await this.loadBtrees();
    } catch (e) {
      const why = e instanceof CallError ? OPEN_FAILURES[e.code] : undefined;
      // what was open before must not stay on screen as if it were the disk just asked for: close it, on the
      // server too, so that a reload shows the same
      const was = e instanceof CallError && e.code === 'CHECK_RUNNING' ? undefined : this.image?.path;
      if (was) {
        this.clearImage();
        try {
          await this.transport.call('close');
        } catch {
          // the server is gone: the view is already empty
        }
      }
      this.fail(`Could not open ${p}${why ? `: ${why}` : ''}`, e);
      const err = this.error as UiError | null; // (set by fail)
      if (was && err) this.error = { ...err, message: `${err.message}\n${was} was closed; nothing is open now.` };
    } finally {
      this.opening = false;
    }
  }

  private clearImage(): void {
    this.image = null;
    this.btrees = null;
    this.check = null;
    this.findings = null;
    this.selectedId = null;
  }

  async pick(): Promise<void> {
    if (!this.transport.pickImage) return;
    try {
      const p = await this.transport.pickImage();
      if (p) {
        this.path = p;
        await this.open(p);
      }
    } catch (e) {
      this.fail('The file picker failed', e);
    }
  }

  private async loadBtrees(): Promise<void> {
    this.btreesLoading = true;
    try {
      this.btrees = await this.transport.call('btrees');
    } catch (e) {
      this.fail('Could not read the btree roots', e);
    } finally {
      this.btreesLoading = false;
    }
  }

  get checking(): boolean {
    return this.check?.state === 'running';
  }

  async startCheck(): Promise<void> {
    if (this.checking || this.opening || !this.image) return;
    this.error = null;
    this.findings = null;
    this.selectedId = null;
    this.check = { state: 'running', checkId: null, progress: null, cancelling: false };
    try {
      const r = await this.transport.call('check.start');
      if (this.check?.state === 'running' && this.check.checkId === null) this.check.checkId = r.checkId;
    } catch (e) {
      this.check = null;
      this.fail('The check could not start', e);
    }
  }

  async cancelCheck(): Promise<void> {
    if (this.check?.state !== 'running') return;
    this.check.cancelling = true;
    try {
      await this.transport.call('check.cancel');
    } catch (e) {
      this.fail('Could not cancel the check', e);
    }
  }

  private onEvent(ev: EventMessage): void {
    switch (ev.event) {
      case 'check.progress': {
        const p = ev.data as CheckProgress;
        if (this.check?.state === 'running') {
          this.check.checkId ??= p.checkId;
          if (this.check.checkId === p.checkId) this.check.progress = p;
        }
        break;
      }
      case 'check.done': {
        const d = ev.data as CheckDone;
        if (this.check?.state === 'running' && (this.check.checkId === null || this.check.checkId === d.checkId)) {
          this.check = { state: 'done', done: d };
          if (d.status === 'failed' && d.error) this.error = { title: 'The check failed', message: d.error.message };
          void this.loadFindings();
        }
        break;
      }
      case 'session.closed': {
        const d = ev.data as { message: string };
        this.clearImage();
        this.error = { title: 'The image was closed', message: d.message };
        break;
      }
    }
  }

  private async loadFindings(): Promise<void> {
    try {
      const f = await this.transport.call('findings');
      this.findings = f;
      const first = f.findings.find((x) => x.severity === 'error') ?? f.findings[0];
      this.selectedId = first?.id ?? null;
    } catch (e) {
      this.fail('Could not fetch the findings', e);
    }
  }
}
