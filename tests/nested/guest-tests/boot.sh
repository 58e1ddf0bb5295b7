# Passes once the kernel has booted to /init with the serial port as its console: needs no
# device beyond the UART, so it is the first test for a VMM. Reports the guest's uptime at this
# point (time since the kernel started) and what the kernel found.
. /tests/lib.sh
[ -r /proc/uptime ] || fail "no /proc/uptime"
grep -q '^ttyS0' /proc/consoles || fail "ttyS0 is not a console: $(cat /proc/consoles)"
echo "boot: uptime $(cut -d' ' -f1 /proc/uptime) s, $(grep -c ^processor /proc/cpuinfo) cpu(s)," \
     "$(awk '/MemTotal/ {print $2}' /proc/meminfo) kB RAM, kernel $(uname -r)"
