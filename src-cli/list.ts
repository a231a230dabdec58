// bcachefs-repair list DEV --btree NAME [--level N] [--json]
import { BTREE_NAMES, Disk, MAX_LEVEL, OpsError, listBtree, validateListRequest, type ListRequest } from '../src-core/ops/index.js';
import { EXIT_ERRORS_UNCORRECTED, EXIT_OK, UsageError, type Command } from './command.js';

/** bcachefs list formats each key into a 512-byte buffer */
const LINE_MAX = 511;

export const list: Command = {
  name: 'list',
  args: ['DEV'],
  summary: 'the keys of a btree, or its node pointers at a level, as bcachefs list prints them',
  description:
    `Without --level: every key of the btree's leaves, with the journal's keys laid over them (bcachefs list -m keys).\n` +
    `With --level N: the pointers to the nodes at level N and above (bcachefs list -m nodes -l N).\n` +
    `Damaged nodes are named on stderr and skipped; the listing goes on. When there is nothing to list, stderr says why.`,
  options: {
    btree: { type: 'string', value: 'NAME', help: `the btree: ${BTREE_NAMES.join(', ')}` },
    level: { type: 'string', value: 'N', help: `list node pointers at level N (0-${MAX_LEVEL}) and above instead of keys` },
    json: { type: 'boolean', help: 'JSON lines: first the device identity, then one object per key {btree, pos|level, text}' },
  },
  async run({ values, positionals, out }) {
    if (typeof values.btree !== 'string') throw new UsageError('list needs --btree NAME');
    const req: ListRequest = { btree: values.btree };
    if (typeof values.level === 'string') {
      if (!/^\d+$/.test(values.level)) throw new UsageError(`--level must be a number from 0 to ${MAX_LEVEL}, not "${values.level}"`);
      req.level = Number(values.level);
    }
    try {
      validateListRequest(req);
    } catch (e) {
      if (e instanceof OpsError) throw new UsageError(e.message);
      throw e;
    }
    const disk = Disk.open(positionals[0]!);
    try {
      const notes = disk.info().notes;
      for (const n of notes) out.err(`note: ${n}`);
      if (values.json) out.line(JSON.stringify({ ...disk.envelope(), btree: req.btree, level: req.level ?? null, notes }));
      const r = listBtree(
        disk,
        req,
        (row) => (values.json ? out.line(JSON.stringify({ btree: req.btree, ...row })) : out.line(row.text.length > LINE_MAX ? row.text.slice(0, LINE_MAX) : row.text)),
        (lines) => lines.forEach((l) => out.err(l)),
      );
      if (r.nothing) out.err(`note: ${r.nothing}`);
      return r.unreadableNodes ? EXIT_ERRORS_UNCORRECTED : EXIT_OK;
    } finally {
      disk.close();
    }
  },
};
