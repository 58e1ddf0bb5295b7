#!/bin/bash
# Instructions per request on the device side and the driver side of the split
# ring (3-descriptor chain), counted by callgrind: repeatable whatever the
# machine's load. Then requests per second natively (noisy; for ratios only).
# Usage: bench/callgrind.sh [BUILD_DIR] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
n=${2:-100000}
bin=$dir/bench/bench_virtq
[ -x "$bin" ] || scripts/build.sh "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

count() { # toggle-collect function(s) -> total instructions
    local args=() f
    for f in "$@"; do args+=("--toggle-collect=$f"); done
    valgrind --tool=callgrind --collect-atstart=no "${args[@]}" \
        --callgrind-out-file="$tmp/cg.out" "$bin" "$n" "$event_idx" >/dev/null 2>"$tmp/vg.log" \
        || { cat "$tmp/vg.log" >&2; exit 1; }
    callgrind_annotate "$tmp/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}'
}

for event_idx in 1 0; do
    dev=$(count bench_device_round)
    drv=$(count bench_driver_add bench_driver_reclaim)
    echo "split event_idx=$event_idx device_instructions_per_request=$(awk -v a="$dev" -v n="$n" 'BEGIN{printf "%.1f", a/n}')"
    echo "split event_idx=$event_idx driver_instructions_per_request=$(awk -v a="$drv" -v n="$n" 'BEGIN{printf "%.1f", a/n}')"
done
echo "targets: device <= 150, driver <= 100 (every check in place)"
"$bin" 2000000 1 | sed 's/^/native /'
