#!/bin/bash
# Builds the guest images kick boots: BUILDDIR/guest/bzImage (the stock Debian kernel) and
# BUILDDIR/guest/guest-initramfs.cpio.gz (busybox, virtio modules, /init, /tests/*.sh, and
# Debian's fio as /usr/bin/fio with its libraries).
# Rebuilt only when the kernel/busybox/fio package (or a library fio takes from this machine)
# or these scripts change.
# usage: mkguest.sh [BUILDDIR]   (default build/nested)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
nested_init "${1:-}"
OUT=$BUILD/guest
# ext4 (which also mounts ext2, the kind busybox's mke2fs makes) for the file-system tests;
# crc32c_generic first: ext4 and jbd2 load the crc32c hash on demand (a modprobe softdep,
# which busybox insmod does not follow)
MODS=(virtio_pci virtio_blk virtio_net virtio_console virtio-rng crc32c_generic ext4)
FIO_PKG=$BUILD/pkg-fio
# fio's libraries taken as they are; every other library it links (the rbd, rados, glusterfs,
# nbd, rdma and pmem engines: ~80 MB with their own dependencies) becomes a stub, see below
FIO_KEEP='^(libc|libm|libz|libaio|libnuma)\.so\.'
FIO_HOST_LIBS=(libc6 libaio1 libnuma1 zlib1g libgcc-s1)

