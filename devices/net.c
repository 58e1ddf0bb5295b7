#include "devices/net.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "devices/net_ctrl.h"

struct net_frame {
    struct net_frame *next;
    size_t len;
    struct virtio_net_hdr_v1 hdr;  /* checked for this driver; num_buffers unused */
    const uint8_t *data;           /* own[], or the backend's buffer while borrowed */
    bool borrowed;                 /* on the receiver's stack: not to be freed */
    uint8_t own[];
};

struct net_held {
    uint16_t head;
    uint32_t len;
};

static const uint8_t net_default_mac[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* --- iovec helpers: offsets and lengths are bounded by the chain totals --- */

size_t net_iov_read_at(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len)
{
    size_t got = 0;
    for (unsigned i = 0; i < n && got < len; i++) {
        size_t l = iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        size_t k = l - off < len - got ? l - off : len - got;
        memcpy((uint8_t *)dst + got, (const uint8_t *)iov[i].iov_base + off, k);
        got += k;
        off = 0;
    }
    return got;
}

size_t net_iov_write_at(const struct iovec *iov, unsigned n, size_t off, const void *src,
                           size_t len)
{
    size_t put = 0;
    for (unsigned i = 0; i < n && put < len; i++) {
        size_t l = iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        size_t k = l - off < len - put ? l - off : len - put;
        memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)src + put, k);
        put += k;
        off = 0;
    }
    return put;
}

static uint8_t *iov_byte_at(const struct iovec *iov, unsigned n, size_t off)
{
    for (unsigned i = 0; i < n; i++) {
        if (off < iov[i].iov_len)
            return (uint8_t *)iov[i].iov_base + off;
        off -= iov[i].iov_len;
    }
    return NULL;
}

/* --- features and layout --- */

size_t net_dev_hdr_len(const struct net_dev *n)
{
    /* Legacy drivers without mergeable buffers use the 10-byte header; every
     * other combination has num_buffers (§5.1.6, legacy interface notes). */
    if (virtio_dev_has_feature(&n->vdev, VIRTIO_F_VERSION_1) ||
        virtio_dev_has_feature(&n->vdev, VIRTIO_NET_F_MRG_RXBUF))
        return sizeof(struct virtio_net_hdr_v1);
    return sizeof(struct virtio_net_hdr);
}

static unsigned net_pairs_usable(const struct net_dev *n)
{
    return virtio_dev_has_feature(&n->vdev, VIRTIO_NET_F_MQ) ? n->max_pairs : 1;
}

unsigned net_ctrl_queue(const struct net_dev *n)
{
    return 2 * net_pairs_usable(n);
}

/* --- flow steering: rx goes to the pair the flow last transmitted on --- */

static int net_flow_slot(const uint8_t *f, size_t len)
{
    if (len < ETH_HLEN + 20 || f[12] != 0x08 || f[13] != 0x00)
        return -1;
    const uint8_t *ip = f + ETH_HLEN;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    if ((ip[0] >> 4) != 4 || ihl < 20 || len < ETH_HLEN + ihl)
        return -1;
    uint32_t h = ip[9];
    /* xor of the two ends: both directions of a flow land in one slot */
    for (int i = 0; i < 4; i++)
        h ^= (uint32_t)(ip[12 + i] ^ ip[16 + i]) << (8 * i);
    bool first_fragment = ((ip[6] & 0x1f) | ip[7]) == 0;
    if ((ip[9] == 6 || ip[9] == 17) && first_fragment && len >= ETH_HLEN + ihl + 4) {
        const uint8_t *l4 = ip + ihl;
        h ^= (uint32_t)((l4[0] ^ l4[2]) << 8 | (l4[1] ^ l4[3])) * 0x9e37u;
    }
    h ^= h >> 16;
    h ^= h >> 8;
    return (int)(h % NET_FLOW_SLOTS);
}

/* --- receive --- */

static void net_rxq_forget(struct net_rxq *rq)
{
    struct net_frame *f = rq->head;
    while (f) {
        struct net_frame *next = f->next;
        if (!f->borrowed)
            free(f);
        f = next;
    }
    rq->head = rq->tail = NULL;
    rq->frames = 0;
    rq->bytes = 0;
    rq->nheld = 0;
    rq->copied = 0;
    rq->num_buffers[0] = rq->num_buffers[1] = NULL;
}

