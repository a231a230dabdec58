// check_dirents and check_xattrs (fsck.c at a76f36fc6), as they run under fsck -n: every check's condition
// is evaluated and reported, nothing is fixed, so code after a fix that -n skips runs on (a dirent in a
// missing directory is also tested for being in a non-directory, with the inode walker's stale inode).
import { u64HiLoToString, readU32 } from '../format/bytes.js';
import { pbuf } from '../check/messages.js';
import type { KeyTable } from '../format/bkey.js';
import { BTREE_ID_dirents, BTREE_ID_xattrs, KEY_TYPE_dirent, KEY_TYPE_xattr } from '../format/names.js';
import { BCACHEFS_ROOT_INO, ROW_BACKPTR_FOUND, type FsckContext } from './context.js';
import { DirentIndex } from './dirent-index.js';
import { DT_DIR, isDir, modeToType, type InodeTable } from './inode-table.js';
import { StrHash } from './str-hash.js';

const s64 = u64HiLoToString;

/**
 * The keys of the hash table being walked (one inode's dirents or xattrs) so far, for hash_check_key's
 * linear probe back from a key's hash slot to the key. Names are compared by their 63-bit hash and length:
 * two different names of one directory agreeing in both is not a case worth the memory of keeping names.
 */
class ProbeTable {
  n = 0;
  offHi = new Uint32Array(256);
  offLo = new Uint32Array(256);
  hashHi = new Uint32Array(256);
  hashLo = new Uint32Array(256);
  /** name length + 1 for keys of the table's type, 0 for others (hash whiteouts) */
  nameKey = new Uint32Array(256);
  /** the first row of the run of keys in consecutive slots this row belongs to */
  runStart = new Uint32Array(256);

  push(offHi: number, offLo: number, hashHi: number, hashLo: number, nameKey: number): void {
    if (this.n === this.offHi.length) {
      const g = (a: Uint32Array): Uint32Array<ArrayBuffer> => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.offHi = g(this.offHi);
      this.offLo = g(this.offLo);
      this.hashHi = g(this.hashHi);
      this.hashLo = g(this.hashLo);
      this.nameKey = g(this.nameKey);
      this.runStart = g(this.runStart);
    }
    const i = this.n++;
    const next = i > 0 && this.offLo[i - 1] === ((offLo - 1) >>> 0) && this.offHi[i - 1] === (offLo === 0 ? (offHi - 1) >>> 0 : offHi);
    this.runStart[i] = next ? this.runStart[i - 1]! : i;
    this.offHi[i] = offHi;
    this.offLo[i] = offLo;
    this.hashHi[i] = hashHi;
    this.hashLo[i] = hashLo;
    this.nameKey[i] = nameKey;
  }

  /** First row at or after offset (hi, lo). */
  lowerBound(hi: number, lo: number): number {
    let a = 0;
    let b = this.n;
    while (a < b) {
      const m = (a + b) >>> 1;
      const mh = this.offHi[m]!;
      if (mh < hi || (mh === hi && this.offLo[m]! < lo)) a = m + 1;
      else b = m;
    }
    return a;
  }
}

/**
 * The probe's outcome: how many earlier keys have the same name (counted up to MAX_DUPLICATES + 1), and
 * whether a hole broke the chain.
 */
const probe = { duplicates: 0, badHash: false };
/**
 * bcachefs prints one message per earlier key of the same name: n copies of a name make n^2/2 messages. Past
 * this many for one key, the rest are told as one limitation instead of taking time and memory without end.
 */
const MAX_DUPLICATES = 16;

/**
 * hash_check_key for the key of the table's type about to be pushed at offset (offHi, offLo), whose name
 * hashed to (hHi, hLo): the slots from the hash up to the key must all be taken (a hole means lookups stop
 * before the key), and none may hold the same name.
 */
