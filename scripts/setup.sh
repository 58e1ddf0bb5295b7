#!/bin/bash
# Installs what kick needs to build and test on Debian 12 (run as root).
# Packages already present are not fetched again.
set -euo pipefail
PKGS=(build-essential meson ninja-build pkg-config linux-libc-dev libcmocka-dev liburing-dev
      libslirp-dev libglib2.0-dev
      clang libclang-rt-14-dev valgrind qemu-system-x86 python3 acpica-tools e2fsprogs)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
