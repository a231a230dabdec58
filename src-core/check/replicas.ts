// Replicas entries and bcachefs's in-memory replicas table (replicas.c).
import { BCH_DATA_NR } from './buckets.js';

export interface ReplicasEntry {
  dataType: number;
  nrRequired: number;
  devs: number[];
}

/** Identity of a replicas entry; devs in ascending order. */
export function entryKey(dataType: number, nrRequired: number, devs: readonly number[]): string {
  return `${dataType}/${nrRequired}/${devs.join(',')}`;
}

/**
 * bcachefs's in-memory replicas table (struct bch_replicas_cpu): entries with their devices sorted, laid
 * out in eytzinger0 order of a memcmp sort. gc_done walks them in that array order.
 */
export class ReplicasTable {
  readonly entries: ReplicasEntry[];
  private readonly index = new Map<string, number>();
  /** index of the entry {type, 1 required, [dev]} by type * 256 + dev, -1 when absent (the common case, fast) */
  private readonly single = new Int32Array(BCH_DATA_NR * 256).fill(-1);

  constructor(list: readonly ReplicasEntry[]) {
    const uniq = new Map<string, ReplicasEntry>();
    for (const e of list) {
      const devs = [...e.devs].sort((a, b) => a - b);
      const k = entryKey(e.dataType, e.nrRequired, devs);
      if (!uniq.has(k)) uniq.set(k, { dataType: e.dataType, nrRequired: e.nrRequired, devs });
    }
    const sorted = [...uniq.values()];
    const width = 3 + Math.max(0, ...sorted.map((e) => e.devs.length));
    const bytes = (e: ReplicasEntry): number[] => {
      const a = [e.dataType, e.devs.length, e.nrRequired, ...e.devs];
      while (a.length < width) a.push(0);
      return a;
    };
    sorted.sort((x, y) => {
      const a = bytes(x);
      const b = bytes(y);
      for (let i = 0; i < width; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return 0;
    });
    this.entries = eytzinger0Layout(sorted);
    this.entries.forEach((e, i) => {
      this.index.set(entryKey(e.dataType, e.nrRequired, e.devs), i);
      if (e.nrRequired === 1 && e.devs.length === 1 && e.dataType < BCH_DATA_NR) this.single[e.dataType * 256 + e.devs[0]!] = i;
    });
  }

  get nr(): number {
    return this.entries.length;
  }

  /** bch2_replicas_entry_idx (devices need not be sorted) */
  find(dataType: number, nrRequired: number, devs: readonly number[]): number {
    if (devs.length === 1 && nrRequired === 1 && dataType < BCH_DATA_NR) return this.single[dataType * 256 + devs[0]!]!;
    const sorted = devs.length > 1 ? [...devs].sort((a, b) => a - b) : devs;
    return this.index.get(entryKey(dataType, nrRequired, sorted)) ?? -1;
  }

  findSingle(dataType: number, dev: number): number {
    return this.single[dataType * 256 + dev]!;
  }
}

/** The array eytzinger0_sort makes of a sorted list: an implicit BST (children 2i+1, 2i+2) whose in-order walk is sorted. */
export function eytzinger0Layout<T>(sorted: readonly T[]): T[] {
  const out = new Array<T>(sorted.length);
  let next = 0;
  const fill = (i: number): void => {
    if (i >= sorted.length) return;
    fill(2 * i + 1);
    out[i] = sorted[next++]!;
    fill(2 * i + 2);
  };
  fill(0);
  return out;
}

