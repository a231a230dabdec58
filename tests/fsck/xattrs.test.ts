// check_xattrs on keys made here: no image of ours has xattrs (the 2021 fusemount cannot set them, and the
// fixtures' xattrs btrees are empty). The keys are laid out as bcachefs writes them (struct bkey unpacked,
// then bch_xattr: x_type, x_name_len, x_val_len, name, value) and fed to the pass as its btree iterator
// would; the expected messages follow check_xattrs and hash_check_key (fsck.c) under -n.
import { describe, expect, it } from 'vitest';
import { NEVER_CANCELLED } from '../../src-core/base/cancellation.js';
import type { Filesystem } from '../../src-core/btree/fs.js';
import { FindingList } from '../../src-core/check/findings.js';
import { KeyTable, decodeKey } from '../../src-core/format/bkey.js';
import { BTREE_ID_xattrs, KEY_TYPE_hash_whiteout, KEY_TYPE_xattr } from '../../src-core/format/names.js';
import { FsckContext } from '../../src-core/fsck/context.js';
import { checkXattrs } from '../../src-core/fsck/dirents.js';
import { StrHash } from '../../src-core/fsck/str-hash.js';
import { inodeValue } from './helpers.js';

interface XKey { inode: number; offset: bigint; type?: number; xType?: number; name?: string }

/** An FsckContext whose xattrs btree holds `keys` (in order) and whose inodes are `inodes` (number, seed). */
function context(inodes: [number, number][], keys: XKey[]): FsckContext {
  const fs = { rootsFrom: 'clean', sb: { blockSize: 8, version: 13 } } as unknown as Filesystem;
  const ctx = new (class extends FsckContext {
    override forEachKey(btreeId: number, cb: (t: KeyTable, row: number) => void): boolean {
      if (btreeId !== BTREE_ID_xattrs) return true;
      const raw: number[] = [];
      const offs: number[] = [];
      for (const k of keys) {
        const name = new TextEncoder().encode(k.name ?? '');
        const val = k.type === KEY_TYPE_hash_whiteout ? [] : [k.xType ?? 1, name.length, 1, 0, ...name, 0x76];
        while (val.length % 8) val.push(0);
        const key = new Uint8Array(40 + val.length);
        const dv = new DataView(key.buffer);
        key[0] = 5 + val.length / 8;
        key[1] = 1;
        key[2] = k.type ?? KEY_TYPE_xattr;
        dv.setUint32(20, 0xffffffff, true);
        dv.setBigUint64(24, k.offset, true);
        dv.setBigUint64(32, BigInt(k.inode), true);
        key.set(val, 40);
        offs.push(raw.length);
        raw.push(...key);
      }
      const t = new KeyTable(keys.length);
      t.reset(Uint8Array.from(raw));
      for (const o of offs) decodeKey(t, t.push(), t.buf, o, null);
      for (let r = 0; r < t.n; r++) cb(t, r);
      return true;
    }
  })(fs, new FindingList(), NEVER_CANCELLED);
  for (const [inum, seed] of inodes) {
    const v = inodeValue(0o100644, 4096, seed);
    ctx.inodes.push(0, inum, v, 0, v.length);
  }
  ctx.inodes.seal();
  return ctx;
}

/** Where bcachefs puts an xattr of this type and name in an inode with this seed. */
function slot(seed: number, xType: number, name: string): bigint {
  const h = new StrHash();
  h.setInfo(3, 0, seed);
  const b = new TextEncoder().encode(name);
  h.xattr(xType, b, 0, b.length);
  return (BigInt(h.hi) << 32n) | BigInt(h.lo);
}

const messages = (ctx: FsckContext): string[] => ctx.out.items.map((f) => f.fsck_message!);

describe('check_xattrs', () => {
  it('xattrs at their slots, in order: nothing to report', () => {
    const keys = ['comment', 'a', 'mime_type', 'x'].map((name) => ({ inode: 5000, offset: slot(77, 1, name), name }));
    keys.sort((a, b) => (a.offset < b.offset ? -1 : 1));
    const ctx = context([[5000, 77]], keys);
    checkXattrs(ctx);
    expect(messages(ctx)).toEqual([]);
  });

  it('an xattr of a missing inode; one past a whiteout in its slot (fine); one past a hole (wrong offset)', () => {
    const at = slot(77, 1, 'comment');
    const past = slot(77, 1, 'tag');
    const hole = slot(77, 1, 'label');
    const keys: XKey[] = [
      { inode: 4999, offset: 10n, name: 'orphan' },
      { inode: 5000, offset: at, name: 'comment' },
      // a whiteout in 'tag's slot keeps its chain going: lookups go on past it to the next slot
      { inode: 5000, offset: past, type: KEY_TYPE_hash_whiteout },
      { inode: 5000, offset: past + 1n, name: 'tag' },
      { inode: 5000, offset: hole + 2n, name: 'label' },
    ].sort((a, b) => a.inode - b.inode || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    const ctx = context([[5000, 77]], keys);
    checkXattrs(ctx);
    const expected = ['xattr for missing inode 4999'];
    for (const k of keys.filter((x) => x.name === 'label')) {
      const h = slot(77, 1, k.name!);
      expected.push(
        `hash table key at wrong offset: btree 3 inode 5000 offset ${k.offset}, hashed to ${h}\n` +
          `u64s ${5 + Math.ceil((4 + k.name!.length + 1) / 8)} type xattr 5000:${k.offset}:U32_MAX len 0 ver 0: user.${k.name}:v`,
      );
    }
    expect(messages(ctx)).toEqual(expected);
  });

  it('the same name twice in consecutive slots: a duplicate', () => {
    const at = slot(5, 1, 'comment');
    const ctx = context([[5000, 5]], [{ inode: 5000, offset: at, name: 'comment' }, { inode: 5000, offset: at + 1n, name: 'comment' }]);
    checkXattrs(ctx);
    expect(messages(ctx)).toEqual([`duplicate hash table keys:\nu64s 7 type xattr 5000:${at + 1n}:U32_MAX len 0 ver 0: user.comment:v`]);
  });

  it('a name of another type in the same slot chain is not a duplicate', () => {
    const at = slot(5, 1, 'comment');
    const other = slot(5, 4, 'comment');
    const keys: XKey[] = [{ inode: 5000, offset: at, name: 'comment' }, { inode: 5000, offset: other, xType: 4, name: 'comment' }];
    keys.sort((a, b) => (a.offset < b.offset ? -1 : 1));
    const ctx = context([[5000, 5]], keys);
    checkXattrs(ctx);
    expect(messages(ctx)).toEqual([]);
  });
});
