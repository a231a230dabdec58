// A read-only view of a device with a plan's writes laid over it in memory: the planner reads through it the
// state every earlier fix of the plan leaves, and nothing reaches the device (only the journal writes).
import type { BlockReader } from '../btree/reader.js';
import type { FixPlan } from '../journal/plan.js';

interface Patch {
  offset: number;
  bytes: Uint8Array;
}

export class Overlay implements BlockReader {
  private readonly patches: Patch[] = [];

  constructor(private readonly base: BlockReader) {}

  get size(): number {
    return this.base.size;
  }

  /** The base's bytes with every patch touching the range laid over them, in the order they were added. */
  read(offset: number, length: number, into?: Uint8Array): Buffer {
    const out = this.base.read(offset, length, into);
    const end = offset + length;
    for (const p of this.patches) {
      const pEnd = p.offset + p.bytes.length;
      if (p.offset >= end || pEnd <= offset) continue;
      const from = Math.max(offset, p.offset);
      const to = Math.min(end, pEnd);
      out.set(p.bytes.subarray(from - p.offset, to - p.offset), from - offset);
    }
    return out;
  }

  prefetch(offset: number, length: number): void {
    this.base.prefetch?.(offset, length);
  }

  dropPrefetch(): void {
    this.base.dropPrefetch?.();
  }

  /** Lays a fix's writes over the device; refuses one whose old bytes are not what the overlay holds. */
  apply(fix: FixPlan): void {
    for (const w of fix.writes) {
      const now = this.read(w.offset, w.old.length);
      if (!now.equals(w.old)) {
        throw new Error(`fix ${fix.id}: the bytes at ${w.offset} are not the ones it was planned on; plan again from the current state`);
      }
    }
    for (const w of fix.writes) this.patches.push({ offset: w.offset, bytes: Uint8Array.from(w.new) });
  }

  /** A point to go back to (reset) when a round's fixes are abandoned. */
  mark(): number {
    return this.patches.length;
  }

  reset(mark: number): void {
    this.patches.length = mark;
  }

  /** How many bytes the patches cover (a measure of the plan's size). */
  get patchedBytes(): number {
    return this.patches.reduce((n, p) => n + p.bytes.length, 0);
  }
}
