#!/bin/bash
# Boots kick's bare-metal probe guest under QEMU TCG on QEMU's own virtio-pci
# devices and judges the run: QEMU must exit through isa-debug-exit, the
# guest must print PROBE-SUMMARY, every FAIL line must be a known QEMU
# deviation (qemu-deviations.txt), the lines proving each device was driven
# (and, MSI-X off, took INTx as a real interrupt through the IOAPIC) must be
# there, and the console line / network frame must reach the host.
#
#   tests/probe/run-qemu.sh [--no-build] [BUILD] [PROFILE...]
#
# BUILD is a meson build directory (default build); the image is built there
# with ninja unless --no-build. PROFILEs: modern, transitional, legacy,
# packed, hostile (each runs its -msix and -intx variants), one variant such
# as legacy-intx, highbar (a 2 GiB ivshmem BAR pushes the firmware to put
# 64-bit BARs above 4 GiB), or all (the default: every one of them).
# hostile: the probe's hostile mode on a modern rng and blk (broken chains;
# each device must survive and recover, the other must keep working).
# packed: modern devices with packed=on, driven over split queues and then
# over packed ones; two rngs, one without EVENT_IDX and INDIRECT_DESC, so both
# event suppression schemes are seen. Exit 0 only if every run passed. Logs: BUILD/probe-runs/.
#
# isa-debug-exit convention: the guest writes 0 when every rule passed (QEMU
# exits 1) and 1 otherwise (QEMU exits 3); anything else is a crash/timeout.
# PROBE_DEVIATIONS overrides the deviations file, PROBE_TIMEOUT (s) each run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi
bdir=${1:-build}; [ $# -gt 0 ] && shift
profiles=("$@"); [ ${#profiles[@]} -eq 0 ] && profiles=(all)
TIMEOUT=${PROBE_TIMEOUT:-120}
BLK_SECTORS=2048
QEMU=${QEMU:-qemu-system-x86_64}

command -v "$QEMU" >/dev/null || { echo "run-qemu: $QEMU not found (apt-get install qemu-system-x86)" >&2; exit 77; }
if [ $build = 1 ]; then
    ninja -C "$bdir" guest/probe/kick-probe >/dev/null || { echo "run-qemu: build failed in $bdir" >&2; exit 1; }
fi
image=$bdir/guest/probe/kick-probe
[ -f "$image" ] || { echo "run-qemu: no image $image" >&2; exit 1; }

variants=()
for p in "${profiles[@]}"; do
    case $p in
    all) variants+=(modern-msix modern-intx transitional-msix transitional-intx legacy-msix legacy-intx
                    packed-msix packed-intx highbar hostile-msix hostile-intx) ;;
    modern|transitional|legacy|packed|hostile) variants+=("$p-msix" "$p-intx") ;;
    modern-msix|modern-intx|transitional-msix|transitional-intx|legacy-msix|legacy-intx|packed-msix|packed-intx|highbar|hostile-msix|hostile-intx) variants+=("$p") ;;
    *) echo "run-qemu: unknown profile '$p'" >&2; exit 2 ;;
    esac
done

# The hostile cases (guest/probe/hostile_cases.c), each run against rng and
# blk; every one must end in a "recovered after reset" line.
HOSTILE_CASES=("control: a conforming chain written by hand"
               "descriptor loop (next points back)"
               "chain longer than the queue size (every descriptor, then back)"
               "indirect chain longer than the queue size"
               "indirect descriptor inside an indirect table"
               "zero-length indirect table"
               "buffer address past guest RAM"
               "buffer wrapping past 2^64"
               "avail idx more than the queue size ahead")

# The INTx lines (guest/probe/irq_intx.c) every device must pass in every
# mode driven with a split ring (MSI-X is off for them in -msix runs too).
INTX_LINES=("INTx: one used buffer raises exactly one interrupt on vector"
            "INTx: level-triggered: unmasking with the ISR unread delivers again, once"
            "INTx: ISR read returns the queue bit"
            "INTx: no storm: after the ISR read deasserted the line"
            "INTx: with Interrupt Disable set a used buffer raises no interrupt"
            "INTx: Interrupt Status set with Interrupt Disable: the interrupt shows pending"
            "INTx: clearing Interrupt Disable delivers the pending interrupt once")

ere_quote() { printf '%s' "$1" | sed 's/[][\\.*^$()+?{}|]/\\&/g'; }

