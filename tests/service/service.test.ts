// The service's message API, in-process (the session worker runs from dist/: npm test builds first).
import { afterEach, describe, expect, it } from 'vitest';
import { cleanFixtures, fixturePath, readFixtureText } from '../helpers/fixtures.js';
import { Session } from '../../src-core/service/session.js';
import { Driver, SAMPLE, SLOW_DISK_CHECKER, fixtureChecker } from './helpers.js';

const drivers: Driver[] = [];
function driver(opts: ConstructorParameters<typeof Driver>[0] = {}): Driver {
  const d = new Driver(opts);
  drivers.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.service.dispose()));
});

/** "fsck -n" lines that are fsck errors, with their continuation lines, as one string each */
function fsckErrors(name: string): string[] {
  const lines = readFixtureText(name, 'fsck-n.txt')!.split('\n');
  const skip = /^(recovering from|journal read done|starting |mounted with|image\.img:)/;
  const out: string[] = [];
  for (const l of lines) {
    if (!l || skip.test(l)) continue;
    if (/^\s/.test(l) || l.startsWith('while marking')) out[out.length - 1] += `\n${l}`;
    else out.push(l);
  }
  return out;
}

describe('service on the bundled sample', () => {
  it('hello names the sample; open gives the superblock of the base fixture, read-only, with the gz note', async () => {
    const d = driver();
    const h = await d.call('hello');
    expect(h.sampleImage).toBe(SAMPLE);
    expect(h.open).toBeNull();
    expect(Object.keys(h).sort()).toEqual(['lastCheck', 'open', 'protocol', 'runningCheck', 'sampleImage', 'version']);
    const o = await d.call('open', { path: SAMPLE });
    const uuid = /External UUID:\s+(\S+)/.exec(readFixtureText('clean-32k-depth2', 'show-super.txt')!)![1];
    expect(o.summary.externalUuid).toBe(uuid);
    expect(o.readOnly).toBe(true);
    expect(o.size).toBe(64 << 20);
    expect(o.rootsFrom).toBe('clean');
    expect(o.notes.some((n) => /decompressed .*sample\.img\.gz.*read-only/.test(n))).toBe(true);
    expect((await d.call('hello')).open?.path).toBe(SAMPLE);
  });

  it('btrees: root levels and node counts as the injector sees them', async () => {
    const d = driver();
    await d.call('open', { path: SAMPLE });
    const b = await d.call('btrees');
    const by = Object.fromEntries(b.btrees.map((x) => [x.name, x]));
    expect(by.extents).toMatchObject({ rootLevel: 1, nodes: 14, nodesPerLevel: [13, 1], rootSector: 29312, empty: false });
    expect(by.inodes).toMatchObject({ rootLevel: 1, nodesPerLevel: [6, 1] });
    expect(by.dirents).toMatchObject({ rootLevel: 1, nodesPerLevel: [3, 1] });
    expect(by.alloc).toMatchObject({ rootLevel: 0, nodesPerLevel: [1] });
    expect(by.xattrs).toMatchObject({ empty: true, nodes: 0 });
    expect(b.totalNodes).toBe(26);
    expect(b.totalBytes).toBe(26 * 32768);
  });

  it('check: progress events, then done, then findings = the union of the two source fixtures\' fsck -n errors', async () => {
    const d = driver();
    await d.call('open', { path: SAMPLE });
    const { checkId } = await d.call('check.start');
    const p = await d.next('check.progress', (x) => x.checkId === checkId);
    expect(p.nodesTotal).toBe(26);
    const done = await d.next('check.done', (x) => x.checkId === checkId);
    expect(done.status).toBe('completed');
    expect(done.bySeverity).toEqual({ error: 8 });
    const f = await d.call('findings');
    expect(f.status).toBe('completed');
    expect(f.checkId).toBe(checkId);
    const printed = f.findings.filter((x) => x.fsck_message).map((x) => (x.fsck_disposition ? `${x.fsck_message}, ${x.fsck_disposition}` : x.fsck_message!));
    const expected = [...fsckErrors('gap-extents-b2'), ...fsckErrors('gen-future-b2')];
    expect([...printed].sort()).toEqual([...expected].sort());
    // the two problems, each with the file it puts at risk (ops/at-risk.ts; tests/ops/at-risk.test.ts checks them against bcachefs list)
    expect(f.problems.map((p) => p.atRisk?.files.map((x) => x.inode))).toEqual([['5119'], ['5061']]);
    expect(f.problems.map((p) => p.atRisk?.sectors)).toEqual([null, 8]);
    // what the UI shows for each
    for (const x of f.findings) {
      expect(x.id).toBeTruthy();
      expect(['error', 'warning', 'info']).toContain(x.severity);
      expect(f.classes[x.class], x.class).toBeTruthy();
      expect(x.repair?.description).toBeTruthy();
    }
    const gap = f.findings.find((x) => x.class === 'topology_min_key')!;
    expect(gap).toMatchObject({ location: { btree: 'extents', level: 1 }, expected: '5119:5401:0', actual: '5119:5416:0' });
    const gen = f.findings.find((x) => x.class === 'ptr_gen_future')!;
    expect(gen).toMatchObject({ location: { bucket: 115 }, expected: 1, actual: 2 });
  });

  it('cancel: a check on a slow disk stops at once with what it had found', async () => {
    const d = driver({ checkerModule: SLOW_DISK_CHECKER });
    await d.call('open', { path: SAMPLE });
    const { checkId } = await d.call('check.start');
    await d.next('check.progress', (x) => x.checkId === checkId && x.nodesDone >= 5);
    expect(await d.fail('open', { path: SAMPLE })).toMatchObject({ code: 'CHECK_RUNNING' });
    expect(await d.fail('check.start')).toMatchObject({ code: 'CHECK_RUNNING' });
    const t0 = Date.now();
    expect(await d.call('check.cancel')).toEqual({ cancelling: true });
    const done = await d.next('check.done', (x) => x.checkId === checkId);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(done.status).toBe('cancelled');
    expect(done.notes).toEqual([]);
    const f = await d.call('findings');
    expect(f.status).toBe('cancelled');
    expect(f.findings.length).toBeLessThan(8);
    // the session is still usable
    expect(await d.call('check.cancel')).toEqual({ cancelling: false });
    expect((await d.call('superblock')).path).toBe(SAMPLE);
  });

  it('cancel: a checker that ignores it is stopped forcibly and the image re-opened', async () => {
    const d = driver({ checkerModule: fixtureChecker('stubborn-checker.mjs'), cancelGraceMs: 300 });
    await d.call('open', { path: SAMPLE });
    const { checkId } = await d.call('check.start');
    await d.next('check.progress', (x) => x.checkId === checkId && x.phase === 'btrees');
    await d.call('check.cancel');
    const done = await d.next('check.done', (x) => x.checkId === checkId, 10_000);
    expect(done.status).toBe('cancelled');
    expect(done.notes.join(' ')).toMatch(/stopped forcibly/);
    const s = await d.call('superblock');
    expect(s.path).toBe(SAMPLE);
    expect((await d.call('btrees')).totalNodes).toBe(26);
  });

  it('a checker that throws ends the check as failed, with a message', async () => {
    const d = driver({ checkerModule: fixtureChecker('failing-checker.mjs') });
    await d.call('open', { path: SAMPLE });
    const { checkId } = await d.call('check.start');
    const done = await d.next('check.done', (x) => x.checkId === checkId);
    expect(done.status).toBe('failed');
    expect(done.error?.message).toMatch(/The check stopped with an error: .*simulated checker crash.*Nothing was written/);
    expect((await d.call('findings')).status).toBe('failed');
  });
});

