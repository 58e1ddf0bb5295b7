#!/bin/bash
# Builds the guest images kick boots: BUILDDIR/guest/bzImage (the stock Debian kernel) and
# BUILDDIR/guest/guest-initramfs.cpio.gz (busybox, virtio modules, /init, /tests/*.sh).
# Rebuilt only when the kernel/busybox package or these scripts change.
# usage: mkguest.sh [BUILDDIR]   (default build/nested)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
nested_init "${1:-}"
OUT=$BUILD/guest
MODS=(virtio_pci virtio_blk virtio_net virtio_console virtio-rng)

stamp=$(inputs_stamp "$NESTED_DIR"/{lib.sh,mkguest.sh,guest-init.sh} "$NESTED_DIR"/guest-tests/*.sh)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ]; then exit 0; fi

echo "mkguest: building $OUT (kernel $KVER)"
mkdir -p "$OUT"
rootfs=$OUT/rootfs
make_skeleton "$rootfs"
install_modules "$rootfs" "${MODS[@]}"
install -m 755 "$NESTED_DIR/guest-init.sh" "$rootfs/init"
mkdir -p "$rootfs/tests"
cp "$NESTED_DIR"/guest-tests/*.sh "$rootfs/tests/"
pack_cpio "$rootfs" "$OUT/guest-initramfs.cpio.gz"
cp "$VMLINUZ" "$OUT/bzImage"
echo "$stamp" > "$OUT/stamp"
echo "mkguest: modules (load order): $(tr '\n' ' ' < "$rootfs/etc/modules")"
