// Parsing what the real `bcachefs fsck -n` (bcachefs-tools a76f36fc6) printed into the multiset of fsck
// errors it reported, plus the log lines around them.
//
// What counts as an error: a message that went through bch2_fsck_err (error.c). That function appends a
// disposition to the formatted message before printing it:
//   ", not fixing" / ", fixing" / ", exiting"   for FSCK_CAN_FIX errors (depends on -n / -y / exit mode)
//   " (run fsck to correct)"                    for FSCK_NEED_FSCK errors (check_bucket_ref, ...)
//   " (repair unimplemented)"                   for errors with neither flag ("error reading btree root")
// Everything else (bch_info / bch_err lines: "starting mark and sweep", "error validating btree node ...",
// "Error in recovery: ...", "image.img: still has errors") is a log line, not a counted error: btree_io.c's
// "error validating btree node" block is printed with bch_err for want_retry/must_retry/fatal node errors;
// the fsck error that follows from an unreadable node is the separate "Unreadable btree node" message,
// and a bad checksum alone is only logged (the node is used, exit 0).
//
// The message text we keep is the formatted message with its continuation lines joined by "\n". The
// option-dependent dispositions (", not fixing", ", fixing", ", exiting") are cut off; the fixed ones
// (" (run fsck to correct)", " (repair unimplemented)") belong to the message and are kept, since bcachefs
// prints them the same whatever the options.

export type FsckPhase = 'recovery' | 'gc' | 'fsck';

export interface FsckLogError {
  /** message text, continuation lines joined with \n, option-dependent disposition removed */
  message: string;
  /** the disposition that was cut off, or null when the message carries its own fixed suffix */
  disposition: 'not fixing' | 'fixing' | 'exiting' | null;
  /** which part of the mount printed it: before "starting mark and sweep", during gc, or in the fsck passes */
  phase: FsckPhase;
  /** 1-based line number of the message's first line */
  line: number;
}

export interface FsckLogBlock {
  text: string;
  phase: FsckPhase;
  line: number;
}

export interface FsckLog {
  exit: number;
  /** the tool died of a signal (139 SIGSEGV, 134 SIGABRT): its output is a lower bound */
  crashed: boolean;
  errors: FsckLogError[];
  /** "error validating btree node ..." blocks (bch_err from btree_io.c) */
  nodeValidation: FsckLogBlock[];
  /** every other log block */
  logs: FsckLogBlock[];
  /** "starting mark and sweep" was printed */
  gcStarted: boolean;
  /** gc ran to its end (its output is complete): "starting fsck" followed "starting mark and sweep" */
  gcCompleted: boolean;
}

const CUT_SUFFIXES = [', not fixing', ', fixing', ', exiting'] as const;
const KEPT_SUFFIXES = [' (run fsck to correct)', ' (repair unimplemented)'] as const;

/**
 * A continuation line of a multi-line message: indented, or one of the unindented continuations bcachefs uses
 * (the fsck passes print keys on lines of their own, "...:\n%s", and backpointers as "got ...\nshould be ...").
 */
function isContinuation(line: string): boolean {
  return (
    /^\s/.test(line) || line.startsWith('while marking ') || line.startsWith('sb:      l=') || line.startsWith('journal: l=') ||
    line.startsWith('u64s ') || line.startsWith('got       ') || line.startsWith('should be ')
  );
}

export function parseFsckLog(text: string, exit: number): FsckLog {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const log: FsckLog = {
    exit,
    crashed: exit === 139 || exit === 134,
    errors: [],
    nodeValidation: [],
    logs: [],
    gcStarted: false,
    gcCompleted: false,
  };
  let phase: FsckPhase = 'recovery';
  for (let i = 0; i < lines.length; ) {
    const start = i;
    const block = [lines[i]!];
    i++;
    while (i < lines.length && isContinuation(lines[i]!)) block.push(lines[i++]!);
    const textBlock = block.join('\n');
    const last = block[block.length - 1]!;
    const cut = CUT_SUFFIXES.find((s) => last.endsWith(s));
    const kept = KEPT_SUFFIXES.find((s) => last.endsWith(s));
    if (cut) {
      log.errors.push({ message: textBlock.slice(0, -cut.length), disposition: cut.slice(2) as FsckLogError['disposition'], phase, line: start + 1 });
    } else if (kept) {
      log.errors.push({ message: textBlock, disposition: null, phase, line: start + 1 });
    } else if (block[0]!.startsWith('error validating btree node')) {
      log.nodeValidation.push({ text: textBlock, phase, line: start + 1 });
    } else {
      log.logs.push({ text: textBlock, phase, line: start + 1 });
      if (block[0] === 'starting mark and sweep') {
        phase = 'gc';
        log.gcStarted = true;
      } else if (block[0] === 'starting fsck') {
        if (log.gcStarted) log.gcCompleted = true;
        phase = 'fsck';
      }
    }
  }
  return log;
}

/** Counts of each distinct string: the multiset view used to compare messages. */
export function multiset(items: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of items) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
}

/** Items of `want` (with multiplicity) missing from `have`. */
export function multisetMissing(want: Map<string, number>, have: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [k, n] of want) {
    const h = have.get(k) ?? 0;
    for (let j = h; j < n; j++) out.push(k);
  }
  return out;
}
