// Findings grouped by cause ("problems"): one fault usually shows as several findings (a stale bucket as a
// dozen stale pointers, the bucket's alloc key and the usage counters). With a repair plan, a problem is
// the set of fixes that depend on one another and the findings they resolve; without one (or for findings
// no fix resolves), findings are joined by what they are about: the same node, the same bucket. Usage and
// replicas counters are recomputed from the buckets, so they join the one bucket problem when there is
// exactly one. Plain data, no Node imports (the renderer receives it through the protocol).
import type { Finding, Severity } from '../check/findings.js';
import { FINDING_CLASSES } from '../problems.js';
import type { FixRef, Problem } from './ui-types.js';

export type { FixRef, Problem };

const RANK: Record<string, number> = { error: 0, warning: 1, info: 2 };

/** What a finding is about: the node its fix edits, or the bucket, or null (counters, the fs as a whole). */
function subject(f: Finding): string | null {
  const l = f.location;
  const k = f.repair.kind;
  if (k === 'set_node_min_key' || k === 'set_node_max_key' || k === 'drop_node_pointer') {
    const n = l.child ?? l.node;
    if (n) return `node ${n.dev}:${n.sector}`;
  }
  if (l.bucket !== undefined) return `bucket ${l.dev ?? 0}:${l.bucket}`;
  if (l.child) return `node ${l.child.dev}:${l.child.sector}`;
  if (l.node) return `node ${l.node.dev}:${l.node.sector}`;
  return null;
}

function isCounter(f: Finding): boolean {
  return f.repair.kind === 'rewrite_usage' || f.repair.kind === 'mark_replicas';
}

class Sets {
  private parent = new Map<string, string>();
  find(x: string): string {
    let p = this.parent.get(x) ?? x;
    if (p !== x) {
      p = this.find(p);
      this.parent.set(x, p);
    }
    return p;
  }
  join(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(rb, ra);
  }
}

/** Groups findings into problems (check order of their first finding); every finding is in exactly one. */
export function groupFindings(findings: readonly Finding[], fixes: readonly FixRef[] = []): Problem[] {
  const sets = new Sets();
  const known = new Set(findings.map((f) => f.id));
  const planned = new Set<string>();
  for (const x of fixes) {
    for (const d of x.dependsOn ?? []) sets.join(`fix:${d}`, `fix:${x.id}`);
    for (const r of x.resolves) {
      if (!known.has(r)) continue;
      sets.join(`fix:${x.id}`, `f:${r}`);
      planned.add(r);
    }
  }
  // findings no fix resolves: by subject; counters join the one bucket problem, if there is one
  const counters: Finding[] = [];
  for (const f of findings) {
    if (planned.has(f.id)) continue;
    const s = isCounter(f) ? null : subject(f);
    if (s) sets.join(`s:${s}`, `f:${f.id}`);
    else if (isCounter(f)) counters.push(f);
  }
  const bucketRoots = new Set<string>();
  for (const f of findings) if (f.location.bucket !== undefined && !isCounter(f)) bucketRoots.add(sets.find(`f:${f.id}`));
  const counterRoot = bucketRoots.size === 1 ? [...bucketRoots][0]! : 'counters';
  for (const f of counters) sets.join(counterRoot, `f:${f.id}`);

  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const r = sets.find(`f:${f.id}`);
    let g = groups.get(r);
    if (!g) groups.set(r, (g = []));
    g.push(f);
  }
  const fixesOf = new Map<string, FixRef[]>();
  for (const x of fixes) {
    const r = sets.find(`fix:${x.id}`);
    let l = fixesOf.get(r);
    if (!l) fixesOf.set(r, (l = []));
    l.push(x);
  }
  return [...groups].map(([root, items]) => describe(items, fixesOf.get(root) ?? []));
}

function describe(items: Finding[], fixes: FixRef[]): Problem {
  const counts = new Map<string, number>();
  for (const f of items) counts.set(f.class, (counts.get(f.class) ?? 0) + 1);
  const classes = [...counts].sort((a, b) => b[1] - a[1]).map(([c]) => c);
  const severity = items.reduce<Severity>((s, f) => ((RANK[f.severity] ?? 3) < (RANK[s] ?? 3) ? f.severity : s), items[0]!.severity);
  // the cause: the first finding whose fix does something, not a counter recomputed from it
  const lead = items.find((f) => f.repair.kind !== 'none' && !isCounter(f)) ?? items[0]!;
  const where = isCounter(lead) ? undefined : subject(lead) ?? undefined;
  const btree = lead.location.btree;
  const summary = (FINDING_CLASSES as Record<string, string>)[lead.class] ?? lead.class;
  const at = [btree && (lead.location.level !== undefined ? `${btree} level ${lead.location.level}` : btree), where].filter(Boolean).join(', ');
  const title = fixes[0]?.title ?? `${summary.charAt(0).toUpperCase()}${summary.slice(1)}${at ? ` (${at})` : ''}`;
  return {
    id: fixes[0]?.id ?? items[0]!.id,
    title,
    groupedBy: fixes.length ? 'plan' : 'location',
    severity,
    ...(btree ? { btree } : {}),
    ...(where ? { where } : {}),
    fixes: fixes.map((x) => x.id),
    classes,
    findings: items.map((f) => f.id),
  };
}
