/* virtio-console: port 0 (the console) on receiveq/transmitq 0/1 and, with
 * VIRTIO_CONSOLE_F_MULTIPORT, the control queues (2, 3) and further ports on
 * queues 4+2n / 5+2n. Each port's host side is a character backend (stdio,
 * a UNIX socket, a file: backends/chardev_*.h).
 *
 * Model:
 * - Guest -> host: a transmitq kick pops chains and writes their bytes to the
 *   port's backend. A backend that cannot take bytes now (-EAGAIN) makes the
 *   device keep that chain (one per port, with how far it got) and stop
 *   popping: the rest of the output stays in the guest's ring, so what is
 *   held is bounded by one chain and the guest is slowed down, never robbed.
 *   The chain is finished by console_poll() once the backend is writable.
 *   Output is dropped only when nobody can take it (host side not connected,
 *   or the backend failed for good); it is then counted in tx_dropped and
 *   reported through opts.log.
 * - Host -> guest: bytes are read from the backend only into receive buffers
 *   the guest has posted, and (multiport) only once the guest opened the port;
 *   until then they stay in the backend's fd (flow control, no host buffer).
 * - Control (multiport, §5.3.6.2): DEVICE_READY -> PORT_ADD for every port;
 *   PORT_READY -> CONSOLE_PORT (port 0), PORT_NAME (named ports), PORT_OPEN
 *   (host side connected); the guest's PORT_OPEN records guest open/closed.
 *   Host connect/disconnect and console_set_size() send PORT_OPEN / RESIZE.
 *   Messages for the guest wait in a bounded host queue until it posts
 *   control receive buffers.
 * - Hostile input: a control message that is short, names a port that does
 *   not exist, or carries an event the driver may not send is ignored and
 *   counted (ctrl_ignored) and logged. Ring misuse (a device-readable buffer
 *   in a receive queue, a device-writable one in a transmit queue, a ring the
 *   virtqueue layer rejects) marks the device NEEDS_RESET.
 * - EMERG_WRITE: a config write covering emerg_wr's low byte sends that byte
 *   to port 0's backend, at any time (even before feature negotiation).
 *
 * Threading: every entry point (the virtio ops called by the transport,
 * console_poll(), console_set_size()) takes the device's own lock, so the
 * transport's thread (config writes, status), a device thread (ioeventfd
 * kicks, backend readiness) and the VMM's main loop (resize) may call in
 * concurrently. Backends never block (they answer -EAGAIN), so the lock is
 * never held across a wait. A VMM device thread typically loops:
 *   n = console_pollfds(c, fds, max);  poll(fds + its ioeventfds);
 *   console_poll(c);
 * recomputing the fd set each round (what the device waits for changes with
 * the guest's buffers and the backends' state). Backends are the caller's:
 * they must outlive the device and are only used under the device's lock. */
#ifndef KICK_CONSOLE_H
#define KICK_CONSOLE_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <linux/virtio_console.h>

#include "virtio/virtio_dev.h"

#define CONSOLE_QUEUE_SIZE   128
#define CONSOLE_MAX_PORTS    16   /* max_nr_ports we can offer */
#define CONSOLE_NAME_MAX     128  /* port name bytes, without a terminator */
#define CONSOLE_CTRL_PENDING 64   /* device -> driver control messages waiting */
#define CONSOLE_EMERG_BUF    256  /* emergency bytes waiting for a busy backend */
#define CONSOLE_MAX_QUEUES   (2 + 2 * CONSOLE_MAX_PORTS)

/* --- the backend interface: what a character backend implements --- */

struct console_backend;

struct console_backend_ops {
    /* Up to len bytes for the guest: >0 bytes read, 0 nothing now, -EPIPE the
     * host side went away (connected is false afterwards). Never blocks. */
    ssize_t (*read)(struct console_backend *be, void *buf, size_t len);
    /* Bytes from the guest: >0 taken (may be short), -EAGAIN cannot take any
     * now (wait for the fd to be writable), any other -errno: nobody will take
     * them (not connected, peer gone, medium failed). Never blocks. */
    ssize_t (*write)(struct console_backend *be, const void *buf, size_t len);
    /* Fills up to max pollfds to wait on for input (want_in; also for a peer
     * to connect) and/or output room (want_out); returns how many. */
    unsigned (*pollfds)(struct console_backend *be, bool want_in, bool want_out,
                        struct pollfd *fds, unsigned max);
    /* Housekeeping on readiness (accept a waiting peer). Optional. */
    void (*service)(struct console_backend *be);
};

