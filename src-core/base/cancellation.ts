// A plain cancellation token, as VS Code's: long operations poll it between units of work (a node read,
// a fix) and stop with what they have. The source may live on another thread (see sharedCancellation).

export interface CancellationToken {
  readonly isCancellationRequested: boolean;
}

export const NEVER_CANCELLED: CancellationToken = Object.freeze({ isCancellationRequested: false });

export class CancellationTokenSource {
  private requested = false;
  readonly token: CancellationToken;
  constructor() {
    const self = this;
    this.token = { get isCancellationRequested() { return self.requested; } };
  }
  cancel(): void {
    this.requested = true;
  }
}

/** A token whose flag is word 0 of a SharedArrayBuffer-backed Int32Array, set by another thread. */
export function sharedCancellation(flag: Int32Array): CancellationToken {
  return { get isCancellationRequested() { return Atomics.load(flag, 0) !== 0; } };
}
