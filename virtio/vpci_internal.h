/* Shared between the virtio-pci transport files (vpci.c, vpci_common.c,
 * vpci_legacy.c); not part of the transport's interface. */
#ifndef KICK_VPCI_INTERNAL_H
#define KICK_VPCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_pci.h>

#include "virtio/vpci.h"

/* ISR bit 0 (used buffer). linux/virtio_pci.h names only the config bit. */
#define VPCI_ISR_QUEUE 0x1

/* Bytes of common cfg presented: up to and including queue_reset. */
#define VPCI_COMMON_LEN (VIRTIO_PCI_COMMON_Q_RESET + 2)
/* Legacy registers before the device config (MSI-X vectors included). */
#define VPCI_LEGACY_REGS_LEN VIRTIO_PCI_CONFIG_OFF(1)

/* A register in a block served by read images and split writes. */
struct vpci_reg {
    uint8_t off, width; /* width 1, 2 or 4 */
};

typedef void vpci_reg_write_fn(struct vpci *t, unsigned reg_off, uint32_t val);

/* Applies a guest write of len bytes at off to every register it overlaps.
 * Bytes of a register the write does not cover keep their value from image
 * (the block as a read would return it), so odd widths and straddling
 * accesses degrade into ordinary register writes instead of surprises. */
void vpci_regs_write(struct vpci *t, const struct vpci_reg *regs, unsigned nregs,
                     const uint8_t *image, uint64_t off, const uint8_t *data, unsigned len,
                     vpci_reg_write_fn *fn);

static inline void vpci_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void vpci_put32(uint8_t *p, uint32_t v)
{
    vpci_put16(p, (uint16_t)v);
    vpci_put16(p + 2, (uint16_t)(v >> 16));
}

/* May layout l be used now? A committing access (a write) makes an
 * undecided transitional device choose l. */
bool vpci_layout_claim(struct vpci *t, enum vpci_layout l, bool commit);

/* The queue selected by queue_select, or NULL past the last queue. */
struct virtq *vpci_selected_vq(struct vpci *t);

/* A vector the driver asked for, or VIRTIO_MSI_NO_VECTOR if there is none
 * such (the read-back is how drivers learn the mapping failed). */
uint16_t vpci_vector_filter(const struct vpci *t, uint32_t v);
/* The queue/config vector mapping changed: tell the host (irqfd routing). */
void vpci_vectors_changed(struct vpci *t);

/* device_status write from either layout; 0 also resets the transport. */
void vpci_status_write(struct vpci *t, uint8_t status);

/* ISR read: returns and clears the bits, lowers INTx. */
uint8_t vpci_isr_read_clear(struct vpci *t);

uint8_t vpci_dev_status(const struct vpci *t);

/* BAR accesses per layout. Reads fill all len bytes. */
void vpci_modern_read(struct vpci *t, uint64_t off, uint8_t *data, unsigned len);
void vpci_modern_write(struct vpci *t, uint64_t off, const uint8_t *data, unsigned len);
void vpci_legacy_read(struct vpci *t, uint64_t off, uint8_t *data, unsigned len);
void vpci_legacy_write(struct vpci *t, uint64_t off, const uint8_t *data, unsigned len);

#endif