static void net_rxq_drop_head(struct net_dev *n, struct net_rxq *rq, bool delivered)
{
    struct net_frame *f = rq->head;
    rq->head = f->next;
    if (!rq->head)
        rq->tail = NULL;
    rq->frames--;
    rq->bytes -= f->len;
    if (delivered) {
        n->stats.rx_frames++;
        n->stats.rx_bytes += f->len;
    } else {
        n->stats.rx_dropped++;
    }
    if (!f->borrowed)
        free(f);
    rq->nheld = 0;
    rq->copied = 0;
    rq->num_buffers[0] = rq->num_buffers[1] = NULL;
}

/* Publishes every held chain; lens of 0 hand them back empty. */
static void net_rxq_push_held(struct virtq *vq, struct net_rxq *rq, bool empty)
{
    for (unsigned i = 0; i < rq->nheld; i++)
        virtq_push(vq, rq->held[i].head, empty ? 0 : rq->held[i].len);
}

/* Moves the head frame of rq into posted chains. 1: the frame is done
 * (delivered or dropped); 0: waiting for buffers (or the queue broke). */
static int net_rx_fill(struct net_dev *n, struct net_rxq *rq, struct virtq *vq, bool *pushed)
{
    struct net_frame *f = rq->head;
    size_t hdr_len = net_dev_hdr_len(n);
    bool mrg = virtio_dev_has_feature(&n->vdev, VIRTIO_NET_F_MRG_RXBUF);

    for (;;) {
        if (rq->nheld && rq->copied == f->len) {
            if (rq->num_buffers[0]) {
                /* num_buffers is little-endian (legacy: x86 native) */
                *rq->num_buffers[0] = (uint8_t)rq->nheld;
                *rq->num_buffers[1] = (uint8_t)(rq->nheld >> 8);
            }
            net_rxq_push_held(vq, rq, false);
            *pushed = true;
            net_rxq_drop_head(n, rq, true);
            return 1;
        }
        struct virtq_elem e = { .iov = n->iov, .iov_cap = NET_IOV_MAX };
        if (virtq_pop(vq, &e) != 1)
            return 0;
        struct iovec *in = e.iov + e.nout;
        if (e.nout) {
            /* Receive buffers are device-writable only: this chain is not one. */
            virtq_push(vq, e.head, 0);
            *pushed = true;
            n->stats.rx_errors++;
            continue;
        }
        if (rq->nheld == 0) {
            if (e.in_len < hdr_len) {
                virtq_push(vq, e.head, 0);
                *pushed = true;
                n->stats.rx_errors++;
                continue;
            }
            struct virtio_net_hdr_v1 h = f->hdr;
            h.num_buffers = htole16(1);
            net_iov_write_at(in, e.nin, 0, &h, hdr_len);
            size_t room = e.in_len - hdr_len;
            size_t k = room < f->len ? room : f->len;
            if (!mrg && k < f->len) {
                /* Without merging the frame needs one chain: leave this one
                 * for a frame that fits and drop this frame. */
                virtq_unpop(vq);
                net_rxq_drop_head(n, rq, false);
                return 1;
            }
            net_iov_write_at(in, e.nin, hdr_len, f->data, k);
            if (mrg) {
                size_t nb = offsetof(struct virtio_net_hdr_v1, num_buffers);
                rq->num_buffers[0] = iov_byte_at(in, e.nin, nb);
                rq->num_buffers[1] = iov_byte_at(in, e.nin, nb + 1);
            }
            rq->held[0] = (struct net_held){ e.head, (uint32_t)(hdr_len + k) };
            rq->nheld = 1;
            rq->copied = k;
            continue;
        }
        size_t k = e.in_len < f->len - rq->copied ? e.in_len : f->len - rq->copied;
        net_iov_write_at(in, e.nin, 0, f->data + rq->copied, k);
        rq->held[rq->nheld++] = (struct net_held){ e.head, (uint32_t)k };
        rq->copied += k;
        if (rq->copied < f->len && rq->nheld >= vq->size) {
            /* A whole ring of chains cannot hold it: give them back empty. */
            net_rxq_push_held(vq, rq, true);
            *pushed = true;
            n->stats.rx_errors++;
            net_rxq_drop_head(n, rq, false);
            return 1;
        }
    }
}

static void net_rx_flush(struct net_dev *n, unsigned pair)
{
    struct net_rxq *rq = &n->rxq[pair];
    unsigned qi = net_rx_queue(pair);
    struct virtq *vq = &n->vqs[qi];
    bool pushed = false;

    while (rq->head && vq->ready && virtio_dev_running(&n->vdev))
        if (!net_rx_fill(n, rq, vq, &pushed))
            break;
    if (pushed)
        virtio_dev_queue_irq(&n->vdev, qi);
}

/* The pair a frame goes to: the backend's own pair (a tap queue) when the
 * driver uses it, else the pair its flow last transmitted on, else 0. */
