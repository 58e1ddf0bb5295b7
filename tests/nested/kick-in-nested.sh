#!/bin/bash
# Runs `kick run` INSIDE the nested host (a real /dev/kvm) as the payload, booting the guest
# images on kick, and passes if the guest prints "KICK-VERDICT: PASS". The guest runs the `boot`
# test unless the extra arguments name others (kick.test=...). Reports kick's wall time and the
# guest's uptime at /init (launch-to-init time, kernel side).
# usage: kick-in-nested.sh [BUILDDIR] [KICK] [CMDLINE-ARG...]
#   KICK: the kick executable (default build/vmm/kick)
#   env: KICK_ARGS: extra `kick run` options (e.g. "--memory 1G"); KICK_TIMEOUT: seconds kick may
#        run inside the nested host (default 300); NESTED_TIMEOUT: see run-nested.sh;
#        KICK_DISK_MB: give kick a zeroed raw image of that many MiB (--disk path=/tmp/disk.img,
#        serial=kick-disk0, before KICK_ARGS); KICK_DISK_CHECK: after kick exits, the image
#        must start with that many 4 KiB blocks of the pattern the guest's `blk` test writes
#        (use with kick.test=blk kick.blkcount=N);
#        KICK_STDIN: text (and a newline) on kick's stdin when the guest says "console: waiting
#        for input" (guest test console, kick.console_input=TEXT); otherwise stdin is /dev/null;
#        KICK_NET_CHECK=1: adds --net user,hostfwd=tcp::5555-:5555 and kick.net_put=6666
#        kick.net_get=5555 (guest test `net`), runs a listener on the nested host's port 6666 that
#        must receive the guest's pattern, and sends the host's pattern to port 5555 when the
#        guest says it listens;
#        KICK_FILE_CHECK=FILE:TEXT: after kick exits, FILE (in the nested host) must contain TEXT;
#        KICK_STRACE=1: run kick under `strace -f -c` (syscall counts of all threads);
#        KICK_DIRECT=1: run the payload here, on this machine's /dev/kvm (one that can boot a
#        stock kernel), in a temporary directory, with busybox's nc, instead of nested
set -euo pipefail
here=$(dirname "$0")
build=${1:-build/nested}; shift $(( $# > 0 ? 1 : 0 ))
kick=${1:-build/vmm/kick}; shift $(( $# > 0 ? 1 : 0 ))
[ -x "$kick" ] || { echo "kick-in-nested: no kick executable at $kick (build it first)" >&2; exit 1; }
payload=$build/payload-kick
rm -rf "$payload"
mkdir -p "$payload"
cp "$kick" "$payload/kick"
disk_args=
[ -n "${KICK_DISK_MB:-}" ] && disk_args='--disk path=$T/disk.img,serial=kick-disk0'
net_args=; net_cmdline=
if [ -n "${KICK_NET_CHECK:-}" ]; then
    net_args="--net user,hostfwd=tcp::5555-:5555"
    net_cmdline="kick.net_put=6666 kick.net_get=5555"
fi
strace_cmd=
if [ -n "${KICK_STRACE:-}" ]; then
    cp "$(command -v strace)" "$payload/strace"
    strace_cmd='./strace -f -c -o $T/strace.out'
fi
stdin="< /dev/null"
# a FIFO kick holds open (no end of input); the text goes in when the guest asks for it
[ -n "${KICK_STDIN:-}" ] && stdin="<> \$T/stdin"
cat > "$payload/run.sh" <<RUN
#!/bin/sh
T=\${KICK_TMP:-/tmp}
if [ -n "${KICK_DISK_MB:-}" ]; then
    dd if=/dev/zero of=\$T/disk.img bs=1048576 count=${KICK_DISK_MB:-0} 2>/dev/null ||
        { echo "kick-in-nested: cannot make a ${KICK_DISK_MB:-0} MiB image"; exit 1; }
fi
if [ -n "${KICK_NET_CHECK:-}" ]; then
    ip link set lo up
    yes "kick-net-host-to-guest-abcdef" | head -c 262144 > \$T/net-put
    yes "kick-net-guest-to-host-0123456789" | head -c 262144 > \$T/net-want
    # stdin: a FIFO it holds open itself, so nc never sees end of input and exits on the
    # guest's end of stream
    mkfifo \$T/net-hold
    nc -l -p 6666 <> \$T/net-hold > \$T/net-got &
    net_pid=\$!
    trap 'kill \$net_pid 2>/dev/null' EXIT
fi
rm -f \$T/stdin; mkfifo \$T/stdin
t0=\$(cut -d' ' -f1 /proc/uptime)
cr=\$(printf '\\r')
# streamed (prefixed) as it comes, so a hang shows how far the guest got
( timeout -s TERM ${KICK_TIMEOUT:-300} $strace_cmd ./kick run --verbose $disk_args $net_args \\
      ${KICK_ARGS:-} \\
      --kernel "\$KICK_GUEST_DIR/bzImage" --initrd "\$KICK_GUEST_DIR/guest-initramfs.cpio.gz" \\
      --cmdline "console=ttyS0 quiet panic=-1 kick.test=boot $net_cmdline $*" $stdin 2>&1
  echo \$? > \$T/kick.rc ) | tee \$T/guest.log | while IFS= read -r line; do
    echo "guest| \$line"
    case "\$line" in
        "console: waiting for input"*) printf '%s\\n' "${KICK_STDIN:-}" > \$T/stdin & ;;
        "net: listening on 5555"*) nc 127.0.0.1 5555 < \$T/net-put & ;;
        "guest: init"*|KICK-VERDICT*) echo "kick-in-nested: '\${line%"\$cr"}' \$(cut -d' ' -f1 /proc/uptime |
            awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}') s after launch" ;;
    esac
