// The report as one self-contained HTML file: nothing loaded from outside, no script, a strict
// Content-Security-Policy (the one style block is allowed by its hash), every text escaped (file names and
// keys come from the disk and are attacker-controlled), laid out to read well printed.
import { createHash } from 'node:crypto';
import type { Report, ReportFix, ReportSession } from './model.js';

export function escapeHtml(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10.5pt; color: #111; }
body { margin: 2em auto; max-width: 60em; padding: 0 1em; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #888; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 .8em; }
th, td { border: 1px solid #bbb; padding: .2em .4em; text-align: left; vertical-align: top; }
th { background: #eee; }
table.kv th { width: 12em; }
.mono, code { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: .9em; word-break: break-all; }
.pre { white-space: pre-wrap; }
.state { font-weight: bold; }
.error { color: #a00; } .warning { color: #8a5a00; } .info { color: #335; }
.fix { border: 1px solid #999; padding: 0 .8em .4em; margin: .8em 0; break-inside: avoid-page; }
.head { border: 2px solid #333; padding: .4em .8em; margin: 1em 0; }
@page { size: A4; margin: 15mm 12mm; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } thead { display: table-header-group; } tr { break-inside: avoid; } }
`;

function kv(rows: [string, unknown, boolean?][]): string {
  return `<table class="kv">${rows.map(([k, v, mono]) => `<tr><th>${escapeHtml(k)}</th><td${mono ? ' class="mono"' : ''}>${escapeHtml(v ?? '—')}</td></tr>`).join('')}</table>`;
}

function targetText(t: ReportFix['writes'][number]['target']): string {
  if (t.kind === 'node') return `${t.btree} node, level ${t.level}, sector ${t.sector}${t.what ? ` (${t.what})` : ''}`;
  if (t.kind === 'key') return `${t.btree} key ${t.pos}${t.nodeSector !== undefined ? ` in the node at sector ${t.nodeSector}` : ''}`;
  return `superblock at sector ${t.sector}: ${t.field}`;
}

function fixHtml(f: ReportFix): string {
  const writes = f.writes.map((w) => `<tr>
<td class="mono">${w.sector}<br>+${w.offset % 512}</td><td>${w.length}</td><td>${escapeHtml(targetText(w.target))}</td>
<td class="mono">before ${escapeHtml(w.beforeSha256)}<br>after ${escapeHtml(w.afterSha256)}</td>
<td>${w.changes.map((c) => `<div><b>${escapeHtml(c.field)}</b>: <span class="mono">${escapeHtml(c.before)}</span> → <span class="mono">${escapeHtml(c.after)}</span></div>`).join('')}</td></tr>`).join('');
  const events = f.events.map((e) => `<li>${escapeHtml(e.at)}: ${escapeHtml(e.kind.replace(/_/g, ' '))} (session ${e.session})${Object.keys(e.detail).length ? ` <span class="mono">${escapeHtml(JSON.stringify(e.detail))}</span>` : ''}</li>`).join('');
  return `<div class="fix"><h3>Fix ${f.id}: ${escapeHtml(f.title)} <span class="state">[${escapeHtml(f.state.replace(/_/g, ' '))}]</span></h3>
<p>Plan id <code>${escapeHtml(f.planId)}</code>; resolves: ${f.resolves.map((r) => `<code>${escapeHtml(r)}</code>`).join(', ') || 'no finding named'}.</p>
<table><thead><tr><th>sector</th><th>bytes</th><th>what</th><th>SHA-256</th><th>changed fields (before → after)</th></tr></thead><tbody>${writes}</tbody></table>
<ul>${events}</ul></div>`;
}

/** A problem as the repair recorded it in the check's summary (ops/at-risk.ts): what, its findings, the files and data at risk. */
interface RecordedProblem {
  title: string;
  findings: string[];
  atRisk?: { files: Array<{ inode: string; paths: string[] }>; moreFiles: number; sectors: number | null; range?: string };
}

function recordedProblems(summary: Record<string, unknown>): RecordedProblem[] {
  const p = summary.problems;
  return Array.isArray(p) ? p.filter((x): x is RecordedProblem => typeof x?.title === 'string' && Array.isArray(x.findings)) : [];
}

function problemsHtml(ps: RecordedProblem[]): string {
  if (!ps.length) return '';
  const rows = ps.map((p) => {
    const r = p.atRisk;
    const files = r ? [...r.files.map((f) => `<div><span class="mono">${escapeHtml(f.paths.join(', ') || '(no name)')}</span> (inode ${escapeHtml(f.inode)})</div>`), r.moreFiles ? `<div>and ${r.moreFiles} more</div>` : ''].join('') : '—';
    const data = !r ? '—' : r.sectors === null ? `not known from the findings${r.range ? ` (keys in <span class="mono">${escapeHtml(r.range)}</span>)` : ''}` : `${r.sectors} sectors (${r.sectors * 512} bytes)`;
    return `<tr><td>${escapeHtml(p.title)}</td><td>${p.findings.length}</td><td>${files}</td><td>${data}</td></tr>`;
  });
  return `<table class="problems"><thead><tr><th>problem</th><th>findings</th><th>files at risk</th><th>data at risk</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function sessionHtml(s: ReportSession): string {
  const checks = s.checks.map((c) => `<h3>Check ${c.stage === 'before' ? 'before' : 'after'} repair (${escapeHtml(c.at)}): ${c.findings.length} finding${c.findings.length === 1 ? '' : 's'}</h3>
${problemsHtml(recordedProblems(c.summary))}${c.findings.length ? `<table><thead><tr><th>finding</th><th>severity</th><th>btree</th><th>what</th></tr></thead><tbody>${c.findings.map((f) => `<tr><td class="mono">${escapeHtml(f.id)}</td><td class="${escapeHtml(f.severity)}">${escapeHtml(f.severity)}</td><td>${escapeHtml(f.btree ?? '')}</td><td class="pre">${escapeHtml(f.message ?? f.class)}</td></tr>`).join('')}</tbody></table>` : '<p>Nothing found.</p>'}`).join('');
  const decisions = s.decisions.length
    ? `<h3>Decisions</h3><table><thead><tr><th>when</th><th>fix</th><th>decision</th><th>note</th></tr></thead><tbody>${s.decisions.map((d) => `<tr><td>${escapeHtml(d.at)}</td><td class="mono">${escapeHtml(d.planId)}</td><td>${escapeHtml(d.decision)}${d.alternative ? `: ${escapeHtml(d.alternative)}` : ''}</td><td>${escapeHtml(d.note ?? '')}</td></tr>`).join('')}</tbody></table>`
    : '';
  return `<h2>Session ${s.id}</h2>
${kv([['who', `${s.who}${s.whoSource === 'os' ? ' (operating system user)' : ''}`], ['when', s.startedAt], ['tool', s.toolVersion], ['device path', s.devicePath, true], ['case', s.caseRef], ['customer', s.customer], ['technician', s.technician]])}
${checks}${decisions}${s.fixes.length ? `<h3>Fixes</h3>${s.fixes.map(fixHtml).join('')}` : ''}`;
}

export function renderHtml(r: Report): string {
  const styleHash = createHash('sha256').update(STYLE).digest('base64');
  const csp = `default-src 'none'; style-src 'sha256-${styleHash}'; script-src 'none'; img-src 'none'; font-src 'none'; connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'`;
  const first = r.sessions[0];
  const d = r.device;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="referrer" content="no-referrer">
<title>bcachefs repair report${first?.caseRef ? ` — case ${escapeHtml(first.caseRef)}` : ''}</title>
<style>${STYLE}</style></head><body>
<h1>bcachefs repair report</h1>
<p>Made ${escapeHtml(r.generatedAt)} by ${escapeHtml(r.generatedBy)} from the journal <span class="mono">${escapeHtml(r.journal.file)}</span>${r.sessionFilter !== null ? `, session ${r.sessionFilter} only` : ''}.</p>
<div class="head"><b>Journal chain head</b> (pins this report to the journal; <code>bcachefs-repair verify --journal FILE --report R.json</code> checks it):<br>
position ${r.journal.chainHead.seq}, SHA-256 <span class="mono">${escapeHtml(r.journal.chainHead.hash)}</span></div>
<h2>Device</h2>
${d ? kv([['filesystem uuid', d.uuid, true], ['path', d.path, true], ['size', `${d.size} bytes`], ['kind', d.isBlockDevice ? 'block device' : 'image file'], ['serial', d.serial, true], ['WWN', d.wwn, true], ['superblock SHA-256 (at the last session start)', d.sbSha256, true]]) : '<p>No device recorded.</p>'}
${r.sessions.map(sessionHtml).join('\n')}
</body></html>
`;
}
