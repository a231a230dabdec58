// Path completion for the image field (browser mode has no native file picker): the entries of the folder
// the user is typing in whose names start with what was typed. It lists with this process's permissions,
// no more: anything it shows, the same local user could list with ls.
import { readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { OpsError } from './disk.js';
import type { Completion, CompletionEntry } from './device-types.js';

export const MAX_COMPLETIONS = 200;

/** Completes `typed` (absolute, ~/..., or relative to this process's folder). Throws OpsError when the folder cannot be listed. */
export function completePath(typed: string): Completion {
  if (typeof typed !== 'string') throw new OpsError('BAD_REQUEST', 'complete needs the text typed so far (a string).');
  let t = typed;
  if (t === '~') t = '~/';
  if (t.startsWith('~/')) t = homedir() + t.slice(1);
  const endsInFolder = t === '' || t.endsWith('/');
  const dir = resolve(endsInFolder ? t || '.' : dirname(t));
  const prefix = endsInFolder ? '' : basename(t);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : code === 'EACCES' || code === 'EPERM' ? 'cannot be listed (permission denied)' : `cannot be listed (${code})`;
    throw new OpsError(code, `The folder ${dir} ${why}. Check the path you typed.`);
  }
  // hidden entries only when asked for by a leading dot, as shells do
  const matching = names.filter((n) => n.startsWith(prefix) && (prefix.startsWith('.') || !n.startsWith('.'))).sort();
  const entries: CompletionEntry[] = [];
  for (const name of matching.slice(0, MAX_COMPLETIONS)) {
    const path = join(dir, name);
    let kind: CompletionEntry['kind'] = 'other';
    let size = 0;
    try {
      const st = statSync(path);
      kind = st.isDirectory() ? 'folder' : st.isFile() ? 'file' : st.isBlockDevice() ? 'device' : 'other';
      size = st.isFile() ? st.size : 0;
    } catch {
      // a dangling link or a vanished entry: listed as other
    }
    entries.push({ name, path: kind === 'folder' ? `${path}/` : path, kind, size });
  }
  return { folder: dir, entries, truncated: matching.length > MAX_COMPLETIONS };
}
