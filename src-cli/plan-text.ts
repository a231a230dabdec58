// How plan and repair print a fix and what is left (shared by both commands).
import type { RepairFix, Unresolved } from '../src-core/ops/index.js';

export function fixText(f: RepairFix, indent = ''): string {
  const lines = [`${indent}FIX ${f.id}: ${f.title}`, `${indent}    what: ${f.summary}`];
  for (const e of f.evidence) lines.push(`${indent}    evidence: ${e}`);
  for (const k of f.kept) lines.push(`${indent}    kept: ${k}`);
  for (const l of f.lost) lines.push(`${indent}    LOST: ${l}`);
  if (f.dependsOn.length) lines.push(`${indent}    planned on top of: ${f.dependsOn.join(', ')}`);
  for (const w of f.writes) {
    const t = w.target;
    const where = t.kind === 'node' ? `${t.btree} node at sector ${t.sector} (level ${t.level})` : t.kind === 'key' ? `${t.btree} key ${t.pos}` : `superblock at sector ${t.sector} (${t.field})`;
    lines.push(`${indent}    writes ${w.new.length} bytes at byte ${w.offset}: ${where}`);
    for (const c of w.changes ?? []) lines.push(`${indent}        ${c.field}: ${c.before} -> ${c.after}`);
  }
  lines.push(`${indent}    resolves ${f.resolves.length}: ${f.resolves.join(', ')}`);
  for (const a of f.alternatives) lines.push(`${indent}    alternative (--only ${a.id}):`, fixText(a, `${indent}        `));
  return lines.join('\n');
}

export function unresolvedText(u: Unresolved): string {
  return `NO FIX ${u.finding.id} (${u.finding.severity}): ${u.reason}`;
}
