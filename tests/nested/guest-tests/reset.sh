# A rough guest: resets kick's devices in the middle of I/O and reloads the drivers in a loop,
# then checks the devices still work. Each round unbinds every virtio-pci function from its
# driver while a direct-I/O reader is running on the disk (virtio_pci resets the device with
# requests in flight), binds it again, and every other round removes and re-inserts the
# virtio_blk and virtio-rng modules. kick must neither crash nor hang; afterwards a disk read
# and an hwrng read must succeed (run `blk` after this test to check the data path fully).
# kick.resetrounds=N sets the number of rounds (default 5).
. /tests/lib.sh
rounds=$(cmdline_opt kick.resetrounds)
rounds=${rounds:-5}
drv=/sys/bus/pci/drivers/virtio-pci
[ -d "$drv" ] || fail "virtio-pci driver not loaded"
fns=""
for f in "$drv"/0000:*; do [ -e "$f" ] && fns="$fns ${f##*/}"; done
[ -n "$fns" ] || fail "no function bound to virtio-pci"
disk() { for b in /sys/block/vd*; do [ -e "$b" ] && { echo "/dev/${b##*/}"; return; }; done; }

r=0
while [ $r -lt "$rounds" ]; do
    r=$((r + 1))
    d=$(disk)
    reader=""
    if [ -n "$d" ]; then
        dd if="$d" of=/dev/null bs=4096 count=100000 iflag=direct 2>/dev/null &
        reader=$!
        sleep 0.2
    fi
    for f in $fns; do echo "$f" > "$drv/unbind" || fail "round $r: unbind $f failed"; done
    [ -n "$reader" ] && wait "$reader" 2>/dev/null
    for f in $fns; do echo "$f" > "$drv/bind" || fail "round $r: bind $f failed"; done
    if [ $((r % 2)) -eq 0 ]; then
        for m in virtio_blk virtio-rng; do
            name=$(echo "$m" | tr - _)
            grep -q "^$name " /proc/modules || continue
            rmmod "$name" || fail "round $r: rmmod $name failed"
            insmod "/lib/modules/$m.ko" || fail "round $r: insmod $m failed"
        done
    fi
    mdev -s 2>/dev/null
    sleep 0.3
done

d=$(disk)
if [ -n "$d" ]; then
    dd if="$d" of=/dev/null bs=4096 count=64 iflag=direct 2>/dev/null ||
        fail "disk read after $rounds reset rounds failed"
fi
if [ -e /dev/hwrng ]; then
    n=$(head -c 64 /dev/hwrng | wc -c)
    [ "$n" -eq 64 ] || fail "hwrng gave $n of 64 bytes after $rounds reset rounds"
fi
echo "reset: $rounds rounds of unbind/bind during I/O (functions:$fns), driver reloads every" \
     "other round; disk and rng work afterwards"
