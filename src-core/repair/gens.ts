// Pointers and gens (ptr_gen_future, ptr_stale_dirty, ptr_gen_missing and the marking errors that follow them):
// per bucket, the evidence says which side is wrong.
//   - the bucket holds pointers at its own gen, and its alloc key's dirty_sectors counts the odd pointers too:
//     the odd pointers' gens are wrong -> set each to the bucket's gen (the key keeps its data);
//   - no pointer is at the bucket's gen, they all agree on another, and the alloc key's data_type and
//     dirty_sectors are exactly theirs: the bucket's gen is wrong -> restore it in the alloc key;
//   - the alloc key counts only the pointers at the bucket's gen: the bucket was really reused -> the stale
//     pointers go (2021's repair; the extent is lost and the plan says so).
// bcachefs 2021 (bch2_check_fix_ptrs) never weighs this: it raises the bucket's gen for a future pointer
// (making the bucket's other pointers stale) and drops every stale dirty pointer, losing those extents.
import type { Filesystem } from '../btree/fs.js';
import type { CheckResult, Finding } from '../check/index.js';
import { genCmp } from '../check/buckets.js';
import { BCH_DATA_TYPES, BCH_DATA_btree, BCH_DATA_user, BTREE_ID_alloc, btreeName, KEY_TYPE_btree_ptr, KEY_TYPE_btree_ptr_v2 } from '../format/names.js';
import { BCH_EXTENT_ENTRY_ptr, BTREE_PTR_V2_HEADER_BYTES, ExtentEntryIter } from '../format/values.js';
import { bkeyValToText } from '../format/print.js';
import { allocKeys, editAllocKey, type AllocKeyAt } from './alloc.js';
import { EditsByNode, liveRowAt } from './edit.js';
import type { Planner, PlanContext, RepairFix } from './types.js';

const POINTER_CLASSES = ['ptr_gen_future', 'ptr_stale_dirty'] as const;
const FOLLOWERS = ['mark_ptr_gen_newer', 'mark_stale_dirty_ptr', 'mark_ptr_too_stale'] as const;

/** One pointer a finding names, with what its key says. */
interface ProblemPtr {
  /** the findings about it (the pointer finding and the marking error after it) */
  findings: Finding[];
  btreeId: number;
  level: number;
  nodeSector: number;
  keyOffset: number;
  ptrIndex: number;
  gen: number;
  sectors: number;
  cached: boolean;
  /** pointer entries in the key */
  nrPtrs: number;
  dataType: number;
  text: string;
  future: boolean;
}

const dtName = (t: number): string => BCH_DATA_TYPES[t] ?? String(t);

/** The pointer a finding is about, decoded from its node; a string says why it cannot be edited. */
function problemPtr(fs: Filesystem, edits: EditsByNode, f: Finding): ProblemPtr | string {
  const l = f.location;
  if (l.key?.source !== 'bset' || l.key.byte_offset === undefined || !l.node || l.btree_id === undefined || l.level === undefined || l.ptr_index === undefined) {
    return l.key?.source === 'btree_root'
      ? "the pointer is the btree root's own key (superblock clean section), which this repair does not rewrite"
      : 'the key is not in a btree node (journal key), so it cannot be rewritten in place';
  }
  const e = edits.at(l.btree_id, l.level, l.node.sector);
  const row = liveRowAt(e.node, l.key.byte_offset);
  if (row < 0) return `no live key at byte ${l.key.byte_offset} of the node at sector ${l.node.sector}`;
  const t = e.node.keys;
  const type = t.type[row]!;
  const isBtree = type === KEY_TYPE_btree_ptr || type === KEY_TYPE_btree_ptr_v2;
  const val = t.value(row);
  const it = new ExtentEntryIter();
  it.set(val, type === KEY_TYPE_btree_ptr_v2 ? BTREE_PTR_V2_HEADER_BYTES : 0, val.length, t.size[row]!);
  let n = 0;
  let found: Omit<ProblemPtr, 'findings' | 'nrPtrs'> | undefined;
  for (let x = it.next(); x >= 0; x = it.next()) {
    if (x !== BCH_EXTENT_ENTRY_ptr) continue;
    if (n === l.ptr_index) {
      const cs = it.crcCompressedSize;
      const us = it.crcUncompressedSize;
      const size = t.size[row]!;
      found = {
        btreeId: l.btree_id, level: l.level, nodeSector: l.node.sector, keyOffset: l.key.byte_offset, ptrIndex: n, gen: it.ptrGen,
        sectors: isBtree ? fs.sb.btreeNodeSize : cs === us ? size : Math.ceil((size * cs) / us), cached: it.ptrCached,
        dataType: isBtree ? BCH_DATA_btree : BCH_DATA_user, text: bkeyValToText(t, row), future: f.class === 'ptr_gen_future',
      };
    }
    n++;
  }
  if (!found) return `the key has no pointer ${l.ptr_index}`;
  return { ...found, findings: [f], nrPtrs: n };
}