function probeKey(p: ProbeTable, offHi: number, offLo: number, hHi: number, hLo: number, nameKey: number): void {
  probe.duplicates = 0;
  probe.badHash = false;
  if (offHi < hHi || (offHi === hHi && offLo < hLo)) {
    probe.badHash = true;
    return;
  }
  // rows of p are the keys before this one, in offset order: the probe goes through the run of consecutive
  // slots starting at the hash, up to the key if the run reaches it, else up to the hole after the run
  const j = p.lowerBound(hHi, hLo);
  if (j === p.n || p.offHi[j] !== hHi || p.offLo[j] !== hLo) {
    probe.badHash = true;
    return;
  }
  const run = p.runStart[j]!;
  const last = p.n - 1;
  const reachesKey =
    p.runStart[last] === run && p.offLo[last] === ((offLo - 1) >>> 0) && p.offHi[last] === (offLo === 0 ? (offHi - 1) >>> 0 : offHi);
  let end = p.n;
  if (!reachesKey) {
    probe.badHash = true;
    // the end of j's run: runStart does not decrease
    let a = j;
    let b = p.n;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (p.runStart[m] === run) a = m + 1;
      else b = m;
    }
    end = a;
  }
  for (let i = j; i < end && probe.duplicates <= MAX_DUPLICATES; i++) {
    if (p.nameKey[i] === nameKey && p.hashHi[i] === hHi && p.hashLo[i] === hLo) probe.duplicates++;
  }
}

/** A finding's location: the key's btree and position (made only when reporting: no string per key). */
function keyLoc(btree: string, t: KeyTable, row: number): string {
  return `${btree}:${s64(t.inodeHi[row]!, t.inodeLo[row]!)}:${s64(t.offsetHi[row]!, t.offsetLo[row]!)}`;
}

function reportHash(ctx: FsckContext, btreeId: number, t: KeyTable, row: number, hHi: number, hLo: number): void {
  if (!probe.duplicates && !probe.badHash) return;
  const btree = btreeId === BTREE_ID_dirents ? 'dirents' : 'xattrs';
  const loc = keyLoc(btree, t, row);
  const text = pbuf(ctx.keyText(t, row), 200);
  for (let d = 0; d < Math.min(probe.duplicates, MAX_DUPLICATES); d++) {
    ctx.report('hash_duplicate_key', `duplicate hash table keys:\n${text}`, loc, { btree, key: text, inode: [t.inodeHi[row]!, t.inodeLo[row]!] });
  }
  if (probe.duplicates > MAX_DUPLICATES) {
    ctx.limitations.push(
      `${loc}: more than ${MAX_DUPLICATES} earlier keys of its hash chain have the same name; bcachefs prints "duplicate hash table keys" ` +
        `once for each of them, only the first ${MAX_DUPLICATES} are reported here`,
    );
  }
  if (probe.badHash) {
    const inum = s64(t.inodeHi[row]!, t.inodeLo[row]!);
    const off = s64(t.offsetHi[row]!, t.offsetLo[row]!);
    const hash = s64(hHi, hLo);
    ctx.report(
      'hash_wrong_offset',
      `hash table key at wrong offset: btree ${btreeId} inode ${inum} offset ${off}, hashed to ${hash}\n${text}`,
      loc,
      { btree, key: text, expected: hash, actual: off, inode: [t.inodeHi[row]!, t.inodeLo[row]!] },
    );
  }
}

const METADATA_VERSION_INODE_BACKPOINTERS = 13;
/** gc errors that leave BCH_FS_INITIAL_GC_UNFIXED set under -n (btree_gc.c) */
const GC_UNFIXED_CLASSES: ReadonlySet<string> = new Set(['topology_min_key', 'topology_max_key', 'btree_node_unreadable']);

/** BCH_FS_INITIAL_GC_UNFIXED: the one fact of mark and sweep's findings the fsck passes depend on (check_dirents stops on it). */
export function gcLeftUnfixed(items: readonly { stage: string; class: string }[]): boolean {
  return items.some((f) => f.stage === 'gc' && GC_UNFIXED_CLASSES.has(f.class));
}
const STOP = new Error('check_dirents stopped');

/** A backpointer check whose dirent lies later in the btree: resolved when the pass has seen it. */
interface Deferred {
  /** where in the findings its findings go */
  at: number;
  target: number;
  dirHi: number;
  dirLo: number;
  offHi: number;
  offLo: number;
  loc: string;
}

/**
 * check_dirents. Leaves the index of every dirent it walked in ctx.dirents (for the passes after it and for
 * paths), unless it stopped at a node bcachefs cannot read (ctx.stop is set then).
 */
