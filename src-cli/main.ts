// bcachefs-repair: the command-line front end over src-core.
import { openFilesystem, OpenError, type OpenedFilesystem } from '../src-core/open.js';
import { forEachKey, forEachNodePointer } from '../src-core/btree/fs.js';
import type { BtreeNode } from '../src-core/btree/node.js';
import { bkeyValToText } from '../src-core/format/print.js';
import { bposToText } from '../src-core/format/bpos.js';
import { BTREE_IDS, btreeIdByName, btreeName } from '../src-core/format/names.js';
import { superblockSummary } from '../src-core/format/superblock.js';
import { describeNodeErrors } from '../src-core/btree/describe.js';
import { checkFilesystem, CheckAborted, type Finding, type CheckProgress } from '../src-core/check/index.js';
import { CancellationTokenSource } from '../src-core/base/cancellation.js';
import { basename } from 'node:path';
import { prUnitsSectors } from './units.js';
import { Output } from './output.js';

/** fsck exit codes */
export const EXIT_OK = 0;
export const EXIT_ERRORS_UNCORRECTED = 4;
export const EXIT_OPERATIONAL = 8;
export const EXIT_USAGE = 16;
export const EXIT_CANCELED = 32;

const USAGE = `usage: bcachefs-repair COMMAND DEV [options]
  show-super DEV [--json]                    superblock fields, as bcachefs show-super prints them
  list DEV --btree NAME [--level N] [--json] keys of a btree (${BTREE_IDS.join(', ')}), or its node pointers at level N
  check DEV [--json] [--progress]            check as bcachefs's mark and sweep does; exit 0 clean, 4 problems found
DEV is a block device or an image file (.img, or .img.gz opened read-only). Nothing is ever written.`;

class UsageError extends Error {}

interface Args {
  cmd: string;
  dev: string;
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[], valued: string[]): Args {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help') throw new UsageError('');
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined];
      if (valued.includes(k)) {
        const val = v ?? rest[++i];
        if (val === undefined) throw new UsageError(`--${k} needs a value`);
        flags.set(k, val);
      } else {
        flags.set(k, true);
      }
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 1) throw new UsageError(positional.length ? `unexpected argument ${positional[1]}` : `${cmd}: which device or image? (DEV missing)`);
  return { cmd, dev: positional[0]!, flags };
}

function ctime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

function showSuper(o: OpenedFilesystem, json: boolean, out: Output): void {
  const sb = o.fs.sb;
  const s = superblockSummary(sb) as Record<string, any>;
  if (json) {
    out.line(JSON.stringify({ ...s, readFromSector: sb.sector, notes: o.notes }, null, 2));
    return;
  }
  const lines = [
    `External UUID:\t\t\t${s.externalUuid}`,
    `Internal UUID:\t\t\t${s.internalUuid}`,
    `Device index:\t\t\t${s.deviceIndex}`,
    `Label:\t\t\t\t${s.label}`,
    `Version:\t\t\t${s.version}`,
    `Oldest version on disk:\t\t${s.oldestVersionOnDisk}`,
    `Created:\t\t\t${s.created ? ctime(s.created) : '(not set)'}`,
    `Squence number:\t\t\t${s.seq}`,
    `Block_size:\t\t\t${prUnitsSectors(sb.blockSize)}`,
    `Btree node size:\t\t${prUnitsSectors(sb.btreeNodeSize)}`,
    `Error action:\t\t\t${s.errorAction}`,
    `Clean:\t\t\t\t${s.clean}`,
    `Features:\t\t\t${s.features}`,
    `Compat features:\t\t${s.compatFeatures}`,
    `Metadata replicas:\t\t${s.metadataReplicas}`,
    `Data replicas:\t\t\t${s.dataReplicas}`,
    `Metadata checksum type:\t\t${s.metadataChecksumType}`,
    `Data checksum type:\t\t${s.dataChecksumType}`,
    `Compression type:\t\t${s.compressionType}`,
    `String hash type:\t\t${s.stringHashType}`,
    `32 bit inodes:\t\t\t${s.inode32bit}`,
    `GC reserve percentage:\t\t${s.gcReservePercent}%`,
    `Root reserve percentage:\t${s.rootReservePercent}%`,
    `Devices:\t\t\t${s.devices.live} live, ${s.devices.total} total`,
    `Sections:\t\t\t${s.sections}`,
    `Superblock size:\t\t${s.superblockSize}`,
    '',
    `Members (size ${sb.fields.find((f) => f.type === 1)?.bytes ?? 0}):`,
  ];
  for (const m of sb.members.filter((x) => x.exists)) {
    const mm = (s.members as any[]).find((x) => x.device === m.index);
    lines.push(
      `  Device ${m.index}:`,
      `    UUID:\t\t\t${m.uuid}`,
      `    Size:\t\t\t${prUnitsSectors(m.bucketSize * m.nbuckets)}`,
      `    Bucket size:\t\t${prUnitsSectors(m.bucketSize)}`,
      `    First bucket:\t\t${m.firstBucket}`,
      `    Buckets:\t\t\t${m.nbuckets}`,
      `    Last mount:\t\t\t${m.lastMount ? ctime(m.lastMount) : '(never)'}`,
      `    State:\t\t\t${mm.state}`,
      `    Data allowed:\t\t${mm.dataAllowed}`,
      `    Replacement policy:\t\t${mm.replacementPolicy}`,
      `    Discard:\t\t\t${m.discard}`,
    );
  }
  if (sb.sector !== 8) lines.push('', `note: read from the backup superblock at sector ${sb.sector}`);
  for (const n of o.notes) out.err(`note: ${n}`);
  out.line(lines.join('\n'));
}

