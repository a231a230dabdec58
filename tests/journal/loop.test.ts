// The journal on a real block device (a loop device over a fixture image): apply and undo byte for byte,
// the device recorded as a block device, and an undo after a "replug" under another name.
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal, openRepairSession } from '../../src-core/journal/index.js';
import { attachLoop, detachLoop, loopSupport, scratchDir } from '../device/helpers.js';
import { TOOL, NODES_TXT, fixtureImage, sha256, sha256File, workingCopy } from './helpers.js';
// plain ESM, shared with the crash test's child process
import { applySynthetic, nodeSectors } from './synthetic.mjs';

const loop = loopSupport();
const scratch = scratchDir('journal-loop');
const attached: string[] = [];
afterAll(() => {
  for (const d of attached) detachLoop(d);
  scratch.cleanup();
});

describe.skipIf(!loop.ok)(`journal on a loop device${loop.ok ? '' : ` (skipped: ${loop.reason})`}`, () => {
  it('applies and undoes on the block device, and follows it to a new name', () => {
    const image = workingCopy(scratch.dir, 'loop.img');
    const journal = join(scratch.dir, 'loop.journal');
    const first = attachLoop(image);
    attached.push(first);
    const s = openRepairSession({ toolVersion: TOOL, journal, device: first });
    expect(s.identity).toMatchObject({ isBlockDevice: true, size: fixtureImage().length, path: first });
    applySynthetic(s, nodeSectors(NODES_TXT()));
    s.close();
    expect(sha256File(image)).not.toBe(sha256(fixtureImage()));
    detachLoop(attached.pop()!);
    // replugged, under another name (a by-id style link: the kernel may even hand out the same loopN again)
    const second = attachLoop(image);
    attached.push(second);
    const link = join(scratch.dir, 'by-id-link');
    symlinkSync(second, link);
    const u = openRepairSession({ toolVersion: TOOL, journal, device: link, create: false });
    expect(u.undo({ all: true }).undone).toEqual([3, 2, 1]);
    u.close();
    expect(sha256File(image)).toBe(sha256(fixtureImage()));
    const j = Journal.open(journal);
    expect(j.devices().map((d) => [d.path, d.isBlockDevice])).toEqual([[first, true], [link, true]]);
    j.close();
  });
});
