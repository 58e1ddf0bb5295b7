/* Block backend over a raw image file or a block device, on io_uring.
 *
 * One io_uring per channel (= per virtqueue of the blk device), so queues
 * never share a ring and a VMM may serve each from its own thread. Every
 * ring has an eventfd registered (io_uring_register_eventfd): it becomes
 * readable when completions are waiting, and a device thread waits on it,
 * reads it, then calls blk_poll_queue().
 *
 * Reads and writes are readv/writev SQEs over the guest's own buffers (no
 * copy); short transfers are continued, and one that makes no progress
 * (end of file) fails with -EIO. Flush is fsync(IORING_FSYNC_DATASYNC);
 * discard is fallocate(PUNCH_HOLE); write zeroes is fallocate(ZERO_RANGE), or
 * PUNCH_HOLE when the driver allows unmapping.
 *
 * O_DIRECT (opts.direct): requests whose offset, length and every buffer are
 * aligned to the medium's direct-I/O alignment go to an O_DIRECT descriptor;
 * the rest (guest buffers need not be aligned) go to a second, buffered
 * descriptor of the same file. The kernel keeps the two coherent (direct I/O
 * writes back and invalidates the page-cache range it touches). */
#ifndef KICK_FILE_URING_H
#define KICK_FILE_URING_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

#include "devices/blk.h"

struct file_uring_opts {
    bool direct;        /* O_DIRECT where the request allows it */
    bool read_only;     /* open read-only (the device then offers RO) */
    unsigned channels;  /* rings, one per virtqueue; 0: 1 */
};

struct file_uring_chan {
    struct io_uring ring;
    int event_fd;
    unsigned inflight;  /* SQEs queued or in the kernel */
    bool ring_ok;
};

struct file_uring {
    int fd;             /* buffered */
    int fd_direct;      /* O_DIRECT, or -1 */
    uint32_t dio_align; /* offset/length/buffer alignment for fd_direct */
    bool is_blockdev;
    unsigned nch;
    struct file_uring_chan *ch;
    struct blk_backend blk; /* hand &blk to blk_dev_init() */
    uint64_t direct_ios, buffered_ios, short_continues;
};

/* Opens path. 0 or a negative errno (-EINVAL also when O_DIRECT is asked for
 * and the file system refuses it). */
int file_uring_open(struct file_uring *f, const char *path, const struct file_uring_opts *o);
/* The same over an open descriptor, which f takes over. The descriptor's own
 * access mode is used as is (O_DIRECT is not applied to it). */
int file_uring_open_fd(struct file_uring *f, int fd, const struct file_uring_opts *o);
/* Waits for in-flight I/O, then closes everything. */
void file_uring_close(struct file_uring *f);
/* Readable when channel ch has completions to reap; -1 for a bad ch. */
int file_uring_event_fd(const struct file_uring *f, unsigned ch);

#endif
