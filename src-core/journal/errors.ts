// Why the journal refused to do something. Every message says what happened and what to do.
export type JournalErrorCode =
  | 'BAD_JOURNAL' // not a journal file, or a newer format
  | 'WRONG_DEVICE' // the device is not the one the journal names
  | 'BAD_PLAN' // a plan that cannot be applied as it stands
  | 'STALE_PLAN' // the disk no longer holds a plan's old bytes
  | 'FOREIGN_WRITE' // the disk no longer holds a fix's after-image
  | 'SHARED_BLOCKS' // later fixes rewrote bytes of the fix to undo
  | 'NOT_FOUND' // no such fix or session
  | 'NOTHING_TO_UNDO';

export class JournalError extends Error {
  constructor(
    readonly code: JournalErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JournalError';
  }
}