export function checkDirents(ctx: FsckContext): void {
  const inodes = ctx.inodes;
  if (ctx.fs.sb.version < METADATA_VERSION_INODE_BACKPOINTERS) {
    ctx.limitations.push(
      `metadata version ${ctx.fs.sb.version} predates inode backpointers (13): bcachefs 2021 then runs fsck with fix_errors=yes ` +
        'even under -n, repairing in memory as it goes; the dirent checks here follow the -n flow and report every ' +
        'dirent as the backpointer of an inode that has none',
    );
  }
  // the in-memory inode write that gives an inode its first backpointer fails once mark and sweep left
  // topology or unreadable-node errors unfixed (BCH_FS_INITIAL_GC_UNFIXED: "cannot go rw")
  let gcUnfixed: boolean | undefined;
  const index = new DirentIndex();
  const table = new ProbeTable();
  const hash = new StrHash();
  const deferred: Deferred[] = [];
  // the inode walker: the inode number walked, whether it exists, and the last inode found (bcachefs's
  // walker keeps the previous inode when a lookup fails; -1 is its zeroed initial one)
  let curHi = 0xffff_ffff;
  let curLo = 0xffff_ffff;
  let have = false;
  let w = -1;
  let nrSubdirs = 0;
  // keys of an inode check_inodes deleted are gone
  const gone = new Skip();

  let done: boolean;
  try {
    done = ctx.forEachKey(BTREE_ID_dirents, (t, row) => {
      const inHi = t.inodeHi[row]!;
      const inLo = t.inodeLo[row]!;
      if (gone.test(ctx, inHi, inLo)) return;
      const offHi = t.offsetHi[row]!;
      const offLo = t.offsetLo[row]!;
      const isDirent = t.type[row] === KEY_TYPE_dirent;
      const v = t.valOff[row]!;
      const buf = t.buf;
      let target = -1;
      if (isDirent) {
        const dInumLo = readU32(buf, v);
        const dInumHi = readU32(buf, v + 4);
        index.push(inHi, inLo, offHi, offLo, dInumHi, dInumLo, buf[v + 8]!);
        target = inodes.find(dInumHi, dInumLo);
        // every dirent, also those the checks below skip, is one inode_backpointer_exists can find
        if (target >= 0 && isBackpointer(inodes, target, inHi, inLo, offHi, offLo)) inodes.state[target]! |= ROW_BACKPTR_FOUND;
      }
      // the pass starts at POS(BCACHEFS_ROOT_INO, 0)
      if (inHi === 0 && inLo < BCACHEFS_ROOT_INO) return;

      const newInode = inHi !== curHi || inLo !== curLo;
      if (have && newInode && inodes.nlink[w] !== nrSubdirs) {
        const inum = s64(inodes.inumHi[w]!, inodes.inumLo[w]!);
        ctx.report('dir_i_nlink_wrong', `directory ${inum} with wrong i_nlink: got ${inodes.nlink[w]}, should be ${nrSubdirs}`,
          `inodes:${inum}`, { btree: 'inodes', field: 'bi_nlink', expected: nrSubdirs, actual: inodes.nlink[w]!, inode: [inodes.inumHi[w]!, inodes.inumLo[w]!] });
      }
      if (newInode) {
        const r = inodes.find(inHi, inLo);
        have = r >= 0;
        if (have) w = r;
        curHi = inHi;
        curLo = inLo;
        nrSubdirs = 0;
        table.n = 0;
        if (have) hash.setInfo(inodes.strHashType(w), inodes.hashSeedHi[w]!, inodes.hashSeedLo[w]!);
      }
      if (!have) {
        const text = pbuf(ctx.keyText(t, row), 200);
        ctx.report('dirent_in_missing_dir', `dirent in nonexisting directory:\n${text}`, keyLoc('dirents', t, row), { btree: 'dirents', key: text });
      }
      const wMode = w >= 0 ? inodes.mode[w]! : 0;
      if (!isDir(wMode)) {
        const text = pbuf(ctx.keyText(t, row), 200);
        ctx.report('dirent_in_non_dir', `dirent in non directory inode type ${modeToType(wMode)}:\n${text}`, keyLoc('dirents', t, row), {
          btree: 'dirents', key: text, ...(have ? { inode: [inHi, inLo] as const } : {}),
        });
      }
      let nameLen = 0;
      if (isDirent) {
        // bch2_dirent_name_bytes: strnlen of the name in the value
        const end = v + t.valLen[row]!;
        let e = v + 9;
        while (e < end && buf[e] !== 0) e++;
        nameLen = e - v - 9;
      }
      if (!have) {
        table.push(offHi, offLo, 0, 0, isDirent ? nameLen + 1 : 0);
        return;
      }
      if (!isDirent) {
        table.push(offHi, offLo, 0, 0, 0);
        return;
      }
      hash.dirent(buf, v + 9, nameLen);
      const hHi = hash.hi;
      const hLo = hash.lo;
      if (hHi !== offHi || hLo !== offLo) {
        probeKey(table, offHi, offLo, hHi, hLo, nameLen + 1);
        reportHash(ctx, BTREE_ID_dirents, t, row, hHi, hLo);
      }
      table.push(offHi, offLo, hHi, hLo, nameLen + 1);

      const dType = buf[v + 8]!;
      if (target < 0) {
        const text = pbuf(ctx.keyText(t, row), 200);
        ctx.report('dirent_missing_target', `dirent points to missing inode:\n${text}`, keyLoc('dirents', t, row), {
          btree: 'dirents', key: text, inode: [readU32(buf, v + 4), readU32(buf, v)],
        });
        return;
      }
      // an inode without a backpointer gets this dirent as its backpointer (fsck -n makes this update in memory)
      if ((inodes.dirHi[target]! | inodes.dirLo[target]! | inodes.dirOffHi[target]! | inodes.dirOffLo[target]!) === 0) {
        gcUnfixed ??= gcLeftUnfixed(ctx.out.items);
        if (gcUnfixed) {
          ctx.limitations.push(
            `bcachefs 2021's fsck stops in check_dirents at the dirent ${keyLoc('dirents', t, row)}: giving inode ` +
              `${s64(inodes.inumHi[target]!, inodes.inumLo[target]!)} its missing backpointer needs a write, refused after the unfixed ` +
              'btree errors of mark and sweep ("error in fsck: error -30 updating inode"); like it, the checks after that point were not run',
          );
          ctx.stop = { pass: 'check_dirents', btree: 'dirents', level: 0, sector: -1 };
          throw STOP;
        }
        inodes.dirHi[target] = inHi;
        inodes.dirLo[target] = inLo;
        inodes.dirOffHi[target] = offHi;
        inodes.dirOffLo[target] = offLo;
        inodes.state[target]! |= ROW_BACKPTR_FOUND;
      }
      if (!isBackpointer(inodes, target, inHi, inLo, offHi, offLo)) {
        const d: Deferred = { at: ctx.out.items.length, target, dirHi: inHi, dirLo: inLo, offHi, offLo, loc: keyLoc('dirents', t, row) };
        const before = cmpPos(inodes.dirHi[target]!, inodes.dirLo[target]!, inodes.dirOffHi[target]!, inodes.dirOffLo[target]!, inHi, inLo, offHi, offLo) < 0;
        if (before) reportBackpointer(ctx, index, d);
        else deferred.push(d);
      }
      if (dType !== modeToType(inodes.mode[target]!)) {
        const text = pbuf(ctx.keyText(t, row), 200);
        ctx.report('dirent_wrong_d_type', `incorrect d_type: should be ${modeToType(inodes.mode[target]!)}:\n${text}`, keyLoc('dirents', t, row),
          { btree: 'dirents', key: text, field: 'd_type', expected: modeToType(inodes.mode[target]!), actual: dType, inode: [inodes.inumHi[target]!, inodes.inumLo[target]!] });
      }
      if (dType === DT_DIR) nrSubdirs++;
    });
  } catch (e) {
    if (e !== STOP) throw e;
    done = false;
  }
  // backpointers to dirents later in the btree: their findings go where bcachefs printed them
  const items = ctx.out.items;
  for (let i = deferred.length - 1; i >= 0; i--) {
    const d = deferred[i]!;
    const before = items.length;
    reportBackpointer(ctx, index, d);
    const added = items.splice(before);
    items.splice(d.at, 0, ...added);
  }
  if (done) ctx.dirents = index;
}