# Debian's fio package, fetched like the kernel in deps.sh: unpacked under FIO_PKG/root, never
# installed. FIO_PKG/fio.stamp holds "fio VERSION".
fetch_fio() {
    local stamp=$FIO_PKG/fio.stamp ver missing=() p
    for p in "${FIO_HOST_LIBS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "mkguest: installing ${missing[*]} (fio's libraries)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    mkdir -p "$FIO_PKG"
    [ -f "$stamp" ] && [ "$stamp" -nt /var/lib/apt/lists ] && [ -x "$FIO_PKG/root/usr/bin/fio" ] &&
        return 0
    ver=$(apt-cache policy fio | awk '/Candidate:/ {print $2}')
    [ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "mkguest: no fio package candidate" >&2; return 1; }
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "fio $ver" ] || [ ! -x "$FIO_PKG/root/usr/bin/fio" ]; then
        echo "mkguest: fetching fio $ver"
        rm -rf "$FIO_PKG/root" "$FIO_PKG"/*.deb
        (cd "$FIO_PKG" && apt-get download -q -o APT::Sandbox::User=root "fio=$ver")
        dpkg-deb -x "$FIO_PKG"/fio_*.deb "$FIO_PKG/root"
        echo "fio $ver" > "$stamp"
    fi
    touch "$stamp"
}

# Builds, into LIBDIR, a stand-in for every library FIO needs apart from FIO_KEEP: same soname,
# same symbol version nodes, and every function FIO imports from it, each of which reports the
# missing engine and exits 127 if ever called. fio is linked with BIND_NOW, so each symbol must
# resolve at load time, but only the rbd/rados/gfapi/nbd/rdma/pmem engines ever call them.
# Functions fio imports without a version (librados, librbd) and that no kept library defines
# go into every stub: the first one found wins, and none of them is ever called.
# usage: make_fio_stubs FIO LIBDIR
make_fio_stubs() {
    local fio=$1 dir=$2 so unver f
    local tmp=$dir/.stubs
    mkdir -p "$tmp"
    readelf -W -V "$fio" > "$tmp/ver"
    readelf -W --dyn-syms "$fio" > "$tmp/syms"
    # "INDEX FILE VERSION" for each version fio needs
    awk '/File:/ {for (i = 1; i < NF; i++) if ($i == "File:") file = $(i + 1)}
         /Name:/ && file != "" {print $NF, file, $(NF - 4)}' "$tmp/ver" > "$tmp/vermap"
    # "NAME VERSION-INDEX" (0: unversioned) of each function fio imports
    awk '$7 == "UND" && $4 == "FUNC" && $5 == "GLOBAL" {
             n = $8; idx = 0
             if (n ~ /@/) { sub(/@.*/, "", n); idx = $9; gsub(/[()]/, "", idx) }
             print n, idx }' "$tmp/syms" > "$tmp/imports"
    : > "$tmp/kept-defs"
    for so in $(readelf -d "$fio" | awk '/NEEDED/ {gsub(/[][]/, "", $NF); print $NF}'); do
        [[ $so =~ $FIO_KEEP ]] || continue
        f=$(ldconfig -p | awk -v s="$so" '$1 == s && /x86-64/ && !p {print $NF; p=1}')
        [ -n "$f" ] || { echo "mkguest: fio needs $so, not on this machine" >&2; return 1; }
        nm -D --defined-only "$f" | awk '{sub(/@.*/, "", $3); print $3}' >> "$tmp/kept-defs"
    done
    unver=$(awk 'NR == FNR {def[$1] = 1; next} $2 == 0 && !def[$1] {print $1}' \
                "$tmp/kept-defs" "$tmp/imports")
    for so in $(readelf -d "$fio" | awk '/NEEDED/ {gsub(/[][]/, "", $NF); print $NF}'); do
        [[ $so =~ $FIO_KEEP ]] && continue
        {
            echo '#include <string.h>'
            echo '#include <unistd.h>'
            echo 'static void stub_called(const char *fn)'
            echo '{'
            echo '    static const char msg[] = "fio: this engine'"'"'s library is a stub in this"' \
                 '" image (no rbd/rados/gfapi/nbd/rdma/pmem engines); called: ";'
            echo '    (void)!write(2, msg, sizeof msg - 1);'
            echo '    (void)!write(2, fn, strlen(fn));'
            echo '    (void)!write(2, "\n", 1);'
            echo '    _exit(127);'
            echo '}'
            awk -v so="$so" 'NR == FNR {if ($2 == so) file[$1] = 1; next}
                             $2 != 0 && file[$2] {print $1}' "$tmp/vermap" "$tmp/imports"
            echo "$unver"
        } | awk 'NF && !/^#|^static|^[{}]|^    / {printf "void %s(void) { stub_called(\"%s\"); }\n", $1, $1; next}
                 {print}' > "$tmp/$so.c"
        # one version node per version fio asks of this file; the unversioned functions in
        # the first (or in an anonymous node if the file has no versions)
        awk -v so="$so" -v unver="${unver//$'\n'/ }" '
            NR == FNR {if ($2 == so && !seen[$3]++) {order[++n] = $3}; if ($2 == so) ver[$1] = $3; next}
            $2 != 0 && ($2 in ver) {syms[ver[$2]] = syms[ver[$2]] " " $1 ";"}
            END {
                split(unver, u, " "); extra = ""
                for (i in u) extra = extra " " u[i] ";"
                if (n == 0) {print "{ global:" extra " local: *; };"; exit}
                for (i = 1; i <= n; i++)
                    printf "%s { global:%s%s%s };\n", order[i], syms[order[i]],
                           i == 1 ? extra : "", i == 1 ? " local: *;" : ""
            }' "$tmp/vermap" "$tmp/imports" > "$tmp/$so.map"
        gcc -shared -fPIC -O2 -s -Wl,-soname,"$so" -Wl,--version-script="$tmp/$so.map" \
            -o "$dir/$so" "$tmp/$so.c"
    done
    rm -rf "$tmp"
}

# fio at /usr/bin/fio in ROOTFS with its kept libraries (from this machine, at their paths,
# the dynamic loader included) and the stubs in /lib/x86_64-linux-gnu.
install_fio() {
    local rootfs=$1 libdir
    libdir=$(realpath "$rootfs")/lib/x86_64-linux-gnu
    mkdir -p "$rootfs/usr/bin" "$libdir"
    cp "$FIO_PKG/root/usr/bin/fio" "$rootfs/usr/bin/fio"
    make_fio_stubs "$rootfs/usr/bin/fio" "$libdir"
    LD_LIBRARY_PATH=$libdir copy_elf_libs "$rootfs" "$rootfs/usr/bin/fio"
    # the stubs' only purpose: fio must start with them (BIND_NOW resolves every symbol)
    LD_LIBRARY_PATH=$libdir "$rootfs/usr/bin/fio" --version >/dev/null ||
        { echo "mkguest: fio does not start with the stub libraries" >&2; return 1; }
}

