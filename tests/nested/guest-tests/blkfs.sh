# A file system on virtio-blk, discard, and a backend error, on the first writable vd* disk that
# is not the error disk (serial kick-enospc). Destroys the disk's contents.
#  1. mke2fs (busybox's: ext2, mounted by the ext4 driver), mount, copy in /usr/bin/fio, a 3 MiB
#     pattern and a line of text, sync, umount, drop the caches, mount again: all must read back
#     equal. Left in the image for the host (kick-in-nested.sh KICK_FS_CHECK=1: e2fsck -fn, and
#     debugfs reads the same pattern and text).
#  2. discard: a 32 MiB file written and synced, deleted, then fstrim: the disk's discard
#     counter (/sys/block/vdX/stat) must grow. With kick.blkfs_measure=1 (KICK_TRIM_CHECK=1) the
#     guest says "blkfs: measure allocation" before deleting and waits for a line on its console:
#     the host records the image's allocated blocks then, and checks them again after kick exits.
#  3. kick.enospc=1 (KICK_ENOSPC_DISK): the disk with serial kick-enospc sits on a host file
#     system that is nearly full; a 4 MiB direct write to it must fail (EIO, "I/O error" in the
#     kernel log), reads of it must still work, and so must the file system of step 1.
. /tests/lib.sh
PATTERN_TEXT="kick-fs-pattern-0123456789abcdef"
HELLO="kick-fs hello from the guest"
# kernel_errors DEV: fails if the kernel logged errors for DEV's file system or I/O
kernel_errors() {
    if dmesg 2>/dev/null | grep -iE "EXT4-fs error|I/O error, dev $1|Buffer I/O error on dev $1" > /tmp/kmsg; then
        sed 's/^/blkfs| kernel: /' /tmp/kmsg
        fail "kernel reported errors on /dev/$1: $(head -n 1 /tmp/kmsg)"
    fi
}
dev= edev=
for b in /sys/block/vd*; do
    [ -e "$b" ] || continue
    if [ "$(cat "$b/serial" 2>/dev/null)" = kick-enospc ]; then edev=${b##*/}; continue; fi
    [ -z "$dev" ] && [ "$(cat "$b/ro")" = 0 ] && dev=${b##*/}
done
[ -n "$dev" ] || fail "no writable virtio-blk disk"
m=/mnt/kickfs
mkdir -p $m
dmesg -c > /dev/null 2>&1

# 1. file system, written, remounted, read back
mke2fs -q /dev/$dev > /tmp/mke2fs.out 2>&1 || fail "mke2fs /dev/$dev: $(tail -n 1 /tmp/mke2fs.out)"
mount -t ext2 /dev/$dev $m || fail "mount -t ext2 /dev/$dev (ext4 module loaded?)"
mkdir $m/kick || fail "mkdir on the new file system"
yes "$PATTERN_TEXT" | head -c 3145728 > /tmp/fs-pattern
cp /tmp/fs-pattern $m/kick/pattern && cp /usr/bin/fio $m/kick/fio && echo "$HELLO" > $m/kick/hello ||
    fail "copying files into $m"
sync
umount $m || fail "umount $m"
echo 3 > /proc/sys/vm/drop_caches
mount -t ext2 /dev/$dev $m || fail "mount /dev/$dev again"
cmp -s /tmp/fs-pattern $m/kick/pattern || fail "3 MiB pattern differs after remount"
cmp -s /usr/bin/fio $m/kick/fio || fail "copy of /usr/bin/fio differs after remount"
[ "$(cat $m/kick/hello)" = "$HELLO" ] || fail "text file differs after remount"
echo "blkfs: ext2 on /dev/$dev: fio ($(wc -c < /usr/bin/fio) bytes), 3 MiB pattern and a text" \
     "file copied, synced, remounted and read back equal"

# 2. discard through the file system
discards() { awk '{print $14 + 0}' /sys/block/$dev/stat; }
dd if=/dev/zero of=$m/big bs=1048576 count=32 conv=fsync 2>/dev/null || fail "writing a 32 MiB file"
sync
if [ "$(cmdline_opt kick.blkfs_measure)" = 1 ]; then
    stty -echo 2>/dev/null
    echo "blkfs: measure allocation"
    read -t 120 -r ack || fail "the host did not answer 'blkfs: measure allocation' in 120 s"
fi
d0=$(discards)
rm $m/big && sync
fstrim -v $m > /tmp/fstrim.out 2>&1 || fail "fstrim $m: $(tail -n 1 /tmp/fstrim.out)"
d1=$(discards)
[ "$d1" -gt "$d0" ] || fail "fstrim sent no discard to /dev/$dev (discarded sectors $d0 -> $d1)"
echo "blkfs: 32 MiB file deleted, $(cat /tmp/fstrim.out); /dev/$dev discarded $(((d1 - d0) / 2048)) MiB"

kernel_errors $dev

# 3. a backend that fails writes
if [ "$(cmdline_opt kick.enospc)" = 1 ]; then
    [ -n "$edev" ] || fail "kick.enospc=1 but no disk with serial kick-enospc"
    dmesg -c > /dev/null 2>&1
    dd if=/dev/zero of=/dev/$edev bs=65536 count=64 oflag=direct 2>/tmp/dd.err &&
        fail "a 4 MiB write to /dev/$edev (on a full host file system) succeeded"
    dmesg | grep -q "I/O error, dev $edev" ||
        fail "no 'I/O error, dev $edev' in the kernel log after the failed write"
    echo "blkfs: write to /dev/$edev failed: $(grep -m 1 . /tmp/dd.err);" \
         "kernel: $(dmesg | grep -m 1 "I/O error, dev $edev" | sed 's/^\[[^]]*\] //')"
    dd if=/dev/$edev of=/dev/null bs=65536 count=64 iflag=direct 2>/dev/null ||
        fail "reading /dev/$edev after the failed write"
    echo "$HELLO again" > $m/kick/after-error && sync ||
        fail "the file system on /dev/$dev after the error on /dev/$edev"
    [ "$(cat $m/kick/after-error)" = "$HELLO again" ] || fail "file written after the error differs"
    echo "blkfs: /dev/$edev still reads, /dev/$dev's file system still writes"
fi
umount $m || fail "final umount $m"
kernel_errors $dev
