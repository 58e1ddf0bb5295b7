/* virtio over PCI: one PCI function per virtio device, with the modern layout
 * (vendor capabilities into a memory BAR), the legacy BAR0 I/O layout, or
 * both (transitional). In transitional mode the first layout the driver uses
 * decides; the other is refused afterwards until reset.
 *
 * BAR map (fixed, so VMMs and probes can reason about it):
 *   BAR0  I/O, legacy registers + device config    (legacy, transitional)
 *   BAR1  32-bit memory, 4 KiB: MSI-X table @0, PBA @0x800
 *   BAR4  64-bit prefetchable memory, 16 KiB        (modern, transitional)
 *         common cfg @0x0000, ISR @0x1000, device cfg @0x2000,
 *         notify @0x3000 (queue q at 0x3000 + q * VPCI_NOTIFY_MULT)
 */
#ifndef KICK_VPCI_H
#define KICK_VPCI_H

#include <stdbool.h>
#include <stdint.h>

#include "pci/pci.h"
#include "virtio/virtio_dev.h"

#define VPCI_VENDOR            0x1af4
#define VPCI_MODERN_DEVICE_BASE 0x1040
#define VPCI_LEGACY_DEVICE_BASE 0x1000 /* transitional IDs: 0x1000 + legacy index */

#define VPCI_LEGACY_BAR   0
#define VPCI_MSIX_BAR     1
#define VPCI_MODERN_BAR   4
#define VPCI_COMMON_OFF   0x0000
#define VPCI_ISR_OFF      0x1000
#define VPCI_DEVCFG_OFF   0x2000
#define VPCI_NOTIFY_OFF   0x3000
#define VPCI_MODERN_BAR_SIZE 0x4000
#define VPCI_NOTIFY_MULT  4
#define VPCI_MSIX_PBA_OFF 0x800
#define VPCI_MAX_QUEUES   ((VPCI_MODERN_BAR_SIZE - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT)

enum vpci_mode {
    VPCI_MODERN,       /* modern only: device ID 0x1040 + type, revision 1 */
    VPCI_LEGACY,       /* legacy only: transitional-style IDs, no vendor caps */
    VPCI_TRANSITIONAL, /* both: 0x1000 + n, revision 0, subsystem = type */
};

/* Which interface the driver committed to (transitional devices). */
enum vpci_layout { VPCI_LAYOUT_NONE, VPCI_LAYOUT_MODERN, VPCI_LAYOUT_LEGACY };

struct vpci;

/* What the transport needs from whoever hosts it (a VMM, a test). */
struct vpci_host_ops {
    void (*msi)(struct vpci *t, uint64_t addr, uint32_t data);
    void (*intx)(struct vpci *t, bool level);
    /* BAR placement/decode changed: time to (re)register notify ioeventfds. Optional. */
    void (*bar_map)(struct vpci *t, int bar, uint64_t addr, bool enabled);
    /* MSI-X table/enable changed (routing update), or (vector -1) the driver
     * remapped a queue/config vector or reset the device. Optional. */
    void (*msix_changed)(struct vpci *t, int vector);
};

struct vpci {
    struct pci_func pci;
    struct virtio_dev *vdev;
    enum vpci_mode mode;
    enum vpci_layout layout;

    /* common config state */
    uint32_t dfselect, gfselect;
    uint16_t queue_sel;
    uint16_t msix_config;
    uint16_t *queue_vector; /* per queue MSI-X vector */
    uint8_t isr;            /* bit 0 queue, bit 1 config; read clears */
    unsigned msix_vectors;  /* 0: no MSI-X capability (INTx only) */

    uint8_t pci_cfg_cap;    /* config offset of the VIRTIO_PCI_CAP_PCI_CFG cap */
    uint32_t legacy_bar_size;

    const struct vpci_host_ops *host_ops;
    void *host;
};

/* Builds the PCI function for vdev. msix_vectors 0 means no MSI-X
 * capability; otherwise typically num_queues + 1. 0 or negative errno. */
int vpci_init(struct vpci *t, struct virtio_dev *vdev, enum vpci_mode mode,
              unsigned msix_vectors, const struct vpci_host_ops *ops, void *host);
void vpci_destroy(struct vpci *t);

/* Device reset from outside the guest's registers (VMM reset, hot unplug):
 * resets the virtio device and the transport state (vectors, ISR, selects,
 * the transitional layout choice). */
void vpci_reset(struct vpci *t);

static inline struct pci_func *vpci_func(struct vpci *t) { return &t->pci; }

/* Where a kick for queue q lands, so a VMM can register an ioeventfd:
 * BAR, offset in it, access length, and whether the written value must match
 * q (legacy: the one notify register takes the queue index). -EINVAL if the
 * layout (modern/legacy) has no such queue. */
struct vpci_notify_loc {
    int bar;
    uint64_t off;
    unsigned len;
    bool datamatch;
    uint32_t data;
};
int vpci_notify_loc(const struct vpci *t, unsigned q, bool legacy, struct vpci_notify_loc *loc);

#endif