struct console_backend {
    const struct console_backend_ops *ops;
    bool connected; /* host side open (stdio, file: always; socket: a peer) */
};

/* --- the device --- */

typedef void console_log_fn(void *opaque, const char *msg);

struct console_port_opts {
    struct console_backend *be; /* NULL: the port exists, nothing behind it */
    const char *name;           /* PORT_NAME for ports 1..; NULL: unnamed */
};

struct console_opts {
    unsigned nports;            /* 1..CONSOLE_MAX_PORTS; 0 means 1 */
    struct console_port_opts port[CONSOLE_MAX_PORTS]; /* port 0 is the console */
    bool multiport;             /* offer MULTIPORT even with one port */
    bool size;                  /* offer VIRTIO_CONSOLE_F_SIZE with cols/rows */
    uint16_t cols, rows;
    bool emerg_write;           /* offer VIRTIO_CONSOLE_F_EMERG_WRITE */
    console_log_fn *log;        /* one line per ignored/odd event; NULL: silent */
    void *log_opaque;
};

struct console_port {
    struct console_backend *be;
    char name[CONSOLE_NAME_MAX];
    uint16_t name_len;          /* 0: unnamed */
    bool added;                 /* PORT_ADD sent */
    bool ready;                 /* the driver answered PORT_READY 1 */
    bool guest_open;            /* the driver's last PORT_OPEN */
    bool host_open_told;        /* the last PORT_OPEN value we sent */
    bool tx_held;               /* tx_elem waits for the backend */
    bool tx_dropping;           /* output is being dropped (logged once) */
    uint32_t tx_done;           /* bytes of tx_elem already written */
    struct virtq_elem tx_elem;
    struct iovec tx_iov[CONSOLE_QUEUE_SIZE];
    struct iovec rx_iov[CONSOLE_QUEUE_SIZE];
    uint64_t tx_bytes, rx_bytes, tx_dropped;
};

struct console_ctrl_msg {
    uint16_t len;
    uint8_t buf[sizeof(struct virtio_console_control) + CONSOLE_NAME_MAX];
};

struct console_stats {
    uint64_t ctrl_rx, ctrl_ignored;   /* driver -> device messages */
    uint64_t ctrl_tx, ctrl_dropped;   /* device -> driver; dropped: queue full */
    uint64_t ctrl_truncated;          /* a guest buffer was too small */
    uint64_t emerg_bytes, emerg_dropped;
};

struct console_dev {
    struct virtio_dev vdev;
    struct virtq vqs[CONSOLE_MAX_QUEUES];
    struct console_port port[CONSOLE_MAX_PORTS];
    unsigned nports;
    struct virtio_console_config cfg; /* little-endian, as the guest reads it */
    pthread_mutex_t lock;
    bool device_ready;                /* the driver sent DEVICE_READY 1 */
    /* control messages waiting for c_ivq buffers, a FIFO */
    struct console_ctrl_msg ctrl[CONSOLE_CTRL_PENDING];
    unsigned ctrl_head, ctrl_count;
    uint8_t emerg[CONSOLE_EMERG_BUF];
    unsigned emerg_len;
    struct iovec ctrl_iov[CONSOLE_QUEUE_SIZE];
    console_log_fn *log;
    void *log_opaque;
    struct console_stats stats;
};

/* 0, or -EINVAL (bad port count, a name too long or on port 0). */
int console_dev_init(struct console_dev *c, const struct console_opts *o);
void console_dev_destroy(struct console_dev *c);

/* The pollfds the device waits on now (see Threading); returns how many. */
unsigned console_pollfds(struct console_dev *c, struct pollfd *fds, unsigned max);
/* Serves every port's backend without blocking: finishes held output, reads
 * input into posted receive buffers, tells the guest about host side
 * connects and disconnects, flushes emergency bytes. Call on any readiness. */
void console_poll(struct console_dev *c);
/* New console size: config cols/rows and a config change interrupt (with
 * SIZE offered), and RESIZE on the console port when multiport is running. */
void console_set_size(struct console_dev *c, uint16_t cols, uint16_t rows);

/* Queue indexes of port p. */
static inline unsigned console_rxq(unsigned p) { return p ? 2 + 2 * p : 0; }
static inline unsigned console_txq(unsigned p) { return p ? 3 + 2 * p : 1; }

#endif
