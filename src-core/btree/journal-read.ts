// Reading the journal (journal_io.c): every jset in the journal buckets, newest last.
import { parseJset, decodeEntryKeys, BCH_JSET_ENTRY_btree_keys, type Jset } from '../format/journal.js';
import { KeyTable } from '../format/bkey.js';
import { readU64 } from '../format/bytes.js';
import { bkeyValToText } from '../format/print.js';
import { btreeName } from '../format/names.js';
import type { Superblock } from '../format/superblock.js';
import type { BlockReader } from './reader.js';

/** journal bucket heads read ahead of the one being read */
const JOURNAL_READAHEAD = 32;

export interface JournalReadResult {
  jsets: Jset[];
  problems: string[];
}

export function readJournal(dev: BlockReader, sb: Superblock): JournalReadResult {
  const jsets: Jset[] = [];
  const problems: string[] = [];
  const member = sb.members[sb.devIdx];
  const buckets = sb.journalBuckets[sb.devIdx] ?? [];
  if (!member) return { jsets, problems: ['no member entry for this device'] };
  const bucketBytes = member.bucketSize * 512;
  const blockBytes = sb.blockSize * 512;
  // Most buckets of a clean filesystem's journal hold no entry: read each bucket's first block (ahead, in
  // the background where the device can), and the whole bucket only where a jset starts.
  const headBytes = Math.min(bucketBytes, Math.max(blockBytes, 4096));
  const inDevice = (b: number): boolean => b * bucketBytes + bucketBytes <= dev.size;
  for (let i = 0; i < JOURNAL_READAHEAD && i < buckets.length; i++) if (inDevice(buckets[i]!)) dev.prefetch?.(buckets[i]! * bucketBytes, headBytes);
  for (let i = 0; i < buckets.length; i++) {
    const bucket = buckets[i]!;
    const ahead = buckets[i + JOURNAL_READAHEAD];
    if (ahead !== undefined && inDevice(ahead)) dev.prefetch?.(ahead * bucketBytes, headBytes);
    const off = bucket * bucketBytes;
    if (!inDevice(bucket)) {
      problems.push(`journal bucket ${bucket} lies beyond the end of the device`);
      continue;
    }
    let buf: Uint8Array;
    try {
      buf = dev.read(off, headBytes);
      if (readU64(buf, 16) !== sb.jsetMagic) continue; // what parseJset would find at offset 0: no entry
      if (headBytes < bucketBytes) buf = dev.read(off, bucketBytes);
    } catch (e) {
      problems.push(`journal bucket ${bucket}: ${(e as Error).message}`);
      continue;
    }
    for (let p = 0; p < bucketBytes; ) {
      const j = parseJset(buf, p, sb.jsetMagic, off + p);
      if (!j) break;
      jsets.push(j);
      if (j.error) {
        problems.push(`journal bucket ${bucket} offset ${p}: ${j.error}`);
        break;
      }
      if (j.csumOk === false) problems.push(`journal entry ${j.seq} in bucket ${bucket}: bad checksum`);
      p += Math.ceil(j.bytes / blockBytes) * blockBytes;
    }
  }
  jsets.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  return { jsets, problems };
}

/** The journal as `bcachefs list_journal` prints it: each entry's header, then its btree keys. */
export function journalToText(jsets: Jset[], cb: (line: string) => void): void {
  const t = new KeyTable(64);
  for (const j of jsets) {
    cb(`journal entry   ${String(j.seq).padStart(8)}`);
    cb(`    version     ${String(j.version).padStart(8)}`);
    cb(`    last seq    ${String(j.lastSeq).padStart(8)}`);
    for (const e of j.entries) {
      if (e.type !== BCH_JSET_ENTRY_btree_keys) continue;
      t.reset(e.buf);
      decodeEntryKeys(e, t);
      // list_journal formats each key into a 200-byte buffer
      for (let r = 0; r < t.n; r++) cb(`btree ${btreeName(e.btreeId)} l ${e.level}: ${bkeyValToText(t, r).slice(0, 199)}`);
    }
  }
}