/** One bucket's decision: the writes (as edits), what it resolves, and what it says. */
interface Decision {
  bucket: number;
  ptrs: ProblemPtr[];
  summary: string;
  evidence: string[];
  lost: string[];
  kept: string[];
  /** applies the decision's edits; a string says why it cannot */
  edit: (edits: EditsByNode, keys: Map<number, AllocKeyAt>) => string | undefined;
  /** the nodes it writes ("btree:sector") */
  nodes: (keys: Map<number, AllocKeyAt>) => string[];
  title: string;
}

const ptrNodes = (ptrs: ProblemPtr[]) => (): string[] => ptrs.map((p) => `${p.btreeId}:${p.nodeSector}`);

function setPtrGens(ptrs: ProblemPtr[], gen: number): (edits: EditsByNode) => undefined {
  return (edits) => {
    for (const p of ptrs) {
      edits.at(p.btreeId, p.level, p.nodeSector).add(
        { kind: 'ptrGen', keyOffset: p.keyOffset, ptr: p.ptrIndex, gen },
        { field: `${btreeName(p.btreeId)} key at byte ${p.keyOffset} of node ${p.nodeSector}: ptr ${p.ptrIndex} gen`, before: String(p.gen), after: String(gen) },
      );
    }
    return undefined;
  };
}

function dropPtrs(ptrs: ProblemPtr[]): (edits: EditsByNode) => string | undefined {
  return (edits) => {
    for (const p of ptrs) {
      if (p.nrPtrs > 1) return `the key ${p.text} has ${p.nrPtrs} pointers: dropping one of them is not implemented`;
      if (p.level > 0) return `the pointer is a btree node pointer: dropping it would lose the node's subtree`;
      edits.at(p.btreeId, p.level, p.nodeSector).add(
        { kind: 'delete', keyOffset: p.keyOffset },
        { field: `${btreeName(p.btreeId)} key at byte ${p.keyOffset} of node ${p.nodeSector}`, before: p.text, after: '(deleted)' },
      );
    }
    return undefined;
  };
}

