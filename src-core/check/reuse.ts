// What a check keeps (CheckOptions.reusable) so that the next check of the same filesystem, after a repair
// round rewrote only alloc btree nodes in memory, redoes only what those nodes can change: the roots, the
// alloc read, the alloc btree's part of mark and sweep (and the small btrees after it), gc_done. The rest is
// taken over: marking of stripes, extents, inodes, dirents and xattrs (0.5 s on a 1M-extent image) and the
// leaves and fsck passes (0.5 s). What is reused is a pure function of inputs compared here:
//   - the bytes of every node of those btrees: no write touches them (every write lies inside a node the
//     alloc btree alone reached, so superblock, journal and free space are unchanged too);
//   - what marking reads of the alloc view: gens, gen_valid, the unknown buckets, BCH_COMPAT_alloc_info;
//   - what the fsck passes read of mark and sweep: the alloc gens (a key's " stale" mark) and whether gc
//     left a topology or unreadable-node error unfixed (check_dirents stops on it).
// When any differs the check runs in full; tests/check/reuse.test.ts compares both on every fixture.
import { BTREE_ID_alloc } from '../format/names.js';
import type { DevBuckets } from './buckets.js';
import type { Gc } from './context.js';
import type { Finding } from './findings.js';
import { FsUsage } from './usage.js';

const ALLOC_BIT = 1 << BTREE_ID_alloc;

/** A byte range of the device a round wrote (a fix's write). */
export interface WrittenRange {
  offset: number;
  length: number;
}

interface Counters {
  items: number;
  limitations: number;
  nodesRead: number;
  bytesRead: number;
  keysVisited: number;
  ptrsMarked: number;
}

interface AllocInputs {
  gen: Uint8Array;
  genValid: Uint8Array;
  unknown: Uint8Array;
}

interface GcArrays {
  gen: Uint8Array;
  dataType: Uint8Array;
  dirty: Uint16Array;
  cached: Uint16Array;
  stripe: Uint8Array;
  oldestGen: Uint8Array;
  genValid: Uint8Array;
}

/** Opaque to callers: what one check hands to the next (CheckResult.reuse). */
export class CheckReuse {
  /** first sector of every node the check read -> bit mask of the btrees that reached it */
  private readonly nodes = new Map<number, number>();
  private nodeBytes = 0;
  private alloc: (AllocInputs | undefined)[] = [];
  private allocInfoValid = false;
  /** the gc state just before the alloc btree's walk, and the findings and limitations of the walks before it */
  private gcArrays: (GcArrays | undefined)[] = [];
  private gcFs: FsUsage | undefined;
  private walkStart: Counters | undefined;
  private walkFindings: Finding[] = [];
  private walkLimitations: string[] = [];
  private walkDelta: Counters | undefined;
  /** the leaves and fsck passes: their findings and limitations, and the one gc fact they depend on */
  private fsckFindings: Finding[] | undefined;
  private fsckLimitations: string[] = [];
  private gcUnfixed = false;
  private fsckStart: Counters | undefined;
  private fsckDelta: Counters | undefined;

  // ------------------------------------------------------------ recording (the check that keeps this)

  /** A node read by the check (roots, walks). */
  noteNode(btreeId: number, sector: number, bytes: number): void {
    this.nodes.set(sector, (this.nodes.get(sector) ?? 0) | (1 << btreeId));
    this.nodeBytes = bytes;
  }

  /** After the alloc read: what marking will read of it. */
  saveAllocInputs(g: Gc): void {
    this.allocInfoValid = g.allocInfoValid;
    this.alloc = g.devs.map((d) => d && { gen: d.aGen.slice(), genValid: d.aGenValid.slice(), unknown: d.aUnknown.slice() });
  }

  /** Where mark and sweep's walks start (after the superblock and journal buckets are marked). */
  startWalks(g: Gc): void {
    this.walkStart = counters(g);
  }

  /** Just before the alloc btree's walk. */
  saveBeforeAllocWalk(g: Gc): void {
    const s = this.walkStart!;
    this.gcArrays = g.devs.map((d) => d && gcArrays(d));
    this.gcFs = cloneUsage(g.gcFs);
    this.walkFindings = g.out.items.slice(s.items);
    this.walkLimitations = g.limitations.slice(s.limitations);
    this.walkDelta = delta(counters(g), s);
  }

  startFsck(g: Gc): void {
    this.fsckStart = counters(g);
  }

  /** After the leaves and the fsck passes. */
  saveFsck(g: Gc, gcUnfixed: boolean): void {
    const s = this.fsckStart!;
    this.fsckFindings = g.out.items.slice(s.items);
    this.fsckLimitations = g.limitations.slice(s.limitations);
    this.fsckDelta = delta(counters(g), s);
    this.gcUnfixed = gcUnfixed;
  }

  // ------------------------------------------------------------ reuse (the next check)

