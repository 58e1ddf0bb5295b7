# virtio-net on kick's user networking (libslirp): link up, DHCP with busybox udhcpc (expects
# 10.0.2.15), ping the gateway 10.0.2.2, then TCP both ways, each checked byte for byte:
#   kick.net_put=PORT     the guest sends 256 KiB of a pattern to 10.0.2.2:PORT (a listener the
#                         host side runs; kick-in-nested.sh KICK_NET_CHECK=1 compares it there)
#   kick.net_get=PORT     the guest listens on PORT, says "net: listening on PORT", and expects
#                         the host to send 256 KiB of another pattern (kick run --net
#                         user,hostfwd=tcp::PORT-:PORT; kick-in-nested.sh connects on that line)
. /tests/lib.sh
size=262144
eth=
for n in /sys/class/net/*; do
    [ -e "$n/device/driver" ] || continue
    [ "$(basename "$(readlink "$n/device/driver")")" = virtio_net ] && eth=${n##*/}
done
[ -n "$eth" ] || fail "no virtio_net interface"
ip link set lo up
ip link set "$eth" up || fail "cannot bring $eth up"
echo "net: $eth $(cat "/sys/class/net/$eth/address") up"

cat > /tmp/udhcpc.sh <<'SCRIPT'
#!/bin/sh
case "$1" in
    bound|renew)
        ifconfig "$interface" "$ip" netmask "$subnet" up
        [ -n "$router" ] && route add default gw "${router%% *}" dev "$interface"
        echo "$ip" > /tmp/dhcp-ip ;;
esac
exit 0
SCRIPT
chmod +x /tmp/udhcpc.sh
udhcpc -i "$eth" -n -q -t 5 -T 2 -s /tmp/udhcpc.sh > /tmp/udhcpc.log 2>&1 ||
    fail "DHCP on $eth failed: $(tail -n 1 /tmp/udhcpc.log)"
ip=$(cat /tmp/dhcp-ip 2>/dev/null)
[ "$ip" = 10.0.2.15 ] || fail "DHCP gave '$ip', expected 10.0.2.15"
echo "net: DHCP gave $ip, default route $(ip route | grep default)"
ping -c 3 -W 3 10.0.2.2 > /tmp/ping.log 2>&1 || fail "ping 10.0.2.2: $(tail -n 1 /tmp/ping.log)"
echo "net: $(grep 'packets transmitted' /tmp/ping.log)"

port=$(cmdline_opt kick.net_put)
if [ -n "$port" ]; then
    yes "kick-net-guest-to-host-0123456789" | head -c $size > /tmp/put
    nc -w 10 10.0.2.2 "$port" < /tmp/put || fail "nc to 10.0.2.2:$port failed"
    echo "net: sent $size bytes to 10.0.2.2:$port, sha256 $(sha256sum < /tmp/put | cut -c1-16)"
fi

port=$(cmdline_opt kick.net_get)
if [ -n "$port" ]; then
    yes "kick-net-host-to-guest-abcdef" | head -c $size > /tmp/want
    rm -f /tmp/got
    (sleep 60 | nc -l -p "$port" > /tmp/got) &
    sleep 0.5
    echo "net: listening on $port"
    for _ in $(seq 300); do
        [ "$(stat -c %s /tmp/got 2>/dev/null || echo 0)" -ge $size ] && break
        sleep 0.1
    done
    sleep 0.2
    got=$(stat -c %s /tmp/got 2>/dev/null || echo 0)
    cmp -s /tmp/got /tmp/want || fail "received $got bytes on port $port, not the host's $size"
    echo "net: received $size bytes on port $port through hostfwd, sha256" \
         "$(sha256sum < /tmp/got | cut -c1-16) matches"
fi
echo "net: ok"
