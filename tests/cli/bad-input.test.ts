// Bad input gets one clear line on stderr and exit 8: never a stack trace, never a hang, never a write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { fixturePath } from '../helpers/fixtures.js';
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

  it('truncated image: the superblock is read, the btree walk reports what is missing', () => {
    const p = file('truncated.img', image.subarray(0, 1 << 20));
    const r = runCli(['list', p, '--btree', 'extents'], 30_000);
    // every btree node lies beyond 1 MiB: the walk reports the unreadable root and exits "errors found"
    expect([4, 8]).toContain(r.status);
    expect(r.stderr).toMatch(/beyond the end|end of the device|short/i);
    expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
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