static unsigned net_rx_pair(const struct net_dev *n, unsigned hint, const void *frame,
                            size_t len)
{
    if (hint < n->curr_pairs && n->vqs[net_rx_queue(hint)].ready)
        return hint;
    int slot = frame ? net_flow_slot(frame, len) : -1;
    if (slot >= 0 && n->flow_pair[slot] < n->curr_pairs &&
        n->vqs[net_rx_queue(n->flow_pair[slot])].ready)
        return n->flow_pair[slot];
    return 0;
}

unsigned net_dev_rx_backlog(const struct net_dev *n, unsigned pair)
{
    return n->rxq[net_rx_pair(n, pair, NULL, 0)].frames;
}

static void net_rx_queue_frame(struct net_dev *n, unsigned hint, struct virtio_net_hdr_v1 *hdr,
                               const void *frame, size_t len)
{
    if (len < NET_MIN_FRAME || len > NET_MAX_FRAME || !virtio_dev_running(&n->vdev) ||
        !(le16toh(n->cfg.status) & VIRTIO_NET_S_LINK_UP) || net_hdr_rx_check(n, hdr) < 0) {
        n->stats.rx_dropped++;
        return;
    }
    unsigned pair = net_rx_pair(n, hint, frame, len);
    struct net_rxq *rq = &n->rxq[pair];
    if (!n->vqs[net_rx_queue(pair)].ready || rq->frames >= NET_RX_BACKLOG ||
        rq->bytes + len > NET_RX_BACKLOG_BYTES) {
        n->stats.rx_dropped++;
        return;
    }
    if (!rq->head) {
        /* Nothing waits: try the backend's buffer straight into the ring,
         * and copy the frame only if it has to wait for buffers. */
        struct net_frame tmp = { .len = len, .hdr = *hdr, .data = frame, .borrowed = true };
        rq->head = rq->tail = &tmp;
        rq->frames = 1;
        rq->bytes = len;
        net_rx_flush(n, pair);
        if (rq->head != &tmp)
            return;
        struct net_frame *f = malloc(sizeof(*f) + len);
        if (!f) {
            /* chains already filled from tmp go back empty with the frame */
            net_rxq_push_held(&n->vqs[net_rx_queue(pair)], rq, true);
            if (rq->nheld)
                virtio_dev_queue_irq(&n->vdev, net_rx_queue(pair));
            net_rxq_drop_head(n, rq, false);
            return;
        }
        *f = tmp;
        f->borrowed = false;
        memcpy(f->own, frame, len);
        f->data = f->own;
        rq->head = rq->tail = f;
        return;
    }
    struct net_frame *f = malloc(sizeof(*f) + len);
    if (!f) {
        n->stats.rx_dropped++;
        return;
    }
    *f = (struct net_frame){ .len = len, .hdr = *hdr };
    memcpy(f->own, frame, len);
    f->data = f->own;
    rq->tail->next = f;
    rq->tail = f;
    rq->frames++;
    rq->bytes += len;
    net_rx_flush(n, pair);
}

void net_dev_receive(struct net_dev *n, const void *frame, size_t len)
{
    if (!n)
        return;
    struct virtio_net_hdr_v1 h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };
    net_rx_queue_frame(n, ~0u, &h, frame, len);
}

void net_dev_receive_vnet(struct net_dev *n, unsigned pair, const struct virtio_net_hdr_v1 *hdr,
                          const void *frame, size_t len)
{
    if (!n)
        return;
    struct virtio_net_hdr_v1 h = *hdr;
    net_rx_queue_frame(n, pair, &h, frame, len);
}

/* --- transmit --- */

/* Checks one tx chain: its header (into *h, made safe to hand on) and the
 * frame length. 0, or -errno: the frame is dropped. */
static int net_tx_check(struct net_dev *n, const struct virtq_elem *e, size_t hdr_len,
                        struct virtio_net_hdr_v1 *h, size_t *frame_len)
{
    *h = (struct virtio_net_hdr_v1){ 0 };
    if (e->out_len < hdr_len)
        return -EINVAL;
    net_iov_read_at(e->iov, e->nout, 0, h, hdr_len);
    size_t len = e->out_len - hdr_len;
    if (len < NET_MIN_FRAME || len > NET_MAX_FRAME)
        return -EMSGSIZE;
    /* Without offloads negotiated, a GSO or partially checksummed frame is
     * refused here (no backend could finish it). */
    int rc = net_hdr_tx_check(n, h, len);
    if (rc < 0)
        return rc;
    *frame_len = len;
    return 0;
}

