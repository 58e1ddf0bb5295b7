#!/bin/busybox sh
# /init of the nested host: loads kvm-amd, checks /dev/kvm, runs /payload/run.sh (cwd /payload,
# KICK_GUEST_DIR=/guest holding bzImage and guest-initramfs.cpio.gz), prints
# "NESTED-EXIT: <status>" and powers off. Status 125 means the host itself could not get ready.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
# firmware escape sequences may precede our first line; keep NESTED-EXIT at a line start
echo "nested: init"

finish() {
    echo "NESTED-EXIT: $1"
    sync
    poweroff -f
}

for m in $(cat /etc/modules); do
    insmod "/lib/modules/$m.ko" || { echo "nested: insmod $m failed"; finish 125; }
done
[ -c /dev/kvm ] || { echo "nested: no /dev/kvm after loading kvm-amd"; finish 125; }
echo "nested: /dev/kvm ready ($(grep -c ^processor /proc/cpuinfo) cpus," \
     "nested paging $(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null))"
[ -f /payload/run.sh ] || { echo "nested: no /payload/run.sh"; finish 125; }

export KICK_GUEST_DIR=/guest
cd /payload || finish 125
sh ./run.sh
finish $?
