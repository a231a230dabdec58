// Keys still in the journal are laid over the btree (bch2_btree_and_journal_iter), for listing and for the
// check alike. No fixture has such keys, so one is written: the clean image is marked unclean and a journal
// entry (seq 21, after the newest, same roots) whiteouts the first extent.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Filesystem, forEachKey } from '../../src-core/btree/fs.js';
import { bchChecksum32 } from '../../src-core/format/bytes.js';
import { bkeyValToText } from '../../src-core/format/print.js';
import { checkFilesystem } from '../../src-core/check/index.js';
import { expectedListLines, fixturePath, normalizeInlineData } from '../helpers/fixtures.js';

function imageWithJournalWhiteout(): { img: Buffer; whiteout: string } {
  const img = gunzipSync(readFileSync(fixturePath('clean-32k-depth2')));
  const clean = new Filesystem({ size: img.length, read: (o, l) => img.subarray(o, o + l) });
  const newest = clean.journal.jsets.at(-1)!;
  expect(newest.seq).toBe(20n);
  const sb = 4096;
  img[sb + 144] = img[sb + 144]! & ~2; // clear BCH_SB_CLEAN
  img.writeUInt32LE(bchChecksum32(1, img, sb + 16, sb + 752 + img.readUInt32LE(sb + 124) * 8)!, sb);

  // the new entry: the newest entry's btree roots, and a btree_keys entry for extents with one whiteout
  const roots = newest.entries.filter((e) => e.type === 1).map((e) => Buffer.from(e.buf.subarray(e.start - 8, e.end)));
  const whiteout = Buffer.alloc(8 + 40);
  whiteout.writeUInt16LE(5, 0); // jset_entry: u64s 5, btree extents, level 0, type btree_keys
  whiteout[8] = 5; // bkey: u64s 5, KEY_FORMAT_CURRENT, type deleted
  whiteout[9] = 1;
  whiteout.writeUInt32LE(0xffffffff, 8 + 20); // p = 4118:40:U32_MAX (the first extent)
  whiteout.writeBigUInt64LE(40n, 8 + 24);
  whiteout.writeBigUInt64LE(4118n, 8 + 32);
  const body = Buffer.concat([...roots, whiteout]);
  const j = Buffer.alloc(56 + body.length);
  j.writeBigUInt64LE(clean.sb.jsetMagic, 16);
  j.writeBigUInt64LE(21n, 24); // seq
  j.writeUInt32LE(13, 32); // version
  j.writeUInt32LE(1, 36); // flags: crc32c_nonzero, a flush entry
  j.writeUInt32LE(body.length / 8, 40);
  j.writeBigUInt64LE(21n, 48); // last_seq
  body.copy(j, 56);
  j.writeUInt32LE(bchChecksum32(1, j, 16, j.length)!, 0);
  const at = newest.deviceOffset + Math.ceil(newest.bytes / 4096) * 4096;
  j.copy(img, at);
  return { img, whiteout: 'u64s 7 type extent 4118:40:U32_MAX' };
}

describe('journal keys laid over the btree', () => {
  const { img, whiteout } = imageWithJournalWhiteout();
  const open = () => new Filesystem({ size: img.length, read: (o, l) => img.subarray(o, o + l) });

  it('list hides the key the journal deleted and shows every other', () => {
    const fs = open();
    expect(fs.rootsFrom).toBe('journal');
    expect(fs.journalKeys.table.n).toBe(1);
    const got: string[] = [];
    forEachKey(fs, 0, (t, r) => got.push(normalizeInlineData(bkeyValToText(t, r))));
    const expected = expectedListLines('clean-32k-depth2', 'list/extents.keys.txt')!;
    expect(expected[0]).toMatch(new RegExp(`^${whiteout} `));
    expect(got).toEqual(expected.slice(1).map(normalizeInlineData));
  });

  it('the check sees the deletion too: its sectors are no longer in the bucket', async () => {
    const r = await checkFilesystem(open(), { devName: 'image.img' });
    // the extent's 40 sectors at 0:8960 (bucket 35 of 256 sectors) are gone from the recount
    const f = r.findings.find((x) => x.class === 'bucket_dirty_sectors' && x.location.bucket === 35);
    expect(f, JSON.stringify(r.findings.map((x) => x.id))).toBeDefined();
    expect(Number(f!.actual) - Number(f!.expected)).toBe(40);
  });
});
