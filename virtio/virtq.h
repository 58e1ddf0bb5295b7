/* Virtqueue, device side: split (§2.7) or packed (§2.8), chosen by
 * virtq_start() from the negotiated VIRTIO_F_RING_PACKED; device models use
 * the same calls for both and never know which ring they serve.
 *
 * The transport fills in size and the three ring addresses as the driver
 * writes them, then calls virtq_start() when the driver enables the queue.
 * For a packed ring the three addresses are the descriptor ring, the driver
 * event suppression structure and the device event suppression structure.
 * Device models pop chains as iovecs over guest memory, push used elements
 * and ask whether the driver wants an interrupt.
 *
 * Every guest-controlled value is checked: a violation makes virtq_pop()
 * return -EIO, marks the queue broken (it then stays empty) and, when the
 * queue belongs to a device, marks the device NEEDS_RESET. */
#ifndef KICK_VIRTQ_H
#define KICK_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#include "virtio/gmem.h"

struct virtio_dev;

/* Longest chain accepted, direct plus indirect; matches Linux's UIO_MAXIOV. */
#define VIRTQ_MAX_CHAIN 1024

struct virtq {
    /* Set by the transport from driver writes (reset values: size = max_size,
     * addresses 0, ready false). */
    uint16_t size;
    uint16_t max_size;
    bool ready;
    uint64_t desc_gpa, avail_gpa, used_gpa;

    /* Resolved by virtq_start(). */
    const struct gmem *mem;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint16_t *used_event;  /* &avail->ring[size]  (driver writes) */
    uint16_t *avail_event; /* &used->ring[size]   (device writes) */
    bool event_idx;        /* VIRTIO_RING_F_EVENT_IDX negotiated */
    bool indirect;         /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
    /* Internal, fixed by virtq_start() for the hot paths: the size the rings
     * were mapped with, and the longest direct chain that is not a loop. */
    uint16_t ring_size;
    uint32_t ring_mask;    /* ring_size - 1 (32-bit: indexes without a zero-extension) */
    uint16_t chain_max;    /* min(ring_size, VIRTQ_MAX_CHAIN) */
    struct gmem_region ram0; /* mem->r[0], tried inline for every buffer */

    /* Device-private progress. */
    uint16_t last_avail;     /* next avail ring slot to consume */
    uint16_t used_idx;       /* our copy of used->idx */
    uint16_t signalled_used; /* used_idx when we last interrupted */
    bool signalled_used_valid; /* event idx only: signalled_used is a baseline */
    bool broken;

    struct virtio_dev *dev;  /* owner, for NEEDS_RESET; may be NULL in tests */
    unsigned index;          /* queue index within the device */

    /* Packed ring (virtio/virtq_packed.c). A packed queue keeps desc, avail
     * and used above NULL, so the split fast paths reach the packed code
     * through their "stopped queue" branch and pay nothing for it. */
    bool packed;
    struct virtq_packed {
        struct vring_packed_desc *desc; /* NULL when stopped or broken */
        const uint32_t *driver_event;   /* struct vring_packed_desc_event, read whole */
        uint32_t *device_event;         /* likewise, written whole */
        struct virtq_packed_slot *slots; /* ring_size entries, malloc'd by
                                          * virtq_start, freed by virtq_reset */
        bool in_order;           /* VIRTIO_F_IN_ORDER negotiated */
        bool avail_wrap;         /* wrap counter at last_avail */
        bool used_wrap;          /* wrap counter at used_idx */
        uint16_t last_avail;     /* next descriptor to read */
        uint16_t used_idx;       /* next descriptor to write used */
        uint16_t inflight;       /* descriptors popped, not yet covered by a used one */
        uint16_t free_slot;      /* out of order: free list of slots */
        uint16_t order_head, order_tail; /* in order: slots in pop order */
        uint32_t used_since_irq; /* descriptors made used since the last needs_irq */
        uint32_t device_event_shadow; /* what we last wrote there */
        /* virtq_unpop's record of the last pop (slot == 0xffff: none). */
        uint16_t unpop_slot, unpop_avail;
        bool unpop_wrap;
    } pk;
};

/* One popped chain. The caller supplies iov storage (iov_cap entries); the
 * device-readable buffers come first (iov[0..nout)), then the device-writable
 * ones (iov[nout..nout+nin)). */
struct virtq_elem {
    uint16_t head;
    uint16_t nout, nin;
    uint16_t iov_cap;
    uint32_t out_len, in_len; /* byte totals */
    struct iovec *iov;
};

/* Back to the reset state; keeps max_size, dev and index. */
void virtq_reset(struct virtq *q);

/* Validates size (split: power of two, 1..max_size; packed: 1..max_size, at
 * most 2^15) and ring addresses (inside guest memory, aligned as the spec
 * requires) and resolves host pointers. features is the negotiated feature
 * set. 0, -EINVAL, or -ENOMEM (packed: the per-slot table). */
int virtq_start(struct virtq *q, const struct gmem *mem, uint64_t features);

/* 1: an element was popped into e. e->head is an opaque handle below the
 * queue size for virtq_push (split: the head descriptor; packed: a slot the
 * queue keeps the buffer id and chain length in). 0: nothing available. -EIO: the guest
 * broke a ring rule; the queue is now broken. -ENOBUFS: chain longer than
 * e->iov_cap (also a guest error unless the caller's cap is below the queue
 * size; treated the same). */
int virtq_pop(struct virtq *q, struct virtq_elem *e);

/* Returns the last popped element to the available ring (not consumed). */
void virtq_unpop(struct virtq *q);

/* Publishes one used element (head, bytes written into the in-buffers).
 * Packed with VIRTIO_F_IN_ORDER: elements are published in pop order, so a
 * push may be held until the ones popped before it are pushed too. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* After one or more pushes: does the driver want an interrupt now?
 * Honours VRING_AVAIL_F_NO_INTERRUPT or, with event idx, used_event. */
bool virtq_needs_irq(struct virtq *q);

/* Ask the driver for kicks (true) or not (false): VRING_USED_F_NO_NOTIFY, or
 * avail_event = last_avail with event idx. After enabling, callers re-check
 * virtq_has_avail() to close the race. */
void virtq_set_notify(struct virtq *q, bool enable);

/* Is there at least one chain to pop? (false for a broken or stopped queue) */
bool virtq_has_avail(struct virtq *q);

/* Internal: the packed ring's entry points, reached from the split ones.
 * virtq_packed_needs_irq relies on virtq_needs_irq's full barrier. */
int virtq_packed_start(struct virtq *q, const struct gmem *mem, uint64_t features);
int virtq_packed_pop(struct virtq *q, struct virtq_elem *e);
void virtq_packed_unpop(struct virtq *q);
void virtq_packed_push(struct virtq *q, uint16_t head, uint32_t len);
bool virtq_packed_needs_irq(struct virtq *q);
void virtq_packed_set_notify(struct virtq *q, bool enable);
bool virtq_packed_has_avail(struct virtq *q);

#endif
