/* For the packed ring tests that run both ends in one process: the driver
 * library's queue and the device's over the same RAM block. Include after
 * cmocka.h. */
#ifndef KICK_TEST_VIRTQ_PACKED_PAIR_H
#define KICK_TEST_VIRTQ_PACKED_PAIR_H

#include <linux/virtio_config.h>

#include "guest/vdrv_ring.h"
#include "virtio/virtq.h"

/* Both ends of a queue of size entries; the driver's ring at ram (guest
 * address ram_gpa), the device started on it with features (plus
 * VIRTIO_F_RING_PACKED), event idx and in order as negotiated there. */
static inline void packed_pair_start(struct vdrv_pvq *vq, struct vdrv_pvq_id *ids,
                                     struct virtq *dq, const struct gmem *mem, uint8_t *ram,
                                     uint64_t ram_gpa, uint16_t size, uint64_t features)
{
    vdrv_pvq_init(vq, size, ram, ram_gpa, ids, (features >> VIRTIO_RING_F_EVENT_IDX) & 1,
                  (features >> VIRTIO_F_IN_ORDER) & 1);
    virtq_reset(dq);
    dq->size = size;
    dq->desc_gpa = vq->desc_pa;
    dq->avail_gpa = vq->driver_pa;
    dq->used_gpa = vq->device_pa;
    assert_int_equal(virtq_start(dq, mem, features | (1ULL << VIRTIO_F_RING_PACKED)), 0);
}

/* All given back: both ends agree on every position and wrap counter. */
static inline void packed_pair_in_step(const struct vdrv_pvq *vq, const struct virtq *dq)
{
    assert_int_equal(vq->num_free, vq->size);
    assert_int_equal(dq->pk.inflight, 0);
    assert_int_equal(vq->next_avail, dq->pk.last_avail);
    assert_int_equal(vq->avail_wrap, dq->pk.avail_wrap);
    assert_int_equal(vq->last_used, dq->pk.used_idx);
    assert_int_equal(vq->used_wrap, dq->pk.used_wrap);
}

#endif
