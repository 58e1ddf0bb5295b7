/* Conformance rules for the legacy interface (virtio 1.2, 4.1.4.8 "Legacy
 * Interfaces: A Note on PCI Device Layout"): BAR0 is I/O, the fixed register
 * offsets, and device config at 20 without MSI-X, 24 with it. */
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "guest/probe/conform.h"

#define MAX_QUEUE_SIZE  32768u
#define QUEUE_SCAN_MAX  1024u   /* QEMU's VIRTIO_QUEUE_MAX; more is not a legacy queue */
#define CFG_CMP_MAX     8u

static uint64_t lreg_read(struct vdrv_dev *d, uint64_t off, unsigned len)
{
    return d->io->bar_read(d->io->ctx, 0, off, len);
}

static void lreg_write(struct vdrv_dev *d, uint64_t off, uint64_t val, unsigned len)
{
    d->io->bar_write(d->io->ctx, 0, off, val, len);
}

/* Bytes of device config every device of the type has (the leading,
 * feature-independent fields): what the 20-vs-24 rule compares. */
static uint32_t fixed_config_bytes(uint16_t type)
{
    switch (type) {
    case VIRTIO_ID_BLOCK: return 8;   /* capacity */
    case VIRTIO_ID_NET: return 6;     /* mac */
    case VIRTIO_ID_CONSOLE: return 4; /* cols, rows */
    default: return 0;
    }
}

static void read_legacy_config(struct vdrv_dev *d, uint32_t base, uint8_t *buf, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)lreg_read(d, base + i, 1);
}

