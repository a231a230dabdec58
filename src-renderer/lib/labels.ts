// How a finding is named in a list: enough to tell every row apart (class, key position and pointer, inode,
// node, bucket, field), and a numbered suffix when two rows would still read the same.
import type { Finding } from '../../src-core/service/protocol';
import { humanize } from './format';

export function findingLabel(f: Finding): string {
  const l = f.location;
  const parts: string[] = [humanize(f.class)];
  if (l.key && l.key.source !== 'btree_root') {
    parts.push(`${l.btree ?? ''} ${l.key.pos.text}${l.ptr_index !== undefined ? ` ptr ${l.ptr_index}` : ''}`.trim());
    if (l.btree && l.btree !== 'alloc' && l.key.pos.inode !== '0') parts.push(`inode ${l.key.pos.inode}`);
  } else if (l.node) {
    parts.push(`${l.btree ?? ''}${l.level !== undefined ? ` level ${l.level}` : ''} node ${l.node.dev}:${l.node.sector}`.trim());
  } else if (l.btree) {
    parts.push(l.level !== undefined ? `${l.btree} level ${l.level}` : l.btree);
  }
  if (l.bucket !== undefined) parts.push(`bucket ${l.dev ?? 0}:${l.bucket}`);
  else if (l.dev !== undefined) parts.push(`device ${l.dev}`);
  if (f.field) parts.push(f.field);
  return parts.join(' · ');
}

/** Labels for a list of findings, each distinct. */
export function distinctLabels(findings: readonly Finding[]): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const f of findings) {
    const base = findingLabel(f);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    out.set(f.id, n === 1 ? base : `${base} (${n})`);
  }
  return out;
}

export const SEVERITIES = ['error', 'warning', 'info'] as const;

export function sevClass(s: string): string {
  return (SEVERITIES as readonly string[]).includes(s) ? `sev-${s}` : 'sev-info';
}
