# Shared helpers for the nested-test scripts; sourced, not run.
# Sets BUILD (absolute), KROOT (unpacked kernel package), KVER, VMLINUZ.
nested_init() {
    BUILD=$(realpath -m "${1:-build/nested}")
    NESTED_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
    "$NESTED_DIR/deps.sh" "$BUILD"
    KROOT=$BUILD/pkg/root
    KVER=$(ls "$KROOT/lib/modules")
    VMLINUZ=$KROOT/boot/vmlinuz-$KVER
}

# The inputs an image depends on: package versions and the scripts that build it.
# usage: inputs_stamp FILE...   -> prints one line per input
inputs_stamp() {
    cat "$BUILD/pkg/kernel.stamp"
    dpkg-query -W busybox-static
    sha256sum "$@"
}

# Prints module files (relative to the module dir) for the named modules and all their
# dependencies, each after the modules it needs: the order to insmod them in.
# usage: mod_closure NAME...
mod_closure() {
    local dep=$KROOT/lib/modules/$KVER/modules.dep
    local -A seen=()
    local out=()
    visit() {
        local name=${1//-/_} line file d
        [ -n "${seen[$name]:-}" ] && return
        seen[$name]=1
        line=$(awk -F: -v n="$name" '{f=$1; sub(/.*\//,"",f); sub(/\.ko.*/,"",f);
                                      gsub(/-/,"_",f)} f==n {print; exit}' "$dep")
        [ -n "$line" ] || { echo "mod_closure: no module $1 in $KVER" >&2; return 1; }
        file=${line%%:*}
        for d in ${line#*:}; do
            d=${d##*/}; visit "${d%%.ko*}" || return 1
        done
        out+=("$file")
    }
    local m
    for m in "$@"; do visit "$m" || return 1; done
    printf '%s\n' "${out[@]}"
}

# Copies the modules (with deps) into ROOTFS/lib/modules uncompressed, since busybox insmod
# does not decompress, and writes their load order to ROOTFS/etc/modules.
# usage: install_modules ROOTFS NAME...
install_modules() {
    local rootfs=$1 files f base; shift
    files=$(mod_closure "$@") || return 1
    mkdir -p "$rootfs/lib/modules" "$rootfs/etc"
    : > "$rootfs/etc/modules"
    for f in $files; do
        base=${f##*/}; base=${base%%.ko*}
        case $f in
            *.ko.xz)  xz -dc "$KROOT/lib/modules/$KVER/$f" ;;
            *.ko.zst) zstd -qdc "$KROOT/lib/modules/$KVER/$f" ;;
            *.ko.gz)  gzip -dc "$KROOT/lib/modules/$KVER/$f" ;;
            *)        cat "$KROOT/lib/modules/$KVER/$f" ;;
        esac > "$rootfs/lib/modules/$base.ko"
        echo "$base" >> "$rootfs/etc/modules"
    done
}

# A skeleton root with a static busybox as /bin/busybox (applets linked at boot).
make_skeleton() {
    local rootfs=$1
    rm -rf "$rootfs"
    mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc,root}
    cp /bin/busybox "$rootfs/bin/busybox"
    ! ldd /bin/busybox >/dev/null 2>&1 ||
        { echo "make_skeleton: /bin/busybox is not static (install busybox-static)" >&2; return 1; }
}

# usage: pack_cpio ROOTFS OUT [raw]   (gzip-compressed unless "raw"; written atomically)
pack_cpio() {
    local filter=(gzip -9n)
    [ "${3:-}" = raw ] && filter=(cat)
    (cd "$1" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc --owner=0:0 --quiet) | "${filter[@]}" > "$2.tmp"
    mv "$2.tmp" "$2"
}

# Copies the shared libraries of dynamic ELF executables (ldd, plus libgcc_s, which glibc
# dlopens for thread cancellation) into ROOTFS at the paths ldd reports, the dynamic loader
# included. Libraries ldd finds inside ROOTFS already (through LD_LIBRARY_PATH) stay as they are.
# Static executables add nothing; a missing library is an error.
# usage: copy_elf_libs ROOTFS FILE...
copy_elf_libs() {
    local rootfs=$1 f l libs=(); shift
    for f in "$@"; do
        ldd "$f" >/dev/null 2>&1 || continue
        if ldd "$f" | grep -q 'not found'; then
            echo "copy_elf_libs: $f: $(ldd "$f" | grep 'not found' | head -n 1)" >&2; return 1
        fi
        mapfile -t -O "${#libs[@]}" libs < <(ldd "$f" | grep -oE '/[^ ]+')
    done
    [ ${#libs[@]} -gt 0 ] || return 0
    libs+=("$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ && !p {print $NF; p=1}')")
    for l in $(printf '%s\n' "${libs[@]}" | sort -u); do
        case $l in "$(realpath "$rootfs")"/*) continue ;; esac
        mkdir -p "$rootfs$(dirname "$l")"
        cp -L "$l" "$rootfs$l"
    done
}

# iperf3 (Debian's, as mkguest.sh fetched it into IPERF3_PKG) at /usr/bin/iperf3 in ROOTFS,
# libiperf.so.0 beside the system libraries, and the libraries both need (copied from this
# machine at their paths, the loader included): in the guest and in the nested host.
# usage: install_iperf3 ROOTFS
install_iperf3() {
    local rootfs=$1 libdir
    libdir=$(realpath "$rootfs")/usr/lib/x86_64-linux-gnu
    mkdir -p "$rootfs/usr/bin" "$libdir"
    cp "$IPERF3_PKG/root/usr/bin/iperf3" "$rootfs/usr/bin/iperf3"
    cp -L "$IPERF3_PKG"/root/usr/lib/x86_64-linux-gnu/libiperf.so.0 "$libdir/"
    LD_LIBRARY_PATH=$libdir copy_elf_libs "$rootfs" "$rootfs/usr/bin/iperf3" "$libdir/libiperf.so.0"
    LD_LIBRARY_PATH=$libdir "$rootfs/usr/bin/iperf3" --version >/dev/null ||
        { echo "iperf3 does not start with its libraries" >&2; return 1; }
}
