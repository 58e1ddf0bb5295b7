#include "backends/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#define TAP_HDR_LEN sizeof(struct virtio_net_hdr_v1)
#define TAP_BUF_LEN (TAP_HDR_LEN + NET_MAX_FRAME)
#define TAP_POLL_MAX 256 /* frames per poll: let the thread serve its queues too */

static int tap_send(void *be, const void *frame, size_t len)
{
    struct net_tap *t = be;
    struct virtio_net_hdr_v1 h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };
    struct iovec iov[2] = { { &h, TAP_HDR_LEN }, { (void *)frame, len } };
    ssize_t n = writev(t->fd, iov, 2);
    if (n < 0) {
        t->errors++;
        return -errno;
    }
    t->frames_out++;
    return 0;
}

static const struct net_backend_ops tap_ops = {
    .send = tap_send,
};

static int tap_fail(char *err, size_t errlen, const char *what, int e)
{
    if (err && errlen)
        snprintf(err, errlen, "tap: %s: %s", what, strerror(e));
    return -e;
}

int net_tap_open(struct net_tap *t, const char *ifname, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    if (ifname && strlen(ifname) >= IFNAMSIZ)
        return tap_fail(err, errlen, "interface name too long", EINVAL);
    t->buf = malloc(TAP_BUF_LEN);
    if (!t->buf)
        return tap_fail(err, errlen, "buffer", ENOMEM);
    t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        int e = errno;
        net_tap_close(t);
        return tap_fail(err, errlen, "/dev/net/tun", e);
    }
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
    if (ifname)
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int hdr_len = (int)TAP_HDR_LEN;
    const char *what = NULL;
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0)
        what = "TUNSETIFF";
    else if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
        what = "TUNSETVNETHDRSZ";
    if (what) {
        int e = errno;
        net_tap_close(t);
        return tap_fail(err, errlen, what, e);
    }
    snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name);
    t->nb = (struct net_backend){ .ops = &tap_ops, .be = t };
    return 0;
}

void net_tap_close(struct net_tap *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    free(t->buf);
    t->buf = NULL;
    t->nb.dev = NULL;
}

int net_tap_poll(struct net_tap *t)
{
    int frames = 0;
    while (frames < TAP_POLL_MAX) {
        ssize_t n = read(t->fd, t->buf, TAP_BUF_LEN);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            return frames ? frames : -errno;
        }
        if ((size_t)n <= TAP_HDR_LEN) {
            t->errors++;
            continue;
        }
        t->frames_in++;
        net_dev_receive(t->nb.dev, t->buf + TAP_HDR_LEN, (size_t)n - TAP_HDR_LEN);
        frames++;
    }
    return frames;
}
