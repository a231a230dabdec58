// struct bpos: (inode, offset, snapshot), ordered in that priority. On disk (little-endian) the 20 bytes
// are snapshot u32, offset u64, inode u64. Off the hot path positions are bigints; in key loops they are
// (hi, lo) u32 halves in typed arrays (see bkey.ts).
import { readU32, readU64 } from './bytes.js';

export interface Bpos {
  inode: bigint;
  offset: bigint;
  snapshot: number;
}

export const U64_MAX = 0xffff_ffff_ffff_ffffn;
export const U32_MAX = 0xffff_ffff;
export const POS_MIN: Bpos = Object.freeze({ inode: 0n, offset: 0n, snapshot: 0 });
export const POS_MAX: Bpos = Object.freeze({ inode: U64_MAX, offset: U64_MAX, snapshot: U32_MAX });

export function readBpos(buf: Uint8Array, off: number): Bpos {
  return { snapshot: readU32(buf, off), offset: readU64(buf, off + 4), inode: readU64(buf, off + 12) };
}

export function bposCmp(a: Bpos, b: Bpos): number {
  if (a.inode !== b.inode) return a.inode < b.inode ? -1 : 1;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  if (a.snapshot !== b.snapshot) return a.snapshot < b.snapshot ? -1 : 1;
  return 0;
}

export function bposEq(a: Bpos, b: Bpos): boolean {
  return bposCmp(a, b) === 0;
}

/** The next position in bpos order (snapshot, then offset, then inode carry); undefined past POS_MAX. */
export function bposSuccessor(p: Bpos): Bpos | undefined {
  if (p.snapshot !== U32_MAX) return { inode: p.inode, offset: p.offset, snapshot: p.snapshot + 1 };
  if (p.offset !== U64_MAX) return { inode: p.inode, offset: p.offset + 1n, snapshot: 0 };
  if (p.inode !== U64_MAX) return { inode: p.inode + 1n, offset: 0n, snapshot: 0 };
  return undefined;
}

/** bch2_bpos_to_text. */
export function bposToText(p: Bpos): string {
  if (bposEq(p, POS_MIN)) return 'POS_MIN';
  if (bposEq(p, POS_MAX)) return 'POS_MAX';
  return bposFieldsToText(
    p.inode === U64_MAX ? 'U64_MAX' : p.inode.toString(),
    p.offset === U64_MAX ? 'U64_MAX' : p.offset.toString(),
    p.snapshot,
  );
}

/** The same text from already-formatted inode/offset parts (for the allocation-free key printer). */
export function bposFieldsToText(inode: string, offset: string, snapshot: number): string {
  return `${inode}:${offset}:${snapshot === U32_MAX ? 'U32_MAX' : String(snapshot)}`;
}

