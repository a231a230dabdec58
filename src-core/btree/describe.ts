// Human text for node read errors: where the node is and what bcachefs found wrong with it.
import type { BtreeNode } from './node.js';
import { btreeName } from '../format/names.js';

/** One line per error for a report or stderr: where the node is, what is wrong, whether it was usable. */
export function describeNodeErrors(node: BtreeNode): string[] {
  return node.errors.map(
    (e) =>
      `btree ${btreeName(node.btreeId)} level ${node.level} node at sector ${node.sector}: ${e.msg}` +
      (node.readable ? ' (node still used)' : ' (node unreadable: its keys are skipped)'),
  );
}

