#!/bin/bash
# Instructions per request on the device side and the driver side of the split
# and the packed ring (3-descriptor chain), counted by callgrind: repeatable whatever the
# machine's load. Only the library's own entry points are counted, inclusive
# of whatever they call, never the benchmark's glue around them:
#   device: virtq_pop + virtq_push + virtq_needs_irq
#   driver: vdrv_vq_add + vdrv_vq_kick_prepare + vdrv_vq_get_used
#           (packed: vdrv_pvq_add + vdrv_pvq_kick_prepare + vdrv_pvq_get_used;
#           the device calls are the same, the packed ring behind them)
# Then the same with requests in batches of 32 (qd=32 lines: 32 adds, one kick
# decision, 32 pops, 32 pushes, one interrupt decision, 32 reclaims; per
# request, the batch's decisions shared out). The QD1 lines stay the headline.
# Then requests per second natively (noisy; for ratios only).
# Usage: bench/callgrind.sh [BUILD_DIR] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
n=${2:-100000}
bin=$dir/bench/bench_virtq
# Always rebuild the benchmark: stale binaries give stale counts.
if [ -f "$dir/build.ninja" ]; then ninja -C "$dir" bench/bench_virtq >/dev/null; else scripts/build.sh "$dir"; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

device_fns=(virtq_pop virtq_push virtq_needs_irq)
split_driver_fns=(vdrv_vq_add vdrv_vq_kick_prepare vdrv_vq_get_used)
packed_driver_fns=(vdrv_pvq_add vdrv_pvq_kick_prepare vdrv_pvq_get_used)

count() { # toggle-collect function(s) -> total instructions (inclusive)
    local args=() f
    for f in "$@"; do args+=("--toggle-collect=$f"); done
    valgrind --tool=callgrind --collect-atstart=no "${args[@]}" \
        --callgrind-out-file="$tmp/cg.out" "$bin" "$nr" "$event_idx" "$ring" "$qd" >/dev/null 2>"$tmp/vg.log" \
        || { cat "$tmp/vg.log" >&2; exit 1; }
    callgrind_annotate "$tmp/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}'
}

per_req() { awk -v a="$1" -v n="$nr" 'BEGIN{printf "%.1f", a/n}'; }

for qd in 1 32; do
nr=$((n - n % qd)) # whole batches
[ "$qd" = 1 ] && label="" || label=" qd=$qd"
for ring in split packed; do
ring_driver_fns=${ring}_driver_fns[@]
driver_fns=("${!ring_driver_fns}")
for event_idx in 1 0; do
    for side in device driver; do
        declare -n fns=${side}_fns
        total=$(count "${fns[@]}")
        split="" sum=0
        for f in "${fns[@]}"; do
            c=$(count "$f")
            sum=$((sum + c))
            split+=" $f=$(per_req "$c")"
        done
        unset -n fns
        echo "$ring$label event_idx=$event_idx ${side}_instructions_per_request=$(per_req "$total")$split"
        # Toggling is per call, so a function reached inside another would be
        # counted twice or not at all: the parts must add up to the whole.
        [ "$sum" = "$total" ] || { echo "callgrind.sh: $ring $side parts ($sum) != whole ($total)" >&2; exit 1; }
    done
done
done
done
echo "targets: device <= 150, driver <= 100 per request at qd=1 (every check in place)"
for qd in 1 32; do
    for ring in split packed; do
        for event_idx in 1 0; do
            "$bin" 2000000 "$event_idx" "$ring" "$qd" | tr '\n' ' ' | sed 's/^/native /; s/ $/\n/'
        done
    done
done