static void check_status_register(struct vdrv_dev *d)
{
    lreg_write(d, VIRTIO_PCI_STATUS, 0, 1);
    uint8_t s = (uint8_t)lreg_read(d, VIRTIO_PCI_STATUS, 1);
    check(s == 0, "status at 18 reads 0 after reset (got 0x%02x)", s);
    lreg_write(d, VIRTIO_PCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
    s = (uint8_t)lreg_read(d, VIRTIO_PCI_STATUS, 1);
    check(s == VIRTIO_CONFIG_S_ACKNOWLEDGE, "status at 18 holds ACKNOWLEDGE (got 0x%02x)", s);
    lreg_write(d, VIRTIO_PCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
    s = (uint8_t)lreg_read(d, VIRTIO_PCI_STATUS, 1);
    check(s == (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER),
          "status at 18 holds ACKNOWLEDGE|DRIVER (got 0x%02x)", s);
    lreg_write(d, VIRTIO_PCI_STATUS, 0, 1);
    s = (uint8_t)lreg_read(d, VIRTIO_PCI_STATUS, 1);
    check(s == 0, "status at 18 reads 0 after a second reset (got 0x%02x)", s);
}

static unsigned check_queue_registers(struct vdrv_dev *d)
{
    lreg_write(d, VIRTIO_PCI_QUEUE_SEL, 0, 2);
    uint16_t size = (uint16_t)lreg_read(d, VIRTIO_PCI_QUEUE_NUM, 2);
    check(size >= 1 && size <= MAX_QUEUE_SIZE && !(size & (size - 1)),
          "queue 0 size at 12 is a power of 2 in 1..32768 (got %u)", size);
    uint32_t pfn = (uint32_t)lreg_read(d, VIRTIO_PCI_QUEUE_PFN, 4);
    check(pfn == 0, "queue 0 PFN at 8 reads 0 after reset (got 0x%x)", pfn);
    unsigned n = 0;
    while (n < QUEUE_SCAN_MAX) {
        lreg_write(d, VIRTIO_PCI_QUEUE_SEL, n, 2);
        if (!lreg_read(d, VIRTIO_PCI_QUEUE_NUM, 2))
            break;
        n++;
    }
    lreg_write(d, VIRTIO_PCI_QUEUE_SEL, 0, 2);
    return n;
}

/* MSI-X enabled in the function with every vector masked: the register
 * layout changes but no message can be sent. */
static void msix_function_enable(struct pci_fn *f, struct vdrv_dev *d, bool on, uint16_t orig)
{
    uint16_t ctrl = orig & (uint16_t)~PCI_MSIX_FLAGS_ENABLE;
    if (on)
        ctrl |= PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
    pci_cfg_write(f, d->msix_cap + PCI_MSIX_FLAGS, ctrl, 2);
}

static void check_config_offsets(struct pci_fn *f, struct vdrv_dev *d)
{
    uint8_t at20[CFG_CMP_MAX], at24[CFG_CMP_MAX], modern[CFG_CMP_MAX];
    uint32_t len = fixed_config_bytes(d->virtio_type);

    read_legacy_config(d, VIRTIO_PCI_CONFIG_OFF(false), at20, len);
    /* A transitional device shows the same config through both interfaces. */
    struct vdrv_dev m;
    if (len && vdrv_pci_probe(&m, d->io, false) == 0 && m.modern && m.devcfg.bar >= 0 &&
        m.devcfg.len >= len) {
        for (uint32_t i = 0; i < len; i++)
            modern[i] = (uint8_t)d->io->bar_read(d->io->ctx, m.devcfg.bar, m.devcfg.off + i, 1);
        check(memcmp(at20, modern, len) == 0,
              "without MSI-X, legacy config at 20 matches the modern device config (%u bytes)",
              len);
    }
    if (!d->msix_cap) {
        note("no MSI-X capability: config stays at offset 20");
        return;
    }
    uint16_t orig = (uint16_t)pci_cfg_read(f, d->msix_cap + PCI_MSIX_FLAGS, 2);
    msix_function_enable(f, d, true, orig);
    uint16_t v = (uint16_t)lreg_read(d, VIRTIO_MSI_CONFIG_VECTOR, 2);
    check(v == VIRTIO_MSI_NO_VECTOR, "with MSI-X on, offset 20 is config_vector = NO_VECTOR (got 0x%04x)",
          v);
    lreg_write(d, VIRTIO_MSI_CONFIG_VECTOR, 0, 2);
    v = (uint16_t)lreg_read(d, VIRTIO_MSI_CONFIG_VECTOR, 2);
    check(v == 0, "with MSI-X on, config_vector=0 reads back 0 (got 0x%04x)", v);
    lreg_write(d, VIRTIO_MSI_CONFIG_VECTOR, d->msix_size, 2);
    v = (uint16_t)lreg_read(d, VIRTIO_MSI_CONFIG_VECTOR, 2);
    check(v == VIRTIO_MSI_NO_VECTOR,
          "with MSI-X on, config_vector=%u (out of table) reads back NO_VECTOR (got 0x%04x)",
          d->msix_size, v);
    lreg_write(d, VIRTIO_MSI_CONFIG_VECTOR, VIRTIO_MSI_NO_VECTOR, 2);
    if (len) {
        read_legacy_config(d, VIRTIO_PCI_CONFIG_OFF(true), at24, len);
        check(memcmp(at20, at24, len) == 0,
              "with MSI-X on, device config moves from 20 to 24 (%u bytes match)", len);
    }
    msix_function_enable(f, d, false, orig);
    if (len) {
        read_legacy_config(d, VIRTIO_PCI_CONFIG_OFF(false), at24, len);
        check(memcmp(at20, at24, len) == 0, "with MSI-X off again, device config back at 20");
    }
}

void conform_legacy(struct pci_fn *f, struct vdrv_dev *d)
{
    const struct pci_bar *b0 = &f->bar[0];
    if (!check(b0->size && b0->io, "BAR0 is an I/O BAR (%s, size 0x%llx)", b0->io ? "io" : "mem",
               (unsigned long long)b0->size))
        return;
    check(b0->size >= VIRTIO_PCI_CONFIG_OFF(d->msix_cap != 0),
          "BAR0 covers the legacy header (size 0x%llx >= %u)", (unsigned long long)b0->size,
          VIRTIO_PCI_CONFIG_OFF(d->msix_cap != 0));
    check_status_register(d);
    note("host features 0x%08x", (uint32_t)lreg_read(d, VIRTIO_PCI_HOST_FEATURES, 4));
    unsigned nq = check_queue_registers(d);
    /* The legacy writes above committed the driver to the legacy interface.
     * Nothing in the spec says how a transitional device answers the modern
     * interface in mid-session (QEMU serves both, kick reads all ones until a
     * reset); after a reset ("Writing 0 ... resets the device") either may be
     * chosen, so compare from there. */
    lreg_write(d, VIRTIO_PCI_STATUS, 0, 1);
    struct vdrv_dev m;
    if (vdrv_pci_probe(&m, d->io, false) == 0 && m.modern) {
        uint16_t numq = (uint16_t)m.io->bar_read(m.io->ctx, m.common.bar,
                                                  m.common.off + VIRTIO_PCI_COMMON_NUMQ, 2);
        check(nq == numq, "legacy queue count (nonzero sizes) equals modern num_queues (%u vs %u)",
              nq, numq);
    } else {
        note("%u queues with a nonzero size", nq);
    }
    check_config_offsets(f, d);
    lreg_write(d, VIRTIO_PCI_STATUS, 0, 1);
}
