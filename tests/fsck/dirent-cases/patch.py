#!/usr/bin/env python3
"""Dirent and backpointer damage inject.py has no kind for, made with its node classes (the leaf rewritten as
one bset of its live keys in order, checksum recomputed; moved or copied keys are written unpacked, so any
position fits). Meant for images whose dirents btree is one leaf or whose keys stay in their leaf's range.
  patch.py IMG dirent-move DIR NAME DELTA         move dirent NAME of DIR by DELTA slots (same directory)
  patch.py IMG dirent-copy DIR NAME TODIR DELTA   add a copy of it in TODIR, at its offset + DELTA
  patch.py IMG dirent-reparent DIR NAME TODIR     move it to TODIR, same offset
  patch.py IMG inode-field INUM FIELD VALUE       set a varint field of an inode, encoded in the old length
                                                  (longer than needed if it must: varints decode that)"""
import importlib.util, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("inject", os.path.join(here, "..", "..", "..", "..", "shared", "tools", "inject.py"))
inj = importlib.util.module_from_spec(spec)
spec.loader.exec_module(inj)
U32 = inj.U32_MAX
FIELDS = ["bi_atime", "bi_ctime", "bi_mtime", "bi_otime", "bi_size", "bi_sectors", "bi_uid", "bi_gid", "bi_nlink",
          "bi_generation", "bi_dev", "bi_data_checksum", "bi_compression", "bi_project", "bi_background_compression",
          "bi_data_replicas", "bi_promote_target", "bi_foreground_target", "bi_background_target", "bi_erasure_code",
          "bi_fields_set", "bi_dir", "bi_dir_offset"]
WIDE = 4  # the first four (times) are two varints each

def leaves(t, bid):
    out = []
    t.walk(bid, lambda n, parent, pk: out.append(n) if n.level == 0 and n.readable else None)
    return out

def unpacked(key, pos):
    """the key's bytes as an unpacked struct bkey at pos, with its value"""
    val = bytes(key.val())
    raw = bytearray(40 + len(val))
    raw[0] = 5 + len(val) // 8
    raw[1] = 1  # KEY_FORMAT_CURRENT
    raw[2] = key.type
    struct.pack_into("<I", raw, 16, key.size)
    inj.bpos_pack_into(raw, 20, pos)
    raw[40:] = val
    return (pos, bytes(raw))

def rewrite(img, n, entries):
    data = b"".join(r for _, r in sorted(entries))
    b = n.buf
    jseq = max(bs["journal_seq"] for bs in n.bsets)
    b[160:n.size] = bytes(n.size - 160)
    b[160:160 + len(data)] = data
    struct.pack_into("<Q", b, 136 + 8, jseq)
    struct.pack_into("<H", b, 136 + 22, len(data) // 8)
    bs = n.bsets[0]
    bs["u64s"], bs["end"] = len(data) // 8, 160 + len(data)
    n.bsets = [bs]
    n.recompute_csum(0)
    with open(img, "r+b") as f:
        n.write(f)

def dirent_name(k):
    v = bytes(k.val())
    return v[9:].split(b"\0")[0].decode("latin1")

def main():
    img, kind, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    t = inj.Tree(img)
    if kind.startswith("dirent-"):
        d, name = int(args[0]), args[1]
        for n in leaves(t, 2):
            live = n.live_keys()
            hit = [k for k in live if k.type == 10 and k.p[0] == d and dirent_name(k) == name]
            if hit:
                break
        else:
            raise SystemExit("no dirent %s in %d" % (name, d))
        k = hit[0]
        entries = [(x.p, bytes(n.buf[x.off:x.off + x.u64s * 8])) for x in live if x is not k]
        if kind == "dirent-move":
            entries.append(unpacked(k, (d, k.p[1] + int(args[2]), U32)))
        elif kind == "dirent-copy":
            entries.append(unpacked(k, k.p))
            entries.append(unpacked(k, (int(args[2]), k.p[1] + int(args[3]), U32)))
        elif kind == "dirent-reparent":
            entries.append(unpacked(k, (int(args[2]), k.p[1], U32)))
        else:
            raise SystemExit("unknown kind " + kind)
        rewrite(img, n, entries)
    elif kind == "inode-field":
        inum, field, value = int(args[0]), args[1], int(args[2])
        for n in leaves(t, 1):
            n.compact()
            k = n.find_live((0, inum, U32))
            if k:
                break
        else:
            raise SystemExit("no inode %d" % inum)
        val = k.val()
        o = 14
        for i, f in enumerate(FIELDS):
            v, nb = inj.varint_decode(val, o)
            if f == field:
                if nb < 9 and value >> (7 * nb):
                    raise SystemExit("%s %d does not encode in %d bytes" % (field, value, nb))
                enc = ((value << nb) | ((1 << (nb - 1)) - 1)).to_bytes(nb, "little") if nb < 9 else b"\xff" + value.to_bytes(8, "little")
                n.buf[k.val_off + o:k.val_off + o + nb] = enc
                break
            o += nb
            if i < WIDE:
                o += inj.varint_decode(val, o)[1]
        else:
            raise SystemExit("no field " + field)
        n.recompute_csum(0)
        with open(img, "r+b") as f:
            n.write(f)
    else:
        raise SystemExit("unknown kind " + kind)

main()