/** What the evidence says about one bucket's problem pointers: the repair, and the 2021 one as alternative. */
function decide(fs: Filesystem, check: CheckResult, dev: number, b: number, ptrs: ProblemPtr[]): { main?: Decision; alt?: Decision; why?: string } {
  const d = check.gc.devs[dev];
  if (!d || d.aUnknown[b]) return { why: `the alloc key of bucket ${dev}:${b} could not be read: no evidence to weigh` };
  const aGen = d.aGen[b]!;
  const aDirty = d.aDirty[b]!;
  const aType = d.aDataType[b]!;
  const gcDirty = d.dirty[b]!;
  const dirty = ptrs.filter((p) => !p.cached);
  const sum = dirty.reduce((n, p) => n + p.sectors, 0);
  const gens = [...new Set(dirty.map((p) => p.gen))];
  const types = [...new Set(dirty.map((p) => p.dataType))];
  const bucket = `bucket ${dev}:${b}`;
  const facts = [
    `${bucket}: alloc key gen ${aGen}, data_type ${dtName(aType)}, dirty_sectors ${aDirty}`,
    `pointers at the bucket's gen ${aGen} (marked by mark and sweep): ${gcDirty} sectors`,
    `pointers named by the findings: ${dirty.length} (gen ${gens.join(', ')}), ${sum} sectors`,
  ];
  const dropStale = dirty.filter((p) => !p.future);
  const drop2021: Decision | undefined = dropStale.length === dirty.length && dirty.length
    ? {
      bucket: b, ptrs, title: `Drop the ${dirty.length} stale pointer${dirty.length > 1 ? 's' : ''} into ${bucket} (bcachefs 2021's repair)`,
      summary: `delete the key${dirty.length > 1 ? 's' : ''} holding the stale pointer${dirty.length > 1 ? 's' : ''}`,
      evidence: [...facts, "the inodes of the dropped extents then count sectors they no longer have: bcachefs's fsck pass reports their i_sectors (the filesystem-level repair)"],
      lost: dirty.map((p) => p.text), kept: [], edit: dropPtrs(dirty), nodes: ptrNodes(dirty),
    }
    : undefined;
  const setBucketGen = (g: number, why: string[]): Decision => ({
    bucket: b, ptrs, title: `Restore the gen of ${bucket} to ${g} in its alloc key`,
    summary: `alloc key ${dev}:${b}: bch_alloc_v2.gen ${aGen} -> ${g}`,
    evidence: [...facts, ...why],
    lost: [], kept: dirty.length ? [`the ${dirty.length} extent${dirty.length > 1 ? 's' : ''} pointing into ${bucket} (2021 fsck -y drops the stale ones)`] : [],
    edit: (edits, keys) => {
      const at = keys.get(b);
      const oldest = at && genCmp(at.value.oldestGen, g) > 0 ? g : at?.value.oldestGen;
      return editAllocKey(fs, edits, keys, b, { gen: g, ...(oldest !== undefined ? { oldestGen: oldest } : {}) });
    },
    nodes: (keys) => [`${BTREE_ID_alloc}:${keys.get(b)?.sector ?? -1}`],
  });
  if (!dirty.length) return { why: `only cached pointers into ${bucket}: dropping cached pointers is not implemented` };
  if (types.length > 1 || (aType && aType !== types[0])) {
    return { why: `${facts.join('; ')}: the alloc key's data type (${dtName(aType)}) and the pointers' (${types.map(dtName).join(', ')}) disagree, so the evidence does not say which gen is right` };
  }
  // the odd pointers' gen is wrong: the bucket has pointers at its gen and the alloc key counts the odd ones too
  if (gcDirty > 0 && gcDirty + sum === aDirty) {
    const main: Decision = {
      bucket: b, ptrs, title: `Set the gen of ${dirty.length} pointer${dirty.length > 1 ? 's' : ''} into ${bucket} to the bucket's gen ${aGen}`,
      summary: dirty.map((p) => `${btreeName(p.btreeId)} key ${p.text.split(' ')[4] ?? ''} ptr ${p.ptrIndex}: gen ${p.gen} -> ${aGen}`).join('; '),
      evidence: [...facts, `the alloc key's ${aDirty} dirty sectors = ${gcDirty} (pointers at gen ${aGen}) + ${sum} (these pointers): their data is in the bucket, only their gen is wrong`],
      lost: [], kept: [`the key${dirty.length > 1 ? 's' : ''} ${dirty.map((p) => p.text).join('; ')}${dirty.some((p) => !p.future) ? ' (2021 fsck -y drops stale ones)' : ''}`],
      edit: setPtrGens(dirty, aGen), nodes: ptrNodes(dirty),
    };
    const allFuture = dirty.every((p) => p.future);
    const alt = allFuture && gens.length === 1
      ? setBucketGen(gens[0]!, [`bcachefs 2021's repair: raises the bucket's gen to the pointer's, which makes the bucket's other pointers stale`])
      : drop2021;
    return { main, ...(alt ? { alt } : {}) };
  }
  // the bucket's gen is wrong: nothing is at its gen, the pointers agree, and the alloc key holds exactly their data
  if (gcDirty === 0 && gens.length === 1 && (sum === aDirty || (aDirty === 0 && aType === 0 && dirty.every((p) => p.future)))) {
    const why = sum === aDirty
      ? [`no pointer is at gen ${aGen}; all ${dirty.length} agree on gen ${gens[0]}, and the alloc key's ${dtName(aType)} / ${aDirty} sectors are exactly theirs: the bucket's gen is what is wrong`]
      : [`the alloc key says the bucket is empty, and its pointers are in its future: the gen was lost with the rest of the key (as bcachefs 2021, the gen is raised; the alloc fields follow in a later round)`];
    return { main: setBucketGen(gens[0]!, why), ...(drop2021 ? { alt: drop2021 } : {}) };
  }
  if (dropStale.length === dirty.length && gcDirty === aDirty) {
    return {
      main: { ...drop2021!, evidence: [...facts, `the alloc key's ${aDirty} dirty sectors are exactly the pointers at gen ${aGen}: the bucket was reused, the stale pointers' data is gone`] },
    };
  }
  return { why: `${facts.join('; ')}: the sectors add up neither to the bucket holding these pointers' data nor to it having been reused, so no gen can be trusted` };
}

