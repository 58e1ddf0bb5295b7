/* virtio-net driver: a pool of receive buffers, synchronous transmit and
 * control. Freestanding. Header fields are little-endian, which is also the
 * native order legacy devices use on the x86 guests this library targets. */
#include "guest/vdrv_net.h"

#include <asm-generic/errno-base.h>
#include <asm-generic/errno.h>

#include "common/kick_barrier.h"

#define CTRL_HDR_OFF 16
#define ACK_OFF      32

/* Byte copies through volatile, so the compiler emits no memcpy/memset call
 * (there is no libc underneath). */
static void copy_bytes(void *dst, const void *src, uint32_t len)
{
    volatile uint8_t *d = dst;
    const volatile uint8_t *s = src;
    for (uint32_t i = 0; i < len; i++)
        d[i] = s[i];
}

static void zero_bytes(void *dst, uint32_t len)
{
    volatile uint8_t *d = dst;
    for (uint32_t i = 0; i < len; i++)
        d[i] = 0;
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

void vdrv_net_read_config(struct vdrv_net *n)
{
    struct vdrv_dev *d = n->dev;
    uint64_t f = d->features;
    uint8_t b[2];
    zero_bytes(n->mac, sizeof(n->mac));
    if (f & (1ull << VIRTIO_NET_F_MAC))
        vdrv_config_read(d, __builtin_offsetof(struct virtio_net_config, mac), n->mac, 6);
    n->status = VIRTIO_NET_S_LINK_UP;
    if (f & (1ull << VIRTIO_NET_F_STATUS)) {
        vdrv_config_read(d, __builtin_offsetof(struct virtio_net_config, status), b, 2);
        n->status = get_le16(b);
    }
    n->max_pairs = 1;
    if (f & (1ull << VIRTIO_NET_F_MQ)) {
        vdrv_config_read(d, __builtin_offsetof(struct virtio_net_config, max_virtqueue_pairs),
                         b, 2);
        n->max_pairs = get_le16(b);
    }
    n->mtu = 0;
    if (f & (1ull << VIRTIO_NET_F_MTU)) {
        vdrv_config_read(d, __builtin_offsetof(struct virtio_net_config, mtu), b, 2);
        n->mtu = get_le16(b);
    }
}

void vdrv_net_init(struct vdrv_net *n, struct vdrv_dev *d, struct vdrv_vq *rx, unsigned rx_queue,
                   struct vdrv_vq *tx, unsigned tx_queue, void *scratch, uint64_t scratch_pa,
                   void (*idle)(void *), void *idle_ctx)
{
    zero_bytes(n, sizeof(*n));
    n->dev = d;
    n->rx = rx;
    n->rx_queue = rx_queue;
    n->tx = tx;
    n->tx_queue = tx_queue;
    n->scratch = scratch;
    n->scratch_pa = scratch_pa;
    n->idle = idle;
    n->idle_ctx = idle_ctx;
    n->mrg_rxbuf = (d->features >> VIRTIO_NET_F_MRG_RXBUF) & 1;
    /* The 10-byte header is the legacy interface's, without merged buffers. */
    bool modern_hdr = ((d->features >> VIRTIO_F_VERSION_1) & 1) || n->mrg_rxbuf;
    n->hdr_len = modern_hdr ? sizeof(struct virtio_net_hdr_v1) : sizeof(struct virtio_net_hdr);
    vdrv_net_read_config(n);
}

void vdrv_net_set_ctrl(struct vdrv_net *n, struct vdrv_vq *ctrl, unsigned ctrl_queue)
{
    n->ctrl = ctrl;
    n->ctrl_queue = ctrl_queue;
}

static void kick(struct vdrv_net *n, struct vdrv_vq *vq, unsigned q)
{
    if (vdrv_vq_kick_prepare(vq))
        vdrv_notify(n->dev, q);
}

static int post_buf(struct vdrv_net *n, uint8_t *buf)
{
    struct vdrv_sg sg = { n->pool_pa + (uint64_t)(buf - n->pool), n->buf_size };
    return vdrv_vq_add(n->rx, &sg, 0, 1, buf);
}

int vdrv_net_rx_fill(struct vdrv_net *n, void *pool, uint64_t pool_pa, uint32_t buf_size,
                     unsigned nbufs)
{
    if (buf_size < n->hdr_len || nbufs == 0)
        return -EINVAL;
    n->pool = pool;
    n->pool_pa = pool_pa;
    n->buf_size = buf_size;
    n->nbufs = nbufs;
    for (unsigned i = 0; i < nbufs; i++) {
        int rc = post_buf(n, n->pool + (uint64_t)i * buf_size);
        if (rc < 0)
            return rc;
    }
    kick(n, n->rx, n->rx_queue);
    return 0;
}

/* Adds, kicks and waits for one chain on vq. */
static int submit_wait(struct vdrv_net *n, struct vdrv_vq *vq, unsigned q,
                       const struct vdrv_sg *sg, unsigned nout, unsigned nin, uint32_t *used)
{
    char token;
    int rc = vdrv_vq_add(vq, sg, nout, nin, &token);
    if (rc < 0)
        return rc;
    kick(n, vq, q);
    for (uint32_t spins = 0; spins < VDRV_NET_POLL_LIMIT; spins++) {
        uint32_t len = 0;
        void *t = vdrv_vq_get_used(vq, &len);
        if (t == &token) {
            if (used)
                *used = len;
            return 0;
        }
        if (t)
            return -EPROTO;
        if (n->idle)
            n->idle(n->idle_ctx);
    }
    return -ETIMEDOUT;
}

int vdrv_net_send(struct vdrv_net *n, uint64_t frame_pa, uint32_t len)
{
    zero_bytes(n->scratch, n->hdr_len);
    struct vdrv_sg sg[2] = {
        { n->scratch_pa, n->hdr_len },
        { frame_pa, len },
    };
    return submit_wait(n, n->tx, n->tx_queue, sg, 2, 0, 0);
}

/* The buffer behind a token, if the token is one of ours. */
static uint8_t *our_buf(const struct vdrv_net *n, void *t)
{
    uint8_t *p = t;
    if (!p || p < n->pool)
        return 0;
    uint64_t off = (uint64_t)(p - n->pool);
    if (off % n->buf_size || off / n->buf_size >= n->nbufs)
        return 0;
    return p;
}

int vdrv_net_recv(struct vdrv_net *n, void *out, uint32_t cap, uint32_t *len)
{
    uint32_t used = 0;
    uint8_t *buf = our_buf(n, vdrv_vq_get_used(n->rx, &used));
    if (!buf)
        return vdrv_vq_has_used(n->rx) ? -EPROTO : -EAGAIN;
    kick_rmb();
    int rc = 0;
    if (used < n->hdr_len || used > n->buf_size) {
        post_buf(n, buf);
        kick(n, n->rx, n->rx_queue);
        return -EPROTO;
    }
    copy_bytes(n->last_hdr, buf, n->hdr_len);
    n->last_used_len = used;
    uint16_t nb = 1;
    if (n->mrg_rxbuf)
        nb = get_le16(buf + __builtin_offsetof(struct virtio_net_hdr_v1, num_buffers));
    n->last_num_buffers = nb;
    if (nb == 0) {
        post_buf(n, buf);
        kick(n, n->rx, n->rx_queue);
        return -EPROTO;
    }
    uint32_t total = 0;
    uint32_t off = n->hdr_len;
    for (uint16_t i = 0;; i++) {
        uint32_t k = used - off;
        if (total + k > cap)
            rc = -EMSGSIZE; /* keep consuming the frame's buffers */
        else
            copy_bytes((uint8_t *)out + total, buf + off, k);
        total += k;
        post_buf(n, buf);
        if (i + 1 >= nb)
            break;
        buf = our_buf(n, vdrv_vq_get_used(n->rx, &used));
        if (!buf || used > n->buf_size) {
            if (buf)
                post_buf(n, buf);
            rc = -EPROTO;
            break;
        }
        off = 0;
    }
    kick(n, n->rx, n->rx_queue);
    if (rc < 0)
        return rc;
    *len = total;
    return 0;
}

int vdrv_net_ctrl(struct vdrv_net *n, uint8_t cls, uint8_t cmd, uint64_t data_pa,
                  uint32_t data_len)
{
    if (!n->ctrl)
        return -ENODEV;
    volatile uint8_t *hdr = n->scratch + CTRL_HDR_OFF;
    volatile uint8_t *ack = n->scratch + ACK_OFF;
    hdr[0] = cls;
    hdr[1] = cmd;
    *ack = 0xff; /* no device writes this: a missing ack shows */
    struct vdrv_sg sg[3];
    unsigned k = 0;
    sg[k++] = (struct vdrv_sg){ n->scratch_pa + CTRL_HDR_OFF, 2 };
    if (data_len)
        sg[k++] = (struct vdrv_sg){ data_pa, data_len };
    sg[k++] = (struct vdrv_sg){ n->scratch_pa + ACK_OFF, 1 };
    int rc = submit_wait(n, n->ctrl, n->ctrl_queue, sg, k - 1, 1, 0);
    if (rc < 0)
        return rc;
    kick_rmb();
    return *ack;
}
