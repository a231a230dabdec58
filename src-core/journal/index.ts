// The repair journal: the only way anything is written to a disk. See README.md beside this file.
export { applyFix, recover, undo, type RecoveryAction, type RecoveryResult, type UndoOptions, type UndoResult, type UndoTarget } from './apply.js';
export { stepsTaken } from './crash.js';
export { deviceIdentity, identityMismatch, sha256Hex, type DeviceIdentity, type WritableDevice } from './device.js';
export { JournalError, type JournalErrorCode } from './errors.js';
export { planFromJson, planProblem, planToJson, type FieldChange, type FixPlan, type FixPlanJson, type PlannedWrite, type WriteTarget } from './plan.js';
export { openRepairSession, RepairSession, type ApplyProgress, type OpenSessionOptions } from './session.js';
export {
  isoNow, Journal, JOURNAL_FORMAT,
  type CheckRecord, type DecisionRecord, type DeviceRecord, type EventKind, type EventRecord, type FixRecord, type FixState, type SessionInfo, type SessionRecord, type WriteRecord,
} from './store.js';
export type { ChainHead, VerifyResult } from './chain.js';
