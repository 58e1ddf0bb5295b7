/* virtio-rng (entropy device): one request queue; every device-writable
 * buffer the driver posts is filled from the backend's entropy source,
 * optionally limited to a rate (a token bucket holding one second's worth).
 *
 * Threading: queue_notify and rng_poll for one device must be serialized by
 * the caller (one device thread). With a rate limit, requests that find the
 * bucket empty stay in the ring; rng_poll() serves them later and says when
 * to call it next. */
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
    /* rate limit (0: none) */
    uint64_t rate;     /* bytes per second */
    uint64_t tokens;   /* bytes that may be served now */
    uint64_t last_ns;  /* when tokens was last topped up */
    uint64_t (*now_ns)(void); /* clock; CLOCK_MONOTONIC unless a test sets it */
};

void rng_dev_init(struct rng_dev *r, rng_fill_fn *fill, void *opaque);

/* Limit the device to bytes_per_sec (0 lifts the limit). The bucket starts
 * full: one second's worth may be served at once. */
void rng_dev_set_rate(struct rng_dev *r, uint64_t bytes_per_sec);

/* Serves what the rate allows. Returns 0 when nothing is waiting, else the
 * nanoseconds after which more can be served (call again then). */
uint64_t rng_poll(struct rng_dev *r);

#endif
