/* virtio-pci, driver side: finds a function's virtio capabilities, picks the
 * modern interface when they are present (legacy BAR0 only when they are not,
 * or when forced), negotiates features and sets up queues.
 * Freestanding: all hardware access goes through struct vdrv_io, so the same
 * code runs in the probe guest (port I/O, MMIO) and in loopback tests. */
#ifndef KICK_VDRV_PCI_H
#define KICK_VDRV_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "guest/vdrv_ring.h"

struct vdrv_io {
    uint32_t (*cfg_read)(void *ctx, uint32_t off, unsigned len);
    void (*cfg_write)(void *ctx, uint32_t off, uint32_t val, unsigned len);
    /* BAR n at off; len 1, 2, 4 (8 only on memory BARs). */
    uint64_t (*bar_read)(void *ctx, int bar, uint64_t off, unsigned len);
    void (*bar_write)(void *ctx, int bar, uint64_t off, uint64_t val, unsigned len);
    void *ctx;
};

#define VDRV_NOTIFY_CACHE   64
#define VDRV_NOTIFY_UNKNOWN 0xffff

struct vdrv_region {
    int bar;        /* -1: absent */
    uint64_t off;
    uint32_t len;
};

struct vdrv_dev {
    const struct vdrv_io *io;
    uint16_t vendor, device, subsys_vendor, subsys;
    uint8_t revision;
    uint16_t virtio_type;   /* VIRTIO_ID_* */
    bool modern;            /* using the modern interface */
    struct vdrv_region common, isr, devcfg, notify;
    uint32_t notify_mult;
    uint8_t pci_cfg_cap;    /* config offset of VIRTIO_PCI_CAP_PCI_CFG, 0 if none */
    uint8_t msix_cap;       /* config offset of MSI-X cap, 0 if none */
    uint16_t msix_size;     /* vectors in the table */
    bool msix_enabled;
    uint64_t features;      /* negotiated */
    /* queue_notify_off per queue as read at setup (modern), so a kick is one
     * write; VDRV_NOTIFY_UNKNOWN (or q beyond the cache) re-reads it. */
    uint16_t queue_notify_off[VDRV_NOTIFY_CACHE];
};

/* Reads IDs and walks the capability list. Fails (-ENODEV) if the function
 * is not a virtio device; force_legacy uses BAR0 even on a transitional
 * device (-ENODEV if there is none). Does not touch the device's state. */
int vdrv_pci_probe(struct vdrv_dev *d, const struct vdrv_io *io, bool force_legacy);

/* Status. reset writes 0 and (modern) waits until it reads back 0. */
void vdrv_reset(struct vdrv_dev *d);
uint8_t vdrv_get_status(struct vdrv_dev *d);
void vdrv_add_status(struct vdrv_dev *d, uint8_t bits);

/* Feature negotiation: device features (legacy: 32 bits), then accept
 * `wanted & offered` and (modern) set FEATURES_OK and check it stuck.
 * Returns 0 or -EIO when the device refused. d->features holds the result. */
uint64_t vdrv_device_features(struct vdrv_dev *d);
int vdrv_negotiate(struct vdrv_dev *d, uint64_t wanted);

/* vdrv_negotiate never accepts VIRTIO_F_RING_PACKED, so a caller wanting
 * "everything" (~0) keeps the split ring it sets up with vdrv_setup_queue.
 * vdrv_negotiate_ring lets a driver that can run either layout choose:
 * packed true accepts RING_PACKED when wanted has it and the device offers
 * it (never on legacy, whose feature word has no bit 34); vdrv_ring_packed()
 * then says which layout the queues must use. */
int vdrv_negotiate_ring(struct vdrv_dev *d, uint64_t wanted, bool packed);
bool vdrv_ring_packed(const struct vdrv_dev *d);

/* Enable MSI-X in the function (all vectors unmasked, given addresses/data);
 * and program the config vector. -ENODEV without MSI-X. */
int vdrv_msix_enable(struct vdrv_dev *d, uint64_t msg_addr, uint32_t msg_data_base);
int vdrv_set_config_vector(struct vdrv_dev *d, uint16_t vector);

/* Queue setup: selects q, reads max size (0 = no such queue: -ENOENT), uses
 * min(max, want) (legacy: the device's size), lays out the ring in the given
 * zeroed memory and enables the queue. vector is the MSI-X vector or
 * VIRTIO_MSI_NO_VECTOR. */
int vdrv_queue_max(struct vdrv_dev *d, unsigned q);
int vdrv_setup_queue(struct vdrv_dev *d, unsigned q, struct vdrv_vq *vq, uint16_t want_size,
                     void *mem, uint64_t mem_pa, void **tokens, uint16_t *chain_len,
                     uint16_t vector);
/* The same for a packed queue (modern interface, RING_PACKED negotiated,
 * else -EINVAL): size min(max, want_size), any value (no power-of-two
 * rounding); mem / mem_pa 16-byte aligned, zeroed, vdrv_pvq_mem_size(want_size)
 * bytes; ids holds want_size entries. The three address registers get the
 * descriptor ring, the driver event suppression area and the device event
 * suppression area. Event idx and in-order follow the negotiated features.
 * vdrv_setup_queue refuses (-EINVAL) once RING_PACKED is negotiated. */
int vdrv_setup_queue_packed(struct vdrv_dev *d, unsigned q, struct vdrv_pvq *pvq,
                            uint16_t want_size, void *mem, uint64_t mem_pa,
                            struct vdrv_pvq_id *ids, uint16_t vector);
/* Kick queue q. */
void vdrv_notify(struct vdrv_dev *d, unsigned q);
/* Reads (and so clears) the ISR. */
uint8_t vdrv_read_isr(struct vdrv_dev *d);
/* Device config bytes, consistent across config_generation (modern). */
void vdrv_config_read(struct vdrv_dev *d, uint32_t off, void *buf, uint32_t len);
void vdrv_config_write(struct vdrv_dev *d, uint32_t off, const void *buf, uint32_t len);

#endif
