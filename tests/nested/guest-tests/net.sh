# virtio-net on kick's user networking (libslirp): link up, DHCP with busybox udhcpc (expects
# 10.0.2.15), ping the gateway 10.0.2.2, then TCP both ways, each checked byte for byte:
#   kick.net_put=PORT     the guest sends 256 KiB of a pattern to 10.0.2.2:PORT (a listener the
#                         host side runs; kick-in-nested.sh KICK_NET_CHECK=1 compares it there)
#   kick.net_get=PORT     the guest listens on PORT, says "net: listening on PORT", and expects
#                         the host to send 256 KiB of another pattern (kick run --net
#                         user,hostfwd=tcp::PORT-:PORT; kick-in-nested.sh connects on that line)
. /tests/lib.sh
size=262144
virtio_eth
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

net_transfers net net 10.0.2.2 "$size" 300
echo "net: ok"
