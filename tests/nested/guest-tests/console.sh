# virtio-console: /dev/hvc0 exists, is bound to virtio_console and is where this test's output
# goes (guest-init.sh switches to it with console=hvc0), so the verdict line arrives through it.
# kick.console_input=WORD: the host feeds WORD and a newline on kick's stdin when asked; it must
# be read back from hvc0. kick.console_port=NAME: a named port (multiport) must exist under that name
# and takes a line "kick-port NAME ok" (the host checks it arrived).
. /tests/lib.sh
[ -c /dev/hvc0 ] || fail "no /dev/hvc0"
bound=
for d in /sys/bus/virtio/devices/*; do
    [ "$(($(cat "$d/device")))" = 3 ] && [ -e "$d/driver" ] &&
        bound=$(basename "$(readlink "$d/driver")")
done
[ "$bound" = virtio_console ] || fail "no virtio console device bound (driver '$bound')"
[ "$(readlink /proc/$$/fd/1)" = /dev/hvc0 ] ||
    fail "stdout is $(readlink /proc/$$/fd/1), not /dev/hvc0 (boot with console=hvc0)"
echo "console: /dev/hvc0 bound to $bound, stdout on hvc0"

want=$(cmdline_opt kick.console_input)
if [ -n "$want" ]; then
    # Linux drops console input that arrives before the port is set up, so the host sends it
    # only when asked.
    stty -echo < /dev/hvc0 2>/dev/null
    echo "console: waiting for input"
    line=
    read -t 20 -r line < /dev/hvc0
    line=$(printf '%s' "$line" | tr -d '\r')
    [ "$line" = "$want" ] || fail "read '$line' from hvc0, host sent '$want'"
    echo "console: read '$line' from the host through hvc0"
fi

name=$(cmdline_opt kick.console_port)
if [ -n "$name" ]; then
    dev=
    for _ in $(seq 50); do
        for p in /sys/class/virtio-ports/*; do
            [ "$(cat "$p/name" 2>/dev/null)" = "$name" ] && dev=/dev/${p##*/}
        done
        [ -n "$dev" ] && break
        sleep 0.1
    done
    [ -n "$dev" ] || fail "no virtio port named $name"
    [ -c "$dev" ] || fail "$dev missing"
    echo "kick-port $name ok" > "$dev" || fail "write to $dev failed"
    echo "console: port $name is $dev, wrote a line to it"
fi
echo "console: hvc0 ok"
