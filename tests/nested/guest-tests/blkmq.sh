# virtio-blk with several request queues (VIRTIO_BLK_F_MQ; kick run gives a disk one queue per
# vCPU unless --disk queues=N says otherwise). On the first writable vd* disk:
#  - /sys/block/vdX/mq holds kick.blkqueues=N hardware queues (default: one per online CPU),
#    and /proc/interrupts one virtioK-req.Q vector per queue;
#  - fio's crc32c verify runs one job per queue, each pinned to a CPU of that queue's cpu_list,
#    4 KiB random writes at depth 16 and the read-back, then 64 KiB sequential ones; every
#    job must pass and every queue's vector must have fired during it.
# kick.blkmq=bench measures instead (destroys the disk's contents), kick.fio_runtime=N seconds
# (default 3) per job: 4 KiB randread/randwrite at depth 1 and 32 and 128 KiB sequential read at
# depth 8, each with kick.fio_jobs=J jobs (default: one per queue) pinned like above; prints
# "blkmq: NAME jobs=J iops=N bw=N KiB/s" (sums over the jobs).
. /tests/lib.sh
FIO=/usr/bin/fio
dev=
for b in /sys/block/vd*; do
    [ -e "$b" ] && [ "$(cat "$b/ro")" = 0 ] || continue
    dev=${b##*/}
    break
done
[ -n "$dev" ] || fail "no writable virtio-blk disk"
[ -x "$FIO" ] || fail "no $FIO in this image"
ncpu=$(grep -c '^processor' /proc/cpuinfo)
want=$(cmdline_opt kick.blkqueues)
want=${want:-$ncpu}
nq=$(ls -d /sys/block/$dev/mq/[0-9]* 2>/dev/null | wc -l)
vdev=$(basename "$(readlink -f /sys/block/$dev/device)")
echo "blkmq: /dev/$dev on $vdev, $ncpu CPU(s), $nq hardware queue(s):" \
     "$(for q in /sys/block/$dev/mq/[0-9]*; do printf '%s=cpus %s ' "${q##*/}" "$(cat "$q/cpu_list")"; done)"
[ "$nq" -eq "$want" ] || fail "/dev/$dev has $nq hardware queues, want $want"

# irq_count Q: interrupts of queue Q's vector so far, all CPUs
irq_count() {
    awk -v n="$vdev-req.$1" 'NR == 1 {ncpu = NF} $NF == n {s = 0; for (i = 2; i <= ncpu + 1; i++) s += $i; print s; f = 1}
                             END {if (!f) print -1}' /proc/interrupts
}
q=0
while [ $q -lt "$nq" ]; do
    [ "$(irq_count $q)" -ge 0 ] || fail "no '$vdev-req.$q' vector in /proc/interrupts (MSI-X per queue)"
    q=$((q + 1))
done

# first CPU of each hardware queue, in queue order: "cpu0 cpu1 ..."
cpus=
for q in $(ls -d /sys/block/$dev/mq/[0-9]* | sed 's,.*/,,' | sort -n); do
    cpus="$cpus $(cut -d, -f1 /sys/block/$dev/mq/$q/cpu_list | cut -d- -f1)"
done

# usage: run_jobs NAME COUNT FIO-OPTION...: COUNT jobs, job j pinned to the CPU of queue j mod nq,
# each on its own 8 MiB region; fails on any error. Sums r_iops r_bw w_iops w_bw over the jobs.
run_jobs() {
    name=$1 count=$2; shift 2
    args=
    j=0
    while [ $j -lt "$count" ]; do
        c=$(echo $cpus | cut -d' ' -f$((j % nq + 1)))
        args="$args --name=$name.$j --cpus_allowed=$c --offset=$((j * 8))M"
        j=$((j + 1))
    done
    out=$("$FIO" --filename=/dev/$dev --ioengine=libaio --direct=1 --output-format=terse \
              --terse-version=3 "$@" $args 2>/tmp/fio-err)
    rc=$?
    lines=$(echo "$out" | grep -c '^3;')
    errs=$(echo "$out" | grep '^3;' | cut -d';' -f5 | grep -vc '^0$')
    if [ $rc -ne 0 ] || [ "$lines" -ne "$count" ] || [ "$errs" -ne 0 ]; then
        sed 's/^/fio|   /' /tmp/fio-err
        echo "$out" | grep -v '^3;' | sed 's/^/fio|   /'
        fail "fio $name x$count on /dev/$dev: exit $rc, $lines job line(s), $errs with errors: $(grep -v '^$' /tmp/fio-err | head -n 1)"
    fi
    set -- $(echo "$out" | grep '^3;' | awk -F';' '{ri += $8; rb += $7; wi += $49; wb += $48}
                                                   END {print ri, rb, wi, wb}')
    r_iops=$1 r_bw=$2 w_iops=$3 w_bw=$4
}

if [ "$(cmdline_opt kick.blkmq)" = bench ]; then
    runtime=$(cmdline_opt kick.fio_runtime)
    runtime=${runtime:-3}
    jobs=$(cmdline_opt kick.fio_jobs)
    jobs=${jobs:-$nq}
    for spec in randread-4k-qd1:randread:4k:1 randread-4k-qd32:randread:4k:32 \
                randwrite-4k-qd1:randwrite:4k:1 randwrite-4k-qd32:randwrite:4k:32 \
                seqread-128k-qd8:read:128k:8; do
        IFS=: read -r name rw bs qd <<EOF
$spec
EOF
        run_jobs "$name" "$jobs" --rw="$rw" --bs="$bs" --iodepth="$qd" --runtime="$runtime" \
            --time_based --ramp_time=500ms --norandommap --size=8M
        case $rw in *write) iops=$w_iops bw=$w_bw ;; *) iops=$r_iops bw=$r_bw ;; esac
        [ "$iops" -gt 0 ] || fail "fio $name: no I/O completed"
        echo "blkmq: $name jobs=$jobs queues=$nq iops=$iops bw=$bw KiB/s"
    done
    exit 0
fi

dmesg -c > /dev/null 2>&1
before=
q=0
while [ $q -lt "$nq" ]; do before="$before $(irq_count $q)"; q=$((q + 1)); done
verify="--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1"
run_jobs randwrite-4k-qd16 "$nq" --rw=randwrite --bs=4k --size=8M --iodepth=16 $verify
[ "$w_iops" -gt 0 ] && [ "$r_iops" -gt 0 ] || fail "randwrite-4k-qd16: nothing written or verified"
echo "blkmq: randwrite-4k-qd16 x$nq jobs: write iops=$w_iops, read iops=$r_iops, verify ok"
run_jobs seqwrite-64k-qd8 "$nq" --rw=write --bs=64k --size=8M --iodepth=8 $verify
echo "blkmq: seqwrite-64k-qd8 x$nq jobs: write bw=$w_bw KiB/s, read bw=$r_bw KiB/s, verify ok"
q=0
deltas=
for b in $before; do
    d=$(($(irq_count $q) - b))
    deltas="$deltas req.$q+$d"
    [ "$d" -gt 0 ] || fail "queue $q's vector $vdev-req.$q did not fire during fio (deltas:$deltas)"
    q=$((q + 1))
done
echo "blkmq: every queue's vector fired during fio:$deltas"
if dmesg 2>/dev/null | grep -iE 'I/O error|blk_update_request|virtio_blk|Buffer I/O' > /tmp/kmsg; then
    sed 's/^/blkmq| kernel: /' /tmp/kmsg
    fail "kernel reported block errors on /dev/$dev: $(head -n 1 /tmp/kmsg)"
fi
