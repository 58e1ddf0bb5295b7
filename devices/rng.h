/* virtio-rng (entropy device): one request queue; every device-writable
 * buffer the driver posts is filled from the backend's entropy source. */
#ifndef KICK_RNG_H
#define KICK_RNG_H

#include <stdint.h>
#include <sys/types.h>

#include "virtio/virtio_dev.h"

/* Backend: fill buf with len bytes, return len or a negative errno. */
typedef ssize_t rng_fill_fn(void *opaque, void *buf, size_t len);

#define RNG_MAX_IOV 16

struct rng_dev {
    struct virtio_dev vdev;
    struct virtq vq;
    struct iovec iov[RNG_MAX_IOV];
    rng_fill_fn *fill;
    void *fill_opaque;
    uint64_t bytes;    /* served so far */
    uint64_t requests;
};

void rng_dev_init(struct rng_dev *r, rng_fill_fn *fill, void *opaque);

#endif
