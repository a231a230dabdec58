// A damaged primary superblock with a good backup: the primary is written again from the backup that was
// read (its copy for sector 8: the same bytes with its own offset and checksum, as write_one_super writes
// every copy), and the layout at sector 7 too when it no longer reads as the backup's. bcachefs 2021 does
// the same when it mounts read-write (bch2_write_super writes every copy); fsck -n leaves it damaged.
import { readSuperblock, BCH_SB_LAYOUT_SECTOR, BCH_SB_SECTOR } from '../format/superblock.js';
import { sbLayoutBytes, superblockCopy } from '../format/encode-sb.js';
import type { Finding } from '../check/index.js';
import type { PlannedWrite } from '../journal/plan.js';
import type { PlanContext, Planner, RepairFix } from './types.js';

export const superblockPlanner: Planner = {
  name: 'superblock copies',
  classes: ['superblock_primary_damaged'],
  order: 0,
  plan(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
    const fs = ctx.fs;
    if (!fs.sbRead.usedBackup || !findings.length) return [];
    const backup = fs.sb;
    const primary = superblockCopy(backup.bytes, BCH_SB_SECTOR);
    const writes: PlannedWrite[] = [{
      offset: BCH_SB_SECTOR * 512, old: new Uint8Array(fs.dev.read(BCH_SB_SECTOR * 512, primary.length)), new: primary,
      target: { kind: 'superblock', sector: BCH_SB_SECTOR, field: 'whole superblock' },
      changes: [{ field: 'primary superblock', before: 'damaged', after: `copy of the backup at sector ${backup.sector} (seq ${backup.seq})` }],
    }];
    const layout = sbLayoutBytes(backup.bytes);
    const oldLayout = new Uint8Array(fs.dev.read(BCH_SB_LAYOUT_SECTOR * 512, layout.length));
    if (!oldLayout.every((b, i) => b === layout[i])) {
      writes.unshift({
        offset: BCH_SB_LAYOUT_SECTOR * 512, old: oldLayout, new: layout,
        target: { kind: 'superblock', sector: BCH_SB_LAYOUT_SECTOR, field: 'layout' },
        changes: [{ field: 'superblock layout', before: 'differs from the backup\'s', after: 'the backup\'s layout' }],
      });
    }
    // what a reader will find afterwards: the primary, from the bytes this fix writes
    const after = readSuperblock((o, l) => {
      const out = new Uint8Array(fs.dev.read(o, l));
      for (const w of writes) {
        for (let i = 0; i < l; i++) {
          const at = o + i - w.offset;
          if (at >= 0 && at < w.new.length) out[i] = w.new[at]!;
        }
      }
      return out;
    }, fs.dev.size);
    if (after.usedBackup) return [];
    return [{
      id: `superblock:${BCH_SB_SECTOR}`,
      title: `Rewrite the damaged primary superblock from the backup at sector ${backup.sector}`,
      resolves: findings.map((f) => f.id),
      writes,
      summary: `superblock copy at sector ${BCH_SB_SECTOR} written from the backup at sector ${backup.sector} (offset field ${BCH_SB_SECTOR}, checksum recomputed)` +
        (writes.length > 1 ? '; the layout at sector 7 from the backup\'s' : ''),
      evidence: [
        `the primary superblock cannot be used: ${fs.sbRead.problems.join('; ')}`,
        `the backup at sector ${backup.sector} reads with a valid checksum (seq ${backup.seq}) and is what this filesystem was opened from`,
      ],
      lost: [],
      kept: ['the filesystem opens from its primary superblock again, so a damaged backup later does not leave it unopenable'],
      alternatives: [],
      dependsOn: [],
    }];
  },
};
