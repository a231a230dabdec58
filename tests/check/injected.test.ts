// Damage the fixtures do not cover, made with the project's injector (../shared/tools/inject.py) on copies
// of clean fixture images. There is no real-bcachefs output for these: the expected messages follow from
// btree_gc.c / buckets.c (a76f36fc6), worked out by hand in the comments.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';
import { checkFilesystem, type CheckProgress, type CheckResult } from '../../src-core/check/index.js';
import { CancellationTokenSource } from '../../src-core/base/cancellation.js';
import { FIXTURES } from '../helpers/fixtures.js';

const INJECT = resolve(FIXTURES, '..', '..', 'tools', 'inject.py');
const dir = mkdtempSync(join(tmpdir(), 'bcachefs-check-inj-'));
const opened: OpenedFilesystem[] = [];
afterAll(() => {
  for (const o of opened) o.close();
  rmSync(dir, { recursive: true, force: true });
});

function haveTools(): boolean {
  if (!existsSync(INJECT)) return false;
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function injected(name: string, base: string, args: string[]): Promise<CheckResult> {
  const img = join(dir, `${name}.img`);
  writeFileSync(img, gunzipSync(readFileSync(join(FIXTURES, base, 'image.img.gz'))));
  execFileSync('python3', [INJECT, 'inject', img, ...args], { stdio: 'ignore' });
  const o = openFilesystem(img);
  opened.push(o);
  return checkFilesystem(o.fs, { devName: 'image.img' });
}

function first(r: CheckResult): string[] {
  return r.findings.map((f) => (f.fsck_message ?? f.log_message ?? '').split('\n')[0]!);
}

describe.skipIf(!haveTools())('injected damage', () => {
  it('stale-wrap: alloc gen = ptr gen + 130 reads as a pointer from the future (signed 8-bit gen_cmp)', async () => {
    const r = await injected('stale-wrap', 'clean-32k-depth2', ['stale', '--delta', '130']);
    const msgs = first(r);
    // gen_cmp(1, 131) = (s8)(1 - 131) = 126 > 0: "in the future"; check_bucket_ref: gen_after(1, 131) = 126: "newer"
    expect(msgs).toContain('bucket 0:115 data type user ptr gen in the future: 1 > 131');
    expect(msgs).toContain('bucket 0:115 gen 131 data type user: ptr gen 1 newer than bucket gen');
    expect(msgs.filter((m) => m.includes('stale'))).toEqual([]);
    // none of the bucket's 11 pointers is counted
    expect(msgs).toContain('bucket 0:115 gen 131 data type user has wrong data_type: got 4, should be 0');
    expect(msgs).toContain('bucket 0:115 gen 131 data type none has wrong dirty_sectors: got 256, should be 0');
    expect(msgs.at(-1)).toBe('fs has wrong user: 1/1 [0]: got 37032, should be 36776');
  }, 60_000);

  it('btree-gen-future on an inodes leaf pointer (root key loop marks the child pointers)', async () => {
    const r = await injected('bgf-inodes', 'clean-64k-128m', ['btree-gen-future', '--btree', 'inodes']);
    const msgs = first(r);
    expect(msgs[0]).toMatch(/^bucket 0:\d+ data type btree ptr gen in the future: 2 > 1$/);
    expect(msgs[1]).toMatch(/^bucket 0:\d+ gen 1 data type btree: ptr gen 2 newer than bucket gen$/);
    expect(msgs).toContain('fs has wrong btree: 1/1 [0]: got 4992, should be 4864');
  }, 60_000);

  it('unreadable dirents leaf: gc does not read it; the leaf pass reports it (stage fsck, no fsck message)', async () => {
    const r = await injected('zeronode-dirents', 'clean-32k-depth2', ['zeronode', '--btree', 'dirents']);
    expect(r.findings.length).toBe(1);
    const f = r.findings[0]!;
    expect(f).toMatchObject({ class: 'btree_node_unreadable', stage: 'fsck', severity: 'error', fsck_message: null, location: { btree: 'dirents', level: 0 } });
    // a leaf: its parent is the interior node that points to it
    expect(f.location.parent?.sector).toBeGreaterThan(0);
    expect(f.location.key?.source).toBe('bset');
    expect(f.log_message).toMatch(/^error validating btree node on image.img at btree dirents level 0\/1\n  u64s 11 type btree_ptr_v2 .*\n  node offset 0: bad magic$/);
  }, 60_000);

  it('unreadable dirents level-1 node of a depth-3 tree: Unreadable at level 1, its leaves unmarked', async () => {
    const r = await injected('zeronode-dirents-l1', 'clean-32k-128m-dirents-depth3', ['zeronode', '--btree', 'dirents', '--level', '2']);
    const msgs = first(r);
    expect(msgs[0]).toBe('Unreadable btree node at btree dirents level 1:');
    expect(r.findings[0]!.log_message).toMatch(/^error validating btree node on image.img at btree dirents level 1\/2\n/);
    expect(msgs.some((m) => /^dev 0 has wrong btree sectors: got \d+, should be \d+$/.test(m))).toBe(true);
  }, 60_000);

  it('gap between dirents leaves of a depth-3 tree is found at level 1', async () => {
    const r = await injected('gap-dirents-l1', 'clean-32k-128m-dirents-depth3', ['gap', '--btree', 'dirents', '--level', '1']);
    expect(first(r)).toEqual(['btree node with incorrect min_key at btree dirents level 1:']);
  }, 60_000);

  it('maxkey at dirents level 2', async () => {
    const r = await injected('maxkey-dirents-l2', 'clean-32k-128m-dirents-depth3', ['maxkey', '--btree', 'dirents', '--level', '2']);
    const f = r.findings;
    expect(f.length).toBe(1);
    expect(f[0]!.fsck_message).toMatch(/^btree node with incorrect max_key at btree dirents level 2:\n  u64s 11 type btree_ptr_v2 .*\n  expected POS_MAX$/);
  }, 60_000);

  it('overlap in the alloc btree', async () => {
    const r = await injected('overlap-alloc', 'clean-32k-256m-alloc-depth2', ['overlap', '--btree', 'alloc']);
    expect(first(r)).toEqual(['btree node with incorrect min_key at btree alloc level 1:']);
  }, 60_000);

  it('reports progress through its phases and stops when aborted', async () => {
    const o = openFilesystem(join(FIXTURES, 'clean-32k-depth2', 'image.img.gz'));
    opened.push(o);
    const phases: string[] = [];
    const r = await checkFilesystem(o.fs, { onProgress: (p: CheckProgress) => phases.push(p.phase) });
    expect(r.aborted).toBe(false);
    expect([...new Set(phases)]).toEqual(['roots', 'alloc', 'btrees', 'gc_done', 'leaves', 'fsck', 'done']);
    expect(r.stats.nodesRead).toBeGreaterThan(20);
    const cancel = new CancellationTokenSource();
    cancel.cancel();
    const a = await checkFilesystem(o.fs, { token: cancel.token });
    expect(a.aborted).toBe(true);
  }, 60_000);
});
