// The write gate of both front ends (Electron's main process and browser mode's server): from the front
// end's own device list it decides which block device the core may open and in which mode. Reading is
// allowed for any listed device (the core notes when one is mounted); writing only for a device that nothing uses, that the kernel lets be written, and for which the
// technician confirmed write mode — for that very device (path, size and serial), not for whatever later
// appears under the same name. Image files need the same confirmation; the bundled sample and .gz images
// are never written (the repair goes to a working copy). Then WriteGate: apply and undo reach the core only
// for the disk that is open, once the technician confirmed write mode for it (write.confirm, asked in Apply
// or History), and only while decideOpen still allows writing it — a device mounted since is refused.
// It lives in src-core/ops, not in a front end, so that src-main and src-web share one implementation (the
// layering rules let front ends import only ops and the protocol); it has no Electron import.
import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DeviceList, SystemDevice } from './device-types.js';
import { listDevices } from './devices.js';

export type OpenMode = 'read' | 'write';

export type Decision =
  | { allow: true; mode: OpenMode }
  | { allow: false; code: 'NOT_OPEN' | 'NOT_LISTED' | 'IN_USE' | 'READ_ONLY_DEVICE' | 'NOT_CONFIRMED' | 'WORKING_COPY_NEEDED'; message: string };

/** What is being opened: a block device (by its real /dev path) or an image file. */
export type Target = { kind: 'device'; path: string } | { kind: 'image'; path: string; isSample: boolean };

/** The identity a write-mode confirmation is bound to. */
export function deviceKey(d: Pick<SystemDevice, 'path' | 'size' | 'serial'>): string {
  return `${d.path}\n${d.size}\n${d.serial ?? ''}`;
}

/** Write-mode confirmations, each for one device or image, until revoked or the app quits. */
export class WriteConsent {
  private readonly confirmed = new Set<string>();
  confirmDevice(d: SystemDevice): void {
    this.confirmed.add(deviceKey(d));
  }
  confirmImage(path: string): void {
    this.confirmed.add(`image\n${path}`);
  }
  revokeAll(): void {
    this.confirmed.clear();
  }
  hasDevice(d: SystemDevice): boolean {
    return this.confirmed.has(deviceKey(d));
  }
  hasImage(path: string): boolean {
    return this.confirmed.has(`image\n${path}`);
  }
}

const REFRESH = 'Press "Refresh" in the device list';

export function decideOpen(target: Target, mode: OpenMode, devices: readonly SystemDevice[], consent: WriteConsent): Decision {
  if (target.kind === 'image') {
    if (mode === 'read') return { allow: true, mode };
    if (target.isSample || /\.gz$/i.test(target.path)) {
      return { allow: false, code: 'WORKING_COPY_NEEDED', message: `${target.path} is never written: ${target.isSample ? 'it is the bundled sample' : 'it is compressed'}. Make a working copy and repair that.` };
    }
    if (!consent.hasImage(target.path)) return notConfirmed(target.path);
    return { allow: true, mode };
  }
  const d = devices.find((x) => x.path === target.path);
  if (!d) {
    return { allow: false, code: 'NOT_LISTED', message: `${target.path} is not in the device list. ${REFRESH}, then pick the disk there; if it is still missing, it is not connected.` };
  }
  if (mode === 'read') return { allow: true, mode };
  if (d.inUse) return { allow: false, code: 'IN_USE', message: `${d.path} cannot be opened for writing: ${d.inUse}. Unmount it first, then ${REFRESH.replace('Press', 'press')}.` };
  if (d.readOnly) return { allow: false, code: 'READ_ONLY_DEVICE', message: `${d.path} is read-only for the kernel (a write-protect switch, or a read-only loop device): it can only be checked.` };
  if (!consent.hasDevice(d)) return notConfirmed(d.path);
  return { allow: true, mode };
}

function notConfirmed(path: string): Decision {
  return { allow: false, code: 'NOT_CONFIRMED', message: `Write mode was not confirmed for ${path}. It is asked for when you apply repairs: tick "Write mode: I confirm…" in Apply (or in History, before an undo), then try again.` };
}