  /** Whether every write lies inside one node that only the alloc btree reached. */
  coversOnlyAllocNodes(writes: readonly WrittenRange[]): boolean {
    if (!this.fsckFindings || !this.walkDelta || !this.nodeBytes) return false;
    const sectors = this.nodeBytes / 512;
    for (const w of writes) {
      const first = Math.floor(w.offset / 512);
      let inside = false;
      // the node holding the write starts at most one node before its first sector
      for (const [sector, mask] of this.nodes) {
        if (sector <= first && first < sector + sectors) {
          inside = mask === ALLOC_BIT && w.offset + w.length <= (sector + sectors) * 512;
          break;
        }
      }
      if (!inside) return false;
    }
    return true;
  }

  /** The nodes of the other btrees, which the next check does not walk again. */
  carryNodes(into: CheckReuse): void {
    for (const [sector, mask] of this.nodes) {
      const rest = mask & ~ALLOC_BIT;
      if (rest) into.nodes.set(sector, (into.nodes.get(sector) ?? 0) | rest);
    }
    into.nodeBytes ||= this.nodeBytes;
  }

  /** Whether what marking reads of the alloc view is what this check read. */
  sameAllocInputs(g: Gc): boolean {
    if (g.allocInfoValid !== this.allocInfoValid || g.devs.length !== this.alloc.length) return false;
    return g.devs.every((d, i) => {
      const a = this.alloc[i];
      if (!d || !a) return !d && !a;
      return equal(d.aGen, a.gen) && equal(d.aGenValid, a.genValid) && equal(d.aUnknown, a.unknown);
    });
  }

  /** Instead of walking the btrees before alloc: their gc state, findings, limitations and counts. */
  adoptWalks(g: Gc): void {
    g.devs.forEach((d, i) => {
      const a = this.gcArrays[i];
      if (!d || !a) return;
      d.gen.set(a.gen);
      d.dataType.set(a.dataType);
      d.dirty.set(a.dirty);
      d.cached.set(a.cached);
      d.stripe.set(a.stripe);
      d.oldestGen.set(a.oldestGen);
      d.genValid.set(a.genValid);
    });
    copyUsage(this.gcFs!, g.gcFs);
    adopt(g, this.walkFindings, this.walkLimitations, this.walkDelta!);
  }

  /** Instead of the leaves and the fsck passes, when gc left the same errors unfixed; false when it did not. */
  adoptFsck(g: Gc, gcUnfixed: boolean): boolean {
    if (gcUnfixed !== this.gcUnfixed) return false;
    adopt(g, this.fsckFindings!, this.fsckLimitations, this.fsckDelta!);
    return true;
  }
}

/**
 * Findings, limitations and counts of an earlier check, added as if found again (the counts say what the
 * check covers). The ids stay: the classes of the walks and passes taken over are not reported by the
 * parts run again, so no id would get another "#n".
 */
function adopt(g: Gc, findings: readonly Finding[], limitations: readonly string[], dl: Counters): void {
  for (const f of findings) g.out.items.push({ ...f });
  for (const l of limitations) g.adoptLimitation(l);
  g.nodesRead += dl.nodesRead;
  g.bytesRead += dl.bytesRead;
  g.keysVisited += dl.keysVisited;
  g.ptrsMarked += dl.ptrsMarked;
}

function counters(g: Gc): Counters {
  return {
    items: g.out.items.length, limitations: g.limitations.length,
    nodesRead: g.nodesRead, bytesRead: g.bytesRead, keysVisited: g.keysVisited, ptrsMarked: g.ptrsMarked,
  };
}

function delta(a: Counters, b: Counters): Counters {
  return {
    items: a.items - b.items, limitations: a.limitations - b.limitations, nodesRead: a.nodesRead - b.nodesRead,
    bytesRead: a.bytesRead - b.bytesRead, keysVisited: a.keysVisited - b.keysVisited, ptrsMarked: a.ptrsMarked - b.ptrsMarked,
  };
}

function gcArrays(d: DevBuckets): GcArrays {
  return {
    gen: d.gen.slice(), dataType: d.dataType.slice(), dirty: d.dirty.slice(), cached: d.cached.slice(),
    stripe: d.stripe.slice(), oldestGen: d.oldestGen.slice(), genValid: d.genValid.slice(),
  };
}

function cloneUsage(u: FsUsage): FsUsage {
  const c = new FsUsage(u.replicas.length);
  copyUsage(u, c);
  return c;
}

function copyUsage(from: FsUsage, to: FsUsage): void {
  to.hidden = from.hidden;
  to.btree = from.btree;
  to.data = from.data;
  to.cached = from.cached;
  to.reserved = from.reserved;
  to.nrInodes = from.nrInodes;
  to.persistentReserved.splice(0, 4, ...from.persistentReserved);
  to.replicas.set(from.replicas);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