/** Whether an inode number's keys went with an inode check_inodes deleted; asked once per inode number. */
class Skip {
  private hi = -1;
  private lo = -1;
  private removed = false;

  test(ctx: FsckContext, hi: number, lo: number): boolean {
    if (hi !== this.hi || lo !== this.lo) {
      this.hi = hi;
      this.lo = lo;
      this.removed = ctx.inodeRemoved(hi, lo);
    }
    return this.removed;
  }
}

/** inode_backpointer_matches: row r's bi_dir:bi_dir_offset is this position. */
function isBackpointer(inodes: InodeTable, r: number, dirHi: number, dirLo: number, offHi: number, offLo: number): boolean {
  return inodes.dirLo[r] === dirLo && inodes.dirOffLo[r] === offLo && inodes.dirOffHi[r] === offHi && inodes.dirHi[r] === dirHi;
}

function cmpPos(aiH: number, aiL: number, aoH: number, aoL: number, biH: number, biL: number, boH: number, boL: number): number {
  if (aiH !== biH) return aiH < biH ? -1 : 1;
  if (aiL !== biL) return aiL < biL ? -1 : 1;
  if (aoH !== boH) return aoH < boH ? -1 : 1;
  if (aoL !== boL) return aoL < boL ? -1 : 1;
  return 0;
}

