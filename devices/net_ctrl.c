/* virtio-net control queue (§5.1.6.5): a command is a class byte, a command
 * byte and command data in device-readable buffers, then one writable ack
 * byte. Any length that does not match the command exactly gets
 * VIRTIO_NET_ERR; a chain without a writable byte cannot be answered at all
 * and marks the device NEEDS_RESET (as blk does for a missing status). */
#include "devices/net_ctrl.h"

#include <endian.h>
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
