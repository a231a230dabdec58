// New nodes: the key format bkeyFormatFor computes against the formats bcachefs computed for the nodes of
// every clean fixture, and every node rebuilt with newNode from its live keys, read back by our reader.
import { afterAll, describe, expect, it } from 'vitest';
import { parseBtreeNode } from '../../src-core/btree/node.js';
import { BTREE_ID_NR } from '../../src-core/format/names.js';
import { bkeyFields, packKey } from '../../src-core/format/encode-key.js';
import { bkeyFormatFor, newNode } from '../../src-core/format/encode-new-node.js';
import { cleanFixtures, closeFixtures, openFixture } from '../helpers/fixtures.js';
import { walkNodes } from './encode-helpers.js';

afterAll(closeFixtures);

const total = { nodes: 0, computedFormats: 0, sameFormat: 0 };
afterAll(() => console.log(`new nodes: ${JSON.stringify(total)}`));

describe.each(cleanFixtures())('%s', (fx) => {
  it('bkeyFormatFor gives bcachefs\'s own format for the nodes it compacted; every node rebuilt by newNode reads back with the same keys', { timeout: 60_000 }, () => {
    const { fs } = openFixture(fx);
    const sb = fs.sb;
    const geo = { nodeBytes: sb.btreeNodeSize * 512, blockBytes: sb.blockSize * 512 };
    let computed = 0;
    let same = 0;
    const bad: string[] = [];
    for (let id = 0; id < BTREE_ID_NR; id++) {
      walkNodes(fs, id, (node, ptr) => {
        if (!node.readable) return;
        total.nodes++;
        const t = node.keys;
        const where = `btree ${id} level ${node.level} sector ${node.sector}`;
        // a node bcachefs wrote with a computed format: its first bset's keys and its range made it
        const f = node.format;
        if (!(f.bitsPerField.join() === '64,64,32,0,0,0' && f.fieldOffset.every((x) => x === 0n))) {
          computed++;
          const first = [];
          for (let r = 0; r < t.n && t.bset[r] === 0; r++) if (!t.whiteout(r)) first.push(bkeyFields(t, r));
          const g = bkeyFormatFor(first, [node.minKey, node.maxKey]);
          if (g.keyU64s === f.keyU64s && g.bitsPerField.join() === f.bitsPerField.join() && g.fieldOffset.join() === f.fieldOffset.join()) same++;
        }
        const live = Array.from(node.live.subarray(0, node.liveCount), (r) => ({ fields: bkeyFields(t, r), value: new Uint8Array(t.value(r)) }));
        const fmt = bkeyFormatFor(live.map((k) => k.fields), [node.minKey, node.maxKey]);
        if (!live.every((k) => packKey(k.fields, k.value.length / 8, fmt))) bad.push(`${where}: a key does not pack in the computed format`);
        const seq = node.seq ^ 0x5a5a_5a5a_5a5a_5a5an;
        const bytes = newNode({
          magic: sb.bsetMagic, btreeId: id, level: node.level, nodeSeq: node.nodeSeqFlag + 1, seq, minKey: node.minKey, maxKey: node.maxKey,
          journalSeq: node.bsets[0]!.journalSeq, version: sb.version, csumType: sb.metaCsumType, keys: live,
        }, geo);
        const n = parseBtreeNode(sb, bytes, { btreeId: id, level: node.level, ptr: { ...ptr, seq } });
        if (n.errors.length || n.bsets.length !== 1) bad.push(`${where}: ${n.errors.map((e) => e.msg).join('; ')}`);
        const got = Array.from(n.live.subarray(0, n.liveCount), (r) => `${n.keys.pos(r).offset}:${Buffer.from(n.keys.value(r)).toString('hex')}`);
        const want = Array.from(node.live.subarray(0, node.liveCount), (r) => `${t.pos(r).offset}:${Buffer.from(t.value(r)).toString('hex')}`);
        if (got.join() !== want.join()) bad.push(`${where}: keys differ after rebuilding`);
      });
    }
    total.computedFormats += computed;
    total.sameFormat += same;
    expect(bad.slice(0, 10)).toEqual([]);
  });
});

// Nodes made by a split keep the format computed over the node they were split from, so not every computed
// format can be reproduced from the node's own keys; those bcachefs made by compacting a node can.
it('bkeyFormatFor reproduces bit for bit most of the formats bcachefs computed (measured 852 of 926)', () => {
  expect(total.computedFormats).toBeGreaterThan(0);
  expect(total.sameFormat).toBeGreaterThan(total.computedFormats / 2);
});
