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
    uint16_t kicked_idx;    /* avail_idx at the last kick decision */
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

/* Packed virtqueue, driver side (guest/vdrv_packed.c): the mirror of
 * virtio/virtq_packed.c, a queue of its own beside the split one.
 *
 * Buffer ids are ours (below the queue size) and index a caller-provided
 * table; every id the device returns is checked against the ids in flight,
 * so a misbehaving device can spoil requests but never make the driver
 * touch memory outside its ring and tables. With in_order (VIRTIO_F_IN_ORDER
 * negotiated) ids are handed out in ring order and a used descriptor may
 * stand for a batch: get_used then returns the batch's buffers one by one,
 * the skipped ones with their whole writable length. */
struct vdrv_pvq_id {
    void *token;      /* NULL: the id is free */
    uint32_t in_len;  /* writable bytes, the length of a skipped buffer */
    uint16_t ndescs;  /* ring descriptors the chain took */
    uint16_t next;    /* free list (out of order) */
};

struct vdrv_pvq {
    uint16_t size;
    uint16_t num_free;     /* free ring descriptors */
    uint16_t next_avail;   /* next position to fill */
    uint16_t last_used;    /* next position to read a used descriptor at */
    uint16_t free_id;      /* next id to hand out: out of order the free id
                            * list, in order the next id in turn */
    uint16_t order_head;   /* in order: oldest id in flight */
    uint16_t order_tail;   /* unused (free_id serves in order too); kept 0 */
    uint16_t batch_last;   /* in order: id closing the batch being returned, or 0xffff */
    uint32_t batch_len;    /* its used length */
    uint32_t num_added;    /* descriptors made available since the last kick decision */
    uint32_t driver_event_shadow; /* what we last wrote in the driver area */
    bool avail_wrap, used_wrap;
    bool event_idx, in_order;
    struct vring_packed_desc *desc;
    uint32_t *driver_event;       /* struct vring_packed_desc_event, written whole */
    const uint32_t *device_event; /* likewise, read whole */
    uint64_t desc_pa, driver_pa, device_pa; /* for the transport's three registers */
    struct vdrv_pvq_id *ids;      /* size entries */
};

/* Bytes of ring memory: descriptor ring, driver area, device area. */
size_t vdrv_pvq_mem_size(uint16_t size);

/* mem / mem_pa 16-byte aligned and zeroed, vdrv_pvq_mem_size() bytes; ids
 * holds size entries; 1 <= size <= 32768, any value. */
void vdrv_pvq_init(struct vdrv_pvq *q, uint16_t size, void *mem, uint64_t mem_pa,
                   struct vdrv_pvq_id *ids, bool event_idx, bool in_order);

/* Makes a chain of nout readable then nin writable buffers available (it is
 * visible to the device on return). 0, -ENOSPC, -EINVAL. */
int vdrv_pvq_add(struct vdrv_pvq *q, const struct vdrv_sg *sg, unsigned nout, unsigned nin,
                 void *token);

/* The same chain through one indirect descriptor: table (virtual) / table_pa
 * hold nout + nin packed descriptors, 8-byte aligned, untouched until the
 * buffer comes back. Needs VIRTIO_RING_F_INDIRECT_DESC. */
int vdrv_pvq_add_indirect(struct vdrv_pvq *q, const struct vdrv_sg *sg, unsigned nout,
                          unsigned nin, struct vring_packed_desc *table, uint64_t table_pa,
                          void *token);

/* Whether the device wants a kick for what was added since the last call. */
bool vdrv_pvq_kick_prepare(struct vdrv_pvq *q);

/* One used buffer's token and written length, or NULL (nothing used, or the
 * device named an id that is not in flight). */
void *vdrv_pvq_get_used(struct vdrv_pvq *q, uint32_t *len);
bool vdrv_pvq_has_used(const struct vdrv_pvq *q);

/* Used buffer notifications off, or on (with event idx: for the next used
 * position) returning false if buffers arrived meanwhile. */
void vdrv_pvq_disable_cb(struct vdrv_pvq *q);
bool vdrv_pvq_enable_cb(struct vdrv_pvq *q);

#endif
