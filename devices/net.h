/* virtio-net: receive and transmit queue pairs (rx0, tx0, rx1, tx1, ...,
 * then the control queue last), frames exchanged with a network backend.
 *
 * Transmit: queue_notify on a tx queue pops every chain, checks the vnet
 * header and the frame size (the guest is hostile: a short header, a GSO or
 * partial-checksum frame we never offered, a frame below an Ethernet header
 * or above NET_MAX_FRAME is dropped and counted, the chain returned), copies
 * the frame out of guest memory and hands it to the backend.
 *
 * Receive: the backend calls net_dev_receive() with one frame. The frame is
 * steered to a queue pair (the pair that last transmitted on the same flow,
 * else pair 0), appended to that rx queue's backlog and copied into posted rx
 * buffers at once if there are any. The backlog is bounded (NET_RX_BACKLOG
 * frames and NET_RX_BACKLOG_BYTES bytes per rx queue): when the guest posts
 * nothing, older frames wait and newer ones are dropped and counted, as a
 * full NIC ring would. A kick on an rx queue (buffers posted) drains it.
 * With VIRTIO_NET_F_MRG_RXBUF a frame spreads over as many chains as it
 * needs (num_buffers in the first header); when the ring runs dry mid-frame
 * the chains already filled are held (not yet used) until more are posted;
 * a frame that a whole ring of chains cannot hold is dropped and those
 * chains returned empty. Without it a frame must fit one chain; one that
 * does not is dropped and the chain left for the next frame.
 *
 * vnet header: 12 bytes (virtio_net_hdr_v1) with VIRTIO_F_VERSION_1 or
 * MRG_RXBUF; 10 bytes (virtio_net_hdr) for a legacy driver without
 * MRG_RXBUF. Offloads (CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6) are
 * offered only on a backend that carries the header itself (send_vnet: a
 * tap with IFF_VNET_HDR), so a partial checksum or a 64 KiB TSO frame goes
 * through untouched in both directions. The guest's tx header is checked
 * first (a gso_type or checksum the driver did not negotiate, gso_size 0,
 * a checksum field outside the frame: dropped and counted) and copied, so
 * the backend sees what was checked. Without such a backend (slirp, the
 * tests' fake) nothing is offered: rx headers carry flags 0 and GSO_NONE.
 *
 * Threading: everything touching one net device - every queue's
 * queue_notify, reset/queue_reset, and net_dev_receive() (which backends call
 * from their poll entry, and may call from inside a tx: an in-process stack
 * like slirp answers an ARP while the request is being sent) - must run on
 * one thread at a time. A VMM gives the device one thread that waits on its
 * queues' ioeventfds and the backend's descriptors and calls the backend's
 * poll entry (e.g. net_slirp_poll()); transport writes from vCPU threads
 * (status, reset) must be excluded by the VMM around them. */
#ifndef KICK_NET_H
#define KICK_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/if_ether.h>
#include <linux/virtio_net.h>

#include "virtio/virtio_dev.h"

#define NET_QUEUE_SIZE       256
#define NET_MAX_PAIRS        8
#define NET_MAX_QUEUES       (2 * NET_MAX_PAIRS + 1)
#define NET_MAX_FRAME        65550u   /* largest frame either way, without the vnet header */
#define NET_MIN_FRAME        ETH_HLEN /* a frame without an Ethernet header is refused */
#define NET_RX_BACKLOG       64       /* frames waiting per rx queue */
#define NET_RX_BACKLOG_BYTES (1u << 20)
#define NET_IOV_MAX          VIRTQ_MAX_CHAIN
#define NET_DEFAULT_MTU      1500
#define NET_FLOW_SLOTS       64       /* flow -> tx pair memory for rx steering */
#define NET_CTRL_MAX         4096     /* longest control command accepted (MAC tables) */

/* The offloads offered with a send_vnet backend (spec 5.1.3.1: each TSO
 * comes with its checksum feature). */
