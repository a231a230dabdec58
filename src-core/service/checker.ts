// Access to the checker (src-core/check) for the service.
import type { Filesystem } from '../btree/fs.js';
import { checkFilesystem, FINDING_CLASSES, type CheckOptions, type CheckResult } from '../check/index.js';

export type CheckFn = (fs: Filesystem, opts: CheckOptions) => Promise<CheckResult>;

export interface Checker {
  check: CheckFn;
  /** class -> what it means */
  classes: Record<string, string>;
}

const builtIn: Checker = { check: checkFilesystem, classes: { ...FINDING_CLASSES } };
const cache = new Map<string, Promise<Checker | null>>();

/**
 * The checker: src-core/check, or, given `module` (a file URL), a module exporting a checkFilesystem with
 * the same contract (the service tests use that to exercise cancellation). Null if that module has none.
 */
export function loadChecker(module?: string): Promise<Checker | null> {
  if (!module) return Promise.resolve(builtIn);
  let cached = cache.get(module);
  cached ??= (async () => {
    try {
      const mod = (await import(module)) as { checkFilesystem?: CheckFn; FINDING_CLASSES?: Record<string, string> };
      return typeof mod.checkFilesystem === 'function' ? { check: mod.checkFilesystem, classes: { ...(mod.FINDING_CLASSES ?? {}) } } : null;
    } catch {
      return null;
    }
  })();
  cache.set(module, cached);
  return cached;
}
