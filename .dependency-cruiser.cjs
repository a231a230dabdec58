/**
 * The layering rules of bcachefs-repair (`npm run lint:layers`). Paths are relative to the project root.
 * Only the sources are checked: tests may reach into any module they test.
 *
 *   src-core/base      cancellation and other leaf helpers: imports nothing of ours
 *   src-core/format    on-disk decoders: only base
 *   src-core/device    reading (index.ts) and writing (write.ts, for the journal only) disks: only base
 *   src-core/**        never a front end, never electron
 *   front ends         only the operations layer (src-core/ops) and the service protocol's types; the
 *                      service itself is started by file path (electron.config.js), never imported
 */
const FRONT_ENDS = '^src-(cli|web|main|renderer)/';

module.exports = {
  forbidden: [
    {
      name: 'format-imports-only-base',
      comment: 'src-core/format decodes bytes: it may use src-core/base, nothing else of ours.',
      severity: 'error',
      from: { path: '^src-core/format/' },
      to: { path: '^(src-|electron)', pathNot: '^src-core/(format|base)/' },
    },
    {
      name: 'device-imports-only-itself-and-base',
      comment: 'src-core/device opens and reads disks: it may use src-core/base, nothing else of ours.',
      severity: 'error',
      from: { path: '^src-core/device/' },
      to: { path: '^(src-|electron)', pathNot: '^src-core/(device|base)/' },
    },
    {
      name: 'device-write-only-from-journal',
      comment: 'Only the journal may obtain a writable device: every write is journaled before it happens.',
      severity: 'error',
      from: { path: '^src-', pathNot: '^src-core/(journal|device)/' },
      to: { path: '^src-core/device/write\\.ts$' },
    },
    {
      name: 'device-internals-stay-inside',
      comment: 'Outside src-core/device, use its two doors: index.ts (read) and write.ts (journal only).',
      severity: 'error',
      from: { path: '^src-', pathNot: '^src-core/device/' },
      to: { path: '^src-core/device/', pathNot: '^src-core/device/(index|write)\\.ts$' },
    },
    {
      name: 'core-never-imports-front-ends',
      comment: 'src-core is the engine; the front ends depend on it, never the other way round.',
      severity: 'error',
      from: { path: '^src-core/' },
      to: { path: FRONT_ENDS },
    },
    {
      name: 'core-never-imports-electron',
      comment: 'src-core is pure TypeScript for Node: it runs in plain node, the CLI and the service child.',
      severity: 'error',
      from: { path: '^src-core/' },
      to: { path: '(^|/)node_modules/electron/|^electron$' },
    },
    {
      name: 'front-ends-only-ops-and-protocol',
      comment: 'Front ends go through one orchestration: src-core/ops, and the service protocol types.',
      severity: 'error',
      from: { path: FRONT_ENDS },
      to: { path: '^src-core/', pathNot: '^src-core/(ops/|service/protocol\\.ts$)' },
    },
  ],
  options: {
    includeOnly: '^(src-|electron$|node_modules/electron/)',
    exclude: { path: '(^|/)(dist|build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.cts', '.svelte', '.json'] },
  },
};
