/* virtio-pci, driver side: queue setup (split, legacy PFN, packed) and the
 * kick. The device is not trusted: sizes and notify offsets are checked. */
#include <asm-generic/errno-base.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "common/kick_barrier.h"
#include "guest/vdrv_pci_internal.h"

int vdrv_queue_max(struct vdrv_dev *d, unsigned q)
{
    uint16_t size;

    if (q > 0xffffu)
        return -ENOENT;
    if (d->modern) {
        if (q >= reg_rd(d, &d->common, VIRTIO_PCI_COMMON_NUMQ, 2))
            return -ENOENT;
        reg_wr(d, &d->common, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        size = (uint16_t)reg_rd(d, &d->common, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    } else {
        leg_wr(d, VIRTIO_PCI_QUEUE_SEL, q, 2);
        size = (uint16_t)leg_rd(d, VIRTIO_PCI_QUEUE_NUM, 2);
    }
    return size ? size : -ENOENT;
}

static unsigned pow2_floor(unsigned v)
{
    while (v & (v - 1))
        v &= v - 1;
    return v;
}

static void write_addr(struct vdrv_dev *d, uint64_t lo_off, uint64_t addr)
{
    reg_wr(d, &d->common, lo_off, (uint32_t)addr, 4);
    reg_wr(d, &d->common, lo_off + 4, (uint32_t)(addr >> 32), 4);
}

static int check_notify_off(struct vdrv_dev *d, uint64_t *noff)
{
    *noff = reg_rd(d, &d->common, VIRTIO_PCI_COMMON_Q_NOFF, 2);
    if (*noff * d->notify_mult + 2 > d->notify.len)
        return -EIO; /* the device points its doorbell outside its own cap */
    return 0;
}

/* Everything after the ring addresses: vector (checked), doorbell, enable. */
static int finish_modern(struct vdrv_dev *d, unsigned q, uint64_t noff, uint16_t vector)
{
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_Q_MSIX, vector, 2);
    if ((uint16_t)reg_rd(d, &d->common, VIRTIO_PCI_COMMON_Q_MSIX, 2) != vector)
        return -EIO;
    if (q < VDRV_NOTIFY_CACHE)
        d->queue_notify_off[q] = (uint16_t)noff;
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    return 0;
}

static int setup_modern(struct vdrv_dev *d, unsigned q, struct vdrv_vq *vq, unsigned max,
                        uint16_t want_size, void *mem, uint64_t mem_pa, void **tokens,
                        uint16_t *chain_len, uint16_t vector)
{
    /* The ring needs a power of two; a device may offer any size up to its
     * maximum, so round down rather than refuse. */
    unsigned size = pow2_floor(max < want_size ? max : want_size);
    if (size > MAX_QUEUE_SIZE)
        size = MAX_QUEUE_SIZE;
    if ((mem_pa | (uintptr_t)mem) & (VRING_DESC_ALIGN_SIZE - 1))
        return -EINVAL;

    uint64_t noff;
    int rc = check_notify_off(d, &noff);
    if (rc)
        return rc;

    bool event_idx = d->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
    vdrv_vq_init(vq, (uint16_t)size, mem, mem_pa, tokens, chain_len, false, event_idx);
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
    write_addr(d, VIRTIO_PCI_COMMON_Q_DESCLO, vq->desc_pa);
    write_addr(d, VIRTIO_PCI_COMMON_Q_AVAILLO, vq->avail_pa);
    write_addr(d, VIRTIO_PCI_COMMON_Q_USEDLO, vq->used_pa);
    return finish_modern(d, q, noff, vector);
}

int vdrv_setup_queue_packed(struct vdrv_dev *d, unsigned q, struct vdrv_pvq *pvq,
                            uint16_t want_size, void *mem, uint64_t mem_pa,
                            struct vdrv_pvq_id *ids, uint16_t vector)
{
    /* Only the modern interface has the three address registers, and a
     * device that did not accept RING_PACKED reads them as a split ring. */
    if (!vdrv_ring_packed(d) || want_size == 0)
        return -EINVAL;
    /* The descriptor ring needs 16 bytes; the event areas follow it at
     * multiples of 16 and need 4. */
    if ((mem_pa | (uintptr_t)mem) & (VRING_DESC_ALIGN_SIZE - 1))
        return -EINVAL;
    int max = vdrv_queue_max(d, q); /* also selects q */
    if (max < 0)
        return max;
    unsigned size = (unsigned)max < want_size ? (unsigned)max : want_size;
    if (size > MAX_QUEUE_SIZE)
        size = MAX_QUEUE_SIZE; /* packed rings hold at most 2^15 entries */

    uint64_t noff;
    int rc = check_notify_off(d, &noff);
    if (rc)
        return rc;
    bool event_idx = d->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
    bool in_order = d->features & (1ull << VIRTIO_F_IN_ORDER);
    vdrv_pvq_init(pvq, (uint16_t)size, mem, mem_pa, ids, event_idx, in_order);
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
    write_addr(d, VIRTIO_PCI_COMMON_Q_DESCLO, pvq->desc_pa);
    write_addr(d, VIRTIO_PCI_COMMON_Q_AVAILLO, pvq->driver_pa);
    write_addr(d, VIRTIO_PCI_COMMON_Q_USEDLO, pvq->device_pa);
    return finish_modern(d, q, noff, vector);
}

static int setup_legacy(struct vdrv_dev *d, struct vdrv_vq *vq, unsigned max, uint16_t want_size,
                        void *mem, uint64_t mem_pa, void **tokens, uint16_t *chain_len,
                        uint16_t vector)
{
    /* Legacy has no size register to write: the device's size it is. The
     * caller sized its memory for want_size, so a bigger ring cannot fit. */
    if (max > want_size)
        return -ENOSPC;
    if (max & (max - 1) || max > MAX_QUEUE_SIZE)
        return -EINVAL;
    if ((mem_pa | (uintptr_t)mem) & (VIRTIO_PCI_VRING_ALIGN - 1) ||
        (mem_pa >> VIRTIO_PCI_QUEUE_ADDR_SHIFT) > UINT32_MAX)
        return -EINVAL;

    bool event_idx = d->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
    vdrv_vq_init(vq, (uint16_t)max, mem, mem_pa, tokens, chain_len, true, event_idx);
    leg_wr(d, VIRTIO_PCI_QUEUE_PFN, (uint32_t)(mem_pa >> VIRTIO_PCI_QUEUE_ADDR_SHIFT), 4);
    /* The vector register exists only while MSI-X is on; without it the
     * same offset is device config. */
    if (d->msix_enabled) {
        leg_wr(d, VIRTIO_MSI_QUEUE_VECTOR, vector, 2);
        if ((uint16_t)leg_rd(d, VIRTIO_MSI_QUEUE_VECTOR, 2) != vector) {
            leg_wr(d, VIRTIO_PCI_QUEUE_PFN, 0, 4);
            return -EIO;
        }
    }
    return 0;
}

int vdrv_setup_queue(struct vdrv_dev *d, unsigned q, struct vdrv_vq *vq, uint16_t want_size,
                     void *mem, uint64_t mem_pa, void **tokens, uint16_t *chain_len,
                     uint16_t vector)
{
    /* A device that accepted RING_PACKED would read this ring as packed. */
    if (want_size == 0 || vdrv_ring_packed(d))
        return -EINVAL;
    int max = vdrv_queue_max(d, q); /* also selects q */
    if (max < 0)
        return max;
    if (d->modern)
        return setup_modern(d, q, vq, (unsigned)max, want_size, mem, mem_pa, tokens, chain_len,
                            vector);
    return setup_legacy(d, vq, (unsigned)max, want_size, mem, mem_pa, tokens, chain_len, vector);
}

void vdrv_notify(struct vdrv_dev *d, unsigned q)
{
    if (!d->modern) {
        leg_wr(d, VIRTIO_PCI_QUEUE_NOTIFY, q, 2);
        return;
    }
    uint64_t noff;
    if (q < VDRV_NOTIFY_CACHE && d->queue_notify_off[q] != VDRV_NOTIFY_UNKNOWN) {
        noff = d->queue_notify_off[q];
    } else {
        /* Not set up through us (or beyond the cache): ask the device. */
        reg_wr(d, &d->common, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        noff = reg_rd(d, &d->common, VIRTIO_PCI_COMMON_Q_NOFF, 2);
    }
    uint64_t where = noff * d->notify_mult;
    if (where + 2 > d->notify.len)
        return;
    reg_wr(d, &d->notify, where, q, 2);
}
