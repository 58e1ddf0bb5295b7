/* The virtio-net slot: the NIC on libslirp user networking or a tap, and
 * its device thread (see virtio_slot.h and the threading notes of
 * devices/net.h: one thread does everything for the device). */
#include "vmm/virtio_slot.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slirp/libslirp.h>

int vslot_net_make(struct virtio_slot *s, const struct vslot_net *c, char *err, size_t errlen)
{
    int r;
    struct net_backend *nb;
    if (c->tap) {
        s->use_tap = true;
        if ((r = net_tap_open(&s->tap, c->tap, err, errlen)) < 0)
            return r;
        nb = &s->tap.nb;
    } else {
        struct net_slirp_opts o = { .hostfwd = c->hostfwd, .nhostfwd = c->nhostfwd };
        if ((r = net_slirp_open(&s->slirp, &o, err, errlen)) < 0)
            return r;
        nb = &s->slirp.nb;
    }
    s->backend_open = true;
    s->net = calloc(1, sizeof *s->net);
    if (!s->net) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* one queue pair and the control queue: Linux's default */
    struct net_opts no = { .max_pairs = 1 };
    if ((r = net_dev_init(s->net, nb, &no)) < 0) {
        snprintf(err, errlen, "virtio-net device: %s", strerror(-r));
        return r;
    }
    s->dev_ready = true;
    s->vdev = &s->net->vdev;
    return 0;
}

void vslot_net_destroy(struct virtio_slot *s)
{
    /* the device points at the backend: it goes first */
    if (s->dev_ready)
        net_dev_destroy(s->net);
    s->dev_ready = false;
    free(s->net);
    s->net = NULL;
    if (s->backend_open) {
        if (s->use_tap)
            net_tap_close(&s->tap);
        else
            net_slirp_close(&s->slirp);
    }
    s->backend_open = false;
}

/* Queue kicks seen ready in extra[1 .. nq]: to the device. Bus lock held. */
static void serve_kicks(struct virtio_slot *s, const struct pollfd *extra)
{
    for (unsigned q = 0; q < s->nq; q++) {
        if (!(extra[1 + q].revents & POLLIN) || !vslot_drain(s->kick_fd[q]))
            continue;
        s->fd_kicks++;
        virtio_dev_notify(s->vdev, q);
    }
}

/* slirp's descriptors for the wait, collected by slirp_pollfds_fill. */
struct wait_set {
    struct pollfd *fds;
    unsigned n, cap;
};

static int add_slirp_fd(int fd, int events, void *opaque)
{
    struct wait_set *w = opaque;
    if (w->n == w->cap) {
        unsigned cap = w->cap * 2;
        struct pollfd *f = realloc(w->fds, cap * sizeof *f);
        if (!f)
            return -1; /* that socket is served on the next wake-up */
        w->fds = f;
        w->cap = cap;
    }
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    w->fds[w->n] = (struct pollfd){ .fd = fd, .events = ev };
    return (int)w->n++;
}

/* net_slirp_poll() waits and dispatches in one call, but dispatching
 * (frames into the device, interrupts) needs the bus lock, which must not be
 * held while waiting. So the thread waits here on its own: slirp's current
 * descriptor set and timeout (slirp_pollfds_fill, a query) plus the extras,
 * then takes the lock and lets net_slirp_poll() find what is ready with a
 * zero timeout and serve it. Only this thread touches slirp. */
static void *slirp_loop(struct virtio_slot *s, struct pollfd *extra, unsigned nextra)
{
    struct wait_set w = { .cap = 64 };
    w.fds = malloc(w.cap * sizeof *w.fds);
    if (!w.fds) {
        run_stop_request(s->env->stop, 1, true, "net thread: out of memory");
        return NULL;
    }
    for (;;) {
        w.n = 0;
        for (unsigned i = 0; i < nextra; i++)
            add_slirp_fd(extra[i].fd, SLIRP_POLL_IN, &w);
        add_slirp_fd(s->slirp.notify_fd, SLIRP_POLL_IN, &w);
        uint32_t timeout = 1000; /* slirp's own timers (IPv6 RA) run at least this often */
        slirp_pollfds_fill(s->slirp.slirp, &timeout, add_slirp_fd, &w);
        if (poll(w.fds, w.n, (int)timeout) < 0 && errno != EINTR) {
            run_stop_request(s->env->stop, 1, true, "net thread: poll: %s", strerror(errno));
            break;
        }
        if (w.fds[0].revents)
            break;
        pci_host_lock(s->env->bus);
        int r = net_slirp_poll(&s->slirp, extra, nextra, 0);
        if (r >= 0)
            serve_kicks(s, extra);
        pci_host_unlock(s->env->bus);
        if (r < 0) {
            run_stop_request(s->env->stop, 1, true, "net thread: slirp: %s", strerror(-r));
            break;
        }
    }
    free(w.fds);
    return NULL;
}

static void *tap_loop(struct virtio_slot *s, struct pollfd *extra, unsigned nextra)
{
    extra[nextra] = (struct pollfd){ .fd = s->tap.fd, .events = POLLIN };
    for (;;) {
        if (poll(extra, nextra + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            run_stop_request(s->env->stop, 1, true, "net thread: poll: %s", strerror(errno));
            return NULL;
        }
        if (extra[0].revents)
            return NULL;
        pci_host_lock(s->env->bus);
        serve_kicks(s, extra);
        int r = (extra[nextra].revents & POLLIN) ? net_tap_poll(&s->tap) : 0;
        pci_host_unlock(s->env->bus);
        if (r < 0) {
            run_stop_request(s->env->stop, 1, true, "net thread: tap %s: %s", s->tap.ifname,
                             strerror(-r));
            return NULL;
        }
    }
}

void *vslot_net_thread(void *arg)
{
    struct virtio_slot *s = arg;
    struct pollfd extra[2 + VSLOT_MAX_QUEUES];
    unsigned n = 0;
    extra[n++] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
    for (unsigned q = 0; q < s->nq; q++)
        extra[n++] = (struct pollfd){ .fd = s->kick_fd[q], .events = POLLIN };
    return s->use_tap ? tap_loop(s, extra, n) : slirp_loop(s, extra, n);
}
