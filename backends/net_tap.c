#include "backends/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#define TAP_HDR_LEN sizeof(struct virtio_net_hdr_v1)
#define TAP_BUF_LEN (TAP_HDR_LEN + NET_MAX_FRAME)
#define TAP_POLL_MAX 64     /* frames per call: let the thread serve its queues too */
#define TAP_BACKLOG_STOP 8  /* frames waiting in the device before we stop reading */

static int tap_fd(const struct net_tap *t, unsigned pair)
{
    return t->fds[pair < t->nqueues ? pair : 0];
}

static int tap_write(struct net_tap *t, unsigned pair, const struct iovec *iov, unsigned niov)
{
    ssize_t n = writev(tap_fd(t, pair), iov, (int)niov);
    if (n < 0) {
        t->errors++;
        return -errno;
    }
    t->frames_out++;
    return 0;
}

static int tap_send(void *be, const void *frame, size_t len)
{
    struct virtio_net_hdr_v1 h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };
    struct iovec iov[2] = { { &h, TAP_HDR_LEN }, { (void *)frame, len } };
    return tap_write(be, 0, iov, 2);
}

static int tap_send_vnet(void *be, unsigned pair, const struct iovec *iov, unsigned niov)
{
    struct net_tap *t = be;
    if (niov <= IOV_MAX)
        return tap_write(t, pair, iov, niov);
    /* a chain of more pieces than writev takes: flatten the frame */
    size_t len = 0;
    for (unsigned i = 1; i < niov; i++) {
        if (len + iov[i].iov_len > NET_MAX_FRAME)
            return -EMSGSIZE;
        memcpy(t->buf + TAP_HDR_LEN + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    memcpy(t->buf, iov[0].iov_base, TAP_HDR_LEN);
    struct iovec flat = { t->buf, TAP_HDR_LEN + len };
    return tap_write(t, pair, &flat, 1);
}

/* What the kernel may hand us follows what the guest accepted: TSO frames
 * are only made where partial checksums are allowed too. */
static void tap_set_features(void *be, uint64_t f)
{
    struct net_tap *t = be;
    unsigned off = 0;
    if (f & (1ull << VIRTIO_NET_F_GUEST_CSUM)) {
        off |= TUN_F_CSUM;
        if (f & (1ull << VIRTIO_NET_F_GUEST_TSO4))
            off |= TUN_F_TSO4;
        if (f & (1ull << VIRTIO_NET_F_GUEST_TSO6))
            off |= TUN_F_TSO6;
        if (f & (1ull << VIRTIO_NET_F_GUEST_ECN))
            off |= TUN_F_TSO_ECN;
    }
    if (off == t->offloads || t->fd < 0)
        return;
    /* one setting for the whole device, whichever queue sets it */
    if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)off) < 0) {
        t->errors++;
        return;
    }
    t->offloads = off;
}

static const struct net_backend_ops tap_ops = {
    .send = tap_send,
    .send_vnet = tap_send_vnet,
    .set_features = tap_set_features,
};

static int tap_fail(struct net_tap *t, char *err, size_t errlen, const char *what, int e)
{
    net_tap_close(t);
    if (err && errlen)
        snprintf(err, errlen, "tap: %s: %s", what, strerror(e));
    return -e;
}

/* One queue of the tap: its descriptor attached and set up. */
static int tap_open_queue(struct net_tap *t, unsigned q, short flags, char *err, size_t errlen)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return tap_fail(t, err, errlen, "/dev/net/tun", errno);
    t->fds[q] = fd;
    struct ifreq ifr = { .ifr_flags = flags };
    /* later queues join the interface the first one named (or got) */
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
    int hdr_len = (int)TAP_HDR_LEN, le = 1;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        return tap_fail(t, err, errlen, "TUNSETIFF", errno);
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
        return tap_fail(t, err, errlen, "TUNSETVNETHDRSZ", errno);
    /* the header is little-endian (virtio 1, and legacy on x86); say so
     * where the kernel lets us (it refuses on a kernel without
     * cross-endian support, where little-endian hosts have it anyway) */
    if (ioctl(fd, TUNSETVNETLE, &le) < 0 && errno != EINVAL)
        return tap_fail(t, err, errlen, "TUNSETVNETLE", errno);
    if (q == 0) {
        snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name);
        /* no offloads until a guest accepts them */
        if (ioctl(fd, TUNSETOFFLOAD, 0ul) < 0)
            return tap_fail(t, err, errlen, "TUNSETOFFLOAD", errno);
    }
    return 0;
}

int net_tap_open_mq(struct net_tap *t, const char *ifname, unsigned queues, char *err,
                    size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    for (unsigned q = 0; q < NET_TAP_MAX_QUEUES; q++)
        t->fds[q] = -1;
    if (ifname && strlen(ifname) >= IFNAMSIZ)
        return tap_fail(t, err, errlen, "interface name too long", EINVAL);
    if (queues < 1 || queues > NET_TAP_MAX_QUEUES)
        return tap_fail(t, err, errlen, "number of queues", EINVAL);
    if (ifname)
        snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
    t->buf = malloc(TAP_BUF_LEN);
    if (!t->buf)
        return tap_fail(t, err, errlen, "buffer", ENOMEM);
    /* one queue: no IFF_MULTI_QUEUE, so an existing single-queue tap works */
    short flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
    for (unsigned q = 0; q < queues; q++) {
        int r = tap_open_queue(t, q, flags, err, errlen);
        if (r < 0)
            return r;
        t->nqueues = q + 1;
    }
    t->fd = t->fds[0];
    t->nb = (struct net_backend){ .ops = &tap_ops, .be = t };
    return 0;
}

int net_tap_open(struct net_tap *t, const char *ifname, char *err, size_t errlen)
{
    return net_tap_open_mq(t, ifname, 1, err, errlen);
}

void net_tap_close(struct net_tap *t)
{
    for (unsigned q = 0; q < NET_TAP_MAX_QUEUES; q++) {
        if (t->fds[q] >= 0)
            close(t->fds[q]);
        t->fds[q] = -1;
    }
    t->fd = -1;
    t->nqueues = 0;
    free(t->buf);
    t->buf = NULL;
    t->nb.dev = NULL;
}

bool net_tap_wants_read(const struct net_tap *t, unsigned q)
{
    return !t->nb.dev || net_dev_rx_backlog(t->nb.dev, q) < TAP_BACKLOG_STOP;
}

int net_tap_poll_queue(struct net_tap *t, unsigned q)
{
    int frames = 0;
    if (q >= t->nqueues)
        return -EINVAL;
    while (frames < TAP_POLL_MAX && net_tap_wants_read(t, q)) {
        ssize_t n = read(t->fds[q], t->buf, TAP_BUF_LEN);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            return frames ? frames : -errno;
        }
        /* a frame the buffer could not hold reads back its full length */
        if ((size_t)n <= TAP_HDR_LEN || (size_t)n > TAP_BUF_LEN) {
            t->errors++;
            continue;
        }
        t->frames_in++;
        struct virtio_net_hdr_v1 h;
        memcpy(&h, t->buf, sizeof(h));
        net_dev_receive_vnet(t->nb.dev, q, &h, t->buf + TAP_HDR_LEN, (size_t)n - TAP_HDR_LEN);
        frames++;
    }
    return frames;
}

int net_tap_poll(struct net_tap *t)
{
    int total = 0;
    for (unsigned q = 0; q < t->nqueues; q++) {
        int r = net_tap_poll_queue(t, q);
        if (r < 0)
            return total ? total : r;
        total += r;
    }
    return total;
}
