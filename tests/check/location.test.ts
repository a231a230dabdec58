// Findings a fix can be planned from: every location found on the fixtures points at the bytes it names
// (the node, the key's bset and byte offset, the parent's pointer), and the gc state comes back with them.
import { afterAll, describe, expect, it } from 'vitest';
import { BtreeWalk, btreePtrFromKey } from '../../src-core/btree/fs.js';
import { checkFilesystem, type Finding } from '../../src-core/check/index.js';
import { bposToText } from '../../src-core/format/bpos.js';
import { PROBLEMS } from '../../src-core/problems.js';
import { allFixtures, cleanFixtures, closeFixtures, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);

interface KeyAt {
  f: Finding;
  sector: number;
  byteOffset: number;
  bset: number;
  pos: string;
  /** the sector the key must point to (a btree pointer) */
  pointsTo?: number;
}

/** What each finding says is at a byte offset of a node. */
function claims(findings: Finding[]): KeyAt[] {
  const out: KeyAt[] = [];
  for (const f of findings) {
    const l = f.location;
    if (l.key?.source !== 'bset') continue;
    // node findings: the key is the pointer to `node`, held by `parent`; key findings: `node` holds it
    const holder = l.parent ?? l.node!;
    const pointsTo = l.parent ? l.node!.sector : l.child?.sector;
    out.push({ f, sector: holder.sector, byteOffset: l.key.byte_offset!, bset: l.key.bset!, pos: l.key.pos.text, ...(pointsTo !== undefined ? { pointsTo } : {}) });
  }
  return out;
}

describe.each(allFixtures())('%s', (fx) => {
  it('locates every key by node, bset and byte offset, with exact position parts', async () => {
    const o = openFixture(fx);
    const r = await checkFilesystem(o.fs, { devName: 'image.img' });
    for (const f of r.findings) {
      // JSON-safe and exact: no bigint, 64-bit parts as decimal strings
      expect(() => JSON.stringify(f)).not.toThrow();
      const k = f.location.key;
      if (k) {
        expect(k.pos.inode).toMatch(/^\d+$/);
        expect(k.pos.offset).toMatch(/^\d+$/);
        expect(bposToText({ inode: BigInt(k.pos.inode), offset: BigInt(k.pos.offset), snapshot: k.pos.snapshot })).toBe(k.pos.text);
      }
      if (f.location.node?.seq !== undefined) expect(f.location.node.seq).toMatch(/^\d+$/);
      if (f.location.parent) expect(f.location.parent.child_index).toBeGreaterThanOrEqual(0);
    }
    // expected / actual: one type per class, as the problem table says
    for (const f of r.findings) {
      const kind = PROBLEMS[f.class].values;
      for (const v of [f.expected, f.actual]) {
        if (v === undefined || v === null) continue;
        if (kind === 'gen') expect(Number.isInteger(v) && (v as number) >= 0 && (v as number) < 256, f.id).toBe(true);
        else if (kind === 'count' || kind === 'data_type') expect(Number.isSafeInteger(v), f.id).toBe(true);
        else if (kind === 'u64') expect(v, f.id).toMatch(/^\d+$/);
        else if (kind === 'pos') expect(typeof v, f.id).toBe('string');
        else expect.fail(`${f.id}: class ${f.class} has no values, but says ${v}`);
      }
    }
    const want = claims(r.findings);
    const seen = new Set<KeyAt>();
    for (let id = 0; id < o.fs.roots.length; id++) {
      const w = new BtreeWalk(o.fs, id);
      for (let s = w.next(); s; s = w.next()) {
        if (s.repeat) continue;
        const node = s.node;
        for (const c of want) {
          if (c.sector !== node.sector || c.f.location.btree_id !== id) continue;
          const t = node.keys;
          let row = -1;
          for (let i = 0; i < t.n; i++) if (t.keyOff[i] === c.byteOffset) row = i;
          expect(row, `${c.f.id}: a key at byte ${c.byteOffset} of node ${c.sector}`).toBeGreaterThanOrEqual(0);
          expect(t.bset[row]).toBe(c.bset);
          // the offset is into the node as it is on the device: the key's bytes are there
          const bytes = o.fs.sb.btreeNodeSize * 512;
          const disk = o.fs.dev.read(c.sector * 512, bytes);
          expect(Buffer.from(disk.subarray(c.byteOffset, c.byteOffset + 8)).equals(Buffer.from(t.buf.subarray(c.byteOffset, c.byteOffset + 8)))).toBe(true);
          expect(disk[c.byteOffset + 2]).toBe(t.type[row]); // struct bkey_packed: u64s, format, type
          expect(bposToText(t.pos(row))).toBe(c.pos);
          if (c.pointsTo !== undefined) expect(btreePtrFromKey(t, row)?.ptrs[0]?.offset).toBe(c.pointsTo);
          seen.add(c);
        }
      }
    }
    expect(want.filter((c) => !seen.has(c)).map((c) => c.f.id)).toEqual([]);
  });
});

