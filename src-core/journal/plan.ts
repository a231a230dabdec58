// A fix plan: the unit a technician decides on and the journal applies all-or-nothing. The repair planner
// produces these; the journal records them and their exact bytes before anything is written.

/** What a write belongs to, for reports and for the technician. */
export type WriteTarget =
  | { kind: 'node'; btree: string; level: number; /** the node's first sector */ sector: number; what?: string }
  | { kind: 'key'; btree: string; /** bpos as bcachefs prints it */ pos: string; /** the node holding it */ nodeSector?: number }
  | { kind: 'superblock'; /** superblock copy's sector */ sector: number; field: string };

/** One field a write changes, as text (bcachefs's own printing where it has one). */
export interface FieldChange {
  field: string;
  before: string;
  after: string;
}

export interface PlannedWrite {
  /** device byte offset */
  offset: number;
  /** the bytes the planner read there; the fix is refused if the disk no longer holds them */
  old: Uint8Array;
  /** the bytes to write, the same length as old */
  new: Uint8Array;
  target: WriteTarget;
  changes?: FieldChange[];
}

export interface FixPlan {
  /** the planner's id (stable within one plan) */
  id: string;
  title: string;
  /** ids of the findings this fix resolves */
  resolves: string[];
  writes: PlannedWrite[];
}

/** Why a plan cannot be applied as it stands, or undefined. */
export function planProblem(plan: FixPlan, deviceSize: number): string | undefined {
  if (!plan.id) return 'the fix has no id';
  if (plan.writes.length === 0) return `fix ${plan.id} writes nothing`;
  const sorted = [...plan.writes].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const w of sorted) {
    if (!Number.isSafeInteger(w.offset) || w.offset < 0) return `fix ${plan.id}: write offset ${w.offset} is not a byte offset`;
    if (w.old.length !== w.new.length || w.new.length === 0) {
      return `fix ${plan.id}: the write at ${w.offset} has ${w.old.length} old and ${w.new.length} new bytes (they must be equal and non-zero)`;
    }
    if (w.offset + w.new.length > deviceSize) return `fix ${plan.id}: the write at ${w.offset} goes past the end of the device (${deviceSize} bytes)`;
    if (w.offset < end) return `fix ${plan.id}: two writes overlap at byte ${w.offset}; merge them into one`;
    end = w.offset + w.new.length;
  }
  return undefined;
}

/** Two byte ranges [a, a+alen) and [b, b+blen) share a byte. */
export function rangesOverlap(a: number, alen: number, b: number, blen: number): boolean {
  return a < b + blen && b < a + alen;
}

interface PlannedWriteJson extends Omit<PlannedWrite, 'old' | 'new'> {
  old: string;
  new: string;
}
export interface FixPlanJson extends Omit<FixPlan, 'writes'> {
  writes: PlannedWriteJson[];
}

/** JSON form (bytes as hex), as the journal stores it and a plan file carries it. */
export function planToJson(plan: FixPlan): FixPlanJson {
  return {
    ...plan,
    writes: plan.writes.map((w) => ({ ...w, old: Buffer.from(w.old).toString('hex'), new: Buffer.from(w.new).toString('hex') })),
  };
}

export function planFromJson(j: FixPlanJson): FixPlan {
  const hex = (s: string, what: string): Uint8Array => {
    if (typeof s !== 'string' || !/^(?:[0-9a-f]{2})*$/i.test(s)) throw new Error(`fix ${j.id}: ${what} is not hex bytes`);
    return Buffer.from(s, 'hex');
  };
  return { ...j, writes: j.writes.map((w, i) => ({ ...w, old: hex(w.old, `write ${i} old`), new: hex(w.new, `write ${i} new`) })) };
}
