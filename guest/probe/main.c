/* The probe guest's main line: find every virtio-pci function, check it
 * against the spec through each interface it has (modern, and legacy on
 * transitional devices), drive it, and leave through isa-debug-exit:
 * 0 when every rule passed (QEMU exits 1), 1 otherwise (QEMU exits 3).
 * "hostile" (or "hostile-strict") on the command line runs hostile mode
 * (hostile.h) instead of the conformance run. */
#include "guest/probe/hostile.h"
#include "guest/probe/intx.h"

#define VIRTIO_PCI_VENDOR        0x1af4
#define VIRTIO_PCI_DEVICE_FIRST  0x1000
#define VIRTIO_PCI_DEVICE_MODERN 0x1040
#define VIRTIO_PCI_DEVICE_LAST   0x107f
#define MAX_FUNCTIONS            32

void probe_main(uint32_t mb_magic, uint32_t mb_info);

static void probe_function(struct pci_fn *f)
{
    struct vdrv_dev d;

    pci_fn_activate(f);
    int rc = vdrv_pci_probe(&d, &f->io, false);
    const char *type = virtio_type_name(d.virtio_type);
    report_subject(f, type, "");
    note("device %04x:%04x rev %u subsystem %04x:%04x", d.vendor, d.device, d.revision,
         d.subsys_vendor, d.subsys);
    for (int i = 0; i < PCI_BARS; i++)
        if (f->bar[i].size)
            note("BAR%d %s%s base 0x%llx size 0x%llx", i, f->bar[i].io ? "io" : "mem",
                 f->bar[i].mem64 ? "64" : "", (unsigned long long)f->bar[i].base,
                 (unsigned long long)f->bar[i].size);
    conform_ids(f, &d);
    bool transitional = d.device < VIRTIO_PCI_DEVICE_MODERN;
    check(rc == 0, "library probe finds a usable interface (rc %d)", rc);
    if (rc == 0 && d.modern) {
        report_subject(f, type, "modern");
        conform_caps(f, &d);
        conform_modern(f, &d);
        drive_device(f, &d);
        drive_msix(f, &d, true);
        drive_intx(f, &d);
    }
    if (transitional) {
        report_subject(f, type, "legacy");
        rc = vdrv_pci_probe(&d, &f->io, true);
        if (check(rc == 0 && !d.modern, "library probe with force_legacy (rc %d)", rc)) {
            conform_legacy(f, &d);
            drive_device(f, &d);
            drive_msix(f, &d, false);
            drive_intx(f, &d);
        }
    }
    report_subject(f, type, "");
    check(f->bad_access == 0, "library kept every access inside its BAR (refused %u)",
          f->bad_access);
}

void probe_main(uint32_t mb_magic, uint32_t mb_info)
{
    static struct pci_fn fns[MAX_FUNCTIONS];

    con_init();
    rt_init(mb_magic, mb_info);
    irq_init();
    con_printf("kick probe: virtio-pci conformance and drive\n");
    uint64_t hz = tsc_hz();
    con_printf("INFO: TSC %llu Hz (%s)\n", (unsigned long long)hz, tsc_hz_source());
    unsigned n = pci_scan(VIRTIO_PCI_VENDOR, fns, MAX_FUNCTIONS);
    con_printf("INFO: %u function(s) with vendor ID 0x1af4\n", n);
    if (cmdline_word("hostile") || cmdline_word("hostile-strict")) {
        hostile_run(fns, n);
        report_summary();
        probe_exit(report_failures() ? 1 : 0);
    }
    for (unsigned i = 0; i < n; i++) {
        /* Red Hat's vendor ID also covers non-virtio devices (ivshmem...). */
        if (fns[i].device < VIRTIO_PCI_DEVICE_FIRST || fns[i].device > VIRTIO_PCI_DEVICE_LAST) {
            con_printf("INFO: %02x:%02x.%x 1af4:%04x is not a virtio device\n", fns[i].bus,
                       fns[i].dev, fns[i].fn, fns[i].device);
            continue;
        }
        probe_function(&fns[i]);
    }
    report_summary();
    probe_exit(report_failures() ? 1 : 0);
}