describe('gc state', () => {
  it.each(cleanFixtures())('%s: the gc view of every bucket and the usage agree with what was recorded', async (fx) => {
    const r = await checkFilesystem(openFixture(fx).fs);
    const d = r.gc.devs.find((x) => x !== undefined)!;
    expect(d.nbuckets).toBeGreaterThan(0);
    expect(Buffer.from(d.gen).equals(Buffer.from(d.aGen))).toBe(true);
    expect(Buffer.from(d.dataType).equals(Buffer.from(d.aDataType))).toBe(true);
    expect([...d.dirty]).toEqual([...d.aDirty]);
    expect([...d.cached]).toEqual([...d.aCached]);
    const u = r.gc.devUsage.get(d.dev)!;
    expect(u.gc).toEqual(u.recorded);
    expect(r.gc.fsUsage.gc.data).toBe(r.gc.fsUsage.recorded.data);
    expect(r.gc.fsUsage.gc.btree).toBeGreaterThan(0);
    expect([...r.gc.fsUsage.gc.replicas]).toEqual([...r.gc.fsUsage.recorded.replicas]);
    expect(r.gc.replicas.nr).toBe(r.gc.fsUsage.gc.replicas.length);
  });

  it('stale-b2: every bucket finding carries the alloc fields to write, as the gc view holds them', async () => {
    const r = await checkFilesystem(openFixture('stale-b2').fs);
    const buckets = r.findings.filter((f) => f.class.startsWith('bucket_'));
    expect(buckets.length).toBeGreaterThan(0);
    const d = r.gc.devs[0]!;
    for (const f of buckets) {
      const b = f.location.bucket!;
      expect(f.repair.kind).toBe('rewrite_alloc_key');
      expect(f.repair.params?.alloc).toEqual({
        gen: d.gen[b], oldest_gen: d.oldestGen[b], data_type: d.dataType[b], dirty_sectors: d.dirty[b], cached_sectors: d.cached[b],
      });
      // the alloc view holds what the key says now
      expect(f.actual).toBe(f.field === 'dirty_sectors' ? d.aDirty[b] : f.field === 'data_type' ? d.aDataType[b] : f.actual);
    }
    // the stale pointers: drop them from the extents (their index in the key), as bcachefs would
    const stale = r.findings.filter((f) => f.class === 'ptr_stale_dirty');
    expect(stale.length).toBeGreaterThan(0);
    for (const f of stale) expect(f.repair).toMatchObject({ kind: 'drop_stale_ptr', params: { drop_ptr: f.location.ptr_index } });
  });

  it('gap-extents-b2: the topology finding names the min_key to set, as exact parts, and the child it points to', async () => {
    const r = await checkFilesystem(openFixture('gap-extents-b2').fs);
    const f = r.findings.find((x) => x.class === 'topology_min_key')!;
    expect(f.repair.kind).toBe('set_node_min_key');
    expect(f.repair.params?.min_key?.text).toBe(f.expected);
    expect(f.location.child?.sector).toBeGreaterThan(0);
    expect(f.location.child?.ptr_seq).toMatch(/^\d+$/);
    expect(f.location.node?.sector).not.toBe(f.location.child?.sector);
  });
});
