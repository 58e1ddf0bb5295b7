/* Split virtqueue, driver side: the mirror of virtio/virtq.c.
 * Freestanding (no libc): used by the probe guest and by host-side tests. */
#ifndef KICK_VDRV_RING_H
#define KICK_VDRV_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

/* A buffer by guest-physical address. */
struct vdrv_sg {
    uint64_t addr;
    uint32_t len;
};

struct vdrv_vq {
    uint16_t size;
    uint16_t num_free;
    uint16_t free_head;     /* first free descriptor (free list via next) */
    uint16_t avail_idx;     /* our copy of avail->idx */
    uint16_t last_used;     /* next used ring slot to reclaim */
    uint16_t num_added;     /* added since the last kick decision */
    bool event_idx;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint64_t desc_pa, avail_pa, used_pa;
    void **tokens;          /* per head; caller-provided, size entries */
    uint16_t *chain_len;    /* reclaim's record per chain: its tail under the
                             * head, its length under the tail (a tail equal
                             * to the head is a one-descriptor chain) */
};

/* Bytes of ring memory for a queue of `size` entries. Legacy layout is the
 * single contiguous block with the used ring 4096-aligned (legacy PFN). */
size_t vdrv_vq_mem_size(uint16_t size, bool legacy_layout);

/* mem (virtual) / mem_pa (guest-physical) must be 4096-aligned and zeroed,
 * vdrv_vq_mem_size() bytes; tokens and chain_len hold size entries each. */
void vdrv_vq_init(struct vdrv_vq *q, uint16_t size, void *mem, uint64_t mem_pa,
                  void **tokens, uint16_t *chain_len, bool legacy_layout, bool event_idx);

/* Adds a chain of nout device-readable then nin device-writable buffers.
 * token is returned by vdrv_vq_get_used(); must not be NULL.
 * 0, or -ENOSPC (not enough free descriptors), -EINVAL (empty chain). */
int vdrv_vq_add(struct vdrv_vq *q, const struct vdrv_sg *sg, unsigned nout, unsigned nin,
                void *token);

/* Publishes added chains to the device and says whether it wants a kick
 * (VRING_USED_F_NO_NOTIFY, or avail_event with event idx). */
bool vdrv_vq_kick_prepare(struct vdrv_vq *q);

/* Reclaims one used chain: its token and the bytes the device wrote, or NULL
 * when nothing is used. A device reporting a bad id returns NULL and marks
 * nothing; callers treat repeated NULL with has_used() true as device error. */
void *vdrv_vq_get_used(struct vdrv_vq *q, uint32_t *len);
bool vdrv_vq_has_used(const struct vdrv_vq *q);

/* Interrupt suppression: disable (NO_INTERRUPT), or enable and return false
 * if used buffers arrived meanwhile (caller must poll again). */
void vdrv_vq_disable_cb(struct vdrv_vq *q);
bool vdrv_vq_enable_cb(struct vdrv_vq *q);

#endif
