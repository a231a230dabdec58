#!/usr/bin/env python3
"""Damage inject.py has no kind for, made with its node classes (node rewritten, checksum recomputed):
  patch.py IMG inode-mode INUM MODE      set an inode's bi_mode (octal)
  patch.py IMG inode-flags INUM FLAGS    or FLAGS (hex) into an inode's bi_flags
  patch.py IMG drop-inode INUM           remove an inode key
  patch.py IMG extent-end INUM END NEW   move the extent of INUM ending at sector END to end at NEW (its size
                                         kept: it moves earlier, over the previous extent, keys still in order)"""
import importlib.util, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("inject", os.path.join(here, "..", "..", "..", "..", "shared", "tools", "inject.py"))
inj = importlib.util.module_from_spec(spec)
spec.loader.exec_module(inj)

def find(t, bid, pos):
    hits = []
    def cb(n, parent, pk):
        if n.level == 0 and n.readable:
            k = n.find_live(pos)
            if k:
                hits.append(n)
    t.walk(bid, cb)
    if not hits:
        raise SystemExit("no key at %s" % (pos,))
    n = hits[0]
    n.compact()
    return n, n.find_live(pos)

def main():
    img, kind, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    t = inj.Tree(img)
    U32 = inj.U32_MAX
    if kind in ("inode-mode", "inode-flags", "drop-inode"):
        n, k = find(t, 1, (0, int(args[0]), U32))
        if kind == "inode-mode":
            struct.pack_into("<H", n.buf, k.val_off + 12, int(args[1], 8))
        elif kind == "inode-flags":
            f = struct.unpack_from("<I", n.buf, k.val_off + 8)[0]
            struct.pack_into("<I", n.buf, k.val_off + 8, f | int(args[1], 16))
        else:
            n.rewrite_keys([x for x in n.live_keys() if x.p != k.p])
    elif kind == "extent-end":
        n, k = find(t, 0, (int(args[0]), int(args[1]), U32))
        k.set_pos((int(args[0]), int(args[2]), U32))
    else:
        raise SystemExit("unknown kind " + kind)
    n.recompute_csum(0)
    with open(img, "r+b") as f:
        n.write(f)

main()
