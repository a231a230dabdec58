// bcachefs-repair check DEV [--json] [--progress]
import { Disk, checkDisk, problemsOf, type CheckProgress, type Finding, type Problem } from '../src-core/ops/index.js';
import { EXIT_CANCELED, EXIT_ERRORS_UNCORRECTED, EXIT_OK, type Command } from './command.js';
import { cancelOnSigint } from './sigint.js';

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

/** A problem for a person: what, how many findings, the files and data it puts at risk. */
function problemText(p: Problem, i: number): string {
  const lines = [`${i + 1}. ${p.title}: ${plural(p.findings.length, 'finding')}`];
  const r = p.atRisk;
  if (r) {
    const files = r.files.map((f) => `${f.paths[0] ?? '(no name)'} (inode ${f.inode}${f.paths.length > 1 ? `, also ${f.paths.slice(1).join(', ')}` : ''})`);
    if (r.moreFiles) files.push(`and ${plural(r.moreFiles, 'more file')}`);
    if (files.length) lines.push(`   files at risk: ${files.join(', ')}`);
    lines.push(r.sectors === null
      ? `   data at risk: not known from the findings${r.range ? ` (the files with keys in ${r.range})` : ''}`
      : `   data at risk: ${plural(r.sectors, 'sector')} (${r.sectors * 512} bytes) in the extents the findings name`);
  }
  return lines.join('\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function progressText(p: CheckProgress): string {
  const pct = p.phase === 'done' ? ' 100%' : p.bytesTotal ? ` ~${Math.floor(100 * p.fraction)}%` : '';
  return `progress: ${p.phase}${p.btree ? ` ${p.btree}` : ''}: ${p.nodesDone} nodes, ${(p.bytesDone / 1048576).toFixed(1)} MiB read${pct}`;
}

export const check: Command = {
  name: 'check',
  args: ['DEV'],
  summary: "check as bcachefs 2021's fsck -n does (mark and sweep, then the fsck.c passes); exit 0 clean, 4 problems found",
  description:
    'Reports every problem with where it is, what was expected and found, what bcachefs would do, and the exact text ' +
    "bcachefs fsck -n prints for it. Ctrl+C stops the check and prints what was found so far (exit 32).",
  options: {
    json: { type: 'boolean', help: 'one JSON document: device identity, findings, statistics, limitations, notes' },
    progress: { type: 'boolean', help: 'progress lines on stderr' },
  },
  async run({ values, positionals, out }) {
    const disk = Disk.open(positionals[0]!);
    try {
      const r = await cancelOnSigint((token) => checkDisk(disk, {
        token,
        ...(values.progress ? { onProgress: (p: CheckProgress) => out.err(progressText(p)) } : {}),
      }));
      const notes = disk.info().notes;
      const counts = { error: 0, warning: 0, info: 0 };
      for (const f of r.findings) counts[f.severity]++;
      const problems = problemsOf(disk, r.findings);
      if (values.json) {
        out.line(JSON.stringify({ ...disk.envelope(), findings: r.findings, problems, stats: r.stats, aborted: r.aborted, limitations: r.limitations, notes }, null, 1));
      } else {
        for (const n of notes) out.err(`note: ${n}`);
        for (const f of r.findings) out.line(findingText(f) + '\n');
        if (problems.length) {
          out.line(`${plural(problems.length, 'problem')} explaining ${plural(r.findings.length, 'finding')}:`);
          for (const [i, p] of problems.entries()) out.line(problemText(p, i));
          out.line('');
        }
        for (const l of r.limitations) out.line(`limitation: ${l}`);
        // true by construction: the disk is open read-only
        out.line(
          `${r.aborted ? 'check CANCELLED: partial result. ' : ''}${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${plural(counts.info, 'note')} ` +
            `(${r.stats.nodesRead} nodes, ${r.stats.keysVisited} keys in ${(r.stats.ms / 1000).toFixed(2)} s). Nothing was written.`,
        );
      }
      if (r.aborted) return EXIT_CANCELED;
      return counts.error + counts.warning > 0 ? EXIT_ERRORS_UNCORRECTED : EXIT_OK;
    } finally {
      disk.close();
    }
  },
};
