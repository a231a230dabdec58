// The checker the service runs: the operations layer's, or (tests) a module with checkFilesystem's contract.
import { BUILT_IN_CHECKER, type Checker, type CheckFn } from '../ops/index.js';

const cache = new Map<string, Promise<Checker | null>>();

/**
 * The built-in checker, or, given `module` (a file URL), one exporting checkFilesystem and FINDING_CLASSES
 * (the service tests use that to exercise progress and cancellation). Null if that module has none.
 */
export function loadChecker(module?: string): Promise<Checker | null> {
  if (!module) return Promise.resolve(BUILT_IN_CHECKER);
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
