// The superblock as `bcachefs show-super` prints it (bcachefs-tools a76f36fc6, cmd_show_super / bch2_sb_print).
import { superblockSummary } from '../format/superblock.js';
import { Disk, filesystemOf } from './disk.js';
import { prUnitsSectors } from './units.js';

/** ctime(3) in local time: "Tue May 18 10:24:31 2021". */
function ctime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

export function showSuperText(disk: Disk): string {
  const sb = filesystemOf(disk).sb;
  const s = superblockSummary(sb) as Record<string, any>;
  const lines = [
    `External UUID:\t\t\t${s.externalUuid}`,
    `Internal UUID:\t\t\t${s.internalUuid}`,
    `Device index:\t\t\t${s.deviceIndex}`,
    `Label:\t\t\t\t${s.label}`,
    `Version:\t\t\t${s.version}`,
    `Oldest version on disk:\t\t${s.oldestVersionOnDisk}`,
    `Created:\t\t\t${s.created ? ctime(s.created) : '(not set)'}`,
    `Squence number:\t\t\t${s.seq}`,
    `Block_size:\t\t\t${prUnitsSectors(sb.blockSize)}`,
    `Btree node size:\t\t${prUnitsSectors(sb.btreeNodeSize)}`,
    `Error action:\t\t\t${s.errorAction}`,
    `Clean:\t\t\t\t${s.clean}`,
    `Features:\t\t\t${s.features}`,
    `Compat features:\t\t${s.compatFeatures}`,
    `Metadata replicas:\t\t${s.metadataReplicas}`,
    `Data replicas:\t\t\t${s.dataReplicas}`,
    `Metadata checksum type:\t\t${s.metadataChecksumType}`,
    `Data checksum type:\t\t${s.dataChecksumType}`,
    `Compression type:\t\t${s.compressionType}`,
    `String hash type:\t\t${s.stringHashType}`,
    `32 bit inodes:\t\t\t${s.inode32bit}`,
    `GC reserve percentage:\t\t${s.gcReservePercent}%`,
    `Root reserve percentage:\t${s.rootReservePercent}%`,
    `Devices:\t\t\t${s.devices.live} live, ${s.devices.total} total`,
    `Sections:\t\t\t${s.sections}`,
    `Superblock size:\t\t${s.superblockSize}`,
    '',
    `Members (size ${sb.fields.find((f) => f.type === 1)?.bytes ?? 0}):`,
  ];
  for (const m of sb.members.filter((x) => x.exists)) {
    const mm = (s.members as any[]).find((x) => x.device === m.index);
    lines.push(
      `  Device ${m.index}:`,
      `    UUID:\t\t\t${m.uuid}`,
      `    Size:\t\t\t${prUnitsSectors(m.bucketSize * m.nbuckets)}`,
      `    Bucket size:\t\t${prUnitsSectors(m.bucketSize)}`,
      `    First bucket:\t\t${m.firstBucket}`,
      `    Buckets:\t\t\t${m.nbuckets}`,
      `    Last mount:\t\t\t${m.lastMount ? ctime(m.lastMount) : '(never)'}`,
      `    State:\t\t\t${mm.state}`,
      `    Data allowed:\t\t${mm.dataAllowed}`,
      `    Replacement policy:\t\t${mm.replacementPolicy}`,
      `    Discard:\t\t\t${m.discard}`,
    );
  }
  if (sb.sector !== 8) lines.push('', `note: read from the backup superblock at sector ${sb.sector}`);
  return lines.join('\n');
}
