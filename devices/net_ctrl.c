/* virtio-net control queue (§5.1.6.5): a command is a class byte, a command
 * byte and command data in device-readable buffers, then one writable ack
 * byte. Any length that does not match the command exactly gets
 * VIRTIO_NET_ERR; a chain without a writable byte cannot be answered at all
 * and marks the device NEEDS_RESET (as blk does for a missing status).
 *
 * Also the vnet header rules both directions share with net.c: which
 * flags and GSO types each side may use under the negotiated features. */
#include "devices/net_ctrl.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

static bool net_has(const struct net_dev *n, unsigned bit)
{
    return virtio_dev_has_feature(&n->vdev, bit);
}

static uint8_t net_ctrl_rx(struct net_dev *n, uint8_t cmd, const uint8_t *data, size_t len)
{
    if (!net_has(n, VIRTIO_NET_F_CTRL_RX) || len != 1 || data[0] > 1)
        return VIRTIO_NET_ERR;
    /* One virtual wire to one peer: there is nothing to filter, so the modes
     * are recorded and acknowledged. */
    switch (cmd) {
    case VIRTIO_NET_CTRL_RX_PROMISC:
        n->promisc = data[0];
        return VIRTIO_NET_OK;
    case VIRTIO_NET_CTRL_RX_ALLMULTI:
        n->allmulti = data[0];
        return VIRTIO_NET_OK;
    default: /* the rest need CTRL_RX_EXTRA, not offered */
        return VIRTIO_NET_ERR;
    }
}

/* One MAC table (entries, then entries * 6 bytes) at data[*off]. */
static bool net_mac_table_ok(const uint8_t *data, size_t len, size_t *off)
{
    uint32_t entries;
    if (len - *off < sizeof(entries))
        return false;
    memcpy(&entries, data + *off, sizeof(entries));
    uint64_t bytes = (uint64_t)le32toh(entries) * ETH_ALEN;
    *off += sizeof(entries);
    if (bytes > len - *off)
        return false;
    *off += (size_t)bytes;
    return true;
}

static uint8_t net_ctrl_mac(struct net_dev *n, uint8_t cmd, const uint8_t *data, size_t len)
{
    switch (cmd) {
    case VIRTIO_NET_CTRL_MAC_TABLE_SET: {
        if (!net_has(n, VIRTIO_NET_F_CTRL_RX))
            return VIRTIO_NET_ERR;
        size_t off = 0;
        /* unicast table, then multicast table, and nothing after them */
        if (!net_mac_table_ok(data, len, &off) || !net_mac_table_ok(data, len, &off) ||
            off != len)
            return VIRTIO_NET_ERR;
        return VIRTIO_NET_OK;
    }
    case VIRTIO_NET_CTRL_MAC_ADDR_SET:
        if (!net_has(n, VIRTIO_NET_F_CTRL_MAC_ADDR) || len != ETH_ALEN || (data[0] & 1))
            return VIRTIO_NET_ERR;
        memcpy(n->cfg.mac, data, ETH_ALEN);
        return VIRTIO_NET_OK;
    default:
        return VIRTIO_NET_ERR;
    }
}

static uint8_t net_ctrl_mq(struct net_dev *n, uint8_t cmd, const uint8_t *data, size_t len)
{
    uint16_t pairs;
    if (!net_has(n, VIRTIO_NET_F_MQ) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
        len != sizeof(pairs))
        return VIRTIO_NET_ERR;
    memcpy(&pairs, data, sizeof(pairs));
    pairs = le16toh(pairs);
    if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > n->max_pairs)
        return VIRTIO_NET_ERR;
    n->curr_pairs = pairs;
    return VIRTIO_NET_OK;
}

static uint8_t net_ctrl_dispatch(struct net_dev *n, const uint8_t *cmd, size_t len)
{
    if (len < sizeof(struct virtio_net_ctrl_hdr) || len > NET_CTRL_MAX)
        return VIRTIO_NET_ERR;
    const uint8_t *data = cmd + sizeof(struct virtio_net_ctrl_hdr);
    size_t dlen = len - sizeof(struct virtio_net_ctrl_hdr);
    switch (cmd[0]) {
    case VIRTIO_NET_CTRL_RX:
        return net_ctrl_rx(n, cmd[1], data, dlen);
    case VIRTIO_NET_CTRL_MAC:
        return net_ctrl_mac(n, cmd[1], data, dlen);
    case VIRTIO_NET_CTRL_MQ:
        return net_ctrl_mq(n, cmd[1], data, dlen);
    default:
        return VIRTIO_NET_ERR;
    }
}

