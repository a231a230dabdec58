// Which tool this is, for --version, hello and every JSON document.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOOL_NAME = 'bcachefs-repair';

/** The nearest ancestor of this module holding package.json and assets/ or src-core/ (the project or the packaged app). */
export function projectRoot(): string | null {
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && (existsSync(join(d, 'src-core')) || existsSync(join(d, 'assets')))) return d;
    if (dirname(d) === d) return null;
  }
}

let version: string | undefined;
/** package.json's version ("0.0.0" if it cannot be read: a broken install still runs). */
export function toolVersion(): string {
  if (version !== undefined) return version;
  const root = projectRoot();
  try {
    version = root ? ((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0') : '0.0.0';
  } catch {
    version = '0.0.0';
  }
  return version;
}

/** The bundled sample image: $BCACHEFS_REPAIR_SAMPLE, else assets/sample.img.gz of the project; null if missing. */
export function findSampleImage(): string | null {
  const env = process.env.BCACHEFS_REPAIR_SAMPLE;
  if (env) return existsSync(env) ? resolve(env) : null;
  const root = projectRoot();
  const p = root && join(root, 'assets', 'sample.img.gz');
  return p && existsSync(p) ? p : null;
}
