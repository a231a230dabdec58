// electron.config.ts: the app's configuration and the electron-builder configuration for the Linux
// packages. Packaging cannot run here (no Electron download), so the configuration itself is checked: it
// loads, it packs every built file the app needs, and every native module (*.node) the build produces is
// unpacked from the asar and rebuilt for Electron.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, matchesGlob, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import config, { builder } from '../../electron.config.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { main: string; dependencies?: Record<string, string> };
const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };

/** electron-builder's rule: the last matching pattern wins, "!" excludes */
function packed(file: string): boolean {
  let inside = false;
  for (const p of builder.files) {
    if (p.startsWith('!')) {
      if (matchesGlob(file, p.slice(1))) inside = false;
    } else if (matchesGlob(file, p) || matchesGlob(file, `${p}/**`)) inside = true;
  }
  // production dependencies are packed by electron-builder itself
  return inside || productionPackages().some((dir) => file.startsWith(`${dir}/`));
}
const unpacked = (file: string): boolean => builder.asarUnpack.some((p) => matchesGlob(file, p));

function productionPackages(): string[] {
  return Object.entries(lock.packages).filter(([dir, e]) => dir.startsWith('node_modules/') && !e.dev && !e.devOptional).map(([dir]) => dir);
}

function nodeFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...nodeFiles(p));
    else if (e.name.endsWith('.node')) out.push(relative(PROJECT_ROOT, p));
  }
  return out;
}

describe('electron.config.ts', () => {
  it('loads, and names the same app and entry as package.json', () => {
    expect(config.appId).toBe(builder.appId);
    expect(config.productName).toBe(builder.productName);
    expect(builder.extraMetadata.main).toBe(pkg.main);
    expect(config.paths.main).toBe(pkg.main);
  });

  it('packs every built file the app runs', () => {
    for (const p of [config.paths.main, config.paths.preload, config.paths.service, `${config.paths.renderer}/index.html`, config.paths.sample, 'dist/electron.config.js', 'package.json']) {
      expect(packed(p), p).toBe(true);
    }
    expect(packed('dist/src-core/service/session-worker.js')).toBe(true);
    expect(packed('dist/src-main/main.js.map')).toBe(false);
    expect(packed('src-core/device/native/build/Release/obj.target/direct_io.node')).toBe(false);
    expect(packed('tests/web/server.test.ts')).toBe(false);
  });

  it('unpacks from the asar what runs outside it: the service and the sample', () => {
    for (const p of [config.paths.service, 'dist/src-core/service/session-worker.js', config.paths.sample]) expect(unpacked(p), p).toBe(true);
  });

  it('unpacks every *.node the build produces that is packed (the O_DIRECT addon, production dependencies), and rebuilds them for Electron', () => {
    const built = [
      ...nodeFiles(join(PROJECT_ROOT, 'src-core', 'device', 'native', 'build', 'Release')),
      ...productionPackages().flatMap((d) => nodeFiles(join(PROJECT_ROOT, d))),
    ].filter(packed);
    expect(built).toContain('src-core/device/native/build/Release/direct_io.node');
    for (const f of built) expect(unpacked(f), f).toBe(true);
    // better-sqlite3 (the journal's) is unpacked whole when it is a dependency, its addon included
    expect(unpacked('node_modules/better-sqlite3/build/Release/better_sqlite3.node')).toBe(true);
    expect(builder.npmRebuild).toBe(true);
    expect(builder.buildDependenciesFromSource).toBe(true);
  });

  it('builds an AppImage and a .deb with an icon that exists (PNG, 256x256)', () => {
    expect(builder.linux.target.sort()).toEqual(['AppImage', 'deb']);
    const icon = readFileSync(join(PROJECT_ROOT, builder.linux.icon));
    expect(icon.subarray(1, 4).toString()).toBe('PNG');
    expect([icon.readUInt32BE(16), icon.readUInt32BE(20)]).toEqual([256, 256]);
    expect(builder.deb.depends).toContain('util-linux');
    expect(statSync(join(PROJECT_ROOT, builder.directories.buildResources)).isDirectory()).toBe(true);
  });
});