void net_ctrl_process(struct net_dev *n, unsigned qi)
{
    struct virtq *vq = &n->vqs[qi];
    uint8_t cmd[NET_CTRL_MAX];
    bool pushed = false;

    while (virtio_dev_running(&n->vdev)) {
        struct virtq_elem e = { .iov = n->tx_iov, .iov_cap = NET_IOV_MAX };
        if (virtq_pop(vq, &e) != 1)
            break;
        struct iovec *in = e.iov + e.nout;
        unsigned nin = e.nin;
        while (nin && in[nin - 1].iov_len == 0)
            nin--;
        if (nin == 0) {
            virtq_push(vq, e.head, 0);
            virtio_dev_queue_irq(&n->vdev, qi);
            virtio_dev_needs_reset(&n->vdev);
            n->stats.ctrl_err++;
            return;
        }
        size_t len = e.out_len;
        if (len <= NET_CTRL_MAX)
            net_iov_read_at(e.iov, e.nout, 0, cmd, len);
        uint8_t ack = net_ctrl_dispatch(n, cmd, len);
        struct iovec *last = &in[nin - 1];
        *((uint8_t *)last->iov_base + last->iov_len - 1) = ack;
        virtq_push(vq, e.head, e.in_len);
        pushed = true;
        if (ack == VIRTIO_NET_OK)
            n->stats.ctrl_ok++;
        else
            n->stats.ctrl_err++;
    }
    if (pushed)
        virtio_dev_queue_irq(&n->vdev, qi);
}

/* --- vnet header rules --- */

static bool has_bit(uint64_t f, unsigned bit)
{
    return (f >> bit) & 1;
}

int net_features_check(uint64_t f)
{
    /* feature -> what it requires (one of, for the ECN bits) */
    static const struct { unsigned bit; uint64_t needs; } deps[] = {
        { VIRTIO_NET_F_GUEST_TSO4, 1ull << VIRTIO_NET_F_GUEST_CSUM },
        { VIRTIO_NET_F_GUEST_TSO6, 1ull << VIRTIO_NET_F_GUEST_CSUM },
        { VIRTIO_NET_F_GUEST_UFO, 1ull << VIRTIO_NET_F_GUEST_CSUM },
        { VIRTIO_NET_F_GUEST_ECN,
          (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) },
        { VIRTIO_NET_F_HOST_TSO4, 1ull << VIRTIO_NET_F_CSUM },
        { VIRTIO_NET_F_HOST_TSO6, 1ull << VIRTIO_NET_F_CSUM },
        { VIRTIO_NET_F_HOST_UFO, 1ull << VIRTIO_NET_F_CSUM },
        { VIRTIO_NET_F_HOST_ECN,
          (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) },
        { VIRTIO_NET_F_CTRL_RX, 1ull << VIRTIO_NET_F_CTRL_VQ },
        { VIRTIO_NET_F_CTRL_MAC_ADDR, 1ull << VIRTIO_NET_F_CTRL_VQ },
        { VIRTIO_NET_F_MQ, 1ull << VIRTIO_NET_F_CTRL_VQ },
    };
    for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++)
        if (has_bit(f, deps[i].bit) && !(f & deps[i].needs))
            return -EINVAL;
    return 0;
}

/* The feature a GSO type needs from the driver (rx: GUEST_*) or from the
 * device (tx: HOST_*), or -1 for a type with no feature at all. */
static int gso_feature(uint8_t type, bool rx)
{
    switch (type) {
    case VIRTIO_NET_HDR_GSO_TCPV4:
        return rx ? VIRTIO_NET_F_GUEST_TSO4 : VIRTIO_NET_F_HOST_TSO4;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        return rx ? VIRTIO_NET_F_GUEST_TSO6 : VIRTIO_NET_F_HOST_TSO6;
    case VIRTIO_NET_HDR_GSO_UDP:
        return rx ? VIRTIO_NET_F_GUEST_UFO : VIRTIO_NET_F_HOST_UFO;
    default:
        return -1;
    }
}

int net_hdr_tx_check(const struct net_dev *n, struct virtio_net_hdr_v1 *h, size_t frame_len)
{
    /* DATA_VALID and RSC_INFO are the device's to set (5.1.6.2.1). */
    h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->num_buffers = 0;
    if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if (!net_has(n, VIRTIO_NET_F_CSUM))
            return -EOPNOTSUPP;
        size_t end = (size_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2;
        if (end > frame_len)
            return -EINVAL;
    }
    if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        uint8_t ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;
        int need = gso_feature(h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN, false);
        if (need < 0 || !net_has(n, (unsigned)need) ||
            (ecn && !net_has(n, VIRTIO_NET_F_HOST_ECN)))
            return -EOPNOTSUPP;
        /* a segmented frame is checksummed per segment: the driver must ask
         * for it, and must say how long a segment is */
        if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || le16toh(h->gso_size) == 0)
            return -EINVAL;
    }
    /* hdr_len is a hint the device may not trust (5.1.6.2.2); one the frame
     * cannot hold would only get the frame refused further on */
    if (le16toh(h->hdr_len) > frame_len)
        h->hdr_len = 0;
    return 0;
}

int net_hdr_rx_check(const struct net_dev *n, struct virtio_net_hdr_v1 *h)
{
    h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
    if (!net_has(n, VIRTIO_NET_F_GUEST_CSUM)) {
        /* without GUEST_CSUM flags must be 0; a frame still needing its
         * checksum cannot be given to this driver */
        if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
            return -EOPNOTSUPP;
        h->flags = 0;
    }
    if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        uint8_t ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;
        int need = gso_feature(h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN, true);
        if (need < 0 || !net_has(n, (unsigned)need) ||
            (ecn && !net_has(n, VIRTIO_NET_F_GUEST_ECN)))
            return -EOPNOTSUPP;
    } else {
        h->gso_size = 0;
    }
    return 0;
}
