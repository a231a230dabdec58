// Access to the checker (src-core/check) for the service.
import type { Filesystem } from '../btree/fs.js';

export interface CheckerOptions {
  onProgress?: (p: unknown) => void;
  signal?: AbortSignal;
}

export type CheckFn = (fs: Filesystem, opts: CheckerOptions) => unknown;

export interface Checker {
  check: CheckFn;
  /** class -> what it means */
  classes: Record<string, string>;
}

const cache = new Map<string, Promise<Checker | null>>();

/**
 * The checker, or null when src-core/check is not part of this build. `module` (a file URL) replaces the
 * built-in checker with a module exporting the same checkFilesystem (the service tests use that).
 */
export function loadChecker(module?: string): Promise<Checker | null> {
  // A computed specifier: this module must build and run without the checker.
  const spec = module ?? ['..', 'check', 'index.js'].join('/');
  let cached = cache.get(spec);
  cached ??= (async () => {
    try {
      const mod = (await import(spec)) as { checkFilesystem?: CheckFn; FINDING_CLASSES?: Record<string, string> };
      return typeof mod.checkFilesystem === 'function' ? { check: mod.checkFilesystem, classes: { ...(mod.FINDING_CLASSES ?? {}) } } : null;
    } catch {
      return null;
    }
  })();
  cache.set(spec, cached);
  return cached;
}
