// The main process owns device access: from its own device list it decides which block device the core may
// open and in which mode. Reading is allowed for any listed device (the core notes when one is mounted);
// writing only for a device that nothing uses, that the kernel lets be written, and for which the
// technician confirmed write mode — for that very device (path, size and serial), not for whatever later
// appears under the same name. Image files need the same confirmation; the bundled sample and .gz images
// are never written (the repair goes to a working copy). No Electron import: unit-tested in plain Node.
import type { SystemDevice } from '../src-core/service/protocol.js';

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
  return { allow: false, code: 'NOT_CONFIRMED', message: `Write mode was not confirmed for ${path}. It is asked for when you apply repairs.` };
}
