#!/bin/bash
# Reference for what `kick run` will do: runs Debian's QEMU with -accel kvm INSIDE the nested host
# as the payload, booting the guest images on QEMU's virtio-pci devices, and passes if the guest
# prints "KICK-VERDICT: PASS". Proves the whole chain (nested /dev/kvm, payload libraries,
# guest images under KVM) independently of kick. Extra arguments go to the guest command line.
# usage: qemu-in-nested.sh [BUILDDIR] [CMDLINE-ARG...]
set -euo pipefail
here=$(dirname "$0")
build=${1:-build/nested}; shift $(( $# > 0 ? 1 : 0 ))
payload=$build/payload-qemu
rm -rf "$payload"
mkdir -p "$payload/fw"
cp /usr/bin/qemu-system-x86_64 "$payload/"
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/{kvmvapic,linuxboot_dma}.bin; do
    cp -L "$f" "$payload/fw/"
done
cat > "$payload/run.sh" <<RUN
#!/bin/sh
head -c 1048576 /dev/urandom > /tmp/disk.img
./qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 -L ./fw \\
    -nographic -no-reboot -monitor none -nodefaults -serial stdio \\
    -kernel "\$KICK_GUEST_DIR/bzImage" -initrd "\$KICK_GUEST_DIR/guest-initramfs.cpio.gz" \\
    -append "console=ttyS0 quiet panic=-1 kick.expect=2,3,4 $*" \\
    -device virtio-rng-pci \\
    -drive if=none,id=d0,file=/tmp/disk.img,format=raw -device virtio-blk-pci,drive=d0 \\
    -device virtio-serial-pci -device virtconsole,chardev=c0 -chardev null,id=c0 \\
    < /dev/null > /tmp/guest.log 2>&1
echo "qemu-in-nested: qemu exit \$?"
sed 's/^/guest| /' /tmp/guest.log
grep -q '^KICK-VERDICT: PASS' /tmp/guest.log
RUN
exec "$here/run-nested.sh" "$build" "$payload"