# Device arguments and the lines a passing run must contain, per variant.
setup_variant() { # variant workdir
    local v=$1 w=$2 kind=${1%-*} irq=${1#*-} opt vec=""
    [ "$irq" = intx ] && vec=",vectors=0"
    append="kick.blk-sectors=$BLK_SECTORS"
    truncate -s 0 "$w/blk.img"; truncate -s $((BLK_SECTORS * 512)) "$w/blk.img"
    : >"$w/console.out"; rm -f "$w/net.pcap"
    devs=(-drive "file=$w/blk.img,format=raw,if=none,id=blk0")
    case $kind in
    modern)
        opt=",disable-legacy=on"
        devs+=(-device "virtio-rng-pci$opt$vec" -device "virtio-blk-pci,drive=blk0$opt$vec")
        # One run calibrates the TSC by the PIT's channel 0 read back, the
        # way left when port 0x61 does not gate channel 2.
        [ "$irq" = msix ] && append+=" tsc-readback"
        modes=(modern); types=(rng blk) ;;
    transitional|legacy)
        opt=""; modes=(modern legacy)
        [ "$kind" = legacy ] && { opt=",disable-modern=on"; modes=(legacy); }
        # One run finds the IOAPIC pin by the Interrupt Line register, the
        # way left without an MP table entry.
        [ "$kind" = legacy ] && [ "$irq" = msix ] && append+=" intx-line"
        devs+=(-device "virtio-rng-pci$opt$vec" -device "virtio-blk-pci,drive=blk0$opt$vec"
               -chardev "file,id=con0,path=$w/console.out"
               -device "virtio-serial-pci$opt$vec" -device "virtconsole,chardev=con0"
               -netdev "user,id=net0,restrict=on" -device "virtio-net-pci,netdev=net0$opt$vec"
               -object "filter-dump,id=dump0,netdev=net0,file=$w/net.pcap")
        types=(rng blk console net) ;;
    packed)
        opt=",disable-legacy=on,packed=on"
        devs+=(-device "virtio-rng-pci$opt$vec" -device "virtio-rng-pci$opt$vec,event_idx=off,indirect_desc=off"
               -device "virtio-blk-pci,drive=blk0$opt$vec"
               -chardev "file,id=con0,path=$w/console.out"
               -device "virtio-serial-pci$opt$vec" -device "virtconsole,chardev=con0"
               -netdev "user,id=net0,restrict=on" -device "virtio-net-pci,netdev=net0$opt$vec"
               -object "filter-dump,id=dump0,netdev=net0,file=$w/net.pcap")
        modes=(modern "modern packed"); types=(rng blk console net) ;;
    hostile)
        opt=",disable-legacy=on"
        devs+=(-device "virtio-rng-pci$opt$vec" -device "virtio-blk-pci,drive=blk0$opt$vec")
        append+=" hostile"
        modes=(); types=() ;;
    highbar)
        devs+=(-object "memory-backend-ram,id=shm0,size=2G" -device "ivshmem-plain,memdev=shm0"
               -device virtio-rng-pci -device "virtio-blk-pci,drive=blk0,disable-legacy=on")
        modes=(modern); types=(rng blk) ;;
    esac
    # The TSC frequency, so latency reads in microseconds (QEMU's qemu64 CPU
    # has no CPUID frequency leaf: the PIT measures it).
    required=("^INFO: TSC [1-9][0-9]{8,} Hz \\((CPUID|PIT channel 2)\\)")
    [[ $append == *tsc-readback* ]] && required=("^INFO: TSC [1-9][0-9]{8,} Hz \\(PIT channel 0 readback\\)")
    if [ "$irq" = msix ] && [[ " ${modes[*]} " == *" modern "* ]]; then
        local t m
        for t in rng blk; do
            for m in msix poll; do
                required+=("^LATENCY $t $m n=[0-9]+ median=[0-9]+\\.[0-9]{2}us p99=[0-9]+\\.[0-9]{2}us tsc=")
            done
        done
    fi
    [ "$kind" = highbar ] && required+=("^INFO [0-9a-f:.]+ blk: BAR4 mem64 base 0x[1-9a-f][0-9a-f]{8,} ")
    if [ "$kind" = packed ]; then
        local pk="^PASS [0-9a-f:.]+"
        required+=("$pk rng modern packed: rng [0-9]+ reads over a 3-entry ring, 3 laps"
                   "$pk rng modern packed: kick decision follows the device event structure .*ENABLE off"
                   "$pk rng modern packed: both requests used after one kick"
                   "$pk blk modern packed: kick decision follows the device event structure for request 1 .*DESC off .*kick no"
                   "$pk blk modern packed: both requests used after one kick"
                   "$pk blk modern packed: kick decisions followed the device event structure .*DESC [1-9]"
                   "$pk (console|net) modern packed: kick decisions followed the device event structure"
                   "$pk rng modern packed: no used buffer notification while the driver event flags say DISABLE"
                   "$pk rng modern packed: used buffer notification with the driver event ENABLE"
                   "$pk rng modern packed: used buffer notification with the driver event DESC"
                   "$pk rng modern packed: no used buffer notification for the buffer at"
                   "$pk rng modern packed: used buffer notification once the buffer at"
                   "$pk blk modern packed: queue 0 keeps the packed size 5"
                   "$pk blk modern packed: blk read back the pattern written through an indirect table")
    fi
    if [ "$kind" = hostile ]; then
        local t c other q
        for t in rng blk; do
            other=blk; [ $t = blk ] && other=rng
            for c in "${HOSTILE_CASES[@]}"; do
                q=$(ere_quote "$c")
                required+=("^PASS [0-9a-f:.]+ $t hostile: $q: recovered after reset"
                           "^PASS [0-9a-f:.]+ $other hostile: still works after $t $q: ")
            done
        done
    fi
    for m in "${modes[@]}"; do
        for t in "${types[@]}"; do
            required+=("^PASS [0-9a-f:.]+ $t $m: ISR read-to-clear")
            case $t in
            rng) required+=("^PASS [0-9a-f:.]+ rng $m: rng bytes not all zero") ;;
            blk) required+=("^PASS [0-9a-f:.]+ blk $m: blk read back the pattern written") ;;
            console) required+=("^PASS [0-9a-f:.]+ console $m: console line written") ;;
            net) required+=("^PASS [0-9a-f:.]+ net $m: net frame sent") ;;
            esac
            [ "$m" = "modern packed" ] && continue
            local l how="MP table I/O interrupt entry: bus 0 irq 0x[0-9a-f]{2} flags"
            [[ $append == *intx-line* ]] && how="Interrupt Line register, PCI's level/active low"
            required+=("^PASS [0-9a-f:.]+ $t $m: INTx: INT[A-D]# reaches IOAPIC.* found by the $how")
            for l in "${INTX_LINES[@]}"; do
                required+=("^PASS [0-9a-f:.]+ $t $m: $l")
            done
        done
    done
}

