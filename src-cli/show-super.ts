// bcachefs-repair show-super DEV [--json]
import { Disk, showSuperText } from '../src-core/ops/index.js';
import { EXIT_OK, type Command } from './command.js';

export const showSuper: Command = {
  name: 'show-super',
  args: ['DEV'],
  summary: 'the superblock, as bcachefs show-super prints it',
  description: 'Prints the superblock fields and the members. If the primary superblock is damaged, the backup is read and a note says so.',
  options: { json: { type: 'boolean', help: 'one JSON document: device identity, superblock summary, notes' } },
  async run({ values, positionals, out }) {
    const disk = Disk.open(positionals[0]!);
    try {
      const info = disk.info();
      if (values.json) {
        out.line(JSON.stringify({ ...disk.envelope(), ...info }, null, 2));
      } else {
        for (const n of info.notes) out.err(`note: ${n}`);
        out.line(showSuperText(disk));
      }
      return EXIT_OK;
    } finally {
      disk.close();
    }
  },
};
