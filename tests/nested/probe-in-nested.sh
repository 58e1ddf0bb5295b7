#!/bin/bash
# Runs kick's bare-metal probe guest under `kick run` INSIDE the nested host (a real /dev/kvm), on
# kick's own virtio-pci devices (rng, blk, console, net): a second driver judging kick's devices.
# The payload is kick, the probe image and tests/probe/run-kick.sh, which boots the probe once per
# variant (transitional, modern, legacy, packed, packed-modern unless VARIANTs are named) and
# passes when every run's PROBE-SUMMARY says fail=0, kick exits 1 (the probe wrote 0 to the
# debug-exit port 0xf4) and each device's drive lines and console line are there.
# usage: probe-in-nested.sh [BUILDDIR] [KICK] [PROBE] [VARIANT...]
#   BUILDDIR: nested cache (default build/nested); KICK: default build/vmm/kick;
#   PROBE: the probe image (default build/guest/probe/kick-probe)
#   env: PROBE_DIRECT=1: run the payload here, on this machine's /dev/kvm (kvm-pvm runs the probe
#        fine: it touches few privileged instructions), instead of nested;
#        PROBE_TIMEOUT: seconds per run (default 120); NESTED_TIMEOUT: see run-nested.sh
set -euo pipefail
here=$(dirname "$0")
build=${1:-build/nested}; shift $(( $# > 0 ? 1 : 0 ))
kick=${1:-build/vmm/kick}; shift $(( $# > 0 ? 1 : 0 ))
probe=${1:-build/guest/probe/kick-probe}; shift $(( $# > 0 ? 1 : 0 ))
[ -x "$kick" ] || { echo "probe-in-nested: no kick executable at $kick (build it first)" >&2; exit 1; }
[ -f "$probe" ] || { echo "probe-in-nested: no probe image at $probe (ninja guest/probe/kick-probe)" >&2; exit 1; }
payload=$build/payload-probe
rm -rf "$payload"
mkdir -p "$payload"
cp "$kick" "$payload/kick"
cp "$probe" "$payload/kick-probe"
cp "$here/../probe/run-kick.sh" "$payload/run-kick.sh"
cat > "$payload/run.sh" <<RUN
#!/bin/sh
PROBE_LOGS=\${KICK_TMP:-/tmp}/kick-probe PROBE_TIMEOUT=${PROBE_TIMEOUT:-120} \\
    ./run-kick.sh ./kick ./kick-probe $*
rc=\$?
for f in \${KICK_TMP:-/tmp}/kick-probe/*.log; do
    grep -aE '^(FAIL|PROBE-SUMMARY|kick: guest|kick run:)' "\$f" | awk -v v="\$(basename "\$f" .log)" '{ print v "| " \$0 }'
done
exit \$rc
RUN
chmod +x "$payload/run.sh" "$payload/run-kick.sh"
if [ -n "${PROBE_DIRECT:-}" ]; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    rc=0
    (cd "$payload" && KICK_TMP=$tmp ./run.sh) || rc=$?
    echo "DIRECT-EXIT: $rc"
    exit "$rc"
fi
exec "$here/run-nested.sh" "$build" "$payload"
