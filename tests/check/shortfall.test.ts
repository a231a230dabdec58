// Findings whose bcachefs 2021 repair is known to fall short say so (what its fsck -y did on the fixtures).
import { afterAll, describe, expect, it } from 'vitest';
import { checkFilesystem } from '../../src-core/check/index.js';
import { closeFixtures, openFixture, readFixtureText } from '../helpers/fixtures.js';

afterAll(closeFixtures);
const check = (fx: string) => checkFilesystem(openFixture(fx).fs, { devName: 'image.img' });

describe('known shortfalls of the 2021 repair', () => {
  it.each(['gap-extents-b2', 'overlap-extents-b2', 'maxkey-extents-b2', 'zeronode-extents-b2'])('%s: the topology or unreadable-node finding warns', async (fx) => {
    // the real tool fell short here: fsck -n crashed, or fsck -y failed, or left errors for the next fsck
    const exit = (f: string): number => Number(readFixtureText(fx, f)!.trim());
    expect(exit('fsck-n.exit') >= 128 || ![0, 1].includes(exit('fsck-y.exit')) || exit('fsck-after.exit') !== 0).toBe(true);
    const r = await check(fx);
    const f = r.findings.find((x) => ['topology_min_key', 'topology_max_key', 'btree_node_unreadable'].includes(x.class));
    expect(f?.known_2021_shortfall).toMatch(/exit \d+/);
  });

  it('a future gen on a btree node pointer warns; one on a user data pointer, which fsck -y repaired cleanly, does not', async () => {
    expect(readFixtureText('btree-gen-future-extents-b3', 'fsck-y.exit')!.trim()).toBe('8');
    expect(readFixtureText('gen-future-b2', 'fsck-after.exit')!.trim()).toBe('0');
    const btree = (await check('btree-gen-future-extents-b3')).findings.find((x) => x.class === 'ptr_gen_future');
    expect(btree?.known_2021_shortfall).toMatch(/cannot update btree roots yet/);
    const user = (await check('gen-future-b2')).findings.find((x) => x.class === 'ptr_gen_future');
    expect(user).toBeDefined();
    expect(user!.known_2021_shortfall).toBeUndefined();
  });
});