function planGens(ctx: PlanContext, findings: readonly Finding[]): RepairFix[] {
  const fs = ctx.fs;
  const edits = new EditsByNode(fs);
  // the pointers, by bucket; marking errors join their pointer's findings (same key and pointer)
  const byKey = new Map<string, ProblemPtr>();
  const buckets = new Map<string, ProblemPtr[]>();
  const tail = (f: Finding): string => f.id.slice(f.class.length);
  for (const f of findings) {
    if (!(POINTER_CLASSES as readonly string[]).includes(f.class)) continue;
    const p = problemPtr(fs, edits, f);
    if (typeof p === 'string') {
      ctx.noRepair(f.id, p);
      continue;
    }
    byKey.set(tail(f), p);
    const k = `${f.location.dev}:${f.location.bucket}`;
    buckets.set(k, [...(buckets.get(k) ?? []), p]);
  }
  for (const f of findings) {
    if (!(FOLLOWERS as readonly string[]).includes(f.class)) continue;
    const p = byKey.get(tail(f));
    if (p) p.findings.push(f);
    else ctx.noRepair(f.id, 'a marking error without the pointer finding it follows: it goes when that pointer is repaired');
  }
  const keys = allocKeys(fs);
  const chosen: { main: Decision; alt?: Decision; findings: Finding[] }[] = [];
  for (const [k, ptrs] of buckets) {
    const [dev, b] = k.split(':').map(Number) as [number, number];
    const r = decide(fs, ctx.check, dev, b, ptrs);
    const all = ptrs.flatMap((p) => p.findings);
    if (!r.main) for (const f of all) ctx.noRepair(f.id, r.why!);
    else chosen.push({ main: r.main, ...(r.alt ? { alt: r.alt } : {}), findings: all });
  }
  // decisions that write the same node are one fix (one rewrite of each node per fix)
  const groups: (typeof chosen)[] = [];
  const nodesOf = (d: Decision): string[] => d.nodes(keys);
  for (const c of chosen) {
    const mine = new Set(nodesOf(c.main));
    const hit = groups.filter((g) => g.some((o) => nodesOf(o.main).some((n) => mine.has(n))));
    const merged = [...hit.flat(), c];
    for (const h of hit) groups.splice(groups.indexOf(h), 1);
    groups.push(merged);
  }
  const out: RepairFix[] = [];
  for (const g of groups) {
    const fix = toFix(fs, g.map((c) => c.main), g.flatMap((c) => c.findings), allocKeys(fs));
    if (typeof fix === 'string') {
      for (const f of g.flatMap((c) => c.findings)) ctx.noRepair(f.id, fix);
      continue;
    }
    if (g.length === 1 && g[0]!.alt) {
      const alt = toFix(fs, [g[0]!.alt], g[0]!.findings, allocKeys(fs));
      if (typeof alt !== 'string') fix.alternatives.push({ ...alt, id: `${fix.id}:2021` });
    }
    out.push(fix);
  }
  return out;
}

/** Decisions as one fix (its own node reads, so alternatives do not share edits). */
function toFix(fs: Filesystem, ds: Decision[], findings: Finding[], keys: Map<number, AllocKeyAt>): RepairFix | string {
  const edits = new EditsByNode(fs);
  for (const d of ds) {
    const why = d.edit(edits, keys);
    if (why) return why;
  }
  const one = ds.length === 1;
  const title = one ? ds[0]!.title : `Repair the pointer gens of buckets ${ds.map((d) => d.bucket).join(', ')}`;
  return {
    id: `gens:${fs.sb.devIdx}:${ds.map((d) => d.bucket).join('+')}`,
    title, summary: ds.map((d) => d.summary).join('; '), resolves: findings.map((f) => f.id),
    writes: edits.all.map((e) => e.write(fs, title)),
    evidence: ds.flatMap((d) => d.evidence), lost: ds.flatMap((d) => d.lost), kept: ds.flatMap((d) => d.kept), alternatives: [], dependsOn: [],
  };
}

export const gensPlanner: Planner = { name: 'pointers and gens', classes: [...POINTER_CLASSES, ...FOLLOWERS], order: 30, plan: planGens };
