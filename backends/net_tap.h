/* Network backend: a Linux tap device (/dev/net/tun, IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR). Every frame crosses the tap with a 12-byte virtio-net
 * header in front (TUNSETVNETHDRSZ, little-endian: TUNSETVNETLE), the
 * layout of the guest's own header, so checksum and segmentation offloads
 * pass straight through: the device offers them on this backend
 * (send_vnet), and at DRIVER_OK the tap is told (TUNSETOFFLOAD) which
 * partial-checksum and TSO frames the guest accepted, so the kernel hands
 * us 64 KiB TSO frames only for a guest that takes them. The kernel checks
 * every header we write (a bad one fails the write: the frame is dropped).
 *
 * Multiqueue: with queues > 1 the tap is opened IFF_MULTI_QUEUE, one
 * descriptor per virtio-net queue pair: frames the guest sends on pair i
 * go out on queue i, frames the kernel queues on i go to pair i (its flow
 * steering keeps a flow on one queue).
 *
 * The descriptors are non-blocking. A VMM device thread polls them for
 * POLLIN (net_tap_wants_read() says which are worth reading) and calls
 * net_tap_poll_queue(), which reads waiting frames and hands them to the
 * device (net_dev_receive_vnet): the same thread rules as the device
 * (devices/net.h). Reading stops while frames wait for rx buffers in the
 * guest, so the tap's own queue fills and the kernel drops there. Writes
 * that the tap refuses drop the frame, as a full NIC would. Needs
 * CAP_NET_ADMIN (or a tap owned by us). */
#ifndef KICK_NET_TAP_H
#define KICK_NET_TAP_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/net.h"

#define NET_TAP_MAX_QUEUES NET_MAX_PAIRS

struct net_tap {
    struct net_backend nb;  /* give &nb to net_dev_init() */
    int fd;                 /* queue 0 (== fds[0]) */
    int fds[NET_TAP_MAX_QUEUES];
    unsigned nqueues;
    char ifname[IFNAMSIZ];  /* what the kernel named it */
    uint8_t *buf;           /* one frame with its header */
    unsigned offloads;      /* TUN_F_* last set */
    uint64_t frames_in, frames_out, errors;
};

/* Opens (or creates) tap ifname ("" or NULL: the kernel picks a name) with
 * one queue. 0, or -errno with one line in err. */
int net_tap_open(struct net_tap *t, const char *ifname, char *err, size_t errlen);
/* The same with queues (1..NET_TAP_MAX_QUEUES) queues; more than one needs
 * a multi-queue tap (a new one is created so). */
int net_tap_open_mq(struct net_tap *t, const char *ifname, unsigned queues, char *err,
                    size_t errlen);
/* Destroy the device (net_dev_destroy) first: it holds a pointer to nb. */
void net_tap_close(struct net_tap *t);

/* Is queue q worth polling for POLLIN (the device has room for more)? */
bool net_tap_wants_read(const struct net_tap *t, unsigned q);
/* Moves frames waiting on queue q to the device. Returns how many, or
 * -errno on a read error other than "nothing more". */
int net_tap_poll_queue(struct net_tap *t, unsigned q);
/* Every queue in turn. */
int net_tap_poll(struct net_tap *t);

#endif
