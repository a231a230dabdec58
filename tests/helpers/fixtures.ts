// Access to the real fixtures in ../shared (made and printed by bcachefs-tools a76f36fc6).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFilesystem, type OpenedFilesystem } from '../../src-core/open.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'bcachefs-2021');

export function allFixtures(): string[] {
  return readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'image.img.gz'))).sort();
}
export function cleanFixtures(): string[] {
  return allFixtures().filter((d) => d.startsWith('clean-'));
}
export function fixturePath(name: string, file = 'image.img.gz'): string {
  return join(FIXTURES, name, file);
}

/** A fixture text file, transparently gunzipped (`x.txt` or `x.txt.gz`); undefined if absent. */
export function readFixtureText(name: string, file: string): string | undefined {
  const p = join(FIXTURES, name, file);
  if (existsSync(p)) return readFileSync(p, 'latin1');
  if (existsSync(p + '.gz')) return gunzipSync(readFileSync(p + '.gz')).toString('latin1');
  return undefined;
}

/** The key lines `bcachefs list` printed (lines starting with "u64s"). */
export function expectedListLines(name: string, file: string): string[] | undefined {
  return readFixtureText(name, file)?.split('\n').filter((l) => l.startsWith('u64s'));
}

/** inline_data values are printed by bcachefs as a memory address: compare only up to "datalen N: ". */
export function normalizeInlineData(line: string): string {
  return line.replace(/^(u64s \d+ type (?:indirect_)?inline_data .*?datalen \d+: ).*$/, '$1');
}

const opened = new Map<string, OpenedFilesystem>();
/** Opens a fixture image once per test file (the gz is decompressed to a temporary file). */
export function openFixture(name: string): OpenedFilesystem {
  let o = opened.get(name);
  if (!o) {
    o = openFilesystem(fixturePath(name));
    opened.set(name, o);
  }
  return o;
}
export function closeFixtures(): void {
  for (const o of opened.values()) o.close();
  opened.clear();
}
