// Superblock and jset entry encoders: decode -> encode -> identical bytes for the primary superblock (every
// field, the clean section entry by entry), every backup copy in the layout, and the layout at sector 7.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openFilesystem } from '../../src-core/open.js';
import { KeyTable } from '../../src-core/format/bkey.js';
import {
  decodeEntryKeys, decodeUsageEntry, BCH_JSET_ENTRY_btree_root, type JsetEntry,
} from '../../src-core/format/journal.js';
import { parseSuperblock, BCH_SB_FIELD_clean, BCH_SB_FIELD_replicas, BCH_SB_FIELD_replicas_v0 } from '../../src-core/format/superblock.js';
import { bkeyFields, encodeKey } from '../../src-core/format/encode-key.js';
import { encodeBtreeRootEntry, encodeJsetEntry, encodeUsageEntry } from '../../src-core/format/encode-jset.js';
import {
  encodeCleanField, encodeReplicasField, encodeSuperblock, sbFieldsOf, sbLayoutBytes, superblockCopy, withSbHeader,
} from '../../src-core/format/encode-sb.js';
import { FIXTURES, PROJECT_ROOT } from '../helpers/fixtures.js';

const FS_FIXTURES = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-fs');
const UNCLEAN = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021-unclean');
const images = [FIXTURES, FS_FIXTURES, UNCLEAN].flatMap((dir) =>
  existsSync(dir) ? readdirSync(dir).filter((d) => existsSync(join(dir, d, 'image.img.gz'))).sort().map((d) => [d, join(dir, d, 'image.img.gz')] as const) : [],
);

/** An entry re-encoded from what journal.ts decodes of it. */
function reencode(e: JsetEntry): Uint8Array {
  if (e.type === BCH_JSET_ENTRY_btree_root) {
    const t = new KeyTable(1);
    t.reset(e.buf);
    expect(decodeEntryKeys(e, t)).toBeUndefined();
    return encodeBtreeRootEntry(e.btreeId, e.level, encodeKey(bkeyFields(t, 0), t.value(0), null));
  }
  const u = decodeUsageEntry(e);
  if (u) return encodeUsageEntry(u);
  return encodeJsetEntry(e.type, e.btreeId, e.level, e.buf.subarray(e.start, e.end));
}

describe.each(images)('%s', (_name, path) => {
  it('superblock fields, checksum, backups and layout re-encode to the bytes on disk', { timeout: 60_000 }, () => {
    const o = openFilesystem(path);
    try {
      const sb = o.fs.sb;
      expect(o.fs.sbRead.usedBackup, 'the primary superblock was readable').toBe(false);
      let entries = 0;
      const fields = sbFieldsOf(sb).map((f) => {
        if (f.type === BCH_SB_FIELD_replicas || f.type === BCH_SB_FIELD_replicas_v0) return { type: f.type, payload: encodeReplicasField(sb.replicas, f.type) };
        if (f.type === BCH_SB_FIELD_clean) {
          const c = sb.cleanSection!;
          const enc = c.entries.map((e) => {
            entries++;
            const b = reencode(e);
            expect(Buffer.from(b), `clean entry type ${e.type} btree ${e.btreeId}`).toEqual(Buffer.from(e.buf.subarray(e.start - 8, e.end)));
            return b;
          });
          return { type: f.type, payload: encodeCleanField(c.flags, c.journalSeq, enc) };
        }
        return f;
      });
      expect(Buffer.from(encodeSuperblock(sb.bytes, fields))).toEqual(Buffer.from(sb.bytes));
      if (sb.clean) expect(entries, 'clean section entries').toBeGreaterThan(0);
      const offsets = sb.layout.sbOffsets;
      expect(offsets.length).toBeGreaterThan(1);
      for (const s of offsets) {
        const onDisk = o.dev.read(s * 512, sb.bytes.length);
        expect(Buffer.from(superblockCopy(sb.bytes, s)), `copy at sector ${s}`).toEqual(Buffer.from(onDisk));
      }
      expect(Buffer.from(o.dev.read(7 * 512, 512))).toEqual(Buffer.from(sbLayoutBytes(sb.bytes)));
    } finally {
      o.close();
    }
  });
});

describe('superblock header edits', () => {
  it('seq and clean flag changes decode back, with a valid checksum', () => {
    const o = openFilesystem(images[0]![1]);
    try {
      const sb = o.fs.sb;
      const next = parseSuperblock(withSbHeader(sb.bytes, { seq: sb.seq + 1n, clean: !sb.clean }), 8);
      expect(next.csumOk).toBe(true);
      expect(next.seq).toBe(sb.seq + 1n);
      expect(next.clean).toBe(!sb.clean);
      // a backup copy made from the primary is a valid superblock that says where it lives
      const copy = parseSuperblock(superblockCopy(sb.bytes, sb.layout.sbOffsets[1]!), sb.layout.sbOffsets[1]!);
      expect(copy.offset).toBe(sb.layout.sbOffsets[1]);
      expect(copy.csumOk).toBe(true);
    } finally {
      o.close();
    }
  });
});