#define NET_OFFLOAD_FEATURES                                                                   \
    ((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |                         \
     (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) |                     \
     (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6))

/* --- the backend interface: what a network backend implements --- */

struct net_dev;

struct net_backend_ops {
    /* One frame from the guest (Ethernet header onwards, no vnet header).
     * 0, or -errno (the device counts a tx error; the frame is gone). */
    int (*send)(void *be, const void *frame, size_t len);
    /* Optional: a backend that carries the vnet header (a tap with
     * IFF_VNET_HDR). The device then sends every frame here instead of
     * send(), and offers the offloads (unless net_opts.no_offloads).
     * iov[0] is the header (sizeof(struct virtio_net_hdr_v1) bytes,
     * little-endian, num_buffers 0, already checked against the negotiated
     * features), iov[1..niov) the frame, straight from guest memory (it may
     * change under the call: it is data only). pair: the tx queue pair.
     * niov <= NET_IOV_MAX + 1. 0, or -errno as for send(). */
    int (*send_vnet)(void *be, unsigned pair, const struct iovec *iov, unsigned niov);
    /* Optional: the driver set DRIVER_OK with these features (0: reset).
     * What the backend may hand net_dev_receive_vnet() follows them
     * (partial checksums with GUEST_CSUM, TSO frames with GUEST_TSO4/6). */
    void (*set_features)(void *be, uint64_t features);
};

struct net_backend {
    const struct net_backend_ops *ops;
    void *be;
    /* Set by net_dev_init(): where the backend delivers received frames
     * (net_dev_receive(be->dev, ...)). NULL until then: drop. */
    struct net_dev *dev;
};

/* --- the device --- */

struct net_opts {
    const uint8_t *mac;   /* ETH_ALEN bytes; NULL: 52:54:00:12:34:56 (locally administered) */
    uint16_t mtu;         /* offered in config (VIRTIO_NET_F_MTU); 0: NET_DEFAULT_MTU */
    unsigned max_pairs;   /* 0 or 1: one pair; more: VIRTIO_NET_F_MQ */
    bool no_ctrl_vq;      /* do not offer a control queue (nor MQ, CTRL_RX, CTRL_MAC_ADDR) */
    bool no_mrg_rxbuf;    /* do not offer VIRTIO_NET_F_MRG_RXBUF */
    bool no_offloads;     /* do not offer checksum/TSO offloads even with send_vnet */
};

struct net_stats {
    uint64_t tx_frames, tx_bytes, tx_errors;  /* errors: dropped tx chains */
    uint64_t rx_frames, rx_bytes;
    uint64_t rx_dropped;                      /* backlog full, or no buffer big enough */
    uint64_t rx_errors;                       /* rx chains unusable (no room for a header) */
    uint64_t ctrl_ok, ctrl_err;
};

struct net_frame;       /* a backlog entry (net.c) */
struct net_held;        /* a chain filled but not yet used (net.c) */

struct net_rxq {
    struct net_frame *head, *tail; /* backlog, oldest first */
    unsigned frames;
    size_t bytes;
    /* The head frame's progress over chains popped so far (MRG_RXBUF). */
    struct net_held *held;         /* NET_QUEUE_SIZE entries */
    unsigned nheld;
    size_t copied;                 /* frame bytes already in held chains */
    uint8_t *num_buffers[2];       /* host pointers to the two bytes of the
                                    * first chain's num_buffers field */
};

struct net_dev {
    struct virtio_dev vdev;
    struct virtq vqs[NET_MAX_QUEUES];
    struct net_rxq rxq[NET_MAX_PAIRS];
    struct virtio_net_config cfg;  /* little-endian, as the guest reads it */
    struct net_backend *be;
    uint8_t mac[ETH_ALEN];         /* the configured MAC, restored on reset */
    unsigned max_pairs;
    unsigned curr_pairs;           /* VQ_PAIRS_SET; 1 until MQ is used */
    bool promisc, allmulti;        /* VIRTIO_NET_CTRL_RX state (recorded only) */
    uint8_t flow_pair[NET_FLOW_SLOTS];
    struct iovec *iov;             /* NET_IOV_MAX, for the rx chain being filled */
    struct iovec *tx_iov;          /* NET_IOV_MAX, tx and control chains (rx may
                                    * run inside a tx: separate arrays) */
    struct iovec *vnet_iov;        /* NET_IOV_MAX + 1: header + frame for send_vnet */
    uint8_t *txbuf;                /* NET_MAX_FRAME + header: one tx frame */
    struct net_stats stats;
};

/* 0, -EINVAL (bad options), -ENOMEM. net_dev_destroy() frees what init
 * allocated. be->dev is set to n. */
int net_dev_init(struct net_dev *n, struct net_backend *be, const struct net_opts *o);
void net_dev_destroy(struct net_dev *n);

/* Called by the backend: one frame for the guest (Ethernet header onwards).
 * Copied; the caller keeps its buffer. */
void net_dev_receive(struct net_dev *n, const void *frame, size_t len);

/* The same with the backend's vnet header (virtio_net_hdr_v1 layout,
 * little-endian; num_buffers ignored) and the queue pair the backend got
 * it on (a tap queue): the frame goes to that pair's rx queue when the
 * driver uses it, else it is steered as above. A header the driver did not
 * negotiate (a partial checksum without GUEST_CSUM, a GSO type without its
 * GUEST_TSO) drops the frame. */
void net_dev_receive_vnet(struct net_dev *n, unsigned pair, const struct virtio_net_hdr_v1 *hdr,
                          const void *frame, size_t len);

/* Frames waiting for rx buffers on the queue a frame from pair would go
 * to: a backend stops reading while this is high (backpressure instead of
 * reading frames only to drop them). */
unsigned net_dev_rx_backlog(const struct net_dev *n, unsigned pair);

/* Link state (VIRTIO_NET_S_LINK_UP), with a config interrupt on change. */
void net_dev_set_link(struct net_dev *n, bool up);

/* The vnet header length the driver negotiated: 12 or 10 (legacy). */
size_t net_dev_hdr_len(const struct net_dev *n);

/* Queue indices under the negotiated features. */
static inline unsigned net_rx_queue(unsigned pair) { return 2 * pair; }
static inline unsigned net_tx_queue(unsigned pair) { return 2 * pair + 1; }
unsigned net_ctrl_queue(const struct net_dev *n);

#endif
