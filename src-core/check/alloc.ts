// bch2_alloc_read: the alloc btree (with the journal's alloc keys laid over it) into the alloc view of the
// buckets. The first unreadable node stops the walk, as bch2_btree_and_journal_walk does; bcachefs then
// stops recovery ("error reading alloc info: -5"), this checker goes on without those buckets' alloc info.
import { BtreeWalk } from '../btree/fs.js';
import { bposCmp, POS_MIN, type Bpos } from '../format/bpos.js';
import type { KeyTable } from '../format/bkey.js';
import { BCH_DATA_btree, BTREE_ID_alloc, KEY_TYPE_alloc, KEY_TYPE_alloc_v2 } from '../format/names.js';
import { allocUnpack, newAllocUnpacked } from '../format/values.js';
import type { Gc } from './context.js';
import { nodeWhere, reportNodeErrors } from './node-read.js';

export async function readAllocInfo(g: Gc): Promise<void> {
  const id = BTREE_ID_alloc;
  const rootNode = g.rootNodes[id];
  const a = newAllocUnpacked();
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
  const w = rootNode && new BtreeWalk(g.fs, id, { rootNode });
  for (let s = w?.next(); s; s = w!.next()) {
    const step = await g.visit(s);
    if (!step) continue;
    const node = step.node;
    if (!step.parent) {
      if (!node.readable) {
        // read_btree_roots: bcachefs clears BCH_COMPAT_alloc_info and goes on with an empty alloc btree, so
        // every pointer then has its gen "missing in alloc btree" and gc_done corrects silently
        g.allocInfoValid = false;
        break;
      }
    } else if (node.errors.length) {
      const key = g.stepKey(step);
      const where = nodeWhere(g, node, step.ptr, key, { node: step.parent, index: step.childIndex });
      const fatal = reportNodeErrors(g, node, where);
      if (!node.readable) {
        markUnknown(g, step.ptr.minKey ?? POS_MIN, step.ptr.maxKey);
        g.out.report(
          'alloc_info_unreadable',
          { btree: 'alloc', level: node.level, sector: node.sector, keyText: key.text },
          { id: `alloc:${node.level}:${node.sector}`, at: where, ...(fatal !== undefined ? { log: fatal } : {}) },
        );
        break; // bch2_btree_and_journal_walk stops at the first error
      }
    }
    if (node.level === 0) for (let k = 0; k < step.keys.count; k++) loadKey(step.keys.table(k), step.keys.row(k));
  }
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
