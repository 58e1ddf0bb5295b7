#!/bin/bash
# Installs the host tools the nested tests need, and fetches (without installing) the stock
# Debian kernel package into BUILDDIR/pkg, unpacked under BUILDDIR/pkg/root, so the host's own
# boot setup is never touched. Prints nothing when everything is already in place.
# usage: deps.sh [BUILDDIR]   (default build/nested)
set -euo pipefail
BUILD=$(realpath -m "${1:-build/nested}")
TOOLS=(qemu-system-x86 busybox-static cpio kmod zstd xz-utils gzip gcc libc6-dev linux-libc-dev)
KPKG=linux-image-amd64

missing=()
for p in "${TOOLS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { echo "deps: missing ${missing[*]}; run as root" >&2; exit 1; }
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$BUILD/pkg"
stamp="$BUILD/pkg/kernel.stamp"
# Versions can only have moved if the package lists changed since the kernel was fetched.
[ -f "$stamp" ] && [ "$stamp" -nt /var/lib/apt/lists ] && [ -d "$BUILD/pkg/root" ] && exit 0

# linux-image-amd64 is a metapackage: its Depends names the real image package.
real=$(apt-cache depends "$KPKG" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ && !p {print $2; p=1}')
if [ -z "$real" ]; then
    apt-get update -q
    real=$(apt-cache depends "$KPKG" | awk '/Depends: linux-image-[0-9]/ && !p {print $2; p=1}')
fi
[ -n "$real" ] || { echo "deps: cannot resolve $KPKG to a kernel image package" >&2; exit 1; }
kver=$(apt-cache policy "$real" | awk '/Candidate:/ {print $2}')
want="$real $kver"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "deps: fetching $real $kver"
    rm -rf "$BUILD/pkg/root" "$BUILD"/pkg/*.deb
    # the _apt sandbox user cannot write into a root-owned build tree
    (cd "$BUILD/pkg" && apt-get download -q -o APT::Sandbox::User=root "$real=$kver")
    dpkg-deb -x "$BUILD"/pkg/*.deb "$BUILD/pkg/root"
    # the package ships no modules.dep (its postinst runs depmod): make one
    depmod -b "$BUILD/pkg/root" "$(ls "$BUILD/pkg/root/lib/modules")"
    echo "$want" > "$stamp"
fi
touch "$stamp"
