// The journal's keys laid over a node's keys (bcachefs's btree_and_journal_iter for one node): a journal
// key replaces the node's key at its position, a deleted one hides it.
import { bposToParts, type KeyTable } from '../format/bkey.js';
import type { Filesystem } from './fs.js';
import type { BtreeNode } from './node.js';

/** A node's keys in order, each as (table, row). */
export interface NodeKeyList {
  count: number;
  table(k: number): KeyTable;
  row(k: number): number;
}

export const EMPTY_KEY_LIST: NodeKeyList = { count: 0, table: () => { throw new RangeError('empty key list'); }, row: () => -1 };

/**
 * The keys of one node with the journal's keys for its range laid over them (bcachefs's
 * btree_and_journal_iter for a node, as gc uses it).
 */
export function nodeKeysWithJournal(fs: Filesystem, node: BtreeNode): NodeKeyList {
  const t = node.keys;
  const plain: NodeKeyList = { count: node.liveCount, table: () => t, row: (k) => node.live[k]! };
  const all = fs.journalRows(node.btreeId, node.level);
  if (!all.length) return plain;
  const jt = fs.journalKeys.table;
  const min = bposToParts(node.minKey);
  const max = bposToParts(node.maxKey);
  // the node's range in the sorted journal rows
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (jt.cmpParts(all[mid]!, min) < 0) lo = mid + 1;
    else hi = mid;
  }
  let end = lo;
  while (end < all.length && jt.cmpParts(all[end]!, max) <= 0) end++;
  if (end === lo) return plain;
  const tabs: KeyTable[] = [];
  const rows: number[] = [];
  const pushJournal = (r: number): void => {
    if (!jt.whiteout(r)) {
      tabs.push(jt);
      rows.push(r);
    }
  };
  let j = lo;
  for (let k = 0; k < node.liveCount; k++) {
    const row = node.live[k]!;
    let replaced = false;
    while (j < end) {
      const c = jt.cmpPosWith(all[j]!, t, row);
      if (c > 0) break;
      pushJournal(all[j]!);
      j++;
      if (c === 0) {
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      tabs.push(t);
      rows.push(row);
    }
  }
  for (; j < end; j++) pushJournal(all[j]!);
  return { count: rows.length, table: (k) => tabs[k]!, row: (k) => rows[k]! };
}
