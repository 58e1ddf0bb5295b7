# Lists the virtio devices Linux found and the drivers bound to them. Passes if at least one is
# bound and, with kick.expect=ID[,ID...] (virtio device ids, e.g. 1=net 2=blk 3=console 4=rng),
# every listed id has a bound device. Exercises each bound blk/rng device with a small read.
. /tests/lib.sh
bound=0
bound_ids=" "
for d in /sys/bus/virtio/devices/*; do
    [ -e "$d/device" ] || continue
    id=$(($(cat "$d/device")))
    vendor=$(cat "$d/vendor")
    drv=-
    [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
    parent=$(basename "$(readlink -f "$d/..")")
    # negotiated feature bit 32 (VIRTIO_F_VERSION_1) tells a modern device from a legacy one
    mode=legacy
    [ "$(cut -c33 "$d/features" 2>/dev/null)" = 1 ] && mode=modern
    echo "virtio: $(basename "$d") device=$id vendor=$vendor driver=$drv parent=$parent $mode"
    if [ "$drv" != - ]; then
        bound=$((bound + 1))
        bound_ids="$bound_ids$id "
    fi
done
[ $bound -gt 0 ] || fail "no virtio device bound to a driver"

for id in $(cmdline_opt kick.expect | tr , ' '); do
    case "$bound_ids" in *" $id "*) ;; *) fail "expected virtio device id $id not bound" ;; esac
done

for b in /sys/block/vd*; do
    [ -e "$b" ] || continue
    dev=/dev/${b##*/}
    dd if="$dev" of=/dev/null bs=512 count=8 2>/dev/null || fail "read from $dev failed"
    echo "virtio-blk: $dev $(cat "$b/size") sectors, read ok"
done
if [ "$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)" != "" ]; then
    echo "hwrng: $(cat /sys/class/misc/hw_random/rng_current)"
    case "$(cat /sys/class/misc/hw_random/rng_current)" in
        virtio_rng*)
            n=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)
            [ "$n" -eq 16 ] || fail "read 16 bytes from /dev/hwrng gave $n"
            echo "virtio-rng: read $n bytes ok" ;;
    esac
fi
for n in /sys/class/net/*; do
    [ -e "$n/device/driver" ] || continue
    case "$(basename "$(readlink "$n/device/driver")")" in
        virtio_net) ip link set "${n##*/}" up || fail "cannot bring ${n##*/} up"
                    echo "virtio-net: ${n##*/} $(cat "$n/address") up" ;;
    esac
done
echo "demo: $bound virtio device(s) bound"
