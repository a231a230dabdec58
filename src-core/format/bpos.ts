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

export function writeBpos(buf: Uint8Array, off: number, p: Bpos): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  dv.setUint32(off, p.snapshot, true);
  dv.setBigUint64(off + 4, p.offset, true);
  dv.setBigUint64(off + 12, p.inode, true);
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

export function bposPredecessor(p: Bpos): Bpos | undefined {
  if (p.snapshot !== 0) return { inode: p.inode, offset: p.offset, snapshot: p.snapshot - 1 };
  if (p.offset !== 0n) return { inode: p.inode, offset: p.offset - 1n, snapshot: U32_MAX };
  if (p.inode !== 0n) return { inode: p.inode - 1n, offset: U64_MAX, snapshot: U32_MAX };
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

/** Parses bposToText's output (and the fixtures' positions) back into a Bpos. */
export function parseBpos(s: string): Bpos {
  if (s === 'POS_MIN') return POS_MIN;
  if (s === 'POS_MAX') return POS_MAX;
  const m = /^(\d+|U64_MAX):(\d+|U64_MAX):(\d+|U32_MAX)$/.exec(s);
  if (!m) throw new Error(`not a bpos: ${s}`);
  return {
    inode: m[1] === 'U64_MAX' ? U64_MAX : BigInt(m[1]!),
    offset: m[2] === 'U64_MAX' ? U64_MAX : BigInt(m[2]!),
    snapshot: m[3] === 'U32_MAX' ? U32_MAX : Number(m[3]),
  };
}
