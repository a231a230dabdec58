// The small images of tests/fsck/fixtures (made by its make.sh with the real bcachefs-tools a76f36fc6).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function localFixture(name: string): string {
  return join(DIR, `${name}.img.gz`);
}

/** What the real fsck -n printed for a local image. */
export function localFsckN(name: string): string {
  return readFileSync(join(DIR, `${name}.fsck-n.txt`), 'latin1');
}

/** bcachefs's varint (new_varint): the value shifted left by its length in bytes, low bits the length's marker. */
function varint(v: number): number[] {
  const bytes = Math.max(1, Math.ceil(Math.max(1, 32 - Math.clz32(v)) / 7));
  const x = BigInt(v) * 2n ** BigInt(bytes) + BigInt((1 << (bytes - 1)) - 1);
  return Array.from({ length: bytes }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn));
}

/**
 * A bch_inode value as bcachefs packs it (new varints, 23 fields, siphash str_hash): `dir` is bi_dir,
 * bi_dir_offset is 1; the other fields are 0.
 */
export function inodeValue(mode: number, dir: number, seedLo = 0): Uint8Array {
  const fields: number[] = [];
  for (let f = 0; f < 23; f++) {
    fields.push(...varint(f === 21 ? dir : f === 22 ? 1 : 0));
    if (f < 4) fields.push(...varint(0));
  }
  const val = new Uint8Array(14 + fields.length);
  const dv = new DataView(val.buffer);
  dv.setUint32(0, seedLo, true);
  dv.setUint32(8, (0x8000_0000 | (23 << 24) | (3 << 20)) >>> 0, true);
  dv.setUint16(12, mode, true);
  val.set(fields, 14);
  return val;
}