/** A dirent to `target` that is not the target's backpointer: is the backpointer a dirent pointing back? */
function reportBackpointer(ctx: FsckContext, index: DirentIndex, d: Deferred): void {
  const inodes = ctx.inodes;
  const r = d.target;
  const tHi = inodes.inumHi[r]!;
  const tLo = inodes.inumLo[r]!;
  const b = index.find(inodes.dirHi[r]!, inodes.dirLo[r]!, inodes.dirOffHi[r]!, inodes.dirOffLo[r]!);
  const exists = b >= 0 && index.inumHi[b] === tHi && index.inumLo[b] === tLo;
  const inum = s64(tHi, tLo);
  if (isDir(inodes.mode[r]!) && exists) {
    ctx.report('dir_multiple_links', `directory ${inum} with multiple links`, d.loc, { btree: 'dirents', inode: [tHi, tLo] });
  }
  if (exists && inodes.nlink[r] === 0) {
    ctx.report('inode_multiple_links_nlink_zero', `inode ${inum} has multiple links but i_nlink 0`, d.loc,
      { btree: 'inodes', field: 'bi_nlink', actual: 0, inode: [tHi, tLo] });
  }
  if (!exists) {
    const got = `${s64(inodes.dirHi[r]!, inodes.dirLo[r]!)}:${s64(inodes.dirOffHi[r]!, inodes.dirOffLo[r]!)}`;
    const should = `${s64(d.dirHi, d.dirLo)}:${s64(d.offHi, d.offLo)}`;
    ctx.report('inode_wrong_backpointer', `inode ${inum} has wrong backpointer:\ngot       ${got}\nshould be ${should}`, d.loc,
      { btree: 'inodes', field: 'bi_dir:bi_dir_offset', expected: should, actual: got, inode: [tHi, tLo] });
  }
}

/** check_xattrs: xattrs of missing inodes, and each xattr at its name's hash slot. */
export function checkXattrs(ctx: FsckContext): void {
  const inodes = ctx.inodes;
  const table = new ProbeTable();
  const hash = new StrHash();
  let curHi = 0xffff_ffff;
  let curLo = 0xffff_ffff;
  let have = false;
  // bcachefs hashes an xattr of a missing inode with the last hash info set (uninitialised before any):
  // before the first one, there is nothing to reproduce and the hash check is skipped
  let hashSet = false;
  const gone = new Skip();
  ctx.forEachKey(BTREE_ID_xattrs, (t, row) => {
    const inHi = t.inodeHi[row]!;
    const inLo = t.inodeLo[row]!;
    if (gone.test(ctx, inHi, inLo)) return;
    if (inHi === 0 && inLo < BCACHEFS_ROOT_INO) return;
    const offHi = t.offsetHi[row]!;
    const offLo = t.offsetLo[row]!;
    if (inHi !== curHi || inLo !== curLo) {
      const r = inodes.find(inHi, inLo);
      have = r >= 0;
      curHi = inHi;
      curLo = inLo;
      table.n = 0;
      if (have) {
        hash.setInfo(inodes.strHashType(r), inodes.hashSeedHi[r]!, inodes.hashSeedLo[r]!);
        hashSet = true;
      }
    }
    if (!have) ctx.report('xattr_missing_inode', `xattr for missing inode ${s64(inHi, inLo)}`, keyLoc('xattrs', t, row), { btree: 'xattrs' });
    if (t.type[row] !== KEY_TYPE_xattr || !hashSet) {
      table.push(offHi, offLo, 0, 0, 0);
      return;
    }
    // x_type, x_name_len, then the name after the 4-byte header
    const v = t.valOff[row]!;
    const xType = t.buf[v]!;
    const nameLen = t.buf[v + 1]!;
    hash.xattr(xType, t.buf, v + 4, nameLen);
    const nameKey = ((xType << 8) | nameLen) + 1;
    if (hash.hi !== offHi || hash.lo !== offLo) {
      const hHi = hash.hi;
      const hLo = hash.lo;
      probeKey(table, offHi, offLo, hHi, hLo, nameKey);
      reportHash(ctx, BTREE_ID_xattrs, t, row, hHi, hLo);
    }
    table.push(offHi, offLo, hash.hi, hash.lo, nameKey);
  });
}
