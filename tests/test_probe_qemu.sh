#!/bin/bash
# meson test: the probe guest's whole QEMU matrix (tests/probe/run-qemu.sh)
# on the image meson already built. $1: the build root. Skips (77) without
# QEMU (tests/nested/deps.sh or `apt-get install qemu-system-x86`).
set -uo pipefail
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 not installed: skipped"; exit 77; }
exec "$(dirname "$0")/probe/run-qemu.sh" --no-build "${1:?build root}" all
