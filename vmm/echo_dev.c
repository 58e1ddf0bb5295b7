#include "vmm/echo_dev.h"

#include <string.h>

#include <linux/virtio_ring.h>

static void echo_queue_notify(struct virtio_dev *d, unsigned q)
{
    struct echo_dev *ed = d->priv;
    struct virtq_elem e = { .iov = ed->iov, .iov_cap = ECHO_MAX_IOV };
    bool pushed = false;

    if (q != 0)
        return;
    while (virtq_pop(&ed->vq, &e) == 1) {
        /* Copy out-bytes into in-buffers, both walked as one stream. */
        unsigned oi = 0, ii = e.nout;
        size_t ooff = 0, ioff = 0;
        uint32_t copied = 0;
        while (oi < e.nout && ii < (unsigned)e.nout + e.nin) {
            size_t n = ed->iov[oi].iov_len - ooff;
            if (ed->iov[ii].iov_len - ioff < n)
                n = ed->iov[ii].iov_len - ioff;
            memmove((char *)ed->iov[ii].iov_base + ioff, (char *)ed->iov[oi].iov_base + ooff, n);
            copied += (uint32_t)n;
            ooff += n;
            ioff += n;
            if (ooff == ed->iov[oi].iov_len) {
                oi++;
                ooff = 0;
            }
            if (ioff == ed->iov[ii].iov_len) {
                ii++;
                ioff = 0;
            }
        }
        virtq_push(&ed->vq, e.head, copied);
        ed->requests++;
        ed->bytes += copied;
        ed->cfg.served_lo = (uint32_t)ed->requests;
        pushed = true;
    }
    if (pushed)
        virtio_dev_queue_irq(d, 0);
}

static void echo_reset(struct virtio_dev *d)
{
    struct echo_dev *ed = d->priv;
    ed->requests = ed->bytes = 0;
    ed->cfg.served_lo = 0;
}

static const struct virtio_dev_ops echo_ops = {
    .queue_notify = echo_queue_notify,
    .reset = echo_reset,
};

void echo_dev_init(struct echo_dev *ed, uint16_t queue_size)
{
    ed->requests = ed->bytes = 0;
    ed->cfg.served_lo = 0;
    ed->cfg.max_chain = ECHO_MAX_IOV;
    virtio_dev_init(&ed->vdev, ECHO_DEV_TYPE,
                    (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC),
                    &ed->vq, 1, queue_size, &ed->cfg, sizeof(ed->cfg), &echo_ops, ed);
}
