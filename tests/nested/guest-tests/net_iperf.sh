# iperf3 against a server on the nested host (kick-in-nested.sh KICK_IPERF3=1 runs `iperf3 -s`
# there): kick.iperf3=ADDR (10.0.3.1 on the tap, 10.0.2.2 on slirp; run after net_tap or net,
# which set the interface up), kick.iperf3_time=S seconds each way (default 3). Prints
#   net_iperf: guest->host N Mbit/s ... / host->guest N Mbit/s ...
# with the interface's packet counts during each run: virtio_net counts what it hands the device
# and gets from it, so with TSO the average packet is far above the 1500-byte MTU. With
# kick.iperf3_tso=1 an average at or below 4000 bytes in the data direction fails the test.
# Throughput is printed, never judged.
. /tests/lib.sh
addr=$(cmdline_opt kick.iperf3)
[ -n "$addr" ] || fail "net_iperf needs kick.iperf3=ADDR"
t=$(cmdline_opt kick.iperf3_time); t=${t:-3}
[ -x /usr/bin/iperf3 ] || fail "no iperf3 in the image"
virtio_eth
st=/sys/class/net/$eth/statistics
ok=
for _ in $(seq 20); do
    /usr/bin/iperf3 -c "$addr" -t 1 > /tmp/iperf-probe.log 2>&1 && { ok=1; break; }
    sleep 1
done
[ -n "$ok" ] || fail "no iperf3 server at $addr: $(tail -n 1 /tmp/iperf-probe.log)"

# run NAME LABEL FLAG COUNTER: one iperf3 run, its receiver rate and the average packet of the
# direction the data went (COUNTER: tx or rx of this interface)
run() {
    local name=$1 label=$2 flag=$3 dir=$4 b0 p0 b1 p1 rate avg
    b0=$(cat $st/${dir}_bytes); p0=$(cat $st/${dir}_packets)
    echo "net_iperf: begin $name"
    /usr/bin/iperf3 -c "$addr" -t "$t" -f m $flag > /tmp/iperf-$name.log 2>&1 ||
        fail "iperf3 $label: $(tail -n 1 /tmp/iperf-$name.log)"
    b1=$(cat $st/${dir}_bytes); p1=$(cat $st/${dir}_packets)
    echo "net_iperf: end $name"
    rate=$(awk '/receiver/ {print $7, $8}' /tmp/iperf-$name.log | tail -n 1)
    avg=$(( (b1 - b0) / (p1 - p0 > 0 ? p1 - p0 : 1) ))
    echo "net_iperf: $label $rate (iperf3 -c $addr -t $t${flag:+ $flag}), $eth $dir" \
         "$((p1 - p0)) packets $((b1 - b0)) bytes, average $avg bytes"
    if [ "$(cmdline_opt kick.iperf3_tso)" = 1 ] && [ "$avg" -le 4000 ]; then
        fail "iperf3 $label: average $dir packet $avg bytes: no large segments"
    fi
}
run up "guest->host" "" tx
run down "host->guest" -R rx
echo "net_iperf: ok"
