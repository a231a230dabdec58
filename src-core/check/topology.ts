// Topology as mark and sweep checks it (btree_gc.c bch2_gc_btree_init's root range, bch2_gc_check_topology
// for each child pointer of an interior node), and the empty interior node only the topology repair pass
// reports (bch2_btree_repair_topology_recurse).
import { btreePtrFromKey } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import type { KeyTable } from '../format/bkey.js';
import { bposCmp, bposSuccessor, bposToText, POS_MAX, POS_MIN } from '../format/bpos.js';
import { KEY_TYPE_btree_ptr_v2, btreeName } from '../format/names.js';
import type { BtreePtr } from '../format/values.js';
import { posParts, ptrTarget, type Gc } from './context.js';
import type { FindingLocation, KeyLocation } from './findings.js';
import { nodeWhere } from './node-read.js';

/** bch2_gc_btree_init: the root must cover POS_MIN..POS_MAX (min_key is checked first, then max_key). */
export function checkRootRange(g: Gc, id: number, node: BtreeNode, ptr: BtreePtr, key: KeyLocation): void {
  const min = bposCmp(node.minKey, POS_MIN) !== 0;
  if (!min && bposCmp(node.maxKey, POS_MAX) === 0) return;
  const name = btreeName(id);
  const pos = min ? node.minKey : node.maxKey;
  const input = { btree: name, level: node.level, sector: node.sector, keyText: key.text, posText: bposToText(pos) };
  const r = {
    id: `${name}:${node.level}:${node.sector}`,
    at: nodeWhere(g, node, ptr, key),
    expected: min ? 'POS_MIN' : 'POS_MAX',
    actual: bposToText(pos),
    params: min ? { min_key: posParts(POS_MIN) } : { max_key: posParts(POS_MAX) },
  };
  if (min) g.out.report('btree_root_bad_min_key', input, r);
  else g.out.report('btree_root_bad_max_key', input, r);
}

/** An interior node without children: the 2021 gc walks past it silently; its topology repair drops it. */
export function emptyInteriorNode(g: Gc, node: BtreeNode, where: FindingLocation): void {
  const name = btreeName(node.btreeId);
  g.out.report(
    'btree_node_empty',
    { btree: name, level: node.level, sector: node.sector, keyText: where.key!.text },
    { id: `${name}:${node.level}:${node.sector}`, at: where, expected: 1, actual: 0 },
  );
}

/**
 * bch2_gc_check_topology for key `k` (row `row` of `t`) of interior node `node`: its min_key must follow the
 * previous key (or be the node's min_key), and the last key must be the node's max_key.
 */
export function checkTopology(g: Gc, node: BtreeNode, prevT: KeyTable | null, prevRow: number, t: KeyTable, row: number, k: number, isLast: boolean): void {
  const name = btreeName(node.btreeId);
  if (t.type[row] === KEY_TYPE_btree_ptr_v2) {
    const ptr = btreePtrFromKey(t, row);
    const expected = prevT === null ? node.minKey : bposSuccessor(prevT.pos(prevRow));
    if (ptr?.minKey && (expected === undefined || bposCmp(expected, ptr.minKey) !== 0)) {
      const at = keyWhere(g, node, t, row, k, ptr);
      g.out.report(
        'topology_min_key',
        {
          btree: name,
          level: node.level,
          prevText: prevT === null ? null : g.keyText(prevT, prevRow),
          nodeStartText: bposToText(node.minKey),
          curText: at.key!.text,
          minKeyText: bposToText(ptr.minKey),
          expectedText: expected ? bposToText(expected) : null,
          gap: expected !== undefined && bposCmp(expected, ptr.minKey) < 0,
        },
        {
          id: `${name}:${node.level}:${node.sector}:${bposToText(t.pos(row))}`,
          at,
          expected: expected ? bposToText(expected) : null,
          actual: bposToText(ptr.minKey),
          ...(expected ? { params: { min_key: posParts(expected) } } : {}),
        },
      );
    }
  }
  if (isLast && t.cmpBpos(row, node.maxKey) !== 0) {
    const at = keyWhere(g, node, t, row, k, btreePtrFromKey(t, row));
    g.out.report(
      'topology_max_key',
      { btree: name, level: node.level, curText: at.key!.text, endText: bposToText(t.pos(row)), expectedText: bposToText(node.maxKey) },
      {
        id: `${name}:${node.level}:${node.sector}:last`,
        at,
        expected: bposToText(node.maxKey),
        actual: at.key!.pos.text,
        params: { max_key: posParts(node.maxKey) },
      },
    );
  }
}

/** A child pointer key of an interior node: the node holding it, the key, and the child it points to. */
function keyWhere(g: Gc, node: BtreeNode, t: KeyTable, row: number, k: number, ptr: BtreePtr | undefined): FindingLocation {
  const child = ptr && ptrTarget(ptr);
  return {
    btree_id: node.btreeId,
    btree: btreeName(node.btreeId),
    level: node.level,
    node: g.nodeAddr(node),
    key: g.keyAt(t, row, node, k),
    ...(child ? { child } : {}),
  };
}
