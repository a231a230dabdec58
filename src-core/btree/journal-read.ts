// Reading the journal (journal_io.c): every jset in the journal buckets, newest last.
import { parseJset, type Jset } from '../format/journal.js';
import type { Superblock } from '../format/superblock.js';
import type { BlockReader } from './reader.js';

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
  for (const bucket of buckets) {
    const off = bucket * bucketBytes;
    if (off + bucketBytes > dev.size) {
      problems.push(`journal bucket ${bucket} lies beyond the end of the device`);
      continue;
    }
    let buf: Uint8Array;
    try {
      buf = dev.read(off, bucketBytes);
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
