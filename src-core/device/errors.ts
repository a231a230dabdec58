import { constants as osConstants } from 'node:os';

/**
 * Every failure of the device layer. `code` is an errno name where the OS gave one
 * (ENOENT, EACCES, EIO, ENXIO, ...) or one of our own:
 *   EOF          read/write range extends past the end of the device
 *   ESHORT       the OS returned fewer bytes than asked inside the device (it shrank or vanished)
 *   EMPTY        zero-length file / device
 *   ENOTBLK      neither a regular file nor a block device
 *   EREADONLY    a .gz image opened for writing
 *   ENOLCK       write mode without the native addon (no lock against a second repair)
 *   ECLOSED      use after close()
 *   EGZIP        .gz image could not be decompressed
 *   EINVALARG    bad offset/length argument (programming error)
 * EBUSY is also ours for a disk that is mounted, attached to a loop device or locked by another repair.
 * The message is one line: what happened, then what to do.
 */
export class DeviceError extends Error {
  readonly code: string;
  readonly path: string | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; path?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'DeviceError';
    this.code = code;
    this.path = options?.path;
  }
}

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(num)) errnoNames.set(num, name);
}

/** errno number (positive, as the addon reports it) → name like 'EIO'. */
function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** Pull an errno code name out of a Node fs error or an addon error. */
export function errorCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; errno?: unknown };
    if (typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return e.code;
    if (typeof e.errno === 'number') return errnoName(e.errno);
  }
  return 'EUNKNOWN';
}

function detail(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Error while opening/statting a path. */
export function openError(path: string, err: unknown, write: boolean): DeviceError {
  const code = errorCode(err);
  const opts = { cause: err, path };
  switch (code) {
    case 'ENOENT':
      return new DeviceError(code, `cannot open ${path}: no such file or device (ENOENT). Check the path, or pick the disk again from the device list.`, opts);
    case 'ENOTDIR':
      return new DeviceError(code, `cannot open ${path}: a part of the path is not a directory (ENOTDIR). Check the path.`, opts);
    case 'EACCES':
    case 'EPERM':
      return new DeviceError(code, `cannot open ${path}${write ? ' for writing' : ''}: permission denied (${code}). Run as root (or as a member of the disk group) or pick an image file you can read.`, opts);
    case 'EROFS':
      return new DeviceError(code, `cannot open ${path} for writing: it is on a read-only filesystem or the device is write-protected (EROFS). Open it read-only, or copy the image somewhere writable.`, opts);
    case 'EBUSY':
      return new DeviceError(code, `cannot open ${path}${write ? ' for writing' : ''}: another program holds the device exclusively (EBUSY): a mount, mdadm/LVM, or another disk tool. Find it with fuser -v ${path}, unmount or stop it, then try again; repairs need the disk offline.`, opts);
    case 'EISDIR':
      return new DeviceError(code, `cannot open ${path}: it is a directory, not an image file or block device (EISDIR). Pick the image file inside it.`, opts);
    case 'ELOOP':
      return new DeviceError(code, `cannot open ${path}: too many levels of symbolic links (ELOOP). Check the path.`, opts);
    case 'ENXIO':
    case 'ENODEV':
      return new DeviceError(code, `cannot open ${path}: no such device or medium (${code}); it may have been disconnected. Reconnect it and try again.`, opts);
    case 'EMFILE':
    case 'ENFILE':
      return new DeviceError(code, `cannot open ${path}: too many open files (${code}). Close other devices or raise the open-file limit.`, opts);
    case 'ETXTBSY':
      return new DeviceError(code, `cannot open ${path} for writing: the file is in use as a program or swap file (ETXTBSY). Pick another file.`, opts);
    default:
      return new DeviceError(code, `cannot open ${path}: ${detail(err)} (${code}). Check the path and permissions.`, opts);
  }
}

/** Error during read/write/sync at a known place. */
export function ioError(
  path: string,
  op: 'read' | 'write' | 'sync',
  offset: number,
  length: number,
  err: unknown,
): DeviceError {
  const code = errorCode(err);
  const opts = { cause: err, path };
  const where = op === 'sync' ? '' : ` at offset ${offset} (${length} bytes)`;
  const verb = op === 'read' ? 'reading' : op === 'write' ? 'writing' : 'syncing';
  switch (code) {
    case 'EIO':
      return new DeviceError(code, `I/O error ${verb} ${path}${where} (EIO): the disk may be failing or was disconnected. Check dmesg; for a failing disk, image it with ddrescue and open the image instead.`, opts);
    case 'ENXIO':
    case 'ENODEV':
    case 'ENOMEDIUM':
      return new DeviceError(code, `device ${path} vanished while ${verb}${where} (${code}). Reconnect it and open it again.`, opts);
    case 'ENOSPC':
      return new DeviceError(code, `no space left ${verb} ${path}${where} (ENOSPC). Free space on the filesystem holding it.`, opts);
    case 'EROFS':
    case 'EPERM':
    case 'EACCES':
      return new DeviceError(code, `${path} refused ${verb}${where} (${code}): it is read-only or write-protected. Open a writable copy.`, opts);
    case 'EBADF':
      return new DeviceError(code, `${path} is no longer open (EBADF) while ${verb}${where}. Open it again.`, opts);
    case 'EINVAL':
      return new DeviceError(code, `${path} rejected ${verb}${where} (EINVAL): the alignment or range was not accepted. This is a bug in bcachefs-repair; please report it with this message.`, opts);
    default:
      return new DeviceError(code, `${verb} ${path}${where} failed: ${detail(err)} (${code}). Check dmesg and the device, then open it again.`, opts);
  }
}
