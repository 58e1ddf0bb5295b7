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
    unsigned pairs = 1;
    if (c->tap) {
        s->use_tap = true;
        /* one tap queue per queue pair; slirp is one stack on one thread */
        pairs = c->queues ? c->queues : 1;
        if (pairs > VSLOT_NET_MAX_PAIRS) {
            snprintf(err, errlen, "%u queue pairs, at most %u", pairs,
                     (unsigned)VSLOT_NET_MAX_PAIRS);
            return -EINVAL;
        }
        r = net_tap_open_mq(&s->tap, c->tap, pairs, err, errlen);
        if (r == -EINVAL && pairs > 1 && net_tap_open(&s->tap, c->tap, err, errlen) == 0) {
            /* an existing tap made without multi_queue takes one queue only */
            fprintf(stderr, "kick run: --net: tap %s is single-queue: one queue pair, not %u\n",
                    s->tap.ifname, pairs);
            pairs = 1;
            r = 0;
        }
        if (r < 0)
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
    /* the control queue always: Linux sets the pairs it uses through it */
    struct net_opts no = { .max_pairs = pairs };
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

/* Waiting must not hold the bus lock, serving must: so the round is split,
 * net_slirp_wait() outside the lock and net_slirp_serve() inside it. Only this
 * thread touches slirp. */
static void *slirp_loop(struct virtio_slot *s, struct pollfd *extra, unsigned nextra)
{
    for (;;) {
        /* slirp's own timers (IPv6 RA) run at least once a second */
        int r = net_slirp_wait(&s->slirp, extra, nextra, 1000);
        if (r >= 0 && extra[0].revents)
            break;
        pci_host_lock(s->env->bus);
        if (r != -ENOMEM)
            net_slirp_serve(&s->slirp);
        if (r >= 0)
            serve_kicks(s, extra);
        pci_host_unlock(s->env->bus);
        if (r < 0) {
            run_stop_request(s->env->stop, 1, true, "net thread: slirp: %s", strerror(-r));
            break;
        }
    }
    return NULL;
}

/* Tap queues sit after the kicks in the poll set; one whose device queue
 * already has frames waiting for rx buffers is not read (events 0) until
 * the guest posts buffers - a kick this same loop serves. The choice reads
 * device state, so it is made under the bus lock. */
static void tap_poll_set(struct virtio_slot *s, struct pollfd *taps)
{
    for (unsigned q = 0; q < s->tap.nqueues; q++)
        taps[q] = (struct pollfd){ .fd = s->tap.fds[q],
                                   .events = net_tap_wants_read(&s->tap, q) ? POLLIN : 0 };
}

static void *tap_loop(struct virtio_slot *s, struct pollfd *extra, unsigned nextra)
{
    unsigned ntap = s->tap.nqueues;
    pci_host_lock(s->env->bus);
    tap_poll_set(s, extra + nextra);
    pci_host_unlock(s->env->bus);
    for (;;) {
        if (poll(extra, nextra + ntap, -1) < 0) {
            if (errno == EINTR)
                continue;
            run_stop_request(s->env->stop, 1, true, "net thread: poll: %s", strerror(errno));
            return NULL;
        }
        if (extra[0].revents)
            return NULL;
        pci_host_lock(s->env->bus);
        serve_kicks(s, extra);
        int r = 0;
        /* POLLERR too: the read reports what went wrong */
        for (unsigned q = 0; q < ntap && r >= 0; q++)
            if (extra[nextra + q].revents & (POLLIN | POLLERR))
                r = net_tap_poll_queue(&s->tap, q);
        tap_poll_set(s, extra + nextra);
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
    struct pollfd extra[1 + VSLOT_MAX_QUEUES + NET_TAP_MAX_QUEUES];
    unsigned n = 0;
    extra[n++] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
    for (unsigned q = 0; q < s->nq; q++)
        extra[n++] = (struct pollfd){ .fd = s->kick_fd[q], .events = POLLIN };
    return s->use_tap ? tap_loop(s, extra, n) : slirp_loop(s, extra, n);
}
