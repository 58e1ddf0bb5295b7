#!/bin/bash
# Block benchmark (not a test): in ONE nested-host boot, `kick run` boots the guest images with a
# BENCH_DISK_MB raw image on virtio-blk and the guest runs guest-tests/fio.sh in bench mode
# (kick.test=fio kick.fio=bench), three times: kick as is, with --no-ioeventfd, with --no-irqfd.
# Multi-queue runs (BENCH_RUNS, not in the default set): cpus2-q1 and cpus2-q2 give kick two
# vCPUs and the disk one or two request queues (--disk queues=N), and run guest-tests/blkmq.sh
# in bench mode instead: the same five jobs, each as two fio jobs pinned to the two vCPUs (so in
# cpus2-q2 each carries one queue's I/O; the table shows their sums); cpus2-q2-1job is cpus2-q2
# with a single job, like the default run. Give the nested host two CPUs for these
# (NESTED_SMP=2, run-nested.sh's default).
# Then the same script and the same fio binary run on a file of the nested host itself (a chroot
# of the guest initramfs; buffered, since the host's rootfs has no O_DIRECT): the ceiling.
# Prints a table of IOPS and KiB/s per fio job, and per virtio-blk request, from kick's --verbose
# statistics: BAR exits, all vCPU exits, queue kicks by ioeventfd and MSIs (counts cover the
# whole run, boot included; the boot's few hundred requests are noise against the benchmark's).
# usage: bench-blk.sh [BUILDDIR] [KICK]   (defaults build/nested, build/vmm/kick)
#   env: BENCH_RUNTIME: seconds per fio job (default 3); BENCH_DISK_MB (default 64);
#        BENCH_RUNS: which kick runs, of "default no-ioeventfd no-irqfd cpus2-q1 cpus2-q2
#        cpus2-q2-1job" (default the first three);
#        KICK_TIMEOUT: seconds each kick run may take (default 300); NESTED_TIMEOUT: run-nested.sh
# Exit status: 0 if every kick run ended with KICK-VERDICT: PASS and exit 0 and the host run
# printed all its numbers. The console log is BUILDDIR/logs/nested.log.
set -euo pipefail
here=$(dirname "$0")
build=${1:-build/nested}
kick=${2:-build/vmm/kick}
runtime=${BENCH_RUNTIME:-3}
disk_mb=${BENCH_DISK_MB:-64}
runs=${BENCH_RUNS:-default no-ioeventfd no-irqfd}
[ -x "$kick" ] || { echo "bench-blk: no kick executable at $kick (build it first)" >&2; exit 1; }
payload=$build/payload-bench-blk
rm -rf "$payload"
mkdir -p "$payload"
cp "$kick" "$payload/kick"
cat > "$payload/run.sh" <<RUN
#!/bin/sh
T=/tmp
status=0
# usage: kick_run LABEL DISK-SUBOPTIONS GUEST-CMDLINE [KICK-OPTION...]; every output line
# prefixed "LABEL| "
kick_run() {
    label=\$1 dopts=\$2 gargs=\$3; shift 3
    dd if=/dev/zero of=\$T/disk.img bs=1048576 count=$disk_mb 2>/dev/null || return 1
    ( timeout -s TERM ${KICK_TIMEOUT:-300} ./kick run --verbose \\
          --disk path=\$T/disk.img,serial=kick-disk0\$dopts "\$@" \\
          --kernel "\$KICK_GUEST_DIR/bzImage" --initrd "\$KICK_GUEST_DIR/guest-initramfs.cpio.gz" \\
          --cmdline "console=ttyS0 quiet panic=-1 pci=noearly \$gargs kick.fio_runtime=$runtime" \\
          < /dev/null 2>&1
      echo "kick exit \$?" ) | sed "s/^/\$label| /" | tee \$T/\$label.log
    grep -q "^\$label| kick exit 0" \$T/\$label.log && grep -q "^\$label| KICK-VERDICT: PASS" \$T/\$label.log ||
        status=1
}
fio1="kick.test=fio kick.fio=bench"
mq="kick.test=blkmq kick.blkmq=bench"
for r in $runs; do
    case \$r in
        default) kick_run default "" "\$fio1" ;;
        no-ioeventfd) kick_run no-ioeventfd "" "\$fio1" --no-ioeventfd ;;
        no-irqfd) kick_run no-irqfd "" "\$fio1" --no-irqfd ;;
        cpus2-q1) kick_run cpus2-q1 ,queues=1 "\$mq kick.blkqueues=1 kick.fio_jobs=2" --cpus 2 ;;
        cpus2-q2) kick_run cpus2-q2 ,queues=2 "\$mq kick.fio_jobs=2" --cpus 2 ;;
        cpus2-q2-1job) kick_run cpus2-q2-1job ,queues=2 "\$mq kick.fio_jobs=1" --cpus 2 ;;
        *) echo "bench-blk: unknown run \$r"; status=1 ;;
    esac
