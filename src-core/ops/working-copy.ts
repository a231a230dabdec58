// Working copies: the bundled sample and any .img.gz are repaired through a plain copy (unpacked) in a
// folder the user confirms, so the original is never written. The copy is made with exclusive creation:
// nothing that exists is ever overwritten.
import { createReadStream, createWriteStream, existsSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { OpsError } from './disk.js';
import type { WorkingCopy, WorkingCopyProposal } from './device-types.js';

const isGz = (p: string): boolean => /\.gz$/i.test(p);

/** The folder proposed for working copies. */
export function defaultCopyFolder(): string {
  return join(homedir(), 'bcachefs-repair', 'working-copies');
}

function sourceFile(source: string): { path: string; size: number } {
  if (typeof source !== 'string' || source.trim() === '') throw new OpsError('BAD_REQUEST', 'No image was given to copy. Open an image first.');
  const path = resolve(source.trim());
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new OpsError(code, `Cannot read ${path} (${code}) to copy it. Check that the image is still there.`);
  }
  if (!st.isFile()) throw new OpsError('ENOTFILE', `${path} is not an image file: working copies are made of image files. A disk is repaired in place, through the journal.`);
  return { path, size: st.size };
}

/** The first free name for the copy of `source` in `folder`: image.img, image-2.img, ... */
function freeName(folder: string, source: string): string {
  const base = basename(source).replace(/\.gz$/i, '');
  const dot = base.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${stem}-${i}${ext}`;
    if (!existsSync(join(folder, name))) return name;
  }
}

/** Proposes where the copy of `source` goes. `isSample`: the bundled sample (its folder belongs to the install). */
export function proposeWorkingCopy(source: string, isSample: boolean, folder = defaultCopyFolder()): WorkingCopyProposal {
  const src = sourceFile(source);
  const reason = isSample
    ? 'The bundled sample stays as it was shipped: repairs go to a copy of it.'
    : isGz(src.path)
      ? 'A compressed image cannot be written in place: repairs go to an unpacked copy, and the .gz stays as it is.'
      : 'Repairs go to a copy, and the original image stays as it is.';
  return { source: src.path, folder, fileName: freeName(folder, src.path), size: isGz(src.path) ? null : src.size, reason };
}

/** Makes the copy in `folder` (created if missing), unpacking a .gz. Throws OpsError; leaves no partial copy. */
export async function makeWorkingCopy(source: string, folder: string): Promise<WorkingCopy> {
  const src = sourceFile(source);
  if (typeof folder !== 'string' || !isAbsolute(folder)) throw new OpsError('BAD_REQUEST', `The folder for the working copy must be an absolute path (got ${JSON.stringify(folder)}). Choose a folder such as ${defaultCopyFolder()}.`);
  try {
    mkdirSync(folder, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new OpsError(code, `Cannot create the folder ${folder} (${code}). Choose a folder you can write to.`);
  }
  // created exclusively before anything is written: a failure removes only what this call created
  let path = join(folder, freeName(folder, src.path));
  let fd: number;
  for (;;) {
    try {
      fd = openSync(path, 'wx', 0o600);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      if (code !== 'EEXIST') throw new OpsError(code, `Cannot create ${path} (${code}). Choose a folder you can write to.`);
      path = join(folder, freeName(folder, src.path));
    }
  }
  try {
    const out = createWriteStream(path, { fd });
    await (isGz(src.path) ? pipeline(createReadStream(src.path), createGunzip(), out) : pipeline(createReadStream(src.path), out));
  } catch (e) {
    rmSync(path, { force: true });
    const err = e as NodeJS.ErrnoException;
    const code = err.code ?? 'EIO';
    const what = code.startsWith('Z_') ? `${src.path} is not a valid .gz file (${err.message})` : code === 'ENOSPC' ? `the disk holding ${folder} is full` : `${err.message}`;
    throw new OpsError(code.startsWith('Z_') ? 'EGZIP' : code, `The working copy could not be made: ${what}. ${code === 'ENOSPC' ? 'Free some space or choose another folder.' : 'Choose another folder, or check the image.'}`);
  }
  return { source: src.path, path, size: statSync(path).size };
}
