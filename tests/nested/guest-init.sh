#!/bin/busybox sh
# /init of the guest initramfs kick boots. Loads the virtio modules, runs the tests named by
# kick.test=NAME[,NAME...] on the kernel command line (default: demo) from /tests/NAME.sh, prints
# one verdict line and powers off (resets without ACPI). A test fails by exiting non-zero; the
# last line it wrote to /tmp/fail-reason (see /tests/lib.sh) becomes the reason.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# firmware escape sequences may precede our first line; keep the verdict at a line start
echo "guest: init"

verdict() {
    echo "KICK-VERDICT: $*"
    sync
    # Linux powers off through ACPI; without it (kick run) poweroff halts for good, so reset
    # instead: that ends the VMM too.
    [ -e /sys/firmware/acpi ] && poweroff -f
    reboot -f
}

# The kernel leaves MODULE.PARAM=VALUE options (e.g. virtio_pci.force_legacy=1) to modprobe;
# busybox insmod does not read them, so pass them on here.
module_args() {
    for arg in $(cat /proc/cmdline); do
        case $arg in "$(echo "$1" | tr - _)".*=*) echo "${arg#*.}" ;; esac
    done
}
loaded=""
for m in $(cat /etc/modules); do
    if insmod "/lib/modules/$m.ko" $(module_args "$m"); then loaded="$loaded $m"
    else verdict "FAIL insmod $m"; fi
done
echo "guest: modules loaded:$loaded"
# drivers bind asynchronously to devices found during module load
mdev -s 2>/dev/null

# With console=hvc0 (kick run --console virtio) /dev/console was still the UART when the kernel
# opened it (virtio_console is a module): from here on the tests and the verdict go to hvc0, so
# the verdict only arrives if the virtio console works.
case " $(cat /proc/cmdline) " in
    *" console=hvc0 "*)
        for _ in $(seq 50); do [ -c /dev/hvc0 ] && break; sleep 0.1; done
        [ -c /dev/hvc0 ] || verdict "FAIL console=hvc0 but no /dev/hvc0"
        exec > /dev/hvc0 2>&1 < /dev/hvc0
        echo "guest: output now on hvc0" ;;
esac

tests=demo
for arg in $(cat /proc/cmdline); do
    case $arg in kick.test=*) tests=${arg#kick.test=} ;; esac
done
for t in $(echo "$tests" | tr , ' '); do
    [ -f "/tests/$t.sh" ] || verdict "FAIL no test named $t"
    echo "guest: running test $t"
    rm -f /tmp/fail-reason
    sh "/tests/$t.sh"
    rc=$?
    if [ $rc -ne 0 ]; then
        reason=$(tail -n 1 /tmp/fail-reason 2>/dev/null)
        verdict "FAIL $t: ${reason:-exit status $rc}"
    fi
done
verdict PASS
