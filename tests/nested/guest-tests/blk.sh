# virtio-blk data path: writes a known pattern to the first writable vd* disk with direct I/O
# (one 4 KiB request per block), reads it back and compares. The host side then finds the same
# pattern at the start of the image (kick-in-nested.sh with KICK_DISK_MB). With kick.blkcount=N
# the pattern is N 4 KiB blocks (default 256, 1 MiB). Read-only disks (ro=on) must refuse writes.
. /tests/lib.sh
count=$(cmdline_opt kick.blkcount)
count=${count:-256}
pattern() { yes "kick-blk-pattern-0123456789abcdef" | head -c $(($1 * 4096)); }
pattern "$count" > /tmp/pattern || fail "cannot make the pattern"
tested=0
for b in /sys/block/vd*; do
    [ -e "$b" ] || continue
    dev=/dev/${b##*/}
    size=$(cat "$b/size")
    if [ "$(cat "$b/ro")" = 1 ]; then
        dd if=/tmp/pattern of="$dev" bs=4096 count=1 oflag=direct 2>/dev/null &&
            fail "$dev is read-only but a write succeeded"
        dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null ||
            fail "read from read-only $dev failed"
        echo "blk: $dev read-only, write refused, read ok"
        continue
    fi
    [ "$size" -ge $((count * 8)) ] || fail "$dev has $size sectors, the test needs $((count * 8))"
    t0=$(cut -d' ' -f1 /proc/uptime)
    dd if=/tmp/pattern of="$dev" bs=4096 count="$count" oflag=direct conv=fsync 2>/dev/null ||
        fail "writing $count blocks to $dev failed"
    t1=$(cut -d' ' -f1 /proc/uptime)
    dd if="$dev" of=/tmp/back bs=4096 count="$count" iflag=direct 2>/dev/null ||
        fail "reading $count blocks from $dev failed"
    t2=$(cut -d' ' -f1 /proc/uptime)
    cmp -s /tmp/pattern /tmp/back || fail "$dev: data read back differs from what was written"
    echo "blk: $dev $size sectors, serial '$(cat "$b/serial" 2>/dev/null)'," \
         "wrote and read back $count x 4 KiB direct:" \
         "$(echo "$t0 $t1 $t2" | awk '{printf "write %.2f s, read %.2f s", $2 - $1, $3 - $2}')"
    tested=$((tested + 1))
done
[ $tested -gt 0 ] || fail "no writable virtio-blk disk"
sync