done
rm -f \$T/disk.img
# the ceiling: the guest's own fio and fio.sh, on a file of this host's root file system
echo "host| root fs: \$(awk '\$2 == "/" {print \$3}' /proc/mounts | head -n 1)"
g=\$T/guest-root
mkdir -p \$g && (cd \$g && zcat "\$KICK_GUEST_DIR/guest-initramfs.cpio.gz" | cpio -id 2>/dev/null)
mount -t proc proc \$g/proc && mount --bind /dev \$g/dev || status=1
dd if=/dev/zero of=\$g/tmp/host.img bs=1048576 count=$disk_mb 2>/dev/null
chroot \$g /bin/busybox sh -c '/bin/busybox --install -s /bin; export PATH=/bin
    FIO_DEV=/tmp/host.img FIO_DIRECT=0 FIO_MODE=bench FIO_RUNTIME=$runtime sh /tests/fio.sh' 2>&1 |
    sed 's/^/host| /' | tee \$T/host.log
[ "\$(grep -c '^host| fio: .* iops=' \$T/host.log)" -eq 5 ] || status=1
umount \$g/proc \$g/dev
exit \$status
RUN
chmod +x "$payload/run.sh"
set +e
"$here/run-nested.sh" "$build" "$payload" > "$build/bench-blk-run.log" 2>&1
rc=$?
set -e
log=$build/logs/nested.log
[ -f "$log" ] || { echo "bench-blk: no log $log"; tail -20 "$build/bench-blk-run.log"; exit 1; }
grep -aE '^[a-z0-9-]+\| (fio: |blkmq: |KICK-VERDICT|kick exit|kick: 00:01\.0|kick: MSIs|kick: setup|root fs|FAIL)' \
    "$log" | grep -v 'fio: fio-' || true
grep -aE '^run-nested:' "$build/bench-blk-run.log" || true

# the table, from the log: one column per run, the host last
awk -v runs="$runs host" '
    function num(s) { sub(/[^0-9].*/, "", s); return s + 0 }
    /^[a-z0-9-]+\| (fio|blkmq): [a-z0-9-]+ .*iops=/ {
        run = $1; sub(/\|$/, "", run)
        name = $3
        for (i = 4; i <= NF; i++) {
            if ($i ~ /^iops=/) iops[run, name] = num(substr($i, 6))
            if ($i ~ /^bw=/) bw[run, name] = num(substr($i, 4))
        }
        if (!(name in seen)) { seen[name] = 1; order[++nj] = name }
    }
    /^[a-z0-9-]+\| kick: 00:01\.0 virtio-blk:/ {
        run = $1; sub(/\|$/, "", run)
        bar[run] = $5; kicks[run] = $8; msis[run] = $13
        for (i = 1; i <= NF; i++) if ($(i + 1) == "requests") req[run] = $i
    }
    /^[a-z0-9-]+\| kick: setup/ {
        run = $1; sub(/\|$/, "", run)
        for (i = 1; i <= NF; i++) if ($(i + 1) == "vCPU" && $(i + 2) == "exits") exits[run] = $i
    }
    /^[a-z0-9-]+\| kick: MSIs:/ {
        run = $1; sub(/\|$/, "", run); irqfd[run] = $4; sigmsi[run] = $7
    }
    END {
        nr = split(runs, r, " ")
        printf "\n%-22s", "fio job (IOPS / KiB/s)"
        for (k = 1; k <= nr; k++) printf "  %22s", r[k] == "host" ? "nested host (file)" : "kick " r[k]
        printf "\n"
        for (j = 1; j <= nj; j++) {
            printf "%-22s", order[j]
            for (k = 1; k <= nr; k++)
                if ((r[k], order[j]) in iops)
                    printf "  %22s", sprintf("%d / %d", iops[r[k], order[j]], bw[r[k], order[j]])
                else printf "  %22s", "-"
            printf "\n"
        }
        printf "\n%-22s", "per virtio-blk request"
        for (k = 1; k <= nr; k++) if (r[k] != "host") printf "  %22s", "kick " r[k]
        printf "\n"
        split("requests BAR-exits/req vCPU-exits/req ioeventfd-kicks/req MSIs/req MSIs-by-irqfd MSIs-by-ioctl", rows, " ")
        for (w = 1; w <= 7; w++) {
            printf "%-22s", rows[w]
            for (k = 1; k <= nr; k++) {
                x = r[k]; if (x == "host") continue
                n = req[x]
                if (n == 0) { printf "  %22s", "-"; continue }
                if (w == 1) v = sprintf("%d", n)
                else if (w == 2) v = sprintf("%.3f", bar[x] / n)
                else if (w == 3) v = sprintf("%.3f", exits[x] / n)
                else if (w == 4) v = sprintf("%.3f", kicks[x] / n)
                else if (w == 5) v = sprintf("%.3f", msis[x] / n)
                else if (w == 6) v = sprintf("%d", irqfd[x])
                else v = sprintf("%d", sigmsi[x])
                printf "  %22s", v
            }
            printf "\n"
        }
    }' "$log"
echo "bench-blk: nested run exit $rc (BENCH_RUNTIME=$runtime s per job, ${disk_mb} MiB disk)"
exit "$rc"
