// `npm start`: the desktop app (Electron) when it can run here, else browser mode.
//
// Electron 42+ downloads its binary on first use; where that is impossible (no internet, as on our build
// machines) or there is no display, we say so and start browser mode instead: the same UI, served on
// 127.0.0.1, with the service in a child process. Options: --browser (skip Electron), --port N.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import config from '../electron.config.js';
import { main as browserMode } from './server.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const say = (s: string): void => void process.stdout.write(`bcachefs-repair: ${s}\n`);

/** The Electron binary's path, or why there is none. Never triggers electron's own download. */
function electronBinary(): { path: string } | { why: string } {
  let pkgDir: string;
  try {
    pkgDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch {
    return { why: 'the electron package is not installed (run npm ci)' };
  }
  const read = (): string | null => {
    const f = join(pkgDir, 'path.txt');
    if (!existsSync(f)) return null;
    const p = join(pkgDir, 'dist', readFileSync(f, 'utf8').trim());
    return existsSync(p) ? p : null;
  };
  const have = read();
  if (have) return { path: have };
  if (process.env.BCACHEFS_REPAIR_NO_DOWNLOAD) return { why: 'its binary is not installed (BCACHEFS_REPAIR_NO_DOWNLOAD is set, so no download was tried)' };
  say('the Electron binary is not installed; trying to download it once (npm\'s electron package does that on first use)...');
  const r = spawnSync(process.execPath, [join(pkgDir, 'install.js')], { encoding: 'utf8', timeout: 120_000 });
  const got = read();
  if (got) return { path: got };
  const detail = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').map((l) => l.trim()).find((l) => /error|fail|ENOTFOUND|ETIMEDOUT/i.test(l));
  return { why: `its binary could not be downloaded${r.error ? ` (${r.error.message})` : detail ? ` (${detail.slice(0, 160)})` : ''}` };
}

function hasDisplay(): boolean {
  if (process.platform !== 'linux') return true;
  return !!(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

async function fallback(reason: string): Promise<void> {
  say(`the desktop window cannot start: ${reason}.`);
  say('starting browser mode instead: the same interface, in a browser (not opened for you), with the bundled sample open at first start.');
  await browserMode(process.argv.slice(2));
}

async function start(): Promise<void> {
  const argv = process.argv.slice(2);
  if (!existsSync(join(ROOT, config.paths.main)) || !existsSync(join(ROOT, config.paths.renderer, 'index.html'))) {
    say('not built yet: run "npm run build:app" (npm start does that first).');
    process.exit(8);
  }
  if (argv.includes('--browser') || process.env.BCACHEFS_REPAIR_BROWSER) return browserMode(argv.filter((a) => a !== '--browser'));
  if (!hasDisplay()) return fallback('there is no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set)');
  const bin = electronBinary();
  if ('why' in bin) return fallback(`Electron is unavailable: ${bin.why}`);

  const args = [ROOT];
  // Chromium's sandbox refuses to run as root
  if (process.getuid?.() === 0) args.unshift('--no-sandbox');
  say(`starting the desktop app (${bin.path})`);
  const child = spawn(bin.path, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    process.stderr.write(d);
  });
  const started = Date.now();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => void fallback(`Electron failed to start (${e.message})`));
  child.on('exit', (code, signal) => {
    // a quick failure means Electron cannot run here (missing libraries, no GPU/display access, ...)
    if (code !== 0 && signal === null && Date.now() - started < 10_000) {
      const last = stderr.trim().split('\n').pop() ?? '';
      void fallback(`Electron exited at once with code ${code}${last ? ` (${last.slice(0, 200)})` : ''}`);
      return;
    }
    process.exit(code ?? 0);
  });
}

void start();
