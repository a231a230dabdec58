// Synthetic fixes for the journal tests: real byte changes to the btree nodes of a real fixture image (the
// node sectors come from the fixture's nodes.txt, printed by the real bcachefs). Each fix is planned from the
// disk as it is when it is made, as the repair planner does. Fix "b" rewrites bytes that fix "a" wrote, so the
// two share blocks.
import { readFileSync } from 'node:fs';

/** Node sectors by btree name, from nodes.txt ("extents  L0 sector 17920 ..."). */
export function nodeSectors(nodesTxt) {
  const out = {};
  for (const line of readFileSync(nodesTxt, 'latin1').split('\n')) {
    const m = /^(\w+)\s+L(\d+) sector (\d+)/.exec(line);
    if (m && out[m[1]] === undefined) out[m[1]] = Number(m[3]);
  }
  return out;
}

/** Per fix, its writes: [btree, byte offset into the node, length, xor]. */
export function syntheticSpecs(sectors) {
  return [
    { id: 'a', title: 'rewrite the extents and inodes node headers', writes: [['extents', 0, 512, 0xff], ['inodes', 0, 1024, 0xa5]] },
    { id: 'b', title: 'rewrite part of the extents node again', writes: [['extents', 256, 768, 0x5a]] },
    { id: 'c', title: 'rewrite the dirents and alloc nodes', writes: [['dirents', 4096, 700, 0x3c], ['alloc', 100, 3000, 0x0f]] },
  ].map((f) => ({ ...f, writes: f.writes.map(([btree, into, length, xor]) => ({ btree, sector: sectors[btree], offset: sectors[btree] * 512 + into, length, xor })) }));
}

/** A FixPlan from a spec, reading the old bytes through read(offset, length). */
export function planFromSpec(spec, read) {
  return {
    id: spec.id,
    title: spec.title,
    resolves: [`synthetic:${spec.id}`],
    writes: spec.writes.map(({ btree, sector, offset, length, xor }) => {
      const old = Buffer.from(read(offset, length));
      const neu = Buffer.from(old.map((b) => b ^ xor));
      return {
        offset, old, new: neu,
        target: { kind: 'node', btree, level: 0, sector, what: `${length} bytes at +${offset - sector * 512}` },
        changes: [{ field: 'bytes', before: old.subarray(0, 4).toString('hex'), after: neu.subarray(0, 4).toString('hex') }],
      };
    }),
  };
}

/** Applies every synthetic fix in one session (decision recorded first); returns the journal fix numbers. */
export function applySynthetic(session, sectors) {
  return syntheticSpecs(sectors).map((spec) => {
    session.recordDecision(spec.id, 'accepted');
    return session.apply(planFromSpec(spec, (o, l) => session.dev.read(o, l)));
  });
}