# Debian's iperf3 and libiperf0 (its library), fetched like fio: unpacked under IPERF3_PKG/root,
# never installed. IPERF3_PKG/iperf3.stamp holds "iperf3 VERSION libiperf0 VERSION". Its other
# libraries (libc, libm, libsctp, libcrypto) come from this machine (installed if missing). The
# nested host (mkhost.sh) installs it from IPERF3_PKG too.
IPERF3_PKG=$BUILD/pkg-iperf3
IPERF3_HOST_LIBS=(libc6 libsctp1 libssl3)
fetch_iperf3() {
    local stamp=$IPERF3_PKG/iperf3.stamp want missing=() p v
    for p in "${IPERF3_HOST_LIBS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "mkguest: installing ${missing[*]} (iperf3's libraries)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    mkdir -p "$IPERF3_PKG"
    [ -f "$stamp" ] && [ "$stamp" -nt /var/lib/apt/lists ] && [ -x "$IPERF3_PKG/root/usr/bin/iperf3" ] &&
        return 0
    want=
    for p in iperf3 libiperf0; do
        v=$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')
        [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "mkguest: no $p package candidate" >&2; return 1; }
        want="$want${want:+ }$p $v"
    done
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x "$IPERF3_PKG/root/usr/bin/iperf3" ]; then
        echo "mkguest: fetching $want"
        rm -rf "$IPERF3_PKG/root" "$IPERF3_PKG"/*.deb
        (cd "$IPERF3_PKG" && apt-get download -q -o APT::Sandbox::User=root \
            "iperf3=$(echo "$want" | cut -d' ' -f2)" "libiperf0=$(echo "$want" | cut -d' ' -f4)")
        for p in "$IPERF3_PKG"/*.deb; do dpkg-deb -x "$p" "$IPERF3_PKG/root"; done
        echo "$want" > "$stamp"
    fi
    touch "$stamp"
}


fetch_fio
fetch_iperf3
stamp=$(inputs_stamp "$NESTED_DIR"/{lib.sh,mkguest.sh,guest-init.sh} "$NESTED_DIR"/guest-tests/*.sh
        cat "$FIO_PKG/fio.stamp"; dpkg-query -W "${FIO_HOST_LIBS[@]}"
        cat "$IPERF3_PKG/iperf3.stamp"; dpkg-query -W "${IPERF3_HOST_LIBS[@]}")
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ]; then exit 0; fi

echo "mkguest: building $OUT (kernel $KVER, $(cat "$FIO_PKG/fio.stamp"))"
mkdir -p "$OUT"
rootfs=$OUT/rootfs
make_skeleton "$rootfs"
install_modules "$rootfs" "${MODS[@]}"
install_fio "$rootfs"
install_iperf3 "$rootfs"
install -m 755 "$NESTED_DIR/guest-init.sh" "$rootfs/init"
mkdir -p "$rootfs/tests"
cp "$NESTED_DIR"/guest-tests/*.sh "$rootfs/tests/"
pack_cpio "$rootfs" "$OUT/guest-initramfs.cpio.gz"
cp "$VMLINUZ" "$OUT/bzImage"
echo "$stamp" > "$OUT/stamp"
echo "mkguest: modules (load order): $(tr '\n' ' ' < "$rootfs/etc/modules")"
echo "mkguest: guest-initramfs.cpio.gz $(du -k "$OUT/guest-initramfs.cpio.gz" | cut -f1) KiB" \
     "($(du -sk "$rootfs" | cut -f1) KiB unpacked)"
