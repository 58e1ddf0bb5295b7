/* Network backend: a Linux tap device (/dev/net/tun, IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR). Every frame crosses the tap with a 12-byte virtio-net
 * header in front (TUNSETVNETHDRSZ), the layout offloads will need; no
 * offloads are enabled yet (no TUNSETOFFLOAD), so the kernel sends plain
 * frames and we send zeroed headers.
 *
 * The descriptor is non-blocking. A VMM device thread polls t->fd for
 * POLLIN and calls net_tap_poll(), which reads every waiting frame and hands
 * it to the device (net_dev_receive): the same thread rules as the device
 * (devices/net.h). Writes that the tap refuses (its queue is full) drop the
 * frame, as a full NIC would. Needs CAP_NET_ADMIN (or a tap owned by us). */
#ifndef KICK_NET_TAP_H
#define KICK_NET_TAP_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/net.h"

struct net_tap {
    struct net_backend nb;  /* give &nb to net_dev_init() */
    int fd;
    char ifname[IFNAMSIZ];  /* what the kernel named it */
    uint8_t *buf;           /* one frame with its header */
    uint64_t frames_in, frames_out, errors;
};

/* Opens (or creates) tap ifname ("" or NULL: the kernel picks a name).
 * 0, or -errno with one line in err. */
int net_tap_open(struct net_tap *t, const char *ifname, char *err, size_t errlen);
/* Destroy the device (net_dev_destroy) first: it holds a pointer to nb. */
void net_tap_close(struct net_tap *t);

/* Moves every frame waiting on the tap to the device. Returns how many,
 * or -errno on a read error other than "nothing more". */
int net_tap_poll(struct net_tap *t);

#endif
