// bch2_alloc_read: the alloc btree (with the journal's alloc keys laid over it) into the alloc view of the
// buckets. The first unreadable node stops the walk, as bch2_btree_and_journal_walk does; bcachefs then
// stops recovery ("error reading alloc info: -5"), this checker goes on without those buckets' alloc info.
import { btreePtrFromKey, nodeKeysWithJournal } from '../btree/fs.js';
import type { BtreeNode } from '../btree/node.js';
import { bposCmp, POS_MIN, type Bpos } from '../format/bpos.js';
import type { KeyTable } from '../format/bkey.js';
import { BCH_DATA_btree, BTREE_ID_alloc, KEY_TYPE_alloc, KEY_TYPE_alloc_v2 } from '../format/names.js';
import { allocUnpack, newAllocUnpacked, type BtreePtr } from '../format/values.js';
import type { Gc } from './context.js';
import type { KeyLocation } from './findings.js';
import { nodeWhere, reportNodeErrors } from './node-read.js';
import { rootKey } from './recovery.js';

export async function readAllocInfo(g: Gc): Promise<void> {
  const id = BTREE_ID_alloc;
  const root = g.fs.roots[id]!;
  const rootNode = g.rootNodes[id];
  g.fs.beginWalk();
  g.fs.firstVisit(root.ptr);
  const a = newAllocUnpacked();
  let stopped = false;
  const loadKey = (t: KeyTable, row: number): void => {
    const ty = t.type[row]!;
    if (ty !== KEY_TYPE_alloc && ty !== KEY_TYPE_alloc_v2) return;
    const d = g.devs[t.inodeLo[row]!];
    if (!d || t.inodeHi[row] !== 0 || t.offsetHi[row] !== 0) return;
    const b = t.offsetLo[row]!;
    if (b >= d.nbuckets) return; // bcachefs 2021 would index out of bounds
    allocUnpack(ty, t.buf, t.valOff[row]!, t.valLen[row]!, a);
    d.setAlloc(b, a.gen, a.dataType, a.dirtySectors, a.cachedSectors, a.oldestGen);
  };
  const rec = async (node: BtreeNode, ptr: BtreePtr, key: KeyLocation, parent?: { node: BtreeNode; index: number }): Promise<void> => {
    if (!node.readable) {
      stopped = true;
      if (!parent) {
        // read_btree_roots: bcachefs clears BCH_COMPAT_alloc_info and goes on with an empty alloc btree, so
        // every pointer then has its gen "missing in alloc btree" and gc_done corrects silently
        g.allocInfoValid = false;
        return;
      }
      const where = nodeWhere(g, node, ptr, key, parent);
      const fatal = reportNodeErrors(g, node, where);
      markUnknown(g, ptr.minKey ?? POS_MIN, ptr.maxKey);
      g.out.report(
        'alloc_info_unreadable',
        { btree: 'alloc', level: node.level, sector: node.sector, keyText: key.text },
        { id: `alloc:${node.level}:${node.sector}`, at: where, ...(fatal !== undefined ? { log: fatal } : {}) },
      );
      return;
    }
    if (parent) reportNodeErrors(g, node, nodeWhere(g, node, ptr, key, parent));
    if (node.level === 0) {
      const keys = nodeKeysWithJournal(g.fs, node);
      for (let k = 0; k < keys.count; k++) loadKey(keys.table(k), keys.row(k));
      return;
    }
    const t = node.keys;
    for (let k = 0; k < node.liveCount; k++) {
      const row = node.live[k]!;
      const child = btreePtrFromKey(t, row);
      if (!child || !g.firstVisit(id, child)) continue;
      const childKey = g.keyAt(t, row, node, k);
      const cn = g.readNode(id, node.level - 1, child, g.tableFor(node.level - 1));
      await g.nodeDone();
      await rec(cn, child, childKey, { node, index: k });
      if (stopped) return;
    }
  };
  if (!root.fake && rootNode) await rec(rootNode, root.ptr, rootKey(g, id));
  applyJournalAllocKeys(g, loadKey);
  // estimate of what the walk will read: the sectors of btree-node buckets
  let btreeSectors = 0;
  for (const d of g.devs) {
    if (!d) continue;
    for (let b = 0; b < d.nbuckets; b++) if (d.aDataType[b] === BCH_DATA_btree) btreeSectors += d.aDirty[b]!;
  }
  g.estimatedTotalBytes = btreeSectors * 512;
}

/** Alloc keys still in the journal: they replace what the btree said. */
function applyJournalAllocKeys(g: Gc, loadKey: (t: KeyTable, row: number) => void): void {
  const jk = g.fs.journalKeys;
  if (!jk.table.n) return;
  for (const r of jk.order) if (jk.btreeId[r] === BTREE_ID_alloc && jk.level[r] === 0) loadKey(jk.table, r);
}

/** The buckets an unreadable alloc node covers: no alloc info, so no comparison in gc_done. */
function markUnknown(g: Gc, min: Bpos, max: Bpos): void {
  for (const d of g.devs) {
    if (!d) continue;
    const lo = bposCmp(min, { inode: BigInt(d.dev), offset: 0n, snapshot: 0 }) <= 0 ? 0 : min.inode === BigInt(d.dev) ? Number(min.offset) : d.nbuckets;
    const hi = bposCmp(max, { inode: BigInt(d.dev), offset: BigInt(d.nbuckets), snapshot: 0 }) >= 0 ? d.nbuckets - 1 : max.inode === BigInt(d.dev) ? Number(max.offset) : -1;
    for (let b = Math.max(0, lo); b <= Math.min(hi, d.nbuckets - 1); b++) d.aUnknown[b] = 1;
  }
}
