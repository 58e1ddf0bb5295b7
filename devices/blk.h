/* virtio-blk: one request virtqueue per queue (VIRTIO_BLK_F_MQ for more than
 * one), requests served asynchronously by a block backend.
 *
 * Model: queue_notify pops every available chain, validates it (the guest is
 * hostile), turns it into backend I/O (blk_io) and hands the batch to the
 * backend; it never waits for the medium. Completions come back through
 * blk_poll()/blk_poll_queue(): the host calls it when the backend's completion
 * eventfd fires (a VMM device thread), or in a loop (tests). Each completion
 * writes the status byte, pushes the used element and interrupts if the
 * driver wants one.
 *
 * Threading: everything for one queue (its queue_notify and its
 * blk_poll_queue) must be serialized by the caller; different queues share no
 * mutable state here, so a VMM may run one thread per queue. reset() and
 * queue_reset() drain the affected queues' in-flight I/O (blocking until the
 * backend completes it) and must not run concurrently with that queue's other
 * entry points: a VMM stops or locks its device threads around a reset. */
#ifndef KICK_BLK_H
#define KICK_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "virtio/virtio_dev.h"

#define BLK_QUEUE_SIZE   256
#define BLK_SEG_MAX      (BLK_QUEUE_SIZE - 2)  /* data segments: chain less header and status */
#define BLK_IOV_MAX      BLK_QUEUE_SIZE
#define BLK_SIZE_MAX     (1u << 20)            /* largest segment we advertise */
#define BLK_INFLIGHT     128                   /* requests in flight per queue */
#define BLK_MAX_QUEUES   16
#define BLK_DWZ_SEG_MAX  8                     /* discard / write zeroes segments */
#define BLK_DWZ_SECT_MAX (1u << 22)            /* sectors per segment (2 GiB) */

/* --- the backend interface: what a block backend implements --- */

enum blk_io_op { BLK_IO_READ, BLK_IO_WRITE, BLK_IO_FLUSH, BLK_IO_DISCARD, BLK_IO_WRITE_ZEROES };

/* One backend operation. Owned by the device; the backend may consume iov
 * (to continue after a short transfer) and uses `done` as it likes. */
struct blk_io {
    enum blk_io_op op;
    struct iovec *iov;   /* READ/WRITE: host buffers (guest memory) */
    unsigned iovcnt;
    uint64_t offset;     /* bytes */
    uint64_t len;        /* READ/WRITE: sum of iov; DISCARD/WRITE_ZEROES: range */
    bool unmap;          /* WRITE_ZEROES: may deallocate */
    bool sync;           /* WRITE: stable on completion (no FLUSH negotiated) */
    uint64_t done;       /* backend's progress */
};

/* Called by the backend for each finished io: res 0, or a negative errno
 * (a short transfer that cannot continue is -EIO). */
typedef void blk_io_done_fn(void *ctx, struct blk_io *io, int res);

struct blk_backend_ops {
    /* Queues io on channel ch (one channel per virtqueue). 0, or -errno when
     * it could not be queued (the device then fails the request). */
    int (*submit)(void *be, unsigned ch, struct blk_io *io);
    /* Hands what was queued on ch to the medium (one syscall per batch). */
    void (*commit)(void *be, unsigned ch);
    /* Calls done for each io of ch that finished; with wait, blocks until at
     * least one did (when any is in flight). Returns how many finished. */
    unsigned (*reap)(void *be, unsigned ch, bool wait, blk_io_done_fn *done, void *ctx);
};

struct blk_backend {
    const struct blk_backend_ops *ops;
    void *be;
    uint64_t size;     /* bytes; capacity is size / 512 */
    bool read_only;    /* the medium refuses writes: offer VIRTIO_BLK_F_RO */
    unsigned channels; /* how many queues it can serve */
};

/* --- the device --- */

struct blk_opts {
    const char *serial;   /* GET_ID string, up to 20 bytes used; NULL: empty */
    uint32_t blk_size;    /* logical block size (power of two >= 512); 0: 512 */
    bool read_only;       /* offer VIRTIO_BLK_F_RO and refuse writes */
    unsigned num_queues;  /* 0 or 1: one queue; more: VIRTIO_BLK_F_MQ */
    bool no_discard;      /* do not offer DISCARD / WRITE_ZEROES */
};

struct blk_dev;
struct blk_req;

struct blk_queue {
    struct blk_dev *blk;
    unsigned index;
    struct blk_req *slots;     /* every slot allocated so far */
    struct blk_req *free;      /* free list */
    unsigned nslots;           /* allocated on demand, at most BLK_INFLIGHT */
    unsigned inflight;
    bool pushed;               /* used elements published since the last irq */
    bool dropping;             /* reset in progress: finish without pushing */
};

struct blk_stats {
    uint64_t requests, read_bytes, write_bytes, flushes, errors;
};

struct blk_dev {
    struct virtio_dev vdev;
    struct virtq vqs[BLK_MAX_QUEUES];
    struct blk_queue q[BLK_MAX_QUEUES];
    struct virtio_blk_config cfg;  /* little-endian, as the guest reads it */
    struct blk_backend *be;
    uint64_t capacity;             /* 512-byte sectors */
    bool read_only;
    char serial[VIRTIO_BLK_ID_BYTES];
    struct blk_stats stats;
};

/* 0, or -EINVAL (bad options, or more queues than the backend has channels).
 * Request slots are allocated as requests arrive (a queue that cannot get
 * one leaves its chains in the ring until a completion frees one);
 * blk_dev_destroy() frees them. */
int blk_dev_init(struct blk_dev *b, struct blk_backend *be, const struct blk_opts *o);
void blk_dev_destroy(struct blk_dev *b);

/* Reaps queue q's finished backend I/O, completes those requests to the
 * guest, and then serves chains that were waiting for a free slot. With
 * wait, blocks until at least one completion if anything is in flight.
 * Returns the number of requests completed. */
unsigned blk_poll_queue(struct blk_dev *b, unsigned q, bool wait);
/* blk_poll_queue for every queue. */
unsigned blk_poll(struct blk_dev *b, bool wait);
/* Requests in flight on all queues. */
unsigned blk_inflight(const struct blk_dev *b);

#endif
