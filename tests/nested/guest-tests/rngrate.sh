# virtio-rng's rate limit (kick run --rng rate=N, with kick.rng_rate=N here): /dev/hwrng must be
# the virtio rng, and reading 4N bytes from it must take at least 2 s (the bucket starts with N
# bytes and refills at N a second, so about 3 s; unlimited it is milliseconds), the bytes not
# all zero.
. /tests/lib.sh
rate=$(cmdline_opt kick.rng_rate)
[ -n "$rate" ] || fail "rngrate needs kick.rng_rate=N"
[ -c /dev/hwrng ] || fail "no /dev/hwrng"
cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
case $cur in virtio_rng*) ;; *) fail "the current hwrng is '$cur', not virtio_rng" ;; esac
n=$((rate * 4))
t0=$(cut -d' ' -f1 /proc/uptime)
timeout 60 dd if=/dev/hwrng of=/tmp/rng bs="$rate" count=4 iflag=fullblock 2>/dev/null ||
    fail "reading $n bytes from /dev/hwrng failed or took over 60 s"
t1=$(cut -d' ' -f1 /proc/uptime)
got=$(wc -c < /tmp/rng)
[ "$got" -eq "$n" ] || fail "read $got bytes from /dev/hwrng, wanted $n"
nonzero=$(tr -d '\000' < /tmp/rng | wc -c)
[ "$nonzero" -gt $((n / 2)) ] || fail "only $nonzero of $n bytes nonzero"
secs=$(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}')
echo "$secs" | awk '{exit !($1 >= 2.0)}' ||
    fail "$n bytes at a limit of $rate bytes/s came in $secs s (at least 2 s expected)"
echo "rngrate: $n bytes from /dev/hwrng in $secs s at a limit of $rate bytes/s"
