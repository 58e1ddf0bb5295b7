# Sourced by guest tests. fail REASON: records the reason and exits non-zero.
fail() {
    echo "FAIL: $*"
    echo "$*" >> /tmp/fail-reason
    exit 1
}
# Value of kernel command-line option NAME=VALUE, or empty.
cmdline_opt() {
    for arg in $(cat /proc/cmdline); do
        case $arg in "$1"=*) echo "${arg#*=}" ;; esac
    done
}
# Sets eth to the virtio_net interface's name (fails the test when there is none).
virtio_eth() {
    local n
    eth=
    for n in /sys/class/net/*; do
        [ -e "$n/device/driver" ] || continue
        [ "$(basename "$(readlink "$n/device/driver")")" = virtio_net ] && eth=${n##*/}
    done
    [ -n "$eth" ] || fail "no virtio_net interface"
}
# TCP both ways with the host at HOST, SIZE bytes each, checked byte for byte (kick.net_put=PORT:
# send the pattern kick-PAT-guest-to-host-... there; kick.net_get=PORT: listen, say "TAG:
# listening on PORT", expect kick-PAT-host-to-guest-... within WAIT tenths of a second; the host
# side, kick-in-nested.sh, makes the same patterns). Lines start with TAG.
# usage: net_transfers TAG PAT HOST SIZE WAIT
net_transfers() {
    local tag=$1 pat=$2 host=$3 size=$4 wait=$5 port got
    port=$(cmdline_opt kick.net_put)
    if [ -n "$port" ]; then
        yes "kick-$pat-guest-to-host-0123456789" | head -c "$size" > /tmp/put
        nc -w 10 "$host" "$port" < /tmp/put || fail "nc to $host:$port failed"
        echo "$tag: sent $size bytes to $host:$port, sha256 $(sha256sum < /tmp/put | cut -c1-16)"
    fi
    port=$(cmdline_opt kick.net_get)
    if [ -n "$port" ]; then
        yes "kick-$pat-host-to-guest-abcdef" | head -c "$size" > /tmp/want
        rm -f /tmp/got
        (sleep 60 | nc -l -p "$port" > /tmp/got) &
        sleep 0.5
        echo "$tag: listening on $port"
        for _ in $(seq "$wait"); do
            [ "$(stat -c %s /tmp/got 2>/dev/null || echo 0)" -ge "$size" ] && break
            sleep 0.1
        done
        sleep 0.2
        got=$(stat -c %s /tmp/got 2>/dev/null || echo 0)
        cmp -s /tmp/got /tmp/want || fail "received $got bytes on port $port, not the host's $size"
        echo "$tag: received $size bytes on port $port, sha256" \
             "$(sha256sum < /tmp/got | cut -c1-16) matches"
    fi
}
