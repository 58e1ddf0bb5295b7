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
#        (use with kick.test=blk kick.blkcount=N)
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
[ -n "${KICK_DISK_MB:-}" ] && disk_args="--disk path=/tmp/disk.img,serial=kick-disk0"
cat > "$payload/run.sh" <<RUN
#!/bin/sh
if [ -n "${KICK_DISK_MB:-}" ]; then
    dd if=/dev/zero of=/tmp/disk.img bs=1048576 count=${KICK_DISK_MB:-0} 2>/dev/null ||
        { echo "kick-in-nested: cannot make a ${KICK_DISK_MB:-0} MiB image"; exit 1; }
fi
t0=\$(cut -d' ' -f1 /proc/uptime)
cr=\$(printf '\\r')
# streamed (prefixed) as it comes, so a hang shows how far the guest got
( timeout -s TERM ${KICK_TIMEOUT:-300} ./kick run --verbose $disk_args ${KICK_ARGS:-} \\
      --kernel "\$KICK_GUEST_DIR/bzImage" --initrd "\$KICK_GUEST_DIR/guest-initramfs.cpio.gz" \\
      --cmdline "console=ttyS0 quiet panic=-1 kick.test=boot $*" < /dev/null 2>&1
  echo \$? > /tmp/kick.rc ) | tee /tmp/guest.log | while IFS= read -r line; do
    echo "guest| \$line"
    case "\$line" in
        "guest: init"*|KICK-VERDICT*) echo "kick-in-nested: '\${line%"\$cr"}' \$(cut -d' ' -f1 /proc/uptime |
            awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}') s after launch" ;;
    esac
done
rc=\$(cat /tmp/kick.rc)
t1=\$(cut -d' ' -f1 /proc/uptime)
echo "kick-in-nested: kick exit \$rc after \$(echo "\$t0 \$t1" | awk '{printf "%.2f", \$2 - \$1}') s wall"
[ "\$rc" -eq 0 ] || exit 1
grep -q '^KICK-VERDICT: PASS' /tmp/guest.log || exit 1
if [ -n "${KICK_DISK_CHECK:-}" ]; then
    # the pattern of guest-tests/blk.sh, checked in the image kick wrote through
    yes "kick-blk-pattern-0123456789abcdef" | head -c \$((${KICK_DISK_CHECK:-0} * 4096)) > /tmp/pattern
    if head -c \$((${KICK_DISK_CHECK:-0} * 4096)) /tmp/disk.img | cmp -s - /tmp/pattern; then
        echo "kick-in-nested: image holds the guest's ${KICK_DISK_CHECK:-0} x 4 KiB pattern"
    else
        echo "kick-in-nested: image does not hold the guest's pattern"; exit 1
    fi
fi
RUN
exec "$here/run-nested.sh" "$build" "$payload"
