# fio (Debian's, /usr/bin/fio) on the first writable vd* disk, libaio with direct I/O.
# kick.fio=verify (default): writes with crc32c verify headers and reads everything back,
#   failing on any verify error, I/O error or kernel I/O error message: 4 KiB random writes at
#   queue depth 32, the same area verified again by a second fio process, 64 KiB sequential
#   writes at depth 8, mixed 512 B..128 KiB random writes at depth 16, and a 4 KiB random read
#   pass. Uses the first 40 MiB of the disk. One summary line per job.
# kick.fio=bench: measures only, kick.fio_runtime=N seconds (default 3) per job: 4 KiB random
#   read and write at depth 1 and 32, 128 KiB sequential read at depth 8. Destroys the disk's
#   contents. Prints "fio: NAME iops=N bw=N KiB/s" per job.
# Outside a guest (the nested host's own file, in a chroot of this image): FIO_DEV=FILE,
# FIO_MODE, FIO_RUNTIME and FIO_DIRECT=0 (tmpfs has no O_DIRECT) replace the command line.
. /tests/lib.sh
FIO=/usr/bin/fio
mode=${FIO_MODE:-$(cmdline_opt kick.fio)}
mode=${mode:-verify}
runtime=${FIO_RUNTIME:-$(cmdline_opt kick.fio_runtime)}
runtime=${runtime:-3}
direct=${FIO_DIRECT:-1}
dev=${FIO_DEV:-}
if [ -z "$dev" ]; then
    for b in /sys/block/vd*; do
        [ -e "$b" ] && [ "$(cat "$b/ro")" = 0 ] || continue
        dev=/dev/${b##*/}
        break
    done
fi
[ -n "$dev" ] || fail "no writable virtio-blk disk"
[ -x "$FIO" ] || fail "no $FIO in this image"
case $mode in verify|bench) ;; *) fail "kick.fio=$mode: not verify or bench" ;; esac

# usage: job NAME FIO-OPTION...   runs one fio job on $dev; fails the test on a non-zero fio
# status or job error. Sets r_iops r_bw w_iops w_bw (KiB/s) from fio's terse (v3) line.
job() {
    name=$1; shift
    out=$("$FIO" --name="$name" --filename="$dev" --ioengine=libaio --direct="$direct" \
              --output-format=terse --terse-version=3 "$@" 2>/tmp/fio-err)
    rc=$?
    line=$(echo "$out" | grep '^3;' | tail -n 1)
    err=$(echo "$line" | cut -d';' -f5)
    if [ $rc -ne 0 ] || [ -z "$line" ] || [ "$err" != 0 ]; then
        echo "fio: $name: exit $rc, job error '${err:-none}'; fio said:"
        sed 's/^/fio|   /' /tmp/fio-err
        echo "$out" | grep -v '^3;' | sed 's/^/fio|   /'
        fail "fio $name on $dev: exit $rc, error ${err:-none}: $(grep -v '^$' /tmp/fio-err | head -n 1)"
    fi
    set -- $(echo "$line" | awk -F';' '{print $8, $7, $49, $48}')
    r_iops=$1 r_bw=$2 w_iops=$3 w_bw=$4
}

size=$(cat "/sys/block/${dev##*/}/size" 2>/dev/null || echo 0)
[ -f "$dev" ] && size=$(($(wc -c < "$dev") / 512))
echo "fio: $($FIO --version) on $dev ($((size / 2048)) MiB), mode $mode, direct=$direct"
if [ "$mode" = bench ]; then
    bytes=$((size * 512))
    for spec in randread-4k-qd1:randread:4k:1 randread-4k-qd32:randread:4k:32 \
                randwrite-4k-qd1:randwrite:4k:1 randwrite-4k-qd32:randwrite:4k:32 \
                seqread-128k-qd8:read:128k:8; do
        IFS=: read -r name rw bs qd <<EOF
$spec
EOF
        job "$name" --rw="$rw" --bs="$bs" --iodepth="$qd" --runtime="$runtime" --time_based \
            --ramp_time=500ms --norandommap --size="$bytes"
        case $rw in *write) iops=$w_iops bw=$w_bw ;; *) iops=$r_iops bw=$r_bw ;; esac
        [ "$iops" -gt 0 ] || fail "fio $name: no I/O completed"
        echo "fio: $name iops=$iops bw=$bw KiB/s"
    done
    exit 0
fi

[ "$size" -ge $((40 * 2048)) ] || [ -n "${FIO_DEV:-}" ] ||
    fail "$dev has $size sectors, the verify test needs 40 MiB"
[ -n "${FIO_DEV:-}" ] || dmesg -c > /dev/null 2>&1
verify="--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1"
summary() { # NAME: one line from the last job's numbers
    echo "fio: $1 write iops=$w_iops bw=$w_bw KiB/s, read iops=$r_iops bw=$r_bw KiB/s, verify ok"
}
job randwrite-4k-qd32 --rw=randwrite --bs=4k --size=8M --iodepth=32 $verify
[ "$w_iops" -gt 0 ] && [ "$r_iops" -gt 0 ] || fail "randwrite-4k-qd32: nothing written or verified"
summary randwrite-4k-qd32
# a new process reads the same blocks back: the data is on the disk, not in this fio's memory
job randwrite-4k-qd32 --rw=randwrite --bs=4k --size=8M --iodepth=32 $verify --verify_only=1
[ "$r_iops" -gt 0 ] || fail "randwrite-4k-qd32 verify_only: nothing read"
echo "fio: randwrite-4k-qd32 verified again by a new fio: read iops=$r_iops bw=$r_bw KiB/s"
job seqwrite-64k-qd8 --rw=write --bs=64k --offset=8M --size=8M --iodepth=8 $verify
summary seqwrite-64k-qd8
job randwrite-mixed-qd16 --rw=randwrite --bsrange=512-128k --offset=16M --size=8M \
    --iodepth=16 $verify
summary randwrite-mixed-qd16
job randread-4k-qd32 --rw=randread --bs=4k --offset=24M --size=16M --iodepth=32
[ "$r_iops" -gt 0 ] || fail "randread-4k-qd32: nothing read"
echo "fio: randread-4k-qd32 read iops=$r_iops bw=$r_bw KiB/s"
if [ -z "${FIO_DEV:-}" ] && dmesg 2>/dev/null | grep -iE 'I/O error|blk_update_request|virtio_blk|Buffer I/O' > /tmp/kmsg; then
    sed 's/^/fio| kernel: /' /tmp/kmsg
    fail "kernel reported block errors on $dev: $(head -n 1 /tmp/kmsg)"
fi
