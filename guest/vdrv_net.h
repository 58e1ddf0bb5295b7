/* virtio-net, driver side: one rx/tx queue pair (and optionally the control
 * queue), frames as flat guest buffers. Freestanding (no libc).
 *
 * Receive buffers come from one caller-provided pool cut into equal slots;
 * each used buffer is copied out and posted again. With MRG_RXBUF a frame
 * may span several buffers (num_buffers in the first header); they are
 * gathered in used-ring order. Transmit and control requests are
 * synchronous: add, kick, poll the used ring, calling the idle hook between
 * polls (a real guest pauses; a loopback test lets the host side run). */
#ifndef KICK_VDRV_NET_H
#define KICK_VDRV_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#include "guest/vdrv_pci.h"

/* Scratch the driver needs: tx header, control header and ack. */
#define VDRV_NET_SCRATCH    64
#define VDRV_NET_POLL_LIMIT 10000000u
#define VDRV_NET_MAX_BUFS   64 /* buffers one received frame may span */

struct vdrv_net {
    struct vdrv_dev *dev;
    struct vdrv_vq *rx, *tx, *ctrl;
    unsigned rx_queue, tx_queue, ctrl_queue;
    uint32_t hdr_len;          /* 12, or 10 (legacy without MRG_RXBUF) */
    bool mrg_rxbuf;
    uint8_t mac[6];
    uint16_t status;           /* VIRTIO_NET_S_* (LINK_UP assumed without F_STATUS) */
    uint16_t mtu;              /* 0 without VIRTIO_NET_F_MTU */
    uint16_t max_pairs;        /* 1 without VIRTIO_NET_F_MQ */
    uint8_t *scratch;
    uint64_t scratch_pa;
    uint8_t *pool;             /* rx buffers */
    uint64_t pool_pa;
    uint32_t buf_size;
    unsigned nbufs;
    void (*idle)(void *ctx);
    void *idle_ctx;
    /* what the last received frame looked like */
    uint16_t last_num_buffers;
    uint32_t last_used_len;    /* of its first buffer */
    uint8_t last_hdr[12];
};

/* Binds to an already negotiated, DRIVER_OK device's queues (ctrl may be
 * NULL) and reads the config. scratch: VDRV_NET_SCRATCH bytes. */
void vdrv_net_init(struct vdrv_net *n, struct vdrv_dev *d, struct vdrv_vq *rx, unsigned rx_queue,
                   struct vdrv_vq *tx, unsigned tx_queue, void *scratch, uint64_t scratch_pa,
                   void (*idle)(void *), void *idle_ctx);
void vdrv_net_set_ctrl(struct vdrv_net *n, struct vdrv_vq *ctrl, unsigned ctrl_queue);
/* MAC, status, MTU, max_virtqueue_pairs. */
void vdrv_net_read_config(struct vdrv_net *n);

/* Cuts pool (pool_pa) into nbufs buffers of buf_size bytes and posts them
 * all. 0, or the ring's error (-ENOSPC when the queue is too small). */
int vdrv_net_rx_fill(struct vdrv_net *n, void *pool, uint64_t pool_pa, uint32_t buf_size,
                     unsigned nbufs);

/* Sends one frame (Ethernet header onwards) at frame_pa: a zeroed header,
 * then the frame, in two descriptors. 0, -ETIMEDOUT, -EPROTO (someone
 * else's chain came back), or the ring's error. */
int vdrv_net_send(struct vdrv_net *n, uint64_t frame_pa, uint32_t len);

/* Takes one received frame, if any: copies it (without the vnet header) to
 * out and posts its buffers again. 0 with *len; -EAGAIN (nothing yet);
 * -EMSGSIZE (did not fit in cap: dropped); -EPROTO (bad used length, or
 * num_buffers that the used ring does not back). */
int vdrv_net_recv(struct vdrv_net *n, void *out, uint32_t cap, uint32_t *len);

/* One control command; data (device-readable) may be 0/0. Returns the ack
 * (VIRTIO_NET_OK / VIRTIO_NET_ERR) or a negative errno. */
int vdrv_net_ctrl(struct vdrv_net *n, uint8_t cls, uint8_t cmd, uint64_t data_pa,
                  uint32_t data_len);

#endif
