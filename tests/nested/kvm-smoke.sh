#!/bin/bash
# Builds kvm_smoke (static) and runs it as the payload of the nested host: proves the nested
# host's /dev/kvm runs guest code. Exit status is kvm_smoke's.
# usage: kvm-smoke.sh [BUILDDIR]
set -euo pipefail
here=$(dirname "$0")
build=${1:-build/nested}
payload=$build/payload-kvm-smoke
mkdir -p "$payload"
gcc -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static \
    -o "$payload/kvm_smoke" "$here/kvm_smoke.c"
printf '%s\n' '#!/bin/sh' './kvm_smoke' > "$payload/run.sh"
exec "$here/run-nested.sh" "$build" "$payload"
