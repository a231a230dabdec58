// The UI's superblock (src-renderer/lib/superblock.ts) says what the real `bcachefs show-super` printed for
// the same image, in its words: every field compared on the clean fixtures, sizes as KiB/MiB for its
// 4.0K/64.0M, times as its dates (the fixtures were printed in UTC).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Disk } from '../../src-core/ops/index.js';
import { allRows, mainRows, memberRows, showSuperDate } from '../../src-renderer/lib/superblock.js';
import { cleanFixtures, fixturePath, readFixtureText } from '../helpers/fixtures.js';

let tz: string | undefined;
beforeAll(() => {
  tz = process.env.TZ;
  process.env.TZ = 'UTC';
});
afterAll(() => {
  if (tz === undefined) delete process.env.TZ;
  else process.env.TZ = tz;
});

/** "4.0K" (show-super) and "4 KiB" (ours) as bytes */
function size(text: string): number {
  const m = /^([\d.]+)\s*(B|K|M|G|T|KiB|MiB|GiB|TiB)?$/.exec(text.trim());
  if (!m) throw new Error(`not a size: ${text}`);
  const unit = (m[2] ?? 'B')[0]!;
  return Number(m[1]) * 1024 ** 'BKMGT'.indexOf(unit);
}

describe.each(cleanFixtures())('%s', (name) => {
  const text = readFixtureText(name, 'show-super.txt')!;
  const printed = (label: string, from = 0): string => {
    const re = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:[ \\t]*(.*)$`, 'm');
    return re.exec(text.slice(from))![1]!.trim();
  };
  const image = (() => {
    const d = Disk.open(fixturePath(name));
    try {
      return d.info();
    } finally {
      d.close();
    }
  })();
  const rows = new Map(allRows(image));
  const member = new Map(memberRows(image.summary.members[0]!));

  it('same values, in show-super\'s words', () => {
    const same: Array<[ours: string, theirs: string]> = [
      ['External UUID', 'External UUID'], ['Internal UUID', 'Internal UUID'], ['Device index', 'Device index'],
      ['Version', 'Version'], ['Oldest version on disk', 'Oldest version on disk'], ['Created', 'Created'],
      ['Sequence number', 'Squence number'], ['Error action', 'Error action'], ['Metadata replicas', 'Metadata replicas'],
      ['Data replicas', 'Data replicas'], ['Metadata checksum type', 'Metadata checksum type'], ['Data checksum type', 'Data checksum type'],
      ['Compression type', 'Compression type'], ['String hash type', 'String hash type'], ['GC reserve percentage', 'GC reserve percentage'],
      ['Root reserve percentage', 'Root reserve percentage'], ['Devices', 'Devices'],
    ];
    for (const [ours, theirs] of same) expect(rows.get(ours), ours).toBe(printed(theirs));
    expect(rows.get('Label')).toBe(printed('Label') || '(none)');
    for (const f of ['Features', 'Compat features', 'Sections']) expect(rows.get(f)!.split(', ').join(','), f).toBe(printed(f));
    expect(rows.get('Superblock size')).toBe(`${printed('Superblock size')} bytes`);
    expect(rows.get('32 bit inodes')).toBe(printed('32 bit inodes') === '1' ? 'yes' : 'no');
    expect(rows.get('Clean')).toBe(printed('Clean') === '1' ? 'cleanly unmounted' : 'not cleanly unmounted: the btree roots are read from the journal');
  });

  it('sizes in KiB/MiB for show-super\'s K/M', () => {
    expect(rows.get('Block size')).toMatch(/^\d+ (B|KiB)$/);
    expect(size(rows.get('Block size')!)).toBe(size(printed('Block_size')));
    expect(size(rows.get('Btree node size')!)).toBe(size(printed('Btree node size')));
    const members = text.indexOf('Members');
    expect(size(member.get('Size')!)).toBe(size(printed('Size', members)));
    expect(size(member.get('Bucket size')!)).toBe(size(printed('Bucket size', members)));
    expect(member.get('Buckets')).toBe(Number(printed('Buckets', members)).toLocaleString('en-US'));
    expect(member.get('Last mount')).toBe(printed('Last mount', members));
    expect(member.get('State')).toBe(printed('State', members));
    expect(member.get('Data allowed')!.split(', ').join(',')).toBe(printed('Data allowed', members));
    expect(member.get('Replacement policy')).toBe(printed('Replacement policy', members));
  });

  it('the main view: a few of these, and no field name of the program', () => {
    const main = new Map(mainRows(image));
    expect(main.get('Created')).toBe(printed('Created'));
    expect(main.get('Last unmount')).toBe('cleanly unmounted');
    for (const [k, v] of [...main, ...rows, ...member]) {
      expect(k, k).not.toMatch(/[a-z][A-Z]/);
      expect(v, k).not.toMatch(/^\d{9,}$/); // no epoch seconds
    }
  });
});

it('dates as show-super prints them, and a time never set', () => {
  process.env.TZ = 'UTC';
  expect(showSuperDate(0)).toBe('(never)');
  expect(showSuperDate(1795556066)).toBe('Tue Nov 24 21:34:26 2026');
  expect(showSuperDate(1704067200)).toBe('Mon Jan 1 00:00:00 2024');
});
