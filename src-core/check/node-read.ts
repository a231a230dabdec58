// What reading a node found, reported as btree_io.c's btree_err does: fixable damage is an fsck error
// bcachefs prints with ", fixing" even under -n (mustfix_fsck_err during the initial gc); the rest is a
// bch_err log block ("error validating btree node ..."), and an unreadable node is reported by the
// section that wanted it (root, alloc read, gc, leaves) with that block as its log_message.
import type { BtreeNode, BtreeNodeError } from '../btree/node.js';
import { btreeName } from '../format/names.js';
import type { BtreePtr } from '../format/values.js';
import type { Gc } from './context.js';
import type { FindingLocation, KeyLocation } from './findings.js';
import * as M from './messages.js';

/** Node errors bcachefs reports without a device (btree_err(..., NULL, ...)). */
const NODE_ERR_WITHOUT_DEV = new Set(['bset_version_old', 'bset_version_new', 'key_past_end', 'bad_key_format', 'invalid_bkey', 'keys_out_of_order']);

/** Where a node finding is: the node, the pointer to it, and the node holding that pointer (none for a root). */
export function nodeWhere(g: Gc, node: BtreeNode, ptr: BtreePtr, key: KeyLocation, parent?: { node: BtreeNode; index: number }): FindingLocation {
  return {
    btree_id: node.btreeId,
    btree: btreeName(node.btreeId),
    level: node.level,
    node: g.nodeAddr(node, ptr),
    ...(parent ? { parent: { ...g.nodeAddr(parent.node), child_index: parent.index } } : {}),
    key,
  };
}

export function reportedKey(node: BtreeNode): string {
  return `${node.btreeId}:${node.level}:${node.dev}:${node.sector}`;
}

/**
 * Reports what reading a node found (once per node). Returns the log text of the error that made the node
 * unreadable, if it is (undefined also when the node was reported before).
 */
export function reportNodeErrors(g: Gc, node: BtreeNode, where: FindingLocation): string | undefined {
  const key = reportedKey(node);
  if (g.reportedNodes.has(key)) return undefined;
  g.reportedNodes.add(key);
  const ptrText = where.key!.text;
  const rootLevel = g.fs.roots[node.btreeId]?.level ?? 0;
  let fatalText: string | undefined;
  for (const e of node.errors) {
    const text = nodeErrText(g, node, ptrText, rootLevel, e);
    const r = { id: `${btreeName(node.btreeId)}:${node.level}:${node.sector}:${e.code}`, at: where, field: e.code };
    if (e.type === 'fixable') {
      g.out.report('btree_node_fixable', { text, msg: e.msg }, r);
    } else if (!node.readable && (e.type === 'must_retry' || e.type === 'fatal') && fatalText === undefined) {
      fatalText = text;
    } else {
      g.out.report('btree_node_read_error', { text, msg: e.msg, inLeaves: false, sector: node.sector, btree: btreeName(node.btreeId) }, { ...r, log: text });
    }
  }
  if (!node.readable && fatalText === undefined) fatalText = nodeErrText(g, node, ptrText, rootLevel, { type: 'must_retry', code: 'unknown', msg: 'unreadable', nodeOffset: 0 });
  return fatalText;
}

export function nodeErrText(g: Gc, node: BtreeNode, ptrText: string, rootLevel: number, e: BtreeNodeError): string {
  return M.msgBtreeNodeError({
    devName: NODE_ERR_WITHOUT_DEV.has(e.code) ? null : g.devName,
    btree: btreeName(node.btreeId),
    level: node.level,
    rootLevel,
    keyText: ptrText,
    nodeOffset: e.nodeOffset,
    ...(e.bsetU64s !== undefined ? { bsetU64s: e.bsetU64s } : {}),
    msg: e.msg,
  });
}
