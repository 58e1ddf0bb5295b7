#!/bin/sh
# Boots kick's bare-metal probe guest (a multiboot image) under `kick run` on
# kick's own virtio-pci devices and judges each run: kick must exit 1 (the
# probe wrote 0 to the isa-debug-exit-compatible port 0xf4: every rule
# passed), the guest's PROBE-SUMMARY must say fail=0 with no FAIL line, the
# lines proving each device was driven (and took INTx as a real interrupt
# through the IOAPIC) must be there, and the probe's line on kick's virtio
# console (port 0, kick's stdout) must have arrived.
#
#   tests/probe/run-kick.sh KICK IMAGE [VARIANT...]
#
# VARIANTs: transitional (kick's default: both interfaces), modern, legacy
# (--transport ...), packed (--packed, transitional), packed-modern, and
# hostile (the probe's hostile mode, strict: every broken chain against rng
# and blk must end in NEEDS_RESET unless the device may serve it, then the
# device must recover after a reset and the other keep working); default:
# all six. POSIX sh and busybox tools only: it is also the payload of
# tests/nested/probe-in-nested.sh. Logs go to $PROBE_LOGS (default /tmp/kick-probe).
# PROBE_TIMEOUT: seconds per run (default 120). Exit 0 only if every run passed.
kick=$1 image=$2
shift 2
[ $# -eq 0 ] && set -- transitional modern legacy packed packed-modern hostile
logs=${PROBE_LOGS:-/tmp/kick-probe}
timeout_s=${PROBE_TIMEOUT:-120}
sectors=2048
mkdir -p "$logs"
rc=0

# The hostile cases (guest/probe/hostile_cases.c), one per line.
hostile_cases="control: a conforming chain written by hand
descriptor loop (next points back)
chain longer than the queue size (every descriptor, then back)
indirect chain longer than the queue size
indirect descriptor inside an indirect table
zero-length indirect table
buffer address past guest RAM
buffer wrapping past 2^64
avail idx more than the queue size ahead"

# The INTx lines (guest/probe/irq_intx.c) every device must pass in the
# modern and legacy modes (extended regexes).
intx_lines="INTx: one used buffer raises exactly one interrupt on vector
INTx: level-triggered: unmasking with the ISR unread delivers again, once
INTx: ISR read returns the queue bit
INTx: no storm: after the ISR read deasserted the line
INTx: with Interrupt Disable set a used buffer raises no interrupt
INTx: Interrupt Status set with Interrupt Disable: the interrupt shows pending
INTx: clearing Interrupt Disable delivers the pending interrupt once"

hostile_missing() { # log
    for t in rng blk; do
        other=blk
        [ $t = blk ] && other=rng
        echo "$hostile_cases" | while IFS= read -r c; do
            for want in "$t hostile: $c: recovered after reset" "$other hostile: still works after $t $c: "; do
                grep -a '^PASS ' "$1" | grep -aqF "$want" || echo "missing PASS '$want'"
            done
        done
    done
}

run_variant() { # variant
    v=$1 log=$logs/$1.log img=$logs/$1-blk.img extra=""
    case $v in
    transitional) opts="" modes="modern legacy" ;;
    modern) opts="--transport modern" modes="modern" extra=" tsc-readback" ;;
    legacy) opts="--transport legacy" modes="legacy" extra=" intx-line" ;;
    packed) opts="--packed" modes="modern packed legacy" ;;
    packed-modern) opts="--packed --transport modern" modes="modern packed" ;;
    hostile) opts="" modes="" extra=" hostile-strict" ;;
    *) echo "probe $v: unknown variant"; return 1 ;;
    esac
    dd if=/dev/zero of="$img" bs=512 count=$sectors 2>/dev/null
    t0=$(cut -d' ' -f1 /proc/uptime)
    # shellcheck disable=SC2086 # opts are words
    timeout -s KILL "$timeout_s" "$kick" run --verbose --kernel "$image" \
        --cmdline "kick.blk-sectors=$sectors$extra" --rng --disk "path=$img" --console virtio \
        --net user $opts </dev/null >"$log" 2>&1
    status=$?
    t1=$(cut -d' ' -f1 /proc/uptime)
    secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
    problems=""
    summary=$(grep -aE '^PROBE-SUMMARY: pass=[0-9]+ fail=[0-9]+' "$log" | tail -1 | tr -d '\r')
    [ -n "$summary" ] || problems="$problems|no PROBE-SUMMARY line"
    case $summary in *" fail=0") ;; *) problems="$problems|summary: $summary" ;; esac
    [ "$status" -eq 1 ] || problems="$problems|kick exit $status (want 1: the probe wrote 0 to port 0xf4)"
    nfail=$(grep -ac '^FAIL ' "$log")
    [ "$nfail" -eq 0 ] || problems="$problems|$nfail FAIL line(s): $(grep -a '^FAIL ' "$log" | head -3 | tr '\n' ';')"
    : >"$logs/$v.missing"
    for tok in $modes; do
        m=$tok
        [ "$tok" = packed ] && m="modern packed"
        for t in rng blk console net; do
            req="^PASS [0-9a-f:.]+ $t $m: ISR read-to-clear"
            grep -aqE "$req" "$log" || echo "missing /$req/" >>"$logs/$v.missing"
            case $t in
            rng) req="^PASS [0-9a-f:.]+ rng $m: rng bytes not all zero" ;;
            blk) req="^PASS [0-9a-f:.]+ blk $m: blk read back the pattern written" ;;
            console) req="^PASS [0-9a-f:.]+ console $m: console line written" ;;
            net) req="^PASS [0-9a-f:.]+ net $m: net frame sent" ;;
            esac
            grep -aqE "$req" "$log" || echo "missing /$req/" >>"$logs/$v.missing"
            if [ "$tok" != packed ]; then
                # the legacy run finds the IOAPIC pin by the Interrupt Line
                # register, the others by kick's MP table
                how="MP table I/O interrupt entry: bus 0 irq 0x[0-9a-f]{2} flags 0xf \\(active low, level\\)"
                [ "$v" = legacy ] && how="Interrupt Line register, PCI's level/active low"
                printf '%s\n' "INTx: INT[A-D]# reaches IOAPIC.* found by the $how" "$intx_lines" |
                while IFS= read -r l; do
                    req="^PASS [0-9a-f:.]+ $t $m: $l"
                    grep -aqE "$req" "$log" || echo "missing /$req/"
                done >>"$logs/$v.missing"
            fi
            [ "$tok" = packed ] || continue
            req="^PASS [0-9a-f:.]+ $t modern packed: ring layout negotiated: packed"
            grep -aqE "$req" "$log" || echo "missing /$req/" >>"$logs/$v.missing"
        done
        # port 0 of kick's virtio console is kick's stdout, as is COM1
        grep -aq "^kick-probe console $m" "$log" ||
            echo "no 'kick-probe console $m' line through kick's virtio console" >>"$logs/$v.missing"
    done
    [ "$v" = hostile ] && hostile_missing "$log" >>"$logs/$v.missing"
    # The TSC frequency, so latency reads in microseconds; the modern run
    # measures it by the PIT's channel 0 read back instead of channel 2.
    src='(CPUID|PIT channel 2)'
    [ "$v" = modern ] && src='PIT channel 0 readback'
    req="^INFO: TSC [1-9][0-9]{8,} Hz \\($src\\)"
    grep -aqE "$req" "$log" || echo "missing /$req/" >>"$logs/$v.missing"
    case " $modes " in
    *" modern "*)
        for t in rng blk; do
            for m in msix poll; do
                req="^LATENCY $t $m n=[0-9]+ median=[0-9]+\\.[0-9]{2}us p99=[0-9]+\\.[0-9]{2}us tsc="
                grep -aqE "$req" "$log" || echo "missing /$req/" >>"$logs/$v.missing"
            done
        done ;;
    esac
    if [ "${modes#*packed}" != "$modes" ]; then
        for req in "blk modern packed: blk read back the pattern written through an indirect table" \
                   "blk modern packed: both requests used after one kick" \
                   "rng modern packed: both requests used after one kick"; do
            grep -aq "^PASS [0-9a-f:.]* $req" "$log" || echo "missing '$req'" >>"$logs/$v.missing"
        done
    fi
    [ -s "$logs/$v.missing" ] && problems="$problems|$(tr '\n' '|' <"$logs/$v.missing")"
    if [ -z "$problems" ]; then
        echo "probe-kick $v: PASS ($summary, ${secs}s)"
        return 0
    fi
    echo "probe-kick $v: FAIL (${secs}s, log $log)"
    echo "$problems" | tr '|' '\n' | grep -v '^$' | sed 's/^/    /'
    return 1
}

for v in "$@"; do
    run_variant "$v" || rc=1
done
exit $rc
