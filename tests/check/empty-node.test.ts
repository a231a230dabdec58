// An interior node without children: made by emptying every bset of a clean image's extents root (the
// injector has no such kind). 2021 bcachefs's gc walks past it silently; its topology repair would print
// "empty interior btree node". We report it as a warning with that text.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Filesystem } from '../../src-core/btree/fs.js';
import { bchChecksum32 } from '../../src-core/format/bytes.js';
import { checkFilesystem } from '../../src-core/check/index.js';
import { fixturePath } from '../helpers/fixtures.js';

describe('empty interior node', () => {
  it('is reported with the text of bcachefs topology repair, graded warning', async () => {
    const img = gunzipSync(readFileSync(fixturePath('clean-32k-depth2')));
    const clean = new Filesystem({ size: img.length, read: (o, l) => img.subarray(o, o + l) });
    const root = clean.roots[0]!;
    expect(root.level).toBe(1);
    const node = clean.readNodeAt(0, 1, root.ptr);
    const base = node.sector * 512;
    // every bset: u64s = 0, checksum recomputed over what is left
    for (const b of node.bsets) {
      const hdr = b.byteOffset === 0 ? base + 136 : base + b.byteOffset + 16;
      img.writeUInt16LE(0, hdr + 22);
      const csumStart = b.byteOffset === 0 ? base + 16 : base + b.byteOffset + 16;
      img.writeUInt32LE(bchChecksum32(b.csumType, img, csumStart, hdr + 24)!, base + b.byteOffset);
    }
    const fs = new Filesystem({ size: img.length, read: (o, l) => img.subarray(o, o + l) });
    const r = await checkFilesystem(fs, { devName: 'image.img' });
    const empty = r.findings.filter((f) => f.class === 'btree_node_empty');
    expect(empty).toHaveLength(1);
    expect(empty[0]).toMatchObject({ severity: 'warning', location: { btree: 'extents', level: 1, node: { sector: node.sector } } });
    // the node is the root: its pointer is the btree root entry, with no parent node
    expect(empty[0]!.location.parent).toBeUndefined();
    expect(empty[0]!.location.key?.source).toBe('btree_root');
    expect(empty[0]!.fsck_message).toBe(
      'empty interior btree node at btree extents level 1\n' +
        '  u64s 11 type btree_ptr_v2 POS_MAX len 0 ver 0: seq 4d96e0ceeba5d8c8 written 0 min_key POS_MIN ptr: 0:29312 gen 1',
    );
    // the leaves it pointed to are no longer reachable: their buckets now disagree with the alloc keys
    expect(r.findings.some((f) => f.class === 'bucket_data_type' || f.class === 'bucket_dirty_sectors')).toBe(true);
  });
});
