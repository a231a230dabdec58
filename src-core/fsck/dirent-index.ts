// Every dirent's position and target, kept by check_dirents for the passes after it: backpointer lookups
// (a dirent at bi_dir:bi_dir_offset pointing back), check_directory_structure, link counts and paths. Rows
// are in btree order, grouped by directory; 64-bit fields are (hi, lo) u32 halves. About 17 bytes a dirent.

const INITIAL = 1024;

export class DirentIndex {
  /** rows: the dirent's offset (its name's hash slot), its d_inum, its d_type */
  n = 0;
  offHi = new Uint32Array(INITIAL);
  offLo = new Uint32Array(INITIAL);
  inumHi = new Uint32Array(INITIAL);
  inumLo = new Uint32Array(INITIAL);
  dType = new Uint8Array(INITIAL);
  /** directories: inode number and first row; directory d's rows are [dirStart[d], dirStart[d + 1]) */
  nDirs = 0;
  dirHi = new Uint32Array(64);
  dirLo = new Uint32Array(64);
  dirStart = new Int32Array(65);
  /** rows sorted by d_inum (built on first use by rowsPointingTo) */
  private byTarget: Int32Array | null = null;

  /** Appends a dirent; positions must come in btree order. */
  push(dirHi: number, dirLo: number, offHi: number, offLo: number, inumHi: number, inumLo: number, dType: number): void {
    const d = this.nDirs - 1;
    if (d < 0 || this.dirHi[d] !== dirHi || this.dirLo[d] !== dirLo) {
      if (this.nDirs + 1 >= this.dirHi.length) {
        this.dirHi = grow32(this.dirHi, this.nDirs);
        this.dirLo = grow32(this.dirLo, this.nDirs);
        const s = new Int32Array(this.dirHi.length + 1);
        s.set(this.dirStart.subarray(0, this.nDirs + 1));
        this.dirStart = s;
      }
      this.dirHi[this.nDirs] = dirHi;
      this.dirLo[this.nDirs] = dirLo;
      this.dirStart[this.nDirs] = this.n;
      this.nDirs++;
    }
    if (this.n === this.offHi.length) {
      this.offHi = grow32(this.offHi, this.n);
      this.offLo = grow32(this.offLo, this.n);
      this.inumHi = grow32(this.inumHi, this.n);
      this.inumLo = grow32(this.inumLo, this.n);
      const t = new Uint8Array(this.offHi.length);
      t.set(this.dType.subarray(0, this.n));
      this.dType = t;
    }
    const r = this.n++;
    this.offHi[r] = offHi;
    this.offLo[r] = offLo;
    this.inumHi[r] = inumHi;
    this.inumLo[r] = inumLo;
    this.dType[r] = dType;
    this.dirStart[this.nDirs] = this.n;
    this.byTarget = null;
  }

  /** The directory number (index into dirHi/dirLo) holding dirents of inode (hi, lo), or -1. */
  findDir(hi: number, lo: number): number {
    let a = 0;
    let b = this.nDirs;
    while (a < b) {
      const m = (a + b) >>> 1;
      const mh = this.dirHi[m]!;
      if (mh < hi || (mh === hi && this.dirLo[m]! < lo)) a = m + 1;
      else b = m;
    }
    return a < this.nDirs && this.dirHi[a] === hi && this.dirLo[a] === lo ? a : -1;
  }

  /** The row of the dirent at dir:offset, or -1 (peek_slot finding no dirent there). */
  find(dirHi: number, dirLo: number, offHi: number, offLo: number): number {
    const d = this.findDir(dirHi, dirLo);
    if (d < 0) return -1;
    let a = this.dirStart[d]!;
    let b = this.dirStart[d + 1]!;
    const end = b;
    while (a < b) {
      const m = (a + b) >>> 1;
      const mh = this.offHi[m]!;
      if (mh < offHi || (mh === offHi && this.offLo[m]! < offLo)) a = m + 1;
      else b = m;
    }
    return a < end && this.offHi[a] === offHi && this.offLo[a] === offLo ? a : -1;
  }

  /** The directory number a row belongs to. */
  dirOfRow(r: number): number {
    let a = 0;
    let b = this.nDirs - 1;
    while (a < b) {
      const m = (a + b + 1) >>> 1;
      if (this.dirStart[m]! <= r) a = m;
      else b = m - 1;
    }
    return a;
  }

  /** Calls cb with every row whose d_inum is (hi, lo), in btree order. */
  rowsPointingTo(hi: number, lo: number, cb: (row: number) => void): void {
    const s = (this.byTarget ??= this.sortByTarget());
    let a = 0;
    let b = s.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      const r = s[m]!;
      const rh = this.inumHi[r]!;
      if (rh < hi || (rh === hi && this.inumLo[r]! < lo)) a = m + 1;
      else b = m;
    }
    for (; a < s.length && this.inumHi[s[a]!] === hi && this.inumLo[s[a]!] === lo; a++) cb(s[a]!);
  }

  private sortByTarget(): Int32Array {
    const s = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) s[i] = i;
    const hi = this.inumHi;
    const lo = this.inumLo;
    s.sort((x, y) => hi[x]! - hi[y]! || lo[x]! - lo[y]! || x - y);
    return s;
  }
}

function grow32(a: Uint32Array, n: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(a.length * 2);
  b.set(a.subarray(0, n));
  return b;
}
