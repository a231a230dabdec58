// Decode -> encode -> identical bytes, on every btree node reachable in every fixture: node headers, bsets
// (over the bytes each checksum covers, checksum included), every key packed or unpacked, and the values
// a repair rewrites (alloc_v2, inode, dirent, btree_ptr_v2 and its pointers).
import { afterAll, describe, expect, it } from 'vitest';
import { walkNodes } from './encode-helpers.js';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openFilesystem } from '../../src-core/open.js';
import { BTREE_ID_NR, KEY_TYPE_alloc_v2, KEY_TYPE_btree_ptr_v2, KEY_TYPE_dirent, KEY_TYPE_extent, KEY_TYPE_inode } from '../../src-core/format/names.js';
import { readU16 } from '../../src-core/format/bytes.js';
import { allocUnpack, direntName, ExtentEntryIter, BCH_EXTENT_ENTRY_ptr, inodeUnpack, newAllocUnpacked, BTREE_PTR_V2_HEADER_BYTES } from '../../src-core/format/values.js';
import { bkeyFields, encodeKey } from '../../src-core/format/encode-key.js';
import {
  encodeAllocV2, encodeBtreePtrV2, encodeDirent, encodeExtentPtr, encodeInode, inodeHeader, readBtreePtrV2Value,
} from '../../src-core/format/encode-value.js';
import { encodeNode, readNodeImage, NODE_HEADER_BYTES } from '../../src-core/format/encode-node.js';
import { FIXTURES, PROJECT_ROOT } from '../helpers/fixtures.js';

const FS_FIXTURES = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-fs');
const UNCLEAN = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-unclean');
const images = [FIXTURES, FS_FIXTURES, UNCLEAN].flatMap((dir) =>
  readdirSync(dir).filter((d) => existsSync(join(dir, d, 'image.img.gz'))).sort().map((d) => [d, join(dir, d, 'image.img.gz')] as const),
);

const total = { nodes: 0, skipped: 0, bsets: 0, badCsumBsets: 0, keys: 0, packed: 0, alloc: 0, inodes: 0, dirents: 0, ptrs: 0 };
afterAll(() => {
  console.log(`encode round trip over ${images.length} images: ${JSON.stringify(total)}`);
});

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

describe.each(images)('%s', (_name, path) => {
  it('every node, bset, key and value re-encodes to the same bytes', { timeout: 120_000 }, () => {
    const o = openFilesystem(path);
    const mismatches: string[] = [];
    const bad = (what: string): void => {
      if (mismatches.length < 10) mismatches.push(what);
    };
    let nodes = 0;
    try {
      const sb = o.fs.sb;
      const geo = { nodeBytes: sb.btreeNodeSize * 512, blockBytes: sb.blockSize * 512 };
      for (let id = 0; id < BTREE_ID_NR; id++) {
        walkNodes(o.fs, id, (node) => {
          if (!node.readable || !node.bsets.length) {
            total.skipped++;
            return;
          }
          nodes++;
          const where = `btree ${id} level ${node.level} sector ${node.sector}`;
          const enc = encodeNode(readNodeImage(node.buf, node.bsets), geo);
          node.bsets.forEach((b, i) => {
            total.bsets++;
            if (enc.offsets[i] !== b.byteOffset) bad(`${where}: bset ${i} placed at ${enc.offsets[i]}, read at ${b.byteOffset}`);
            const hdr = i === 0 ? NODE_HEADER_BYTES : b.byteOffset + 16;
            const end = hdr + 24 + readU16(node.buf, hdr + 22) * 8;
            // a bset whose stored checksum is wrong (badcsum fixtures) matches after its csum field
            const from = b.csumOk === false ? b.byteOffset + 16 : b.byteOffset;
            if (b.csumOk === false) total.badCsumBsets++;
            if (!eq(enc.bytes.subarray(from, end), node.buf.subarray(from, end))) bad(`${where}: bset ${i} differs`);
          });
          const t = node.keys;
          const fmt = node.format;
          for (let r = 0; r < t.n; r++) {
            total.keys++;
            const orig = t.buf.subarray(t.keyOff[r]!, t.keyOff[r]! + t.diskU64s[r]! * 8);
            const val = t.value(r);
            if (t.packed[r]) total.packed++;
            if (!eq(encodeKey(bkeyFields(t, r), val, fmt), orig)) bad(`${where}: key ${r} differs`);
            const ty = t.type[r]!;
            if (ty === KEY_TYPE_alloc_v2) {
              const a = newAllocUnpacked();
              expect(allocUnpack(ty, val, 0, val.length, a)).toBe(true);
              total.alloc++;
              if (!eq(encodeAllocV2(a), val)) bad(`${where}: alloc_v2 value ${r} differs`);
            } else if (ty === KEY_TYPE_inode) {
              const u = inodeUnpack(val)!;
              total.inodes++;
              if (!eq(encodeInode({ ...inodeHeader(val), mode: u.mode, fields: u.fields }), val)) bad(`${where}: inode value ${r} differs`);
            } else if (ty === KEY_TYPE_dirent) {
              total.dirents++;
              if (!eq(encodeDirent(new DataView(val.buffer, val.byteOffset).getBigUint64(0, true), val[8]!, direntName(val)), val)) bad(`${where}: dirent ${r} differs`);
            } else if (ty === KEY_TYPE_btree_ptr_v2) {
              if (!eq(encodeBtreePtrV2(readBtreePtrV2Value(val)), val)) bad(`${where}: btree_ptr_v2 ${r} differs`);
              checkPtrs(val, BTREE_PTR_V2_HEADER_BYTES, where, bad);
            } else if (ty === KEY_TYPE_extent) {
              checkPtrs(val, 0, where, bad);
            }
          }
        });
      }
    } finally {
      o.close();
    }
    total.nodes += nodes;
    expect(mismatches).toEqual([]);
    expect(nodes, 'nodes covered').toBeGreaterThan(0);
  });
});

/** Every bch_extent_ptr entry of a value re-encodes to its u64. */
function checkPtrs(val: Uint8Array, start: number, where: string, bad: (s: string) => void): void {
  const it = new ExtentEntryIter();
  it.set(val, start, val.length, 0);
  for (let e = it.next(); e >= 0; e = it.next()) {
    if (e !== BCH_EXTENT_ENTRY_ptr) continue;
    total.ptrs++;
    const enc = encodeExtentPtr({ dev: it.ptrDev, offset: it.ptrOffset, gen: it.ptrGen, cached: it.ptrCached, reservation: it.ptrReservation });
    if (!eq(enc, val.subarray(it.entryOff, it.entryOff + 8))) bad(`${where}: pointer ${it.ptrDev}:${it.ptrOffset} differs`);
  }
}
