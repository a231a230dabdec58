// The operations layer: what every front end (CLI, service and so the UI) does with a disk, done one way.
// Front ends import this and src-core/service/protocol.ts, nothing else of src-core. Read-only: no handle
// it gives out can write (repair comes through the journal, src-core/journal/).
export { Disk, OpsError } from './disk.js';
export { btreeOverview, listBtree, validateListRequest, BTREE_NAMES, MAX_LEVEL, type ListRequest, type ListRow, type ListResult } from './btrees.js';
export { checkDisk, BUILT_IN_CHECKER, type Checker, type CheckFn, type CheckRequest } from './check.js';
export { showSuperText } from './show-super.js';
export { TOOL_NAME, toolVersion, projectRoot, findSampleImage } from './version.js';
export { CancellationTokenSource, sharedCancellation, type CancellationToken } from '../base/cancellation.js';
export * from './types.js';
export { journalHistory, journalReport, undoFixes, verifyJournal, writeReport, type Report, type ReportFormat, type UndoOutcome, type UndoRequest, type UndoTarget, type VerifyOutcome } from './journal.js';
export { listDevices, parseLsblk, hasBcachefsMagic, LSBLK_COLUMNS, type DeviceList, type SystemDevice } from './devices.js';
export { completePath, MAX_COMPLETIONS } from './complete.js';
export { proposeWorkingCopy, makeWorkingCopy, defaultCopyFolder } from './working-copy.js';
export type { Completion, CompletionEntry, WorkingCopy, WorkingCopyProposal } from './device-types.js';
export { groupFindings, type FixRef, type Problem } from './grouping.js';
export { problemsOf, withAtRisk } from './at-risk.js';
export {
  applyRepair, fixesFromDocument, planDocument, planRepair, selectFixes,
  type ApplyOutcome, type ApplyProgress, type ApplyRequest, type PlanDocument, type PlanProgress, type PlanRequest, type RepairFix, type RepairFixJson, type RepairPlan, type Unresolved,
} from './repair.js';
export { decideOpen, deviceKey, targetOf, ServiceGate, WriteConsent, WriteGate, type Admission, type Decision, type OpenMode, type Target } from './write-gate.js';
