#!/bin/bash
# Boots the nested host (stock Debian kernel under QEMU TCG with SVM, so it has a real /dev/kvm)
# with PAYLOAD_DIR packed in (see mkhost.sh), and exits with the status of the payload's run.sh,
# read from the "NESTED-EXIT:" console line. The console log is kept in BUILDDIR/logs/nested.log.
# usage: run-nested.sh [BUILDDIR] [PAYLOAD_DIR]
#   env: KICK_PAYLOAD_DIR (default payload dir), NESTED_TIMEOUT (s, default 600), NESTED_SMP
#        (CPUs of the nested host, default 2)
set -euo pipefail
here=$(dirname "$0")
build=${1:-build/nested}
payload=${2:-${KICK_PAYLOAD_DIR:-}}
"$here/mkhost.sh" "$build" "$payload"
k=$(ls "$build"/pkg/root/boot/vmlinuz-*)
mkdir -p "$build/logs"
log=$build/logs/nested.log

start=$(date +%s.%N)
set +e
timeout "${NESTED_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg -cpu max,+svm -m 2048 -smp "${NESTED_SMP:-2}" \
    -nographic -no-reboot -monitor none -nic none \
    -kernel "$k" -initrd "$build/host/host-initramfs.cpio" \
    -append "console=ttyS0 quiet panic=-1" < /dev/null 2>&1 | tr -d '\r' | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
printf 'run-nested: %.1f s wall, qemu exit %s, log %s\n' \
    "$(echo "$(date +%s.%N) - $start" | bc)" "$qrc" "$log"
code=$(grep -aoE '^NESTED-EXIT: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2 || true)
if [ -z "$code" ]; then
    [ "$qrc" = 124 ] && why="timeout after ${NESTED_TIMEOUT:-600} s" || why="no NESTED-EXIT line (panic?)"
    echo "run-nested: FAIL: $why" >&2
    exit 125
fi
echo "run-nested: payload exit status $code"
exit "$code"
