#!/bin/bash
# Builds the nested host's initrd, BUILDDIR/host/host-initramfs.cpio, from two parts:
#  - base.cpio.gz (cached): busybox, kvm-amd and its deps, /init, the guest images under /guest;
#  - payload.cpio (uncompressed, rebuilt each time): the files of PAYLOAD_DIR under /payload,
#    plus the shared libraries (found with ldd) of every dynamic executable among them.
# The kernel unpacks concatenated cpio archives in order, so the initrd is their concatenation.
# PAYLOAD_DIR must hold run.sh, the script the host runs; its exit status is the run's result.
# usage: mkhost.sh [BUILDDIR] [PAYLOAD_DIR]    (PAYLOAD_DIR defaults to $KICK_PAYLOAD_DIR)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
nested_init "${1:-}"
payload=${2:-${KICK_PAYLOAD_DIR:-}}
if [ -z "$payload" ] || [ ! -f "$payload/run.sh" ]; then
    echo "mkhost: payload dir (arg 2 or KICK_PAYLOAD_DIR) must contain run.sh" >&2; exit 1
fi
"$NESTED_DIR/mkguest.sh" "$BUILD"
OUT=$BUILD/host
# tun: kick's tap backend (the tap e2e test)
MODS=(kvm-amd tun)
IPERF3_PKG=$BUILD/pkg-iperf3   # fetched by mkguest.sh

stamp=$(inputs_stamp "$NESTED_DIR"/{lib.sh,mkhost.sh,host-init.sh} "$BUILD/guest/stamp")
if ! [ -f "$OUT/stamp" ] || [ "$(cat "$OUT/stamp")" != "$stamp" ]; then
    echo "mkhost: building $OUT/base.cpio.gz (kernel $KVER)"
    mkdir -p "$OUT"
    rootfs=$OUT/rootfs
    make_skeleton "$rootfs"
    install_modules "$rootfs" "${MODS[@]}"
    install_iperf3 "$rootfs"
    install -m 755 "$NESTED_DIR/host-init.sh" "$rootfs/init"
    mkdir -p "$rootfs/guest"
    cp "$BUILD"/guest/{bzImage,guest-initramfs.cpio.gz} "$rootfs/guest/"
    pack_cpio "$rootfs" "$OUT/base.cpio.gz"
    echo "$stamp" > "$OUT/stamp"
    echo "mkhost: modules (load order): $(tr '\n' ' ' < "$rootfs/etc/modules")"
fi

proot=$OUT/payload-root
rm -rf "$proot"
mkdir -p "$proot/payload"
cp -RL "$payload/." "$proot/payload/"     # -L: a payload may link to binaries elsewhere
libs=()
while IFS= read -r -d '' f; do
    [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    ldd "$f" >/dev/null 2>&1 || continue             # static: nothing to add
    if ldd "$f" | grep -q 'not found'; then
        echo "mkhost: ${f#"$proot"/}: $(ldd "$f" | grep 'not found' | head -n 1)" >&2; exit 1
    fi
    mapfile -t -O "${#libs[@]}" libs < <(ldd "$f" | grep -oE '/[^ ]+')
done < <(find "$proot/payload" -type f -perm -u+x -print0)
if [ ${#libs[@]} -gt 0 ]; then
    # glibc dlopens libgcc_s for thread cancellation; ldd cannot see that
    libs+=("$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ && !p {print $NF; p=1}')")
    for l in $(printf '%s\n' "${libs[@]}" | sort -u); do
        mkdir -p "$proot$(dirname "$l")"
        cp -L "$l" "$proot$l"
    done
fi
# Uncompressed: packing is instant and the TCG-emulated kernel has nothing to inflate. It goes
# first because a raw archive after a gzip one would need padding to a 4-byte boundary.
pack_cpio "$proot" "$OUT/payload.cpio" raw
cat "$OUT/payload.cpio" "$OUT/base.cpio.gz" > "$OUT/host-initramfs.cpio"
