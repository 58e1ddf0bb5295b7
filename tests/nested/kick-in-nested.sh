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
#        KICK_TAP=1: adds --net tap=kt0 (kick creates the tap; queue pairs: one per vCPU) and
#        kick.net_put=6667 kick.net_get=5556 (guest test net_tap); the nested host gives kt0
#        10.0.3.1/24 once it appears, runs a listener on port 6667 that must receive the guest's
#        4 MiB pattern, sends its own to 10.0.3.2:5556 when the guest listens, and prints kt0's
#        packet counts around each iperf3 run of guest test net_iperf;
#        KICK_IPERF3=1: runs `iperf3 -s` in the nested host (port 5201) for guest test net_iperf;
#        KICK_FS_CHECK=1: after kick exits, the image (KICK_DISK_MB) must hold the file system
#        guest test blkfs left: e2fsck -fn finds nothing, and debugfs reads its pattern and text;
#        KICK_TRIM_CHECK=1: adds kick.blkfs_measure=1; when the guest (test blkfs) says "blkfs:
#        measure allocation" the image's allocated blocks are recorded and the guest is answered
#        on kick's stdin; after kick exits they must have dropped by at least 16 MiB (of the 32
#        the guest deleted and trimmed);
#        KICK_ENOSPC_DISK=MB: a second disk (serial kick-enospc), a sparse MB MiB image on a
#        1 MiB tmpfs, so that the host's writes fail with ENOSPC; adds kick.enospc=1 (test blkfs);
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
if [ -n "${KICK_FS_CHECK:-}" ]; then
    for t in debugfs e2fsck; do
        p=$(PATH=$PATH:/usr/sbin:/sbin command -v $t) ||
            { echo "kick-in-nested: KICK_FS_CHECK needs $t (e2fsprogs)" >&2; exit 1; }
        cp "$p" "$payload/$t"
    done
fi
trim_cmdline=
[ -n "${KICK_TRIM_CHECK:-}" ] && trim_cmdline="kick.blkfs_measure=1"
enospc_args=; enospc_cmdline=
if [ -n "${KICK_ENOSPC_DISK:-}" ]; then
    enospc_args='--disk path=$T/full/enospc.img,serial=kick-enospc'
    enospc_cmdline="kick.enospc=1"
fi
if [ -n "${KICK_TAP:-}" ]; then
    net_args="--net tap=kt0"
    net_cmdline="kick.net_put=6667 kick.net_get=5556"
fi
strace_cmd=
if [ -n "${KICK_STRACE:-}" ]; then
    cp "$(command -v strace)" "$payload/strace"
    strace_cmd='./strace -f -c -o $T/strace.out'
fi
stdin="< /dev/null"
# a FIFO kick holds open (no end of input); the text goes in when the guest asks for it
[ -n "${KICK_STDIN:-}${KICK_TRIM_CHECK:-}" ] && stdin="<> \$T/stdin"
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
if [ -n "${KICK_ENOSPC_DISK:-}" ]; then
    mkdir -p \$T/full && mount -t tmpfs -o size=1M kick-full \$T/full &&
        truncate -s ${KICK_ENOSPC_DISK:-0}M \$T/full/enospc.img ||
        { echo "kick-in-nested: cannot make the image on a 1 MiB tmpfs"; exit 1; }
fi
tap_pids=
if [ -n "${KICK_TAP:-}" ]; then
    ip link set lo up
    yes "kick-tap-host-to-guest-abcdef" | head -c 4194304 > \$T/tap-put
    yes "kick-tap-guest-to-host-0123456789" | head -c 4194304 > \$T/tap-want
    mkfifo \$T/tap-hold
    nc -l -p 6667 <> \$T/tap-hold > \$T/tap-got &
    tap_pids="\$tap_pids \$!"
    # kick creates kt0 (busybox ip cannot); its address goes on as soon as it exists
    ( for _ in \$(seq 600); do
          if [ -e /sys/class/net/kt0 ]; then
              ip addr add 10.0.3.1/24 dev kt0 && ip link set kt0 up &&
                  echo "kick-in-nested: kt0 10.0.3.1/24 up (tun_flags \$(cat /sys/class/net/kt0/tun_flags))"
              exit
          fi
          sleep 0.1
      done; echo "kick-in-nested: kt0 never appeared" ) &
fi
if [ -n "${KICK_IPERF3:-}" ]; then
    ip link set lo up
    iperf3 -s > \$T/iperf3-server.log 2>&1 &
    tap_pids="\$tap_pids \$!"
