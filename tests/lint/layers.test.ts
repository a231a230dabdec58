// The layering rules (.dependency-cruiser.cjs, `npm run lint:layers`): each one fails on a tree built to
// break it, allows what it should, and the project's own sources break none of them.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../device/helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');
const RULES = [
  'format-imports-only-base',
  'device-imports-only-itself-and-base',
  'device-write-only-from-journal',
  'device-internals-stay-inside',
  'core-never-imports-front-ends',
  'core-never-imports-electron',
  'front-ends-only-ops-and-protocol',
];

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

function cruise(cwd: string, dirs: string[]): { violations: Violation[]; error: string } {
  const r = spawnSync(DEPCRUISE, ['--config', CONFIG, '-T', 'json', ...dirs], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  let violations: Violation[] = [];
  try {
    violations = (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
  } catch {
    /* reported through error below */
  }
  return { violations, error: r.stderr };
}

const scratch = scratchDir('layers');
afterAll(() => scratch.cleanup());

function file(rel: string, text: string): void {
  const p = join(scratch.dir, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
}

describe('layering rules', { timeout: 60_000 }, () => {
  it('the config declares exactly the rules this test covers', () => {
    const cfg = createRequire(import.meta.url)(CONFIG) as { forbidden: Array<{ name: string; severity: string }> };
    expect(cfg.forbidden.map((r) => r.name)).toEqual(RULES);
    for (const r of cfg.forbidden) expect(r.severity).toBe('error');
  });

  it('each rule fails on the import it forbids, and allows the ones it should', () => {
    copyFileSync(join(ROOT, 'tsconfig.json'), join(scratch.dir, 'tsconfig.json'));
    file('src-core/base/cancellation.ts', 'export const base = 1;\n');
    file('src-core/format/bytes.ts', "import { base } from '../base/cancellation.js';\nimport { walk } from '../btree/fs.js';\nexport const f = base + walk;\n");
    file('src-core/btree/fs.ts', "import type { BlockReader } from '../device/index.js';\nimport { openDeviceForWrite } from '../device/write.js';\nexport const walk = 1;\nexport type R = BlockReader;\nexport const w = openDeviceForWrite;\n");
    file('src-core/device/handle.ts', 'export const handle = 1;\n');
    file('src-core/device/index.ts', "import { handle } from './handle.js';\nimport { base } from '../base/cancellation.js';\nimport { f } from '../format/bytes.js';\nexport interface BlockReader { size: number }\nexport const r = handle + base + f;\n");
    file('src-core/device/write.ts', "import { handle } from './handle.js';\nexport const openDeviceForWrite = handle;\n");
    file('src-core/journal/apply.ts', "import { openDeviceForWrite } from '../device/write.js';\nexport const j = openDeviceForWrite;\n");
    file('src-core/check/index.ts', "import { handle } from '../device/handle.js';\nimport { r } from '../device/index.js';\nexport const c = handle + r;\n");
    file('src-core/service/protocol.ts', 'export type Method = string;\n');
    file('src-core/service/session.ts', "import { main } from '../../src-cli/main.js';\nexport const s = main;\n");
    file('src-core/service/child.ts', "import { app } from 'electron';\nexport const e = app;\n");
    file('src-core/ops/open.ts', "import { c } from '../check/index.js';\nexport const o = c;\n");
    file('src-cli/main.ts', "import { o } from '../src-core/ops/open.js';\nimport type { Method } from '../src-core/service/protocol.js';\nimport { c } from '../src-core/check/index.js';\nexport const main = o + c;\nexport type M = Method;\n");
    file('src-renderer/App.svelte', "<script lang=\"ts\">\n  import { walk } from '../src-core/btree/fs';\n  const n = walk;\n</script>\n<p>{n}</p>\n");
    const r = cruise(scratch.dir, ['src-core', 'src-cli', 'src-renderer']);
    expect(r.error).not.toMatch(/ERROR/);
    // as npm run lint:layers reports it: a failing exit status
    expect(spawnSync(DEPCRUISE, ['--config', CONFIG, 'src-core', 'src-cli', 'src-renderer'], { cwd: scratch.dir }).status).not.toBe(0);
    const got = r.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
    expect(got).toEqual(
      [
        'format-imports-only-base: src-core/format/bytes.ts -> src-core/btree/fs.ts',
        'device-imports-only-itself-and-base: src-core/device/index.ts -> src-core/format/bytes.ts',
        'device-write-only-from-journal: src-core/btree/fs.ts -> src-core/device/write.ts',
        'device-internals-stay-inside: src-core/check/index.ts -> src-core/device/handle.ts',
        'core-never-imports-front-ends: src-core/service/session.ts -> src-cli/main.ts',
        'core-never-imports-electron: src-core/service/child.ts -> electron',
        'front-ends-only-ops-and-protocol: src-cli/main.ts -> src-core/check/index.ts',
        'front-ends-only-ops-and-protocol: src-renderer/App.svelte -> src-core/btree/fs.ts',
      ].sort(),
    );
  });

  it('the project sources break no rule', () => {
    const r = cruise(ROOT, ['src-core', 'src-cli', 'src-web', 'src-main', 'src-renderer']);
    expect(r.error).not.toMatch(/ERROR/);
    expect(r.violations).toEqual([]);
  });
});
