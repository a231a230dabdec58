// The passes poll their cancellation token between passes and every few thousand keys within one.
import { afterAll, expect, it } from 'vitest';
import { CancellationTokenSource } from '../../src-core/base/cancellation.js';
import { CheckAborted, FindingList } from '../../src-core/check/findings.js';
import type { FsckPassName } from '../../src-core/fsck/classes.js';
import { runFsckPasses } from '../../src-core/fsck/index.js';
import { closeFixtures, openFixture } from '../helpers/fixtures.js';

afterAll(closeFixtures);

it('stops before the first pass when cancelled already', async () => {
  const src = new CancellationTokenSource();
  src.cancel();
  const started: FsckPassName[] = [];
  await expect(runFsckPasses(openFixture('clean-default-128m-depth2').fs, new FindingList(), { token: src.token, onPass: (p) => started.push(p) }))
    .rejects.toBeInstanceOf(CheckAborted);
  expect(started).toEqual(['check_inodes']);
});

it('stops within a pass: check_extents over 12k extents polls as it goes', async () => {
  // the token answers yes from its second question once check_extents has started: the first is the runner's
  // before the pass, so only a poll inside the pass can see it (a token set from another thread looks the same)
  let armed = false;
  let asked = 0;
  const token = { get isCancellationRequested() { return armed && ++asked > 1; } };
  const started: FsckPassName[] = [];
  const run = runFsckPasses(openFixture('clean-default-128m-depth2').fs, new FindingList(), {
    token,
    onPass: (p) => {
      started.push(p);
      if (p === 'check_extents') armed = true;
    },
  });
  await expect(run).rejects.toBeInstanceOf(CheckAborted);
  expect(started).toEqual(['check_inodes', 'check_extents']);
  expect(asked).toBe(2);
});