known_deviation() { # fail-line (without "FAIL ")
    local line=$1 re
    while IFS= read -r entry; do
        case $entry in ''|'#'*) continue ;; esac
        re=${entry%% :: *}
        [[ $line =~ $re ]] && return 0
    done <"${PROBE_DEVIATIONS:-$here/qemu-deviations.txt}"
    return 1
}

run_variant() { # variant
    local v=$1 w=$bdir/probe-runs/$1 status log problems=() start end
    mkdir -p "$w"; log=$w/console.log
    setup_variant "$v" "$w"
    start=$(date +%s.%N)
    timeout "$TIMEOUT" "$QEMU" -accel tcg -machine pc -m 256 -nodefaults -vga none -nographic \
        -no-reboot -serial stdio -display none -monitor none \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -kernel "$image" -append "$append" "${devs[@]}" \
        </dev/null >"$log" 2>"$w/qemu.err"
    status=$?
    end=$(date +%s.%N)
    tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
    local summary; summary=$(grep -aE '^PROBE-SUMMARY: pass=[0-9]+ fail=[0-9]+$' "$log" | tail -1)
    [ -n "$summary" ] || problems+=("no PROBE-SUMMARY line")
    [ $status -eq 1 ] || [ $status -eq 3 ] || problems+=("QEMU exit $status (not via isa-debug-exit: crash or timeout)")
    local fails; fails=$(echo "$summary" | sed -n 's/.*fail=\([0-9]*\)$/\1/p')
    if [ -n "$fails" ]; then
        { [ "$fails" = 0 ] && [ $status -eq 1 ]; } || { [ "$fails" != 0 ] && [ $status -eq 3 ]; } ||
            problems+=("exit $status disagrees with $summary")
    fi
    local nfail_seen=0 ndev=0
    while IFS= read -r line; do
        nfail_seen=$((nfail_seen + 1))
        if known_deviation "${line#FAIL }"; then ndev=$((ndev + 1)); else problems+=("unexpected: $line"); fi
    done < <(grep -a '^FAIL ' "$log")
    [ -z "$fails" ] || [ "$fails" = "$nfail_seen" ] || problems+=("summary says fail=$fails, $nfail_seen FAIL lines")
    for re in "${required[@]}"; do
        grep -aqE "$re" "$log" || problems+=("missing line /$re/")
    done
    for m in "${modes[@]}"; do
        if [[ " ${types[*]} " == *" console "* ]]; then
            grep -q "^kick-probe console $m\$" "$w/console.out" || problems+=("host console got no 'kick-probe console $m' line")
        fi
        if [[ " ${types[*]} " == *" net "* ]]; then
            grep -aq "kick-probe net $m" "$w/net.pcap" 2>/dev/null || problems+=("no 'kick-probe net $m' frame in net.pcap")
        fi
    done
    local secs; secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    if [ ${#problems[@]} -eq 0 ]; then
        echo "probe $v: PASS ($summary, $ndev known QEMU deviation(s), ${secs}s)"
        return 0
    fi
    echo "probe $v: FAIL (${secs}s, log $log)"
    for p in "${problems[@]}"; do echo "    $p"; done
    return 1
}

rc=0
for v in "${variants[@]}"; do
    run_variant "$v" || rc=1
done
exit $rc