function list(o: OpenedFilesystem, btree: string, level: number | undefined, json: boolean, out: Output): number {
  const id = btreeIdByName(btree);
  if (id < 0) throw new UsageError(`unknown btree "${btree}": one of ${BTREE_IDS.join(', ')}`);
  const fs = o.fs;
  let damaged = 0;
  const reportNode = (node: BtreeNode): void => {
    if (!node.errors.length) return;
    damaged += node.readable ? 0 : 1;
    for (const line of describeNodeErrors(node)) out.err(line);
  };
  const emit = (text: string, extra: Record<string, unknown>): void => {
    // bcachefs list formats each key into a 512-byte buffer
    if (json) out.line(JSON.stringify({ btree: btreeName(id), ...extra, text }));
    else out.line(text.length > 511 ? text.slice(0, 511) : text);
  };
  if (level === undefined) {
    forEachKey(fs, id, (t, r) => emit(bkeyValToText(t, r), { pos: bposToText(t.pos(r)) }), reportNode);
  } else {
    forEachNodePointer(fs, id, level, (text, l) => emit(text, { level: l }), reportNode);
  }
  return damaged ? EXIT_ERRORS_UNCORRECTED : EXIT_OK;
}

function findingText(f: Finding): string {
  const l = f.location;
  const where = [
    l.btree !== undefined ? `btree ${l.btree}` : undefined,
    l.level !== undefined ? `level ${l.level}` : undefined,
    l.node !== undefined ? `node at sector ${l.node.sector}` : undefined,
    l.bucket !== undefined ? `bucket ${l.dev ?? 0}:${l.bucket}` : undefined,
    f.field !== undefined ? `field ${f.field}` : undefined,
  ].filter(Boolean).join(', ');
  const lines = [`${f.severity.toUpperCase()} ${f.id}${where ? ` (${where})` : ''}`];
  const indent = (s: string): string => s.split('\n').map((l) => `    ${l}`).join('\n');
  if (f.fsck_message) lines.push(indent(f.fsck_message));
  else if (f.log_message) lines.push(indent(f.log_message));
  if (f.expected !== undefined || f.actual !== undefined) lines.push(`    expected ${f.expected ?? '-'}, found ${f.actual ?? '-'}`);
  lines.push(`    why: ${f.explanation}`, `    bcachefs's repair: ${f.repair.description}`);
  if (f.known_2021_shortfall) lines.push(`    careful: ${f.known_2021_shortfall}`);
  return lines.join('\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function progressText(p: CheckProgress): string {
  const pct = p.phase === 'done' ? ' 100%' : p.estimatedTotalBytes ? ` ~${Math.min(99, Math.floor((100 * p.bytesRead) / p.estimatedTotalBytes))}%` : '';
  return `progress: ${p.phase}${p.btree ? ` ${p.btree}` : ''}: ${p.nodesDone} nodes, ${(p.bytesRead / 1048576).toFixed(1)} MiB read${pct}`;
}

async function check(o: OpenedFilesystem, devPath: string, json: boolean, progress: boolean, out: Output): Promise<number> {
  const cancel = new CancellationTokenSource();
  const onSigint = (): void => cancel.cancel();
  process.once('SIGINT', onSigint);
  let lastProgress = 0;
  try {
    const r = await checkFilesystem(o.fs, {
      devName: basename(devPath).replace(/\.gz$/i, ''),
      token: cancel.token,
      onProgress: progress
        ? (p) => {
            const now = Date.now();
            if (now - lastProgress >= 200 || p.phase === 'done') {
              lastProgress = now;
              out.err(progressText(p));
            }
          }
        : undefined,
    });
    const counts = { error: 0, warning: 0, info: 0 };
    for (const f of r.findings) counts[f.severity]++;
    if (json) {
      out.line(JSON.stringify({ findings: r.findings, stats: r.stats, aborted: r.aborted, limitations: r.limitations, notes: o.notes }, null, 1));
    } else {
      for (const n of o.notes) out.err(`note: ${n}`);
      for (const f of r.findings) out.line(findingText(f) + '\n');
      for (const l of r.limitations) out.line(`limitation: ${l}`);
      out.line(
        `${r.aborted ? 'check CANCELLED: partial result. ' : ''}${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${plural(counts.info, 'note')} ` +
          `(${r.stats.nodesRead} nodes, ${r.stats.keysVisited} keys in ${(r.stats.ms / 1000).toFixed(2)} s). Nothing was written.`,
      );
    }
    if (r.aborted) return EXIT_CANCELED;
    return counts.error + counts.warning > 0 ? EXIT_ERRORS_UNCORRECTED : EXIT_OK;
  } catch (e) {
    if (e instanceof CheckAborted) return EXIT_CANCELED;
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

export async function main(argv: string[]): Promise<number> {
  const out = new Output();
  let o: OpenedFilesystem | undefined;
  try {
    const args = parseArgs(argv, ['btree', 'level']);
    const json = args.flags.has('json');
    switch (args.cmd) {
      case 'show-super':
        o = openFilesystem(args.dev);
        showSuper(o, json, out);
        return EXIT_OK;
      case 'list': {
        const btree = args.flags.get('btree');
        if (typeof btree !== 'string') throw new UsageError('list needs --btree NAME');
        const lv = args.flags.get('level');
        let level: number | undefined;
        if (lv !== undefined) {
          level = Number(lv);
          if (!Number.isInteger(level) || level < 0 || level > 3) throw new UsageError(`--level must be 0-3, not ${lv}`);
        }
        if (btreeIdByName(btree) < 0) throw new UsageError(`unknown btree "${btree}": one of ${BTREE_IDS.join(', ')}`);
        o = openFilesystem(args.dev);
        return list(o, btree, level, json, out);
      }
      case 'check':
        o = openFilesystem(args.dev);
        return await check(o, args.dev, json, args.flags.has('progress'), out);
      default:
        throw new UsageError(`unknown command "${args.cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      out.err(e.message ? `bcachefs-repair: ${e.message}\n${USAGE}` : USAGE);
      return e.message ? EXIT_USAGE : EXIT_OK;
    }
    if (e instanceof OpenError) {
      out.err(`bcachefs-repair: ${e.message}`);
      return EXIT_OPERATIONAL;
    }
    out.err(`bcachefs-repair: internal error: ${(e as Error).message ?? e}. Nothing was written. Please report this with the command line used.`);
    return EXIT_OPERATIONAL;
  } finally {
    o?.close();
    await out.flush();
  }
}
