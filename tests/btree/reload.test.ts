// Filesystem.reload(): after the image is changed behind the reader's back (a raw write here, the journal's
// writes later), a reload shows the disk as it now is: superblock, roots and nodes, with no stale read-ahead.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { openFilesystem } from '../../src-core/open.js';
import { BtreeWalk } from '../../src-core/btree/fs.js';
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
