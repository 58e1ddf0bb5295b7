# Every bound virtio device negotiated packed virtqueues (VIRTIO_F_RING_PACKED, bit 34): run after
# `kick run --packed`, with the data-path tests (blk, net, console) so they cross packed rings.
. /tests/lib.sh
n=0
for d in /sys/bus/virtio/devices/virtio*; do
    [ -e "$d/driver" ] || continue
    f=$(cat "$d/features")
    [ "$(echo "$f" | cut -c35)" = 1 ] || fail "${d##*/} (device $(cat "$d/device")) did not negotiate RING_PACKED: $f"
    n=$((n + 1))
done
[ $n -gt 0 ] || fail "no bound virtio device"
echo "packed: $n virtio devices negotiated RING_PACKED"
