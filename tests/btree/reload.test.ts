// Filesystem.reload(): after the image is changed behind the reader's back (a raw write here, the journal's
// writes later), a reload shows the disk as it now is: superblock, roots and nodes, with no stale read-ahead.
// And node reads into a table's own memory (reused node after node) read what a fresh read does.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { openFilesystem } from '../../src-core/open.js';
import { BtreeWalk } from '../../src-core/btree/fs.js';
import { KeyTable } from '../../src-core/format/bkey.js';
import { loadAddon } from '../../src-core/device/native.js';
import { fixturePath } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'bcachefs-repair-reload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function copyOf(fixture: string): string {
  const path = join(dir, `${fixture}.img`);
  writeFileSync(path, gunzipSync(readFileSync(fixturePath(fixture))));
  return path;
}

function rawWrite(path: string, offset: number, data: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

describe('Filesystem.reload', () => {
  it('re-reads the superblock: a primary superblock damaged after opening is noticed only after a reload', () => {
    const path = copyOf('clean-default-64m');
    const o = openFilesystem(path);
    try {
      expect(o.fs.sbRead.usedBackup).toBe(false);
      const primary = o.fs.sb.sector;
      rawWrite(path, primary * 512 + 24, new Uint8Array(16)); // the magic
      expect(o.fs.sbRead.usedBackup).toBe(false);
      o.fs.reload();
      expect(o.fs.sbRead.usedBackup).toBe(true);
      expect(o.fs.sb.sector).not.toBe(primary);
      expect(o.fs.notes.some((n) => n.startsWith('primary superblock unusable'))).toBe(true);
    } finally {
      o.close();
    }
  });

  it('drops the read-ahead: a node overwritten after it was read ahead is read as it now is', async () => {
    const path = copyOf('clean-default-64m');
    const o = openFilesystem(path);
    const addon = loadAddon().addon;
    try {
      const w = new BtreeWalk(o.fs, 0);
      let leaf;
      for (let s = w.next(); s; s = w.next()) if (!s.repeat && s.level === 0) leaf = s;
      expect(leaf).toBeDefined();
      const ptr = leaf!.ptr;
      expect(leaf!.repeat === false && leaf!.node.readable).toBe(true);
      // read it ahead, wait for the background read to finish, then overwrite the node on disk
      o.fs.prefetchNode(ptr);
      const until = Date.now() + 10_000;
      while (addon && addon.prefetchPending() !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      if (o.dev.direct) expect(addon!.prefetchBytes()).toBeGreaterThan(0);
      rawWrite(path, ptr.ptrs[0]!.offset * 512, new Uint8Array(o.fs.sb.btreeNodeSize * 512));
      o.fs.reload();
      const node = o.fs.readNodeAt(0, 0, ptr);
      expect(node.readable).toBe(false);
      expect(node.errors.map((e) => e.code)).toContain('bad_magic');
    } finally {
      o.close();
    }
  });
});

describe('node memory', () => {
  it('a node read through a reused table is read into memory kept with the table, byte for byte as a fresh read', () => {
    const o = openFilesystem(fixturePath('clean-32k-depth2'));
    try {
      const fs = o.fs;
      const root = fs.readNodeAt(0, fs.roots[0]!.level, fs.roots[0]!.ptr);
      const w = new BtreeWalk(fs, 0);
      const leaves = [];
      for (let s = w.next(); s; s = w.next()) if (!s.repeat && s.level === 0) leaves.push(s.ptr);
      expect(leaves.length).toBeGreaterThan(1);
      expect(root.readable).toBe(true);
      const t = new KeyTable(16);
      const a = fs.readNodeAt(0, 0, leaves[0]!, t);
      const mem = t.nodeBuf!;
      expect(a.buf.buffer).toBe(mem.buffer);
      const b = fs.readNodeAt(0, 0, leaves[1]!, t);
      expect(b.buf.buffer).toBe(mem.buffer);
      expect(Buffer.from(b.buf).equals(Buffer.from(fs.readNodeAt(0, 0, leaves[1]!).buf))).toBe(true);
      expect(b.liveCount).toBe(fs.readNodeAt(0, 0, leaves[1]!).liveCount);
    } finally {
      o.close();
    }
  });
});
