// show-super against what the real `bcachefs show-super` printed for every fixture.
import { describe, expect, it } from 'vitest';
import { allFixtures, fixturePath, readFixtureText } from '../helpers/fixtures.js';
import { PACKAGE_VERSION, runCli } from '../helpers/cli.js';

/** "Name:\t\tvalue" lines of show-super output; member lines are prefixed "Device N/". */
function fields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  let dev = '';
  for (const line of text.split('\n')) {
    const d = /^\s+Device (\d+):$/.exec(line);
    if (d) {
      dev = `Device ${d[1]}/`;
      continue;
    }
    const kv = /^\s*([^:\t]+):\s*(.*)$/.exec(line);
    if (kv) m.set((line.startsWith('    ') ? dev : '') + kv[1]!.trim(), kv[2]!.trim());
  }
  return m;
}

const COMPARED = [
  'External UUID', 'Internal UUID', 'Device index', 'Version', 'Oldest version on disk', 'Squence number', 'Block_size',
  'Btree node size', 'Error action', 'Clean', 'Features', 'Compat features', 'Metadata replicas', 'Data replicas',
  'Metadata checksum type', 'Data checksum type', 'Compression type', 'String hash type', '32 bit inodes',
  'GC reserve percentage', 'Root reserve percentage', 'Devices', 'Sections', 'Superblock size',
  'Device 0/UUID', 'Device 0/Size', 'Device 0/Bucket size', 'Device 0/First bucket', 'Device 0/Buckets',
  'Device 0/State', 'Device 0/Data allowed', 'Device 0/Replacement policy', 'Device 0/Discard',
];

describe.each(allFixtures())('%s', (fx) => {
  it('show-super agrees with bcachefs show-super', () => {
    const expected = fields(readFixtureText(fx, 'show-super.txt')!);
    const r = runCli(['show-super', fixturePath(fx)]);
    expect(r.status, r.stderr).toBe(0);
    const got = fields(r.stdout);
    for (const k of COMPARED) {
      expect(expected.has(k), `fixture prints ${k}`).toBe(true);
      expect(got.get(k), k).toBe(expected.get(k));
    }
  });
});

describe('show-super --json', () => {
  it('gives the same values as data, with the device identity, tool version and schema version', () => {
    const path = fixturePath('clean-32k-depth2');
    const r = runCli(['show-super', path, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    const expected = fields(readFixtureText('clean-32k-depth2', 'show-super.txt')!);
    expect(j.summary.externalUuid).toBe(expected.get('External UUID'));
    expect(j.summary.btreeNodeSize).toBe(32 * 1024);
    expect(j.summary.members[0].buckets).toBe(Number(expected.get('Device 0/Buckets')));
    expect(j.superblockSector).toBe(8);
    expect(j).toMatchObject({
      schemaVersion: 1,
      tool: { name: 'bcachefs-repair', version: PACKAGE_VERSION },
      device: { path, uuid: expected.get('External UUID'), internalUuid: expected.get('Internal UUID'), size: 64 << 20, isBlockDevice: false },
      readOnly: true,
    });
  });
});
