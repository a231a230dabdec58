// Main's gate on every write: apply and undo reach the core only for the disk that is open, once the
// technician confirmed write mode for that disk (write.confirm, asked in Apply or History) and only while
// decideOpen (devices.ts) still allows writing it — a device mounted since the confirmation is refused.
// No Electron import: unit-tested in plain Node (tests/main/write-gate.test.ts).
import type { SystemDevice } from '../src-core/service/protocol.js';
import { decideOpen, WriteConsent, type Decision, type Target } from './devices.js';

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
