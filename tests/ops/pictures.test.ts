// The data behind the UI's pictures (src-core/ops/pictures.ts), on the real fixtures.
import { describe, expect, it } from 'vitest';
import { Disk, checkDisk } from '../../src-core/ops/index.js';
import { filesystemOf } from '../../src-core/ops/disk.js';
import { bucketMap, hexRequestFor, hexView, keyRangeMap } from '../../src-core/ops/pictures.js';
import { fixturePath } from '../helpers/fixtures.js';

async function checked(name: string) {
  const disk = Disk.open(fixturePath(name));
  const r = await checkDisk(disk);
  return { disk, fs: filesystemOf(disk), r };
}

describe('pictures', () => {
  it('gap-extents-b2: the key-range map shows the gap before the child, and none after the repair', async () => {
    const { disk, fs, r } = await checked('gap-extents-b2');
    try {
      const f = r.findings.find((x) => x.class === 'topology_min_key')!;
      const m = keyRangeMap(fs, f)!;
      expect(m.btree).toBe('extents');
      expect(m.level).toBe(1);
      const subject = m.children.find((c) => c.subject)!;
      expect(subject.node).toBe(`${f.location.child!.dev}:${f.location.child!.sector}`);
      expect(subject.join).toBe('gap');
      expect(subject.min).toBe(f.actual);
      // the child's own header agrees with its pointer; its first key lies inside it
      expect(subject.header?.min).toBe(f.actual);
      expect(subject.firstKey).toBeDefined();
      expect(m.children.filter((c) => c.join === 'gap' || c.join === 'overlap')).toHaveLength(1);
      expect(m.after!.find((c) => c.subject)!.min).toBe(f.expected);
      expect(m.after!.every((c) => c.join === 'ok' || c.join === 'first')).toBe(true);
      expect(m.children[0]!.min === m.parent.min || m.hiddenBefore > 0).toBe(true);
    } finally {
      disk.close();
    }
  });

  it('stale-b2: the bucket map flags bucket 0:115, one cell per bucket on a small disk, aggregated on request', async () => {
    const { disk, r } = await checked('stale-b2');
    try {
      const full = bucketMap(r.gc!, r.findings, 0, 1_000_000);
      expect(full.perCell).toBe(1);
      expect(full.cells).toHaveLength(full.buckets);
      expect(full.flagged).toEqual(['0:115']);
      const c = full.cells[115]!;
      expect(c.state).toBe('damaged');
      expect(c.bucket!.data_type[0]).not.toBe(c.bucket!.data_type[1]);
      expect(full.cells[0]!.state).toBe('sb');
      const small = bucketMap(r.gc!, r.findings, 0, 64);
      expect(small.cells.length).toBeLessThanOrEqual(64);
      expect(small.cells.reduce((n, x) => n + x.last - x.first + 1, 0)).toBe(full.buckets);
      expect(small.cells.filter((x) => x.flagged).length).toBe(1);
    } finally {
      disk.close();
    }
  });

  it('hex view of the gap child: header fields as byte ranges, min_key marked', async () => {
    const { disk, fs, r } = await checked('gap-extents-b2');
    try {
      const f = r.findings.find((x) => x.class === 'topology_min_key')!;
      const v = hexView(fs, hexRequestFor(f)!);
      const min = v.fields.find((x) => x.name === 'header.min_key')!;
      expect(min).toMatchObject({ start: 32, end: 52, value: f.actual, damaged: true });
      // the field's value is what its bytes say (little-endian u64 at 16..24 of the window, which starts at 0)
      expect(v.start).toBe(0);
      const magic = Buffer.from(v.hex.slice(32, 48), 'hex').reverse().toString('hex').replace(/^0+/, '');
      expect(v.fields.find((x) => x.name === 'header.magic')!.value).toBe(`0x${magic}`);
      expect(v.fields.some((x) => x.name.startsWith('key@'))).toBe(true);
      expect(v.hex.length).toBe(1024);
      expect(v.errors).toEqual([]);
    } finally {
      disk.close();
    }
  });
  it('zeronode-extents-b2: the unreadable leaf among its parent\'s children, and its zeroed header with the bad magic marked', async () => {
    const { disk, fs, r } = await checked('zeronode-extents-b2');
    try {
      const f = r.findings.find((x) => x.class === 'btree_node_unreadable')!;
      const m = keyRangeMap(fs, f)!;
      // the map is of the parent (level 1), the lost leaf one of its children, with no header of its own to show
      expect(m.level).toBe(f.location.level! + 1);
      const subject = m.children.find((c) => c.subject)!;
      expect(subject.node).toBe(`${f.location.node!.dev}:${f.location.node!.sector}`);
      expect(subject.max).toBe('5119:5400:U32_MAX');
      expect(subject.header).toBeUndefined();
      expect(subject.firstKey).toBeUndefined();

      const v = hexView(fs, hexRequestFor(f)!);
      expect(v.title).toContain(`${f.location.node!.dev}:${f.location.node!.sector}`);
      expect(v.start).toBe(0);
      expect(v.hex).toMatch(/^0+$/);
      expect(v.fields.find((x) => x.name === 'header.magic')).toMatchObject({ value: '0x0', damaged: true });
      expect(v.errors).toContain('bad magic');
    } finally {
      disk.close();
    }
  });
});
