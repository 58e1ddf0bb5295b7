# virtio-net on kick's tap backend (kick run --net tap=kt0; kick-in-nested.sh KICK_TAP=1 gives the
# nested host's end 10.0.3.1/24): static address 10.0.3.2 on the virtio_net interface; the
# offloads (CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6) and MRG_RXBUF, CTRL_VQ must be among the
# negotiated features; with kick.net_pairs=N (N > 1) MQ too, N rx/tx queues in use and an MSI-X
# vector for each; ping 10.0.3.1; then TCP both ways, each checked byte for byte:
#   kick.net_put=PORT   sends 4 MiB of a pattern to 10.0.3.1:PORT (the host compares it)
#   kick.net_get=PORT   listens on PORT, says "net_tap: listening on PORT" and expects the host's
#                       4 MiB pattern
. /tests/lib.sh
size=4194304
virtio_eth
ip link set lo up
ip addr add 10.0.3.2/24 dev "$eth" || fail "cannot set 10.0.3.2 on $eth"
ip link set "$eth" up || fail "cannot bring $eth up"
echo "net_tap: $eth $(cat "/sys/class/net/$eth/address") 10.0.3.2/24 up"

# features: one character per bit, bit 0 first (linux/virtio_net.h numbers)
feat=$(cat "/sys/class/net/$eth/device/features")
has() { [ "$(echo "$feat" | cut -c$(($1 + 1)))" = 1 ]; }
missing=
for b in CSUM:0 GUEST_CSUM:1 GUEST_TSO4:7 GUEST_TSO6:8 HOST_TSO4:11 HOST_TSO6:12 MRG_RXBUF:15 \
         CTRL_VQ:17; do
    has "${b#*:}" || missing="$missing ${b%:*}"
done
[ -z "$missing" ] || fail "features not negotiated:$missing ($feat)"
echo "net_tap: negotiated CSUM GUEST_CSUM GUEST_TSO4 GUEST_TSO6 HOST_TSO4 HOST_TSO6 MRG_RXBUF CTRL_VQ"

pairs=$(cmdline_opt kick.net_pairs)
rxq=$(ls -d "/sys/class/net/$eth/queues"/rx-* | wc -l)
txq=$(ls -d "/sys/class/net/$eth/queues"/tx-* | wc -l)
vecs=$(grep -c 'virtio[0-9]*-input\.' /proc/interrupts)
echo "net_tap: $rxq rx and $txq tx queues in use, $vecs input vectors" \
     "($(grep -o 'virtio[0-9]*-\(input\|output\)\.[0-9]*' /proc/interrupts | tr '\n' ' '))"
if [ -n "$pairs" ] && [ "$pairs" -gt 1 ]; then
    has 22 || fail "MQ not negotiated ($feat)"
    [ "$rxq" -eq "$pairs" ] && [ "$txq" -eq "$pairs" ] ||
        fail "$rxq rx / $txq tx queues in use, expected $pairs pairs"
    [ "$vecs" -eq "$pairs" ] || fail "$vecs input vectors in /proc/interrupts, expected $pairs"
fi

ok=
for _ in $(seq 10); do
    ping -c 2 -W 2 10.0.3.1 > /tmp/ping.log 2>&1 && { ok=1; break; }
    sleep 1
done
[ -n "$ok" ] || fail "ping 10.0.3.1: $(tail -n 1 /tmp/ping.log)"
echo "net_tap: $(grep 'packets transmitted' /tmp/ping.log)"

net_transfers net_tap tap 10.0.3.1 "$size" 600
echo "net_tap: ok"
