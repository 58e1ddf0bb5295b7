/* virtio-console, driver side. Freestanding (no libc).
 *
 * Port 0 works on its own (write/read on queues 1/0). With
 * VIRTIO_CONSOLE_F_MULTIPORT the driver runs the control protocol: it keeps
 * VDRV_CONSOLE_CTRL_BUFS buffers posted on the control receiveq, answers
 * PORT_ADD with PORT_READY and CONSOLE_PORT with PORT_OPEN 1 (as the spec
 * requires), records PORT_NAME, host PORT_OPEN and RESIZE, and keeps every
 * control message it received in a log (for the probe's and tests' checks).
 * Every message from the device is checked: a port id at or beyond
 * max_nr_ports, a short message or an overlong name is counted in bad_msgs
 * and otherwise ignored.
 *
 * Calls are synchronous: add, kick, then poll the used ring, calling the idle
 * hook between polls (a real guest: a pause; a loopback test: let the host
 * device run), at most poll_limit times. */
#ifndef KICK_VDRV_CONSOLE_H
#define KICK_VDRV_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_console.h>

#include "guest/vdrv_pci.h"

#define VDRV_CONSOLE_MAX_PORTS 16
#define VDRV_CONSOLE_NAME_MAX  128
#define VDRV_CONSOLE_CTRL_BUFS 8
#define VDRV_CONSOLE_CTRL_BUF  (8 + VDRV_CONSOLE_NAME_MAX)
/* Guest memory the driver needs for control buffers and its own messages. */
#define VDRV_CONSOLE_SCRATCH   (VDRV_CONSOLE_CTRL_BUFS * VDRV_CONSOLE_CTRL_BUF + 16)
#define VDRV_CONSOLE_LOG       64
#define VDRV_CONSOLE_QUIET     64   /* empty polls that end the handshake */
#define VDRV_CONSOLE_POLL_LIMIT 10000000u

struct vdrv_console_port {
    struct vdrv_vq *rxq, *txq;   /* NULL until bound */
    bool added, ready_sent, console, host_open, guest_open;
    uint16_t name_len;
    char name[VDRV_CONSOLE_NAME_MAX + 1]; /* NUL-terminated copy */
};

struct vdrv_console_event {
    uint32_t id;
    uint16_t event, value;
    uint32_t len;                /* the used length of the message */
};

struct vdrv_console {
    struct vdrv_dev *dev;
    bool multiport, has_size, emerg_write; /* negotiated */
    uint32_t max_nr_ports;       /* 1 without multiport; clamped to MAX_PORTS */
    uint16_t cols, rows;         /* config, then RESIZE */
    unsigned resizes;            /* RESIZE messages seen */
    struct vdrv_vq *c_ivq, *c_ovq;
    uint8_t *scratch;
    uint64_t scratch_pa;
    struct vdrv_console_port port[VDRV_CONSOLE_MAX_PORTS];
    struct vdrv_console_event log[VDRV_CONSOLE_LOG];
    unsigned nlog;               /* messages received (log holds the first LOG) */
    unsigned bad_msgs;
    bool auto_reply;             /* answer PORT_ADD / CONSOLE_PORT (default on) */
    void (*idle)(void *ctx);
    void *idle_ctx;
    uint32_t poll_limit;
};

/* Binds to a negotiated device and reads the config. scratch:
 * VDRV_CONSOLE_SCRATCH bytes of guest memory, 16-byte aligned. */
void vdrv_console_init(struct vdrv_console *c, struct vdrv_dev *d, void *scratch,
                       uint64_t scratch_pa, void (*idle)(void *), void *idle_ctx);
/* Re-reads cols/rows (after a config change interrupt). */
void vdrv_console_read_size(struct vdrv_console *c);
/* The queues of port p, set up by the caller (indexes vdrv_console_rxq/txq). */
int vdrv_console_bind_port(struct vdrv_console *c, unsigned p, struct vdrv_vq *rxq,
                           struct vdrv_vq *txq);
static inline unsigned vdrv_console_rxq(unsigned p) { return p ? 2 + 2 * p : 0; }
static inline unsigned vdrv_console_txq(unsigned p) { return p ? 3 + 2 * p : 1; }

/* Data. write: 0 once the device consumed the buffer. read: posts one
 * receive buffer and waits for it: the bytes received, or -ETIMEDOUT (the
 * buffer then stays posted; rx_get returns it later). */
int vdrv_console_write(struct vdrv_console *c, unsigned p, uint64_t buf_pa, uint32_t len);
int vdrv_console_read(struct vdrv_console *c, unsigned p, uint64_t buf_pa, uint32_t len);
int vdrv_console_rx_post(struct vdrv_console *c, unsigned p, uint64_t buf_pa, uint32_t len,
                         void *token);
void *vdrv_console_rx_get(struct vdrv_console *c, unsigned p, uint32_t *len);

/* Emergency write of one character (VIRTIO_CONSOLE_F_EMERG_WRITE offered). */
void vdrv_console_emerg_write(struct vdrv_console *c, uint8_t ch);

/* --- multiport --- */

/* Posts the control receive buffers on c_ivq (queue 2) and keeps c_ovq
 * (queue 3) for sending. */
int vdrv_console_ctrl_start(struct vdrv_console *c, struct vdrv_vq *c_ivq, struct vdrv_vq *c_ovq);
/* Sends one control message and waits until the device took it. */
int vdrv_console_ctrl_send(struct vdrv_console *c, uint32_t id, uint16_t event, uint16_t value);
/* Handles the control messages the device has returned and re-posts their
 * buffers; returns how many, or a negative errno. */
int vdrv_console_ctrl_process(struct vdrv_console *c);
/* DEVICE_READY, then processes messages until the control queue stays quiet
 * for VDRV_CONSOLE_QUIET polls. Returns the number of ports added, or
 * -ETIMEDOUT when the device added none. */
int vdrv_console_handshake(struct vdrv_console *c);
/* The guest side opens or closes port p (PORT_OPEN). */
int vdrv_console_open_port(struct vdrv_console *c, unsigned p, bool open);

#endif
