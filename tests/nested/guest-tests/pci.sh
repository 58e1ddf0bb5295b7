# PCI and interrupt routing as Linux sees them on kick: lists bus 0, checks that interrupts go
# through the IOAPIC (an MP table was found) and, with kick.cpus=N, that N CPUs are online.
. /tests/lib.sh
for d in /sys/bus/pci/devices/*; do
    [ -e "$d/vendor" ] || continue
    drv=-
    [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
    echo "pci: ${d##*/} $(cat "$d/vendor"):$(cat "$d/device") class $(cat "$d/class")" \
         "irq $(cat "$d/irq") driver $drv"
done
grep -q 'IO-APIC' /proc/interrupts || fail "no interrupt goes through the IOAPIC"
grep -E 'IO-APIC|PCI-MSI|virtio' /proc/interrupts | sed 's/^/pci: /'
cpus=$(cmdline_opt kick.cpus)
online=$(grep -c ^processor /proc/cpuinfo)
[ -z "$cpus" ] || [ "$online" -eq "$cpus" ] || fail "$online CPUs online, expected $cpus"
echo "pci: $online CPU(s) online"
# kick.virtio_mode=legacy|modern: every bound virtio device negotiated that interface;
# kick.virtio_irq=intx|msix: virtio interrupts arrive that way
mode=$(cmdline_opt kick.virtio_mode)
if [ -n "$mode" ]; then
    for d in /sys/bus/virtio/devices/*; do
        [ -e "$d/driver" ] || continue
        got=legacy
        [ "$(cut -c33 "$d/features")" = 1 ] && got=modern
        [ "$got" = "$mode" ] || fail "${d##*/} is $got, expected $mode"
    done
    echo "pci: every bound virtio device is $mode"
fi
case $(cmdline_opt kick.virtio_irq) in
    intx) grep -q 'IO-APIC.*virtio' /proc/interrupts && ! grep -q 'PCI-MSI.*virtio' /proc/interrupts ||
              fail "virtio interrupts are not INTx through the IOAPIC"
          echo "pci: virtio interrupts are INTx (IOAPIC)" ;;
    msix) grep -q 'PCI-MSI.*virtio' /proc/interrupts || fail "virtio interrupts are not MSI-X"
          echo "pci: virtio interrupts are MSI-X" ;;
esac