done
rc=\$(cat \$T/kick.rc)
[ -f \$T/strace.out ] && { echo "kick-in-nested: strace -f -c of kick:"; cat \$T/strace.out; }
t1=\$(cut -d' ' -f1 /proc/uptime)
echo "kick-in-nested: kick exit \$rc after \$(echo "\$t0 \$t1" | awk '{printf "%.2f", \$2 - \$1}') s wall"
[ "\$rc" -eq 0 ] || exit 1
grep -q '^KICK-VERDICT: PASS' \$T/guest.log || exit 1
if [ -n "${KICK_DISK_CHECK:-}" ]; then
    # the pattern of guest-tests/blk.sh, checked in the image kick wrote through
    yes "kick-blk-pattern-0123456789abcdef" | head -c \$((${KICK_DISK_CHECK:-0} * 4096)) > \$T/pattern
    if head -c \$((${KICK_DISK_CHECK:-0} * 4096)) \$T/disk.img | cmp -s - \$T/pattern; then
        echo "kick-in-nested: image holds the guest's ${KICK_DISK_CHECK:-0} x 4 KiB pattern"
    else
        echo "kick-in-nested: image does not hold the guest's pattern"; exit 1
    fi
fi
if [ -n "${KICK_NET_CHECK:-}" ]; then
    kill \$net_pid 2>/dev/null
    got=\$(sha256sum < \$T/net-got | cut -c1-16)
    if cmp -s \$T/net-got \$T/net-want; then
        echo "kick-in-nested: port 6666 received the guest's \$(wc -c < \$T/net-got) bytes, sha256 \$got"
    else
        echo "kick-in-nested: port 6666 received \$(wc -c < \$T/net-got) bytes, not the guest's pattern"
        exit 1
    fi
fi
if [ -n "${KICK_FILE_CHECK:-}" ]; then
    f=\$(echo "${KICK_FILE_CHECK:-}" | cut -d: -f1); text=\$(echo "${KICK_FILE_CHECK:-}" | cut -d: -f2-)
    if grep -qF "\$text" "\$f" 2>/dev/null; then echo "kick-in-nested: \$f holds '\$text'"
    else echo "kick-in-nested: \$f does not hold '\$text'"; exit 1; fi
fi
RUN
chmod +x "$payload/run.sh"
if [ -n "${KICK_DIRECT:-}" ]; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    mkdir "$tmp/bin"; ln -s "$(command -v busybox)" "$tmp/bin/nc"
    rc=0
    (cd "$payload" && KICK_TMP=$tmp KICK_GUEST_DIR=$(realpath "$build/guest") \
        PATH="$tmp/bin:$PATH" ./run.sh) || rc=$?
    echo "DIRECT-EXIT: $rc"
    exit "$rc"
fi
exec "$here/run-nested.sh" "$build" "$payload"
