// Bad input gets one clear line on stderr and exit 8: never a stack trace, never a hang, never a write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { fixturePath } from '../helpers/fixtures.js';
import { bchChecksum32 } from '../../src-core/format/bytes.js';

/** Byte offset of superblock field `type` in the superblock at `at`. */
function findField(img: Buffer, at: number, type: number): number {
  const end = at + 752 + img.readUInt32LE(at + 124) * 8;
  for (let p = at + 752; p < end; p += img.readUInt32LE(p) * 8) if (img.readUInt32LE(p + 4) === type) return p;
  throw new Error(`no field ${type}`);
}
import { runCli } from '../helpers/cli.js';

let dir: string;
let image: Buffer;
const PRIMARY = 8 * 512;
const BACKUP = 2056 * 512; // from the fixture's superblock layout (sb_offset[1])

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bcachefs-repair-badinput-'));
  image = gunzipSync(readFileSync(fixturePath('clean-default-64m')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, data: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

function expectCleanFailure(args: string[], pattern: RegExp): void {
  const r = runCli(args, 30_000);
  expect(r.status, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(8);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('note:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/); // no stack trace
}

describe('bad input', () => {
  for (const cmd of [['show-super'], ['list', '--btree', 'extents']]) {
    describe(cmd[0]!, () => {
      it('empty file', () => expectCleanFailure([cmd[0]!, file('empty.img', new Uint8Array(0)), ...cmd.slice(1)], /empty|too small|zero/i));
      it('all zeros', () => expectCleanFailure([cmd[0]!, file('zeros.img', new Uint8Array(1 << 20)), ...cmd.slice(1)], /superblock/));
      it('random bytes', () => expectCleanFailure([cmd[0]!, file('random.img', randomBytes(1 << 20)), ...cmd.slice(1)], /superblock/));
      it('missing path', () => expectCleanFailure([cmd[0]!, join(dir, 'no-such-file.img'), ...cmd.slice(1)], /no such file|not found|does not exist/i));
      it('a directory', () => {
        const d = join(dir, 'a-directory');
        mkdirSync(d, { recursive: true });
        expectCleanFailure([cmd[0]!, d, ...cmd.slice(1)], /directory/i);
      });
      it('garbage .gz', () => expectCleanFailure([cmd[0]!, file('garbage.img.gz', randomBytes(4096)), ...cmd.slice(1)], /gzip|gz|decompress/i));
    });
  }

  it('truncated image: says the device is shorter than its superblock says', () => {
    const p = file('truncated.img', image.subarray(0, 1 << 20));
    expectCleanFailure(['list', p, '--btree', 'extents'], /beyond the end of the device .*truncated image, or the wrong device\?/);
  });

  it('a superblock whose layout or bucket count does not fit the device is refused, not trusted', () => {
    // valid checksums, impossible geometry: bcachefs's layout rules, and buckets beyond the end
    const img = Buffer.from(image);
    const sbLen = 752 + img.readUInt32LE(PRIMARY + 124) * 8;
    const recsum = (b: Buffer, at: number): void => {
      b.writeUInt32LE(bchChecksum32(1, b, at + 16, at + sbLen)!, at);
    };
    const big = Buffer.from(img);
    big[PRIMARY + 240 + 17] = 40; // sb_max_size_bits
    big[BACKUP + 240 + 17] = 40;
    recsum(big, PRIMARY);
    recsum(big, BACKUP);
    expectCleanFailure(['check', file('layout.img', big)], /superblock layout/);
    const many = Buffer.from(img);
    for (const at of [PRIMARY, BACKUP]) {
      const members = findField(many, at, 1);
      many.writeUInt32LE(256, members + 8 + 16 + 4); // member 0's nbuckets, high word: 2^40 more buckets
      recsum(many, at);
    }
    expectCleanFailure(['check', file('nbuckets.img', many)], /buckets of 131072 bytes .*beyond the end of the device/);
  });

  it('wrong magic in every superblock copy', () => {
    const img = Buffer.from(image);
    img[PRIMARY + 24] ^= 0xff;
    img[BACKUP + 24] ^= 0xff;
    img[7 * 512] ^= 0xff; // the layout copy at sector 7
    expectCleanFailure(['show-super', file('nomagic.img', img)], /superblock/);
  });

  it('bad checksum in the primary and the backup: no good superblock', () => {
    const img = Buffer.from(image);
    img[PRIMARY + 80] ^= 0x01; // inside the label: covered by the checksum
    img[BACKUP + 80] ^= 0x01;
    expectCleanFailure(['show-super', file('badcsum.img', img)], /checksum/);
  });

  it('a damaged primary superblock falls back to the backup, and says so', () => {
    const img = Buffer.from(image);
    img[PRIMARY + 80] ^= 0x01;
    const p = file('backup.img', img);
    const before = createHash('sha256').update(readFileSync(p)).digest('hex');
    const r = runCli(['show-super', p]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^External UUID:\s+093890d9-3fa8-4de2-94a3-9a907564e12f$/m);
    expect(r.stdout + r.stderr).toMatch(/backup superblock at sector 2056|backup at sector 2056/);
    const l = runCli(['list', p, '--btree', 'inodes']);
    expect(l.status).toBe(0);
    expect(l.stdout.split('\n').filter((x) => x.startsWith('u64s'))).toHaveLength(424);
    // read-only: the image is untouched
    expect(createHash('sha256').update(readFileSync(p)).digest('hex')).toBe(before);
    expect(statSync(p).size).toBe(img.length);
  });

  it('usage errors name the problem', () => {
    const r = runCli(['list', fixturePath('clean-default-64m'), '--btree', 'nosuchtree']);
    expect(r.status).toBe(16);
    expect(r.stderr).toMatch(/unknown btree "nosuchtree"/);
  });
});
