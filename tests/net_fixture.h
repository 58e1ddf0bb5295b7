/* Shared by test_net*.c: the net device behind a backend (real libslirp, or
 * a recording fake), plugged into the loopback as a virtio-pci function and
 * driven by kick's own driver (vdrv_pci + vdrv_net). While the driver waits
 * it lets the slirp loop run, which is what a VMM's device thread does. */
#ifndef KICK_TEST_NET_FIXTURE_H
#define KICK_TEST_NET_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "backends/net_slirp.h"
#include "devices/net.h"
#include "guest/vdrv_net.h"
#include "vmm/loopback.h"

#define NFX_QMAX     (2 * 2 + 1)
#define NFX_QSIZE    NET_QUEUE_SIZE
#define NFX_POOL     (1u << 20)
#define NFX_FRAME    (128u << 10)

/* A backend that records what the device sends. */
struct fake_be {
    struct net_backend nb;
    unsigned frames;
    size_t last_len;
    uint8_t last[NET_MAX_FRAME];
};

struct net_fx {
    struct loopback lb;
    struct net_slirp slirp;
    struct fake_be fake;
    struct net_dev net;
    struct loopback_fn fn;
    struct vdrv_net drv;
    bool slirp_open, net_up, attached;
    unsigned nq;                 /* queues set up */
    unsigned ctrl_q;             /* index of the control queue, or ~0u */
    uint8_t *pool, *frame, *scratch, *data;
    uint64_t pool_pa, frame_pa, scratch_pa, data_pa;
    uint8_t rx[NFX_FRAME];       /* host copy of the last frame received */
    struct vdrv_vq vq[NFX_QMAX];
    void *tokens[NFX_QMAX][NFX_QSIZE];
    uint16_t chain_len[NFX_QMAX][NFX_QSIZE];
};

static inline void nfx_idle(void *ctx)
{
    struct net_fx *fx = ctx;
    if (fx->slirp_open)
        net_slirp_poll(&fx->slirp, NULL, 0, 0);
}

static inline int fake_send(void *be, const void *frame, size_t len)
{
    struct fake_be *f = be;
    f->frames++;
    f->last_len = len;
    memcpy(f->last, frame, len);
    return 0;
}

static const struct net_backend_ops fake_ops = { .send = fake_send };

/* Guest memory, the backend (slirp when so is non-NULL, else the fake) and
 * the device; nothing plugged in yet. */
static inline int nfx_open(struct net_fx *fx, const struct net_slirp_opts *so,
                           const struct net_opts *no)
{
    memset(fx, 0, sizeof(*fx));
    fx->ctrl_q = ~0u;
    if (loopback_init(&fx->lb, 8 << 20) < 0)
        return -ENOMEM;
    fx->pool = loopback_alloc(&fx->lb, NFX_POOL, 4096, &fx->pool_pa);
    fx->frame = loopback_alloc(&fx->lb, NFX_FRAME, 4096, &fx->frame_pa);
    fx->data = loopback_alloc(&fx->lb, NFX_FRAME, 4096, &fx->data_pa);
    fx->scratch = loopback_alloc(&fx->lb, VDRV_NET_SCRATCH, 64, &fx->scratch_pa);
    if (!fx->pool || !fx->frame || !fx->data || !fx->scratch)
        return -ENOMEM;
    struct net_backend *be = &fx->fake.nb;
    if (so) {
        char err[256];
        int rc = net_slirp_open(&fx->slirp, so, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "%s\n", err);
            return rc;
        }
        fx->slirp_open = true;
        be = &fx->slirp.nb;
    } else {
        fx->fake.nb = (struct net_backend){ .ops = &fake_ops, .be = &fx->fake };
    }
    int rc = net_dev_init(&fx->net, be, no);
    if (rc < 0)
        return rc;
    fx->net_up = true;
    return 0;
}

/* Bring-up: negotiate `wanted`, set up every queue the result calls for
 * (each of qsize entries, or the device's size), DRIVER_OK, bind the driver
 * to pair 0 and the control queue. No rx buffers posted yet. */