/** What an open request names: a block device by its real path, else an image (or null: the core says why). */
export function targetOf(path: string, sampleImage: string | null): Target | null {
  try {
    const real = realpathSync(path);
    if (statSync(real).isBlockDevice()) return { kind: 'device', path: real };
    return { kind: 'image', path: real, isSample: sampleImage !== null && real === realOrSelf(sampleImage) };
  } catch {
    return null;
  }
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

export class WriteGate {
  private open: Target | null = null;

  constructor(private readonly consent = new WriteConsent()) {}

  /** What the core has open now: after an open that succeeded, or null after a close or a lost service. */
  opened(target: Target | null): void {
    this.open = target;
  }

  get current(): Target | null {
    return this.open;
  }

  /** The technician confirmed write mode for `target`, which must be the open disk; then as decideOpen says. */
  confirm(target: Target | null, devices: readonly SystemDevice[]): Decision {
    if (!this.open || !target || target.path !== this.open.path) return notOpen(target?.path, this.open?.path);
    if (target.kind === 'device') {
      const d = devices.find((x) => x.path === target.path);
      if (d) this.consent.confirmDevice(d);
    } else {
      this.consent.confirmImage(target.path);
    }
    return decideOpen(this.open, 'write', devices, this.consent);
  }

  /** May apply or undo write the open disk now? */
  mayWrite(devices: readonly SystemDevice[]): Decision {
    if (!this.open) return notOpen(undefined, undefined);
    return decideOpen(this.open, 'write', devices, this.consent);
  }
}

function notOpen(asked: string | undefined, open: string | undefined): Decision {
  const message = open
    ? `Write mode can only be confirmed for the open disk, ${open}${asked ? `, not ${asked}` : ''}. Open the disk to repair first.`
    : 'No disk is open, so nothing can be written. Open the disk to repair, check it and plan the repair first.';
  return { allow: false, code: 'NOT_OPEN', message };
}

export type Admission =
  | { answer: DeviceList }
  | { error: { code: string; message: string } }
  /** forward `params` to the service, then call `answered` with whether it succeeded */
  | { forward: unknown; answered(ok: boolean): void };

/**
 * What a front end does with every call on its way to the service, the same in Electron and browser mode:
 * `devices` is answered from the front end's own list; `open` of a device only as decideOpen allows, by its
 * real path; `write.confirm` recorded for the open disk; `apply` and `undo` only as WriteGate allows, on the
 * device list as it is now. The front end calls `closed()` when the service closed the disk by itself.
 */
export class ServiceGate {
  private list: DeviceList = { devices: [], notes: [] };
  private readonly consent = new WriteConsent();
  private readonly gate = new WriteGate(this.consent);

  constructor(private readonly sampleImage: string | null, private readonly devices: () => DeviceList = listDevices) {}

  admit(method: string, params: unknown): Admission {
    if (method === 'devices') return { answer: (this.list = this.devices()) };
    const path = (params as { path?: unknown } | null)?.path;
    let target: Target | null = null;
    let forward = params;
    if ((method === 'open' || method === 'write.confirm') && typeof path === 'string') {
      target = targetOf(path, this.sampleImage);
      if (target?.kind === 'device' && !this.list.devices.some((d) => d.path === target!.path)) this.list = this.devices();
    }
    if (method === 'open' && target?.kind === 'device') {
      const d = decideOpen(target, 'read', this.list.devices, this.consent);
      if (!d.allow) return refused(d);
      // the path decided on, not a link that could be changed in between
      forward = { path: target.path };
    }
    if (method === 'write.confirm') {
      const d = this.gate.confirm(target, this.list.devices);
      if (!d.allow) return refused(d);
    }
    if (method === 'apply' || method === 'undo') {
      // the device's state now (mounted since the confirmation?), not as it was listed
      if (this.gate.current?.kind === 'device') this.list = this.devices();
      const d = this.gate.mayWrite(this.list.devices);
      if (!d.allow) return refused(d);
    }
    return {
      forward,
      answered: (ok) => {
        if (method === 'open') this.gate.opened(ok ? target : null);
        if (ok && method === 'close') this.gate.opened(null);
      },
    };
  }

  /** the service closed the disk (it died, or said session.closed) */
  closed(): void {
    this.gate.opened(null);
  }
}

const refused = (d: Decision & { allow: false }): Admission => ({ error: { code: d.code, message: d.message } });
