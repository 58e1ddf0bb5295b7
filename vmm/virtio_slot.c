/* A virtio device on kick's PCI bus with its device thread (see virtio_slot.h). */
#include "vmm/virtio_slot.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "backends/entropy.h"

/* epoll tags: a queue's kick is its index; its completions are
 * TAG_COMPLETION + index */
#define TAG_STOP       0xffff0000u
#define TAG_COMPLETION 0x00010000u
#define TAG_RNG_TIMER  0xfffe0000u

/* ---- interrupts ---- */

static void slot_msi(struct vpci *t, uint64_t addr, uint32_t data)
{
    struct virtio_slot *s = t->host;
    s->msis++;
    int r = irq_routes_deliver(s->env->routes, s->route_first, s->nvec, addr, data);
    if (r < 0)
        run_stop_request(s->env->stop, 1, true, "MSI delivery: %s", strerror(-r));
}

/* The guest changed the MSI-X table, enable or masks (or reset the device):
 * route what may fire now, nothing else. */
static void slot_msix_changed(struct vpci *t, int vector)
{
    struct virtio_slot *s = t->host;
    if (s->route_first < 0)
        return;
    bool on = pci_msix_enabled(&t->pci);
    for (unsigned v = 0; v < s->nvec; v++) {
        if (vector >= 0 && (unsigned)vector != v)
            continue;
        uint64_t addr = 0;
        uint32_t data = 0;
        bool masked = true;
        pci_msix_message(&t->pci, v, &addr, &data, &masked);
        irq_routes_set(s->env->routes, (unsigned)s->route_first + v, on && !masked, addr, data);
    }
    /* a failed update only costs speed: delivery falls back to KVM_SIGNAL_MSI */
    irq_routes_commit(s->env->routes);
}

static void slot_intx(struct vpci *t, bool level)
{
    struct virtio_slot *s = t->host;
    unsigned gsi = pci_host_intx_gsi(s->slot, 1);
    if (level)
        s->intx_raises++;
    int r = kvm_vm_irq_line(s->env->vm, gsi, level);
    if (r < 0)
        run_stop_request(s->env->stop, 1, true, "KVM_IRQ_LINE %u: %s", gsi, strerror(-r));
}

/* ---- ioeventfds ---- */

