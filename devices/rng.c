#include "devices/rng.h"

#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#define RNG_QUEUE_SIZE 256

static void rng_queue_notify(struct virtio_dev *d, unsigned q)
{
    struct rng_dev *r = d->priv;
    struct virtq_elem e = { .iov = r->iov, .iov_cap = RNG_MAX_IOV };
    bool pushed = false;
    int rc;

    if (q != 0)
        return;
    while ((rc = virtq_pop(&r->vq, &e)) == 1) {
        uint32_t written = 0;
        for (unsigned i = e.nout; i < (unsigned)e.nout + e.nin; i++) {
            ssize_t n = r->fill(r->fill_opaque, r->iov[i].iov_base, r->iov[i].iov_len);
            if (n < 0)
                break; /* entropy source failed: hand back what we have */
            written += (uint32_t)n;
        }
        virtq_push(&r->vq, e.head, written);
        r->bytes += written;
        r->requests++;
        pushed = true;
    }
    if (pushed)
        virtio_dev_queue_irq(d, 0);
}

static const struct virtio_dev_ops rng_ops = {
    .queue_notify = rng_queue_notify,
};

void rng_dev_init(struct rng_dev *r, rng_fill_fn *fill, void *opaque)
{
    r->fill = fill;
    r->fill_opaque = opaque;
    r->bytes = r->requests = 0;
    virtio_dev_init(&r->vdev, VIRTIO_ID_RNG,
                    (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC),
                    &r->vq, 1, RNG_QUEUE_SIZE, NULL, 0, &rng_ops, r);
}
