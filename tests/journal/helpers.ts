// Working copies of real fixture images for the journal tests.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fixturePath } from '../helpers/fixtures.js';
import { TOOL_NAME, toolVersion } from '../../src-core/ops/version.js';

/** What the sessions of the tests record as their tool. */
export const TOOL = `${TOOL_NAME} ${toolVersion()}`;

export const FIXTURE = 'clean-default-64m';

const unpacked = new Map<string, Buffer>();
/** The fixture's image, unpacked (cached per test file). */
export function fixtureImage(name = FIXTURE): Buffer {
  let b = unpacked.get(name);
  if (!b) {
    b = gunzipSync(readFileSync(fixturePath(name)));
    unpacked.set(name, b);
  }
  return b;
}

/** Writes a working copy of a fixture image into dir; returns its path. */
export function workingCopy(dir: string, file: string, name = FIXTURE): string {
  const p = join(dir, file);
  writeFileSync(p, fixtureImage(name));
  return p;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export const NODES_TXT = (name = FIXTURE): string => fixturePath(name, 'nodes.txt');