static inline int nfx_plug(struct net_fx *fx, enum vpci_mode mode, bool force_legacy,
                           uint64_t wanted, uint16_t qsize)
{
    struct loopback_fn *fn = &fx->fn;
    int rc = loopback_fn_attach(fn, &fx->lb, &fx->net.vdev, mode, NFX_QMAX + 1);
    if (rc < 0)
        return rc;
    fx->attached = true;
    struct vdrv_dev *d = &fn->drv;
    if ((rc = loopback_fn_driver_begin(fn, force_legacy, true, wanted)) < 0)
        return rc;
    bool mq = d->features & (1ull << VIRTIO_NET_F_MQ);
    unsigned pairs = mq ? fx->net.max_pairs : 1;
    fx->nq = 2 * pairs;
    if (d->features & (1ull << VIRTIO_NET_F_CTRL_VQ))
        fx->ctrl_q = fx->nq++;
    if (fx->nq > NFX_QMAX)
        return -E2BIG;
    for (unsigned q = 0; q < fx->nq; q++)
        if ((rc = loopback_fn_queue(fn, q, &fx->vq[q], qsize, fx->tokens[q], fx->chain_len[q],
                                    (uint16_t)(1 + q))) < 0)
            return rc;
    if ((rc = loopback_fn_driver_ok(fn)) < 0)
        return rc;
    vdrv_net_init(&fx->drv, d, &fx->vq[0], 0, &fx->vq[1], 1, fx->scratch, fx->scratch_pa,
                  nfx_idle, fx);
    if (fx->ctrl_q != ~0u)
        vdrv_net_set_ctrl(&fx->drv, &fx->vq[fx->ctrl_q], fx->ctrl_q);
    return 0;
}

/* The usual: modern, everything offered, 64 buffers of 2 KiB. */
static inline int nfx_up(struct net_fx *fx, const struct net_slirp_opts *so,
                         const struct net_opts *no)
{
    int rc = nfx_open(fx, so, no);
    if (rc == 0)
        rc = nfx_plug(fx, VPCI_MODERN, false, ~0ull, 0);
    if (rc == 0)
        rc = vdrv_net_rx_fill(&fx->drv, fx->pool, fx->pool_pa, 2048, 64);
    return rc;
}

static inline void nfx_down(struct net_fx *fx)
{
    if (fx->attached)
        loopback_fn_detach(&fx->fn);
    if (fx->net_up)
        net_dev_destroy(&fx->net);
    if (fx->slirp_open)
        net_slirp_close(&fx->slirp);
    loopback_destroy(&fx->lb);
    fx->attached = fx->net_up = fx->slirp_open = false;
}

static inline int64_t nfx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef bool nfx_match_fn(const uint8_t *f, uint32_t len, const void *arg);

/* Receives frames into fx->rx until one matches (frames that do not are
 * skipped: slirp may also ask who we are). Returns its length, or -ETIMEDOUT
 * / the driver's error. */
static inline int nfx_wait_frame_on(struct net_fx *fx, struct vdrv_net *drv, nfx_match_fn *match,
                                    const void *arg, int timeout_ms)
{
    int64_t end = nfx_now_ms() + timeout_ms;
    for (;;) {
        uint32_t len = 0;
        int rc = vdrv_net_recv(drv, fx->rx, sizeof(fx->rx), &len);
        if (rc == 0 && match(fx->rx, len, arg))
            return (int)len;
        if (rc < 0 && rc != -EAGAIN)
            return rc;
        if (rc == -EAGAIN) {
            if (nfx_now_ms() > end)
                return -ETIMEDOUT;
            if (fx->slirp_open)
                net_slirp_poll(&fx->slirp, NULL, 0, 10);
        }
    }
}

static inline int nfx_wait_frame(struct net_fx *fx, nfx_match_fn *match, const void *arg,
                                 int timeout_ms)
{
    return nfx_wait_frame_on(fx, &fx->drv, match, arg, timeout_ms);
}

static inline bool nfx_any(const uint8_t *f, uint32_t len, const void *arg)
{
    (void)f, (void)len, (void)arg;
    return true;
}

#endif