fi
[ -n "\$tap_pids" ] && trap 'kill \${net_pid:-} \$tap_pids 2>/dev/null' EXIT
rm -f \$T/stdin \$T/alloc-before; mkfifo \$T/stdin
t0=\$(cut -d' ' -f1 /proc/uptime)
cr=\$(printf '\\r')
# streamed (prefixed) as it comes, so a hang shows how far the guest got
( timeout -s TERM ${KICK_TIMEOUT:-300} $strace_cmd ./kick run --verbose $disk_args $enospc_args $net_args \\
      ${KICK_ARGS:-} \\
      --kernel "\$KICK_GUEST_DIR/bzImage" --initrd "\$KICK_GUEST_DIR/guest-initramfs.cpio.gz" \\
      --cmdline "console=ttyS0 quiet panic=-1 kick.test=boot $net_cmdline $trim_cmdline $enospc_cmdline $*" $stdin 2>&1
  echo \$? > \$T/kick.rc ) | tee \$T/guest.log | while IFS= read -r line; do
    echo "guest| \$line"
    case "\$line" in
        "console: waiting for input"*) printf '%s\\n' "${KICK_STDIN:-}" > \$T/stdin & ;;
        "net: listening on 5555"*) nc 127.0.0.1 5555 < \$T/net-put & ;;
        "net_tap: listening on 5556"*) nc 10.0.3.2 5556 < \$T/tap-put & ;;
        "net_iperf: guest->host "*|"net_iperf: host->guest "*) echo "kick-in-nested: iperf3 \${line#net_iperf: }" ;;
        "net_iperf: begin "*) [ -e /sys/class/net/kt0 ] && cat /sys/class/net/kt0/statistics/[rt]x_[bp]* > \$T/kt0-before ;;
        "net_iperf: end "*) [ -e /sys/class/net/kt0 ] && cat /sys/class/net/kt0/statistics/[rt]x_[bp]* |
            paste - \$T/kt0-before | awk -v run="\$(echo "\${line#net_iperf: end }" | tr -d '\\r')" '{d[NR] = \$1 - \$2}
                END {printf "kick-in-nested: kt0 during %s: rx %d packets avg %d bytes, tx %d packets avg %d bytes\\n",
                     run, d[2], d[1] / (d[2] ? d[2] : 1), d[4], d[3] / (d[4] ? d[4] : 1)}' ;;
        "blkfs: measure allocation"*)
            stat -c %b \$T/disk.img > \$T/alloc-before
            echo "kick-in-nested: image allocation before the trim: \$((\$(cat \$T/alloc-before) / 2)) KiB"
            printf 'measured\\n' > \$T/stdin & ;;
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
if [ -n "${KICK_FS_CHECK:-}" ]; then
    # what guest-tests/blkfs.sh left in the file system, read without the guest's kernel
    if ./e2fsck -fn \$T/disk.img > \$T/fsck.out 2>&1; then
        echo "kick-in-nested: e2fsck -fn: \$(tail -n 1 \$T/fsck.out)"
    else
        sed 's/^/e2fsck| /' \$T/fsck.out; echo "kick-in-nested: e2fsck -fn found problems"; exit 1
    fi
    yes "kick-fs-pattern-0123456789abcdef" | head -c 3145728 > \$T/fs-pattern
    ./debugfs -R "cat /kick/pattern" \$T/disk.img 2>/dev/null > \$T/fs-got
    hello=\$(./debugfs -R "cat /kick/hello" \$T/disk.img 2>/dev/null)
    if cmp -s \$T/fs-pattern \$T/fs-got && [ "\$hello" = "kick-fs hello from the guest" ]; then
        echo "kick-in-nested: debugfs reads the guest's 3 MiB pattern and '\$hello' from the image"
    else
        echo "kick-in-nested: debugfs: /kick/pattern \$(wc -c < \$T/fs-got) bytes" \
             "(\$(cmp \$T/fs-pattern \$T/fs-got 2>&1 | head -n 1)), /kick/hello '\$hello'"
        exit 1
    fi
fi
if [ -n "${KICK_TRIM_CHECK:-}" ]; then
    [ -s \$T/alloc-before ] || { echo "kick-in-nested: the guest never asked to measure"; exit 1; }
    b=\$((\$(cat \$T/alloc-before) / 2)) a=\$((\$(stat -c %b \$T/disk.img) / 2))
    if [ \$a -le \$((b - 16384)) ]; then
        echo "kick-in-nested: image allocation \$b KiB before the trim, \$a KiB after kick exited"
    else
        echo "kick-in-nested: image allocation \$b KiB before the trim, \$a KiB after: not 16 MiB less"
        exit 1
    fi
fi
if [ -n "${KICK_ENOSPC_DISK:-}" ]; then
    umount \$T/full 2>/dev/null
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
if [ -n "${KICK_TAP:-}" ]; then
    got=\$(sha256sum < \$T/tap-got | cut -c1-16)
    if cmp -s \$T/tap-got \$T/tap-want; then
        echo "kick-in-nested: port 6667 received the guest's \$(wc -c < \$T/tap-got) bytes over the tap, sha256 \$got"
    else
        echo "kick-in-nested: port 6667 received \$(wc -c < \$T/tap-got) bytes, not the guest's pattern"
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