describe('service errors say what happened and what to do', () => {
  it('bad requests', async () => {
    const d = driver();
    expect(await d.service.handle(null)).toMatchObject({ id: -1, error: { code: 'BAD_REQUEST' } });
    expect(await d.service.handle({ id: 7, method: 'format' })).toMatchObject({ id: 7, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/Unknown method "format"/) } });
    expect(await d.service.handle({ id: 'x', method: 'open', params: [1] })).toMatchObject({ id: 'x', error: { code: 'BAD_REQUEST' } });
    expect(await d.fail('open', {})).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/path/) });
  });

  it('nothing open', async () => {
    const d = driver();
    for (const m of ['superblock', 'btrees', 'check.start', 'findings']) {
      expect(await d.fail(m)).toMatchObject({ code: 'NOT_OPEN', message: 'No image is open. Open an image or device first.' });
    }
    expect(await d.call('check.cancel')).toEqual({ cancelling: false });
  });

  it('missing file, not bcachefs, unknown parameter; a failed open keeps the open image', async () => {
    const d = driver();
    const e1 = await d.fail('open', { path: '/nonexistent/disk.img' });
    expect(e1.code).toBe('ENOENT');
    expect(e1.message).toMatch(/\/nonexistent\/disk\.img.*ENOENT.*Check the path/);
    await d.call('open', { path: SAMPLE });
    const e2 = await d.fail('open', { path: '/etc/hostname' });
    expect(e2.code).toBe('EBADFS');
    expect(e2.message).toMatch(/Check that this is the right disk or image/);
    // there is no write mode to ask for: a parameter the service does not know is refused, not ignored
    const e3 = await d.fail('open', { path: SAMPLE, write: true });
    expect(e3).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/open has no parameter "write" \(it takes only path; every disk is opened read-only\)/) });
    expect(await d.fail('check.start', { fast: true })).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/"fast" \(it takes none\)/) });
    expect((await d.call('superblock')).path).toBe(SAMPLE);
    expect(await d.call('close')).toEqual({ closed: true });
    expect(await d.fail('superblock')).toMatchObject({ code: 'NOT_OPEN' });
  });
});

describe.each(cleanFixtures())('btree overview of %s', (fx) => {
  it('matches the injector\'s node map', () => {
    const s = new Session();
    try {
      s.open(fixturePath(fx));
      const got = Object.fromEntries(s.btrees().btrees.map((b) => [b.name, b]));
      for (const line of readFixtureText(fx, 'inject-info.txt')!.split('\n')) {
        const m = /^(\w+)\s+(?:no root|root level (\d+)\s+nodes per level \{([^}]*)\})/.exec(line);
        if (!m || !(m[1]! in got)) continue;
        const b = got[m[1]!]!;
        if (m[2] === undefined) {
          expect(b.empty, m[1]).toBe(true);
          continue;
        }
        const per: number[] = [];
        for (const kv of m[3]!.split(',')) {
          const [lvl, n] = kv.split(':').map((x) => Number(x.trim()));
          per[lvl!] = n!;
        }
        expect({ rootLevel: b.rootLevel, nodesPerLevel: b.nodesPerLevel, unreadable: b.unreadable }, m[1]).toEqual({ rootLevel: Number(m[2]), nodesPerLevel: per, unreadable: 0 });
      }
    } finally {
      s.close();
    }
  });
});
