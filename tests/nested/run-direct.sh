#!/bin/bash
# Boots the guest images directly under QEMU TCG (no kick, no nesting) on QEMU's own virtio-pci
# devices (net, blk, console, rng) and checks the guest's KICK-VERDICT line. This validates the
# images independently of kick. Extra arguments are appended to the guest kernel command line
# (e.g. virtio_pci.force_legacy=1 kick.test=demo).
# usage: run-direct.sh [BUILDDIR] [CMDLINE-ARG...]      env: NESTED_TIMEOUT (s, default 120)
set -euo pipefail
here=$(dirname "$0")
build=${1:-build/nested}; shift $(( $# > 0 ? 1 : 0 ))
"$here/mkguest.sh" "$build"
g=$build/guest
mkdir -p "$build/logs"
log=$build/logs/direct.log
disk=$build/logs/direct-disk.img
head -c 1M /dev/urandom > "$disk"

# shellcheck disable=SC2054 # commas belong to QEMU options
qemu_net=(-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile=)
qemu-system-x86_64 -netdev help 2>/dev/null | grep -qx user || qemu_net=()
expect=2,3,4; [ ${#qemu_net[@]} -gt 0 ] && expect=1,$expect

start=$(date +%s.%N)
set +e
timeout "${NESTED_TIMEOUT:-120}" qemu-system-x86_64 -accel tcg -m 512 -smp 1 \
    -nographic -no-reboot -monitor none \
    -kernel "$g/bzImage" -initrd "$g/guest-initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 kick.expect=$expect $*" \
    -device virtio-rng-pci \
    -drive if=none,id=d0,file="$disk",format=raw -device virtio-blk-pci,drive=d0 \
    -device virtio-serial-pci -device virtconsole,chardev=c0 -chardev null,id=c0 \
    "${qemu_net[@]}" < /dev/null 2>&1 | tr -d '\r' | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
printf 'run-direct: %.1f s wall, qemu exit %s, log %s\n' \
    "$(echo "$(date +%s.%N) - $start" | bc)" "$qrc" "$log"
verdict=$(grep -a '^KICK-VERDICT: ' "$log" | tail -n 1 || true)
case $verdict in
    "KICK-VERDICT: PASS") echo "run-direct: PASS"; exit 0 ;;
    "") [ "$qrc" = 124 ] && why="timeout" || why="no verdict line (panic?)"
        echo "run-direct: FAIL: $why" >&2; exit 1 ;;
    *)  echo "run-direct: FAIL: $verdict" >&2; exit 1 ;;
esac
