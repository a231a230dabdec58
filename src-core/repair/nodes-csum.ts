// A btree node whose bset checksum does not match. bcachefs 2021 logs "invalid checksum" and uses the
// node; we rewrite it only with evidence of which part is damaged:
// - the stored checksum and the one computed over the bset differ only inside one byte: damage to the data
//   changes each bit of the computed CRC with probability 1/2, so a difference confined to one byte has a
//   chance of 4 * 255 / 2^32 (about 2.4e-7) of coming from the data: the stored value was damaged, and the
//   checksum is written anew (the node's keys all validate, or there is no fix);
// - CRC-32C is linear, so stored XOR computed is the CRC of the error pattern: if exactly one bit of the
//   covered bytes has that syndrome, that bit was flipped and is flipped back;
// otherwise the node is kept as it is (as bcachefs does) and no fix is planned.
import type { Filesystem } from '../btree/fs.js';
import type { Finding } from '../check/index.js';
import { bchChecksum32, crc32cUpdateJs, readU32 } from '../format/bytes.js';
import { btreeName } from '../format/names.js';
import type { PlannedWrite } from '../journal/plan.js';
import { NodeEdits, readNodeAtSector } from './edit.js';
import type { RepairFix } from './types.js';

const ZERO = new Uint8Array(1);

/** The byte and bit in [start, end) of a bset whose single flip gives CRC difference `syndrome`, if exactly one does. */
function singleBitFor(syndrome: number, start: number, end: number): { byte: number; bit: number } | undefined {
  // raw CRC (init 0, no final xor) of a single set bit at byte i, walked from the last byte backwards
  const s = new Uint32Array(8);
  const one = new Uint8Array(1);
  for (let j = 0; j < 8; j++) {
    one[0] = 1 << j;
    s[j] = crc32cUpdateJs(0, one, 0, 1);
  }
  let hit: { byte: number; bit: number } | undefined;
  for (let i = end - 1; i >= start; i--) {
    for (let j = 0; j < 8; j++) {
      if (s[j] === syndrome >>> 0) {
        if (hit) return undefined;
        hit = { byte: i, bit: j };
      }
      s[j] = crc32cUpdateJs(s[j]!, ZERO, 0, 1);
    }
  }
  return hit;
}

function oneByte(x: number): boolean {
  return x !== 0 && [0xff, 0xff00, 0xff0000, 0xff000000].some((m) => (x & ~m) === 0);
}

export function planBadChecksum(fs: Filesystem, f: Finding): RepairFix | undefined {
  const loc = f.location;
  if (!loc.node || loc.btree_id === undefined || loc.level === undefined || !/invalid checksum/.test(f.log_message ?? '')) return undefined;
  const node = readNodeAtSector(fs, loc.btree_id, loc.level, loc.node.sector);
  const others = node.errors.filter((e) => e.code !== 'bad_csum' && !/checksum/.test(e.msg));
  if (!node.readable || others.length) return undefined; // the content does not validate: no evidence it is right
  const writes: PlannedWrite[] = [];
  const evidence: string[] = [`the ${btreeName(node.btreeId)} node at sector ${node.sector} reads with every key valid; only a bset checksum is wrong`];
  let rewriteCsum = false;
  for (const b of node.bsets) {
    if (b.csumOk !== false) continue;
    const start = b.byteOffset + 16;
    const stored = readU32(node.buf, b.byteOffset);
    const computed = bchChecksum32(b.csumType, node.buf, start, b.keysEnd);
    if (computed === null) return undefined;
    const syndrome = (stored ^ computed) >>> 0;
    const at = `bset at byte ${b.byteOffset}: stored checksum ${hex(stored)}, computed ${hex(computed)}`;
    if (oneByte(syndrome)) {
      evidence.push(`${at}: they differ only in one byte (${hex(syndrome)}), which damage to the data gives with a chance of about 2.4e-7: the stored checksum is what was damaged`);
      rewriteCsum = true;
      continue;
    }
    const bit = singleBitFor(syndrome, start, b.keysEnd);
    if (!bit) return undefined; // no single cause: keep the node as bcachefs does
    evidence.push(`${at}: exactly one bit of the bset (byte ${bit.byte}, bit ${bit.bit}) has the difference as its CRC: that bit was flipped`);
    const sec = Math.floor(bit.byte / 512) * 512;
    const old = node.buf.slice(sec, sec + 512);
    const next = old.slice();
    next[bit.byte - sec]! ^= 1 << bit.bit;
    writes.push({
      offset: node.sector * 512 + sec, old, new: next,
      target: { kind: 'node', btree: btreeName(node.btreeId), level: node.level, sector: node.sector, what: `bit ${bit.bit} of byte ${bit.byte} flipped back` },
      changes: [{ field: `byte ${bit.byte}`, before: hex(old[bit.byte - sec]!), after: hex(next[bit.byte - sec]!) }],
    });
  }
  if (rewriteCsum) {
    if (writes.length) return undefined; // both kinds in one node: too much damage to be sure
    const e = new NodeEdits(node);
    e.changes.push({ field: 'bset csum', before: 'invalid', after: 'recomputed' });
    writes.push(e.write(fs, 'checksum recomputed over the unchanged bset'));
  }
  if (!writes.length) return undefined;
  return {
    id: `csum:${btreeName(node.btreeId)}:${node.sector}`,
    title: `Correct the checksum damage of the ${btreeName(node.btreeId)} node at sector ${node.sector}`,
    resolves: [f.id],
    writes,
    summary: rewriteCsum ? 'the bset checksum (btree_node.csum) recomputed over the unchanged keys' : 'the flipped bit of the bset flipped back; the checksum then matches',
    evidence,
    lost: [],
    kept: ['every key of the node (bcachefs 2021 keeps the node too, but leaves the checksum wrong: every later read logs it)'],
    alternatives: [],
    dependsOn: [],
  };
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}
