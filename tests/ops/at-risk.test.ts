// Files and data at risk per problem (src-core/ops/at-risk.ts), on the real fixtures: the inodes and names
// are those the real `bcachefs list` printed for the base image the fixtures were made from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Disk, checkDisk, groupFindings, withAtRisk } from '../../src-core/ops/index.js';
import { filesystemOf } from '../../src-core/ops/disk.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/fixtures.js';

/** the base image of these fixtures (CASE.md: B2), as bcachefs list printed it */
const LIST = join(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021', 'clean-32k-depth2', 'list');
const listed = (btree: string): string[] => gunzipSync(readFileSync(join(LIST, `${btree}.keys.txt.gz`))).toString('latin1').split('\n');
const DIRENTS = listed('dirents');
const EXTENTS = listed('extents');
/** the name and directory of the dirent pointing to `inum` */
function direntOf(inum: string): { dir: string; name: string } {
  const m = DIRENTS.map((l) => new RegExp(`type dirent (\\d+):\\S+ len 0 ver 0: (\\S+) -> ${inum} type`).exec(l)).find(Boolean)!;
  return { dir: m[1]!, name: m[2]! };
}
/** the len of the extent at `pos` in the base image */
const extentLen = (pos: string): number => Number(new RegExp(`type extent ${pos} len (\\d+) `).exec(EXTENTS.find((l) => l.includes(` ${pos} len `))!)![1]);

async function problems(name: string) {
  const disk = Disk.open(fixturePath(name));
  try {
    const r = await checkDisk(disk);
    return { findings: r.findings, problems: withAtRisk(filesystemOf(disk), r.findings, groupFindings(r.findings)) };
  } finally {
    disk.close();
  }
}

describe('files and data at risk', () => {
  it('gen-future-b2: the one file whose pointer is ahead of its bucket, and its extent\'s sectors', async () => {
    const { problems: ps } = await problems('gen-future-b2');
    expect(ps).toHaveLength(1);
    const d = direntOf('5061');
    expect(ps[0]!.atRisk!.files).toHaveLength(1);
    expect(ps[0]!.atRisk!.files[0]!.inode).toBe('5061');
    expect(ps[0]!.atRisk!.files[0]!.paths).toHaveLength(1);
    expect(ps[0]!.atRisk!.files[0]!.paths[0]).toMatch(new RegExp(`^/.*/${d.name.replace(/\./g, '\\.')}$`));
    expect(ps[0]!.atRisk!.sectors).toBe(extentLen('5061:8:U32_MAX'));
    expect(ps[0]!.atRisk!.moreFiles).toBe(0);
  });

  it('stale-b2: every file with a stale pointer, each named, and the sectors of their extents', async () => {
    const { findings, problems: ps } = await problems('stale-b2');
    const risk = ps[0]!.atRisk!;
    const keys = new Map(findings.filter((f) => f.location.btree === 'extents' && f.location.key).map((f) => [f.location.key!.pos.text, f.location.key!.pos.inode]));
    expect(risk.files.map((f) => f.inode)).toEqual([...new Set(keys.values())].sort((a, b) => Number(a) - Number(b)));
    for (const f of risk.files) expect(f.paths[0]!.endsWith(`/${direntOf(f.inode).name}`), f.inode).toBe(true);
    expect(risk.sectors).toBe([...keys.keys()].reduce((n, pos) => n + extentLen(pos), 0));
  });

  it('zeronode-extents-b2: the files whose extents were in the unreadable leaf; their data there cannot be counted', async () => {
    const { problems: ps } = await problems('zeronode-extents-b2');
    const node = ps.find((p) => p.classes.includes('btree_node_unreadable'))!;
    // both files are in the root directory (inode 4096): their paths are /name
    const want = ['5118', '5119'].map((n) => ({ inode: n, paths: [`/${direntOf(n).name}`] }));
    expect(direntOf('5118').dir).toBe('4096');
    expect(node.atRisk).toEqual({ files: want, moreFiles: 0, sectors: null, range: '5118:8121:0 .. 5119:5400:U32_MAX' });
    // the buckets whose usage no longer adds up name no file
    expect(ps.filter((p) => p !== node).every((p) => p.atRisk === undefined)).toBe(true);
  });

  it('gap-extents-b2: the file whose keys fall in the gap', async () => {
    const { problems: ps } = await problems('gap-extents-b2');
    expect(ps[0]!.atRisk).toEqual({ files: [{ inode: '5119', paths: ['/sparse00.bin'] }], moreFiles: 0, sectors: null, range: '5119:5401:0 .. 5119:5416:0' });
    expect(direntOf('5119')).toEqual({ dir: '4096', name: 'sparse00.bin' });
  });
});
