/* Shared by the files of the driver-side virtio-pci transport: raw access
 * helpers and limits. Freestanding. Not part of the library interface. */
#ifndef KICK_VDRV_PCI_INTERNAL_H
#define KICK_VDRV_PCI_INTERNAL_H

#include "guest/vdrv_pci.h"

#define VIRTIO_PCI_VENDOR         0x1af4
#define VIRTIO_PCI_DEVICE_FIRST   0x1000
#define VIRTIO_PCI_DEVICE_MODERN  0x1040 /* modern IDs are 0x1040 + device type */
#define VIRTIO_PCI_DEVICE_LAST    0x107f

/* The capability list lives in the first 256 bytes; 48 entries of 4 bytes
 * after the 64-byte header fill it, so more means a loop. */
#define PCI_CFG_SPACE_SIZE 256
#define PCI_CAP_MAX        48
#define PCI_STD_HEADER_END 0x40
#define PCI_BAR_COUNT      6

#define RESET_POLL_MAX     (1u << 20)
#define CONFIG_GEN_RETRIES 64
#define MAX_QUEUE_SIZE     32768u /* spec: largest split ring */

/* Smallest common config a 1.0 device exposes (up to queue_used_hi). */
#define COMMON_CFG_MIN_LEN (VIRTIO_PCI_COMMON_Q_USEDHI + 4)

/* ---- raw access ---- */

static inline uint32_t cfg_rd(struct vdrv_dev *d, uint32_t off, unsigned len)
{
    return d->io->cfg_read(d->io->ctx, off, len);
}

static inline void cfg_wr(struct vdrv_dev *d, uint32_t off, uint32_t val, unsigned len)
{
    d->io->cfg_write(d->io->ctx, off, val, len);
}

static inline uint64_t reg_rd(struct vdrv_dev *d, const struct vdrv_region *r, uint64_t off, unsigned len)
{
    return d->io->bar_read(d->io->ctx, r->bar, r->off + off, len);
}

static inline void reg_wr(struct vdrv_dev *d, const struct vdrv_region *r, uint64_t off, uint64_t val,
                   unsigned len)
{
    d->io->bar_write(d->io->ctx, r->bar, r->off + off, val, len);
}

/* Legacy registers: BAR0, I/O space. */
static inline uint64_t leg_rd(struct vdrv_dev *d, uint64_t off, unsigned len)
{
    return d->io->bar_read(d->io->ctx, 0, off, len);
}

static inline void leg_wr(struct vdrv_dev *d, uint64_t off, uint64_t val, unsigned len)
{
    d->io->bar_write(d->io->ctx, 0, off, val, len);
}

#endif