/* The frame part of the chain (past hdr_len bytes) as iovecs after the
 * header in n->vnet_iov; returns how many entries in all. */
static unsigned net_tx_vnet_iov(struct net_dev *n, const struct virtq_elem *e, size_t hdr_len,
                                struct virtio_net_hdr_v1 *h)
{
    struct iovec *v = n->vnet_iov;
    unsigned k = 0;
    v[k++] = (struct iovec){ h, sizeof(*h) };
    size_t skip = hdr_len;
    for (unsigned i = 0; i < e->nout; i++) {
        size_t l = e->iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        v[k++] = (struct iovec){ (uint8_t *)e->iov[i].iov_base + skip, l - skip };
        skip = 0;
    }
    return k;
}

/* Hands one checked frame to the backend: 0 or -errno. */
static int net_tx_send(struct net_dev *n, unsigned pair, const struct virtq_elem *e,
                       size_t hdr_len, struct virtio_net_hdr_v1 *h, size_t len)
{
    const struct net_backend_ops *ops = n->be->ops;
    if (ops->send_vnet) {
        unsigned k = net_tx_vnet_iov(n, e, hdr_len, h);
        return ops->send_vnet(n->be->be, pair, n->vnet_iov, k);
    }
    net_iov_read_at(e->iov, e->nout, hdr_len, n->txbuf, len);
    int slot = net_flow_slot(n->txbuf, len);
    if (slot >= 0)
        n->flow_pair[slot] = (uint8_t)pair;
    return ops->send(n->be->be, n->txbuf, len);
}

static void net_tx(struct net_dev *n, unsigned pair)
{
    unsigned qi = net_tx_queue(pair);
    struct virtq *vq = &n->vqs[qi];
    size_t hdr_len = net_dev_hdr_len(n);
    bool pushed = false;

    while (virtio_dev_running(&n->vdev)) {
        struct virtq_elem e = { .iov = n->tx_iov, .iov_cap = NET_IOV_MAX };
        if (virtq_pop(vq, &e) != 1)
            break;
        struct virtio_net_hdr_v1 h;
        size_t len = 0;
        int rc = net_tx_check(n, &e, hdr_len, &h, &len);
        if (rc == 0 && (le16toh(n->cfg.status) & VIRTIO_NET_S_LINK_UP))
            rc = net_tx_send(n, pair, &e, hdr_len, &h, len);
        else if (rc == 0)
            rc = -ENETDOWN;
        /* Returned after the send: the backend reads the frame in place
         * (send_vnet) or has copied it (send). A backend answering at once
         * (slirp's ARP) fills rx buffers, not this ring. */
        virtq_push(vq, e.head, 0);
        pushed = true;
        if (rc < 0) {
            n->stats.tx_errors++;
            continue;
        }
        n->stats.tx_frames++;
        n->stats.tx_bytes += len;
    }
    if (pushed)
        virtio_dev_queue_irq(&n->vdev, qi);
}

/* --- virtio device ops --- */

static void net_queue_notify(struct virtio_dev *d, unsigned qi)
{
    struct net_dev *n = d->priv;
    if (virtio_dev_has_feature(d, VIRTIO_NET_F_CTRL_VQ) && qi == net_ctrl_queue(n)) {
        net_ctrl_process(n, qi);
        return;
    }
    if (qi >= 2 * net_pairs_usable(n))
        return;
    if (qi & 1)
        net_tx(n, qi / 2);
    else
        net_rx_flush(n, qi / 2);
}

static void net_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
    struct net_dev *n = d->priv;
    /* Legacy drivers without CTRL_MAC_ADDR set the MAC by writing it here;
     * modern ones may not write config at all. */
    if (d->legacy && off < ETH_ALEN && len <= ETH_ALEN - off)
        memcpy(n->cfg.mac + off, buf, len);
}

static int net_validate_features(struct virtio_dev *d, uint64_t f)
{
    (void)d;
    return net_features_check(f);
}

static void net_backend_features(struct net_dev *n, uint64_t f)
{
    if (n->be->ops->set_features)
        n->be->ops->set_features(n->be->be, f);
}

static void net_driver_ok(struct virtio_dev *d)
{
    struct net_dev *n = d->priv;
    net_backend_features(n, d->guest_features);
}

static void net_reset(struct virtio_dev *d)
{
    struct net_dev *n = d->priv;
    for (unsigned p = 0; p < n->max_pairs; p++)
        net_rxq_forget(&n->rxq[p]);
    n->curr_pairs = 1;
    /* Without CTRL_RX a device receives everything: start promiscuous. */
    n->promisc = true;
    n->allmulti = false;
    memset(n->flow_pair, 0, sizeof(n->flow_pair));
    memcpy(n->cfg.mac, n->mac, ETH_ALEN);
    net_backend_features(n, 0);
}

