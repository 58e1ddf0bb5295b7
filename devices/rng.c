#include "devices/rng.h"

#include <time.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#define RNG_QUEUE_SIZE 256

static uint64_t rng_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Tops the bucket up for the time passed; never above one second's worth. */
static void rng_refill(struct rng_dev *r)
{
    uint64_t now = r->now_ns();
    uint64_t dt = now - r->last_ns;
    /* dt * rate overflows only after years at absurd rates: cap dt at 1 s,
     * which fills the bucket anyway. */
    if (dt > 1000000000ull)
        dt = 1000000000ull;
    uint64_t add = dt * r->rate / 1000000000ull;
    if (add) {
        r->tokens = r->tokens + add > r->rate ? r->rate : r->tokens + add;
        r->last_ns = now;
    }
}

/* Fills the chain's writable buffers with at most budget bytes. */
static uint32_t rng_fill_chain(struct rng_dev *r, const struct virtq_elem *e, uint64_t budget)
{
    uint32_t written = 0;
    for (unsigned i = e->nout; i < (unsigned)e->nout + e->nin && budget; i++) {
        size_t len = r->iov[i].iov_len < budget ? r->iov[i].iov_len : (size_t)budget;
        ssize_t n = r->fill(r->fill_opaque, r->iov[i].iov_base, len);
        if (n < 0)
            break; /* entropy source failed: hand back what we have */
        written += (uint32_t)n;
        budget -= (uint64_t)n;
    }
    return written;
}

uint64_t rng_poll(struct rng_dev *r)
{
    struct virtq_elem e = { .iov = r->iov, .iov_cap = RNG_MAX_IOV };
    bool pushed = false;
    uint64_t wait = 0;

    if (r->rate)
        rng_refill(r);
    while (virtq_pop(&r->vq, &e) == 1) {
        uint64_t budget = r->rate ? r->tokens : UINT64_MAX;
        if (budget == 0 && e.in_len) {
            /* Leave it in the ring until the bucket has a byte again. */
            virtq_unpop(&r->vq);
            wait = 1000000000ull / r->rate + 1;
            break;
        }
        uint32_t written = rng_fill_chain(r, &e, budget);
        if (r->rate)
            r->tokens -= written;
        virtq_push(&r->vq, e.head, written);
        r->bytes += written;
        r->requests++;
        pushed = true;
    }
    if (pushed)
        virtio_dev_queue_irq(&r->vdev, 0);
    return wait;
}

static void rng_queue_notify(struct virtio_dev *d, unsigned q)
{
    if (q == 0)
        (void)rng_poll(d->priv);
}

static const struct virtio_dev_ops rng_ops = {
    .queue_notify = rng_queue_notify,
};

void rng_dev_set_rate(struct rng_dev *r, uint64_t bytes_per_sec)
{
    r->rate = bytes_per_sec;
    r->tokens = bytes_per_sec;
    r->last_ns = r->now_ns();
}

void rng_dev_init(struct rng_dev *r, rng_fill_fn *fill, void *opaque)
{
    r->fill = fill;
    r->fill_opaque = opaque;
    r->bytes = r->requests = 0;
    r->now_ns = rng_clock_ns;
    r->rate = r->tokens = r->last_ns = 0;
    virtio_dev_init(&r->vdev, VIRTIO_ID_RNG,
                    (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC),
                    &r->vq, 1, RNG_QUEUE_SIZE, NULL, 0, &rng_ops, r);
}
