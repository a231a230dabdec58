// Human text for node read errors, in bcachefs's words (btree_io.c btree_err_msg) plus where it is.
import type { Filesystem } from './fs.js';
import { btreePtrToText } from './fs.js';
import type { BtreeNode, BtreeNodeError } from './node.js';
import { btreeName } from '../format/names.js';

/** "error validating btree node at btree extents level 0/1\n  <ptr key>\n  node offset 0: bad magic" */
export function btreeErrMsg(fs: Filesystem, node: BtreeNode, ptrText: string, e: BtreeNodeError): string {
  const rootLevel = fs.roots[node.btreeId]?.level ?? 0;
  return (
    `error validating btree node at btree ${btreeName(node.btreeId)} level ${node.level}/${rootLevel}\n  ${ptrText}\n` +
    `  node offset ${e.nodeOffset}${e.bsetU64s !== undefined ? ` bset u64s ${e.bsetU64s}` : ''}: ${e.msg}`
  );
}

/** One line per error for a report or stderr: where the node is, what is wrong, whether it was usable. */
export function describeNodeErrors(node: BtreeNode): string[] {
  return node.errors.map(
    (e) =>
      `btree ${btreeName(node.btreeId)} level ${node.level} node at sector ${node.sector}: ${e.msg}` +
      (node.readable ? ' (node still used)' : ' (node unreadable: its keys are skipped)'),
  );
}

export { btreePtrToText };