static void net_queue_reset(struct virtio_dev *d, unsigned qi)
{
    struct net_dev *n = d->priv;
    /* Held chains belong to the ring being reset; the frames go with them. */
    if (qi < 2 * n->max_pairs && !(qi & 1))
        net_rxq_forget(&n->rxq[qi / 2]);
}

static const struct virtio_dev_ops net_ops = {
    .queue_notify = net_queue_notify,
    .config_write = net_config_write,
    .validate_features = net_validate_features,
    .driver_ok = net_driver_ok,
    .reset = net_reset,
    .queue_reset = net_queue_reset,
};

void net_dev_set_link(struct net_dev *n, bool up)
{
    uint16_t old = le16toh(n->cfg.status);
    uint16_t now = up ? (old | VIRTIO_NET_S_LINK_UP) : (old & ~VIRTIO_NET_S_LINK_UP);
    if (now == old)
        return;
    n->cfg.status = htole16(now);
    virtio_dev_config_changed(&n->vdev);
}

int net_dev_init(struct net_dev *n, struct net_backend *be, const struct net_opts *o)
{
    static const struct net_opts defaults;
    if (!o)
        o = &defaults;
    unsigned pairs = o->max_pairs ? o->max_pairs : 1;
    uint16_t mtu = o->mtu ? o->mtu : NET_DEFAULT_MTU;
    if (pairs > NET_MAX_PAIRS || (pairs > 1 && o->no_ctrl_vq) || mtu < 68 || !be || !be->ops ||
        !be->ops->send)
        return -EINVAL;
    /* A multicast MAC cannot be a station address. */
    if (o->mac && (o->mac[0] & 1))
        return -EINVAL;

    memset(n, 0, sizeof(*n));
    n->be = be;
    n->max_pairs = pairs;
    n->iov = calloc(NET_IOV_MAX, sizeof(*n->iov));
    n->tx_iov = calloc(NET_IOV_MAX, sizeof(*n->tx_iov));
    n->vnet_iov = calloc(NET_IOV_MAX + 1, sizeof(*n->vnet_iov));
    n->txbuf = malloc(NET_MAX_FRAME);
    bool ok = n->iov && n->tx_iov && n->vnet_iov && n->txbuf;
    for (unsigned p = 0; p < pairs && ok; p++) {
        n->rxq[p].held = calloc(NET_QUEUE_SIZE, sizeof(*n->rxq[p].held));
        ok = n->rxq[p].held != NULL;
    }
    if (!ok) {
        net_dev_destroy(n);
        return -ENOMEM;
    }
    memcpy(n->mac, o->mac ? o->mac : net_default_mac, ETH_ALEN);

    struct virtio_net_config *c = &n->cfg;
    memcpy(c->mac, n->mac, ETH_ALEN);
    c->status = htole16(VIRTIO_NET_S_LINK_UP);
    c->max_virtqueue_pairs = htole16((uint16_t)pairs);
    c->mtu = htole16(mtu);

    uint64_t features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
                        (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
                        (1ull << VIRTIO_RING_F_INDIRECT_DESC);
    if (!o->no_mrg_rxbuf)
        features |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
    if (!o->no_ctrl_vq)
        features |= (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX) |
                    (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR);
    if (pairs > 1)
        features |= 1ull << VIRTIO_NET_F_MQ;
    /* Only a backend that takes the header can finish a partial checksum or
     * a TSO frame (or hand us one). */
    if (be->ops->send_vnet && !o->no_offloads)
        features |= NET_OFFLOAD_FEATURES;
    unsigned nq = 2 * pairs + (o->no_ctrl_vq ? 0 : 1);
    virtio_dev_init(&n->vdev, VIRTIO_ID_NET, features, n->vqs, nq, NET_QUEUE_SIZE, &n->cfg,
                    sizeof(n->cfg), &net_ops, n);
    net_reset(&n->vdev);
    be->dev = n;
    return 0;
}

void net_dev_destroy(struct net_dev *n)
{
    if (n->be && n->be->dev == n)
        n->be->dev = NULL;
    for (unsigned p = 0; p < NET_MAX_PAIRS; p++) {
        net_rxq_forget(&n->rxq[p]);
        free(n->rxq[p].held);
        n->rxq[p].held = NULL;
    }
    free(n->iov);
    free(n->tx_iov);
    free(n->vnet_iov);
    free(n->txbuf);
    n->iov = n->tx_iov = n->vnet_iov = NULL;
    n->txbuf = NULL;
}
