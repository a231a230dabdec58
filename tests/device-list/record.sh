#!/bin/sh
# Re-records lsblk/*.json (run as root on a machine with loop devices; see README.md). Attaches three loop
# devices, mounts two filesystems, records, then undoes all of it. Loop numbers are whatever is free.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BCACHEFS=${BCACHEFS:-$HERE/../../../shared/tools/bcachefs-2021/bcachefs}
COLS=NAME,PATH,SIZE,MODEL,SERIAL,FSTYPE,LABEL,UUID,MOUNTPOINTS,TYPE,RO,RM,HOTPLUG,TRAN,VENDOR,PKNAME
W=/tmp/uishell-lsblk
mkdir -p $W/mnt $W/mnt2 && cd $W
truncate -s 64M bch.img && "$BCACHEFS" format --label=bench bch.img >/dev/null
truncate -s 32M ext.img && mkfs.ext4 -q -L scratch ext.img
truncate -s 64M part.img
python3 -c "
import struct
mbr = bytearray(512)
ent = lambda start, count: struct.pack('<B3sB3sII', 0, b'\0' * 3, 0x83, b'\0' * 3, start, count)
mbr[446:462] = ent(2048, 32768); mbr[462:478] = ent(34816, 96256); mbr[510:512] = b'\x55\xaa'
open('part.img', 'r+b').write(mbr)"
L0=$(losetup -f --show bch.img); L1=$(losetup -f --show ext.img); L2=$(losetup -f --show -P part.img)
partx -a "$L2" 2>/dev/null || true
mkfs.ext4 -q -L p1 "${L2}p1" && "$BCACHEFS" format --label=part1 "${L2}p2" >/dev/null
mount "$L1" mnt && mount "${L2}p1" mnt2
lsblk --json -b -o $COLS > "$HERE/lsblk/loops-debian12.json"
lsblk --json -b -o $COLS "$L2" > "$HERE/lsblk/one-partitioned.json"
umount mnt2 mnt && losetup -d "$L2" "$L1" "$L0"
echo "recorded with $L0 $L1 $L2 (the tests expect loop0, loop1, loop2: edit them if the numbers differ)"