static int ioeventfd(struct virtio_slot *s, unsigned q, bool legacy, uint64_t addr,
                     const struct vpci_notify_loc *loc, bool assign)
{
    struct kvm_ioeventfd io = {
        .addr = addr, .len = loc->len, .fd = s->kick_fd[q],
        .datamatch = loc->datamatch ? loc->data : 0,
        .flags = (legacy ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                 (loc->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
                 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
    };
    return ioctl(s->env->vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

/* BAR `bar` now decodes at addr (or nothing): move the queues' notify
 * ioeventfds that live in it. A failure only costs speed (the write then
 * exits to kick), so it is counted, not fatal. */
static void slot_bar_map(struct vpci *t, int bar, uint64_t addr, bool enabled)
{
    struct virtio_slot *s = t->host;
    if (!s->env->ioeventfd)
        return;
    for (unsigned q = 0; q < s->nq; q++) {
        for (int legacy = 0; legacy < 2; legacy++) {
            struct vpci_notify_loc loc;
            struct vslot_ioev *ev = &s->ioev[q][legacy];
            if (vpci_notify_loc(t, q, legacy, &loc) < 0 || loc.bar != bar)
                continue;
            if (ev->on && ioeventfd(s, q, legacy, ev->addr, &loc, false) < 0)
                s->ioeventfd_errors++;
            ev->on = false;
            if (!enabled)
                continue;
            ev->addr = addr + loc.off;
            if (ioeventfd(s, q, legacy, ev->addr, &loc, true) < 0)
                s->ioeventfd_errors++;
            else
                ev->on = true;
        }
    }
}

static const struct vpci_host_ops slot_host_ops = {
    .msi = slot_msi,
    .intx = slot_intx,
    .bar_map = slot_bar_map,
    .msix_changed = slot_msix_changed,
};

/* ---- device thread ---- */

bool vslot_drain(int fd)
{
    uint64_t v;
    ssize_t n;
    while ((n = read(fd, &v, sizeof v)) < 0 && errno == EINTR)
        ;
    return n == sizeof v;
}

/* A rate-limited rng leaves chains in the ring while its bucket is empty:
 * serve what it can and come back when the bucket has refilled. Bus lock
 * held. */
static void rng_serve(struct virtio_slot *s)
{
    uint64_t wait = rng_poll(&s->rng);
    if (!wait)
        return;
    struct itimerspec its = { .it_value = { .tv_sec = (time_t)(wait / 1000000000ull),
                                            .tv_nsec = (long)(wait % 1000000000ull) } };
    if (timerfd_settime(s->rng_timer_fd, 0, &its, NULL) < 0)
        run_stop_request(s->env->stop, 1, true, "rng timer: %s", strerror(errno));
}

static void *device_thread(void *arg)
{
    struct virtio_slot *s = arg;
    for (;;) {
        struct epoll_event ev[2 * VSLOT_MAX_QUEUES + 1];
        int n = epoll_wait(s->epoll_fd, ev, 2 * VSLOT_MAX_QUEUES + 1, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            run_stop_request(s->env->stop, 1, true, "device thread: epoll_wait: %s",
                             strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            uint32_t tag = ev[i].data.u32;
            if (tag == TAG_STOP)
                return NULL;
            if (tag == TAG_RNG_TIMER) {
                vslot_drain(s->rng_timer_fd);
                pci_host_lock(s->env->bus);
                rng_serve(s);
                pci_host_unlock(s->env->bus);
                continue;
            }
            if (tag >= TAG_COMPLETION && tag - TAG_COMPLETION < s->nq) {
                unsigned q = tag - TAG_COMPLETION;
                vslot_drain(s->completion_fd[q]);
                pci_host_lock(s->env->bus);
                blk_poll_queue(s->blk, q, false);
                pci_host_unlock(s->env->bus);
            } else if (tag < s->nq) {
                vslot_drain(s->kick_fd[tag]);
                pci_host_lock(s->env->bus);
                s->fd_kicks++;
                virtio_dev_notify(s->vdev, tag);
                if (s->rng_timer_fd >= 0)
                    rng_serve(s);
                pci_host_unlock(s->env->bus);
            }
        }
    }
}

static int watch(int epfd, int fd, uint32_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- life cycle ---- */

static int fail(char *err, size_t errlen, int r, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(-r));
    return r;
}

static int make_blk(struct virtio_slot *s, const struct vslot_disk *disk, char *err,
                    size_t errlen)
{
    unsigned nq = disk->queues ? disk->queues : 1;
    if (nq > BLK_MAX_QUEUES || nq > VSLOT_MAX_QUEUES) {
        snprintf(err, errlen, "%u queues, at most %u", nq, BLK_MAX_QUEUES);
        return -EINVAL;
    }
    /* one ring per queue: a queue's completions never wait behind another's */
    struct file_uring_opts fo = { .read_only = disk->read_only, .channels = nq };
    int r = file_uring_open(&s->file, disk->path, &fo);
    if (r < 0)
        return fail(err, errlen, r, "cannot open the image");
    s->file_open = true;
    if (s->file.blk.size < 512) {
        snprintf(err, errlen, "image is smaller than one 512-byte sector");
        return -EINVAL;
    }
    s->blk = calloc(1, sizeof *s->blk);
    if (!s->blk)
        return fail(err, errlen, -ENOMEM, "device");
    struct blk_opts bo = { .serial = disk->serial, .read_only = disk->read_only,
                           .num_queues = nq };
    if ((r = blk_dev_init(s->blk, &s->file.blk, &bo)) < 0)
        return fail(err, errlen, r, "virtio-blk device");
    s->blk_ready = true;
    s->vdev = &s->blk->vdev;
    for (unsigned q = 0; q < nq; q++)
        s->completion_fd[q] = file_uring_event_fd(&s->file, q);
    return 0;
}

int vslot_create(struct virtio_slot *s, const struct vslot_env *env, enum vslot_kind kind,
                 const void *cfg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->env = env;
    s->kind = kind;
    s->stop_fd = s->epoll_fd = -1;
    s->route_first = -1;
    for (unsigned q = 0; q < VSLOT_MAX_QUEUES; q++)
        s->kick_fd[q] = s->completion_fd[q] = -1;
    s->rng_timer_fd = -1;
    int r;
    switch (kind) {
    case VSLOT_BLK:
        r = make_blk(s, cfg, err, errlen);
        break;
    case VSLOT_CONSOLE:
        r = vslot_console_make(s, cfg, err, errlen);
        break;
    case VSLOT_NET:
        r = vslot_net_make(s, cfg, err, errlen);
        break;
    default:
        rng_dev_init(&s->rng, entropy_getrandom, NULL);
        s->vdev = &s->rng.vdev;
        r = 0;
        if (cfg && *(const uint64_t *)cfg) {
            rng_dev_set_rate(&s->rng, *(const uint64_t *)cfg);
            s->rng_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
            if (s->rng_timer_fd < 0)
                return fail(err, errlen, -errno, "rng timer");
        }
    }
    if (r < 0)
        return r;
    s->vdev->mem = env->mem;
    s->nq = s->vdev->num_queues;
    if (s->nq > VSLOT_MAX_QUEUES) {
        snprintf(err, errlen, "%u queues, kick wires at most %u", s->nq, VSLOT_MAX_QUEUES);
        return -EINVAL;
    }
    for (unsigned q = 0; q < s->nq; q++)
        if ((s->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
            return fail(err, errlen, -errno, "eventfd");
    if ((s->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
        (s->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return fail(err, errlen, -errno, "device thread setup");
    /* one vector for config changes, one per queue: what Linux asks for first */
    s->nvec = s->nq + 1;
    if (env->routes) /* < 0: this slot signals its MSIs with an ioctl */
        s->route_first = irq_routes_alloc(env->routes, s->nvec);
    /* The device models serve either ring through the same queue calls; the
     * driver decides at negotiation. Legacy drivers never see bit 34. */
    if (env->packed)
        s->vdev->host_features |= 1ull << VIRTIO_F_RING_PACKED;
    if ((r = vpci_init(&s->t, s->vdev, env->mode, s->nvec, &slot_host_ops, s)) < 0)
        return fail(err, errlen, r, "virtio-pci function");
    s->vpci_ready = true;
    if ((r = pci_host_add(env->bus, vpci_func(&s->t))) < 0)
        return fail(err, errlen, r, "no free PCI slot");
    s->slot = (unsigned)r;
    return 0;
}

int vslot_start(struct virtio_slot *s)
{
    void *(*fn)(void *) = device_thread;
    int r = 0;
    if (s->kind == VSLOT_CONSOLE)
        fn = vslot_console_thread;
    else if (s->kind == VSLOT_NET)
        fn = vslot_net_thread;
    else
        r = watch(s->epoll_fd, s->stop_fd, TAG_STOP);
    if (r == 0 && s->rng_timer_fd >= 0)
        r = watch(s->epoll_fd, s->rng_timer_fd, TAG_RNG_TIMER);
    for (unsigned q = 0; q < s->nq && r == 0 && fn == device_thread; q++)
        r = watch(s->epoll_fd, s->kick_fd[q], q);
    for (unsigned q = 0; q < s->nq && r == 0 && fn == device_thread; q++)
        if (s->completion_fd[q] >= 0)
            r = watch(s->epoll_fd, s->completion_fd[q], TAG_COMPLETION + q);
    if (r < 0)
        return r;
    /* signals are for the main thread and the vCPUs */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    r = -pthread_create(&s->thread, NULL, fn, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r == 0)
        s->thread_started = true;
    return r;
}

void vslot_stop(struct virtio_slot *s)
{
    if (!s->thread_started)
        return;
    uint64_t one = 1;
    while (write(s->stop_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    pthread_join(s->thread, NULL);
    s->thread_started = false;
}

void vslot_destroy(struct virtio_slot *s)
{
    vslot_stop(s);
    /* requests in flight still point into the device's slots */
    while (s->blk_ready && blk_inflight(s->blk))
        blk_poll(s->blk, true);
    if (s->vpci_ready) /* still looks at the device */
        vpci_destroy(&s->t);
    if (s->blk_ready)
        blk_dev_destroy(s->blk);
    if (s->kind == VSLOT_CONSOLE)
        vslot_console_destroy(s);
    else if (s->kind == VSLOT_NET)
        vslot_net_destroy(s);
    free(s->blk);
    s->blk = NULL;
    if (s->file_open)
        file_uring_close(&s->file);
    for (unsigned q = 0; q < VSLOT_MAX_QUEUES; q++)
        if (s->kick_fd[q] >= 0)
            close(s->kick_fd[q]);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->rng_timer_fd >= 0)
        close(s->rng_timer_fd);
    s->rng_timer_fd = -1;
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    s->blk_ready = s->file_open = s->vpci_ready = false;
}
