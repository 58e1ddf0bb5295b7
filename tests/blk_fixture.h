/* Shared by test_blk*.c: a real temporary image file behind the io_uring
 * backend, the blk device plugged into the loopback as a virtio-pci
 * function, and kick's own driver (vdrv_pci + vdrv_blk) driving it. While
 * the driver waits for a request it lets the device reap completions, which
 * is what a VMM's device thread does on the backend's eventfd. */
#ifndef KICK_TEST_BLK_FIXTURE_H
#define KICK_TEST_BLK_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "backends/file_uring.h"
#include "devices/blk.h"
#include "guest/vdrv_blk.h"
#include "vmm/loopback.h"

#define FX_MAX_Q    4
#define FX_BUF_SIZE (2u << 20)

struct blk_fx {
    struct loopback lb;
    struct file_uring fu;
    struct blk_dev blk;
    struct loopback_fn fn;
    struct vdrv_blk drv;
    bool fu_open, blk_up, attached;
    char path[64];
    int host_fd;         /* the test's own view of the image */
    uint8_t *buf;        /* guest buffers */
    uint64_t buf_pa;
    uint8_t *buf2;
    uint64_t buf2_pa;
    uint8_t *scratch;
    uint64_t scratch_pa;
    /* driver side of queues 1.. (queue 0 is fn.vq) */
    struct vdrv_vq vq[FX_MAX_Q];
    void *tokens[FX_MAX_Q][BLK_QUEUE_SIZE];
    uint16_t chain_len[FX_MAX_Q][BLK_QUEUE_SIZE];
};

static inline void fx_idle(void *ctx)
{
    blk_poll(ctx, true);
}

/* An image of img_bytes, its backend and device; nothing plugged in yet. */
static inline int fx_open(struct blk_fx *fx, uint64_t img_bytes, const struct file_uring_opts *fo,
                          const struct blk_opts *bo)
{
    memset(fx, 0, sizeof(*fx));
    fx->host_fd = -1;
    snprintf(fx->path, sizeof(fx->path), "/tmp/kick-blk-XXXXXX");
    fx->host_fd = mkstemp(fx->path);
    if (fx->host_fd < 0 || ftruncate(fx->host_fd, (off_t)img_bytes) < 0)
        return -errno;
    if (loopback_init(&fx->lb, 16 << 20) < 0)
        return -ENOMEM;
    fx->buf = loopback_alloc(&fx->lb, FX_BUF_SIZE, 4096, &fx->buf_pa);
    fx->buf2 = loopback_alloc(&fx->lb, FX_BUF_SIZE, 4096, &fx->buf2_pa);
    fx->scratch = loopback_alloc(&fx->lb, VDRV_BLK_SCRATCH, 64, &fx->scratch_pa);
    if (!fx->buf || !fx->buf2 || !fx->scratch)
        return -ENOMEM;
    struct file_uring_opts defo = { .channels = FX_MAX_Q };
    int rc = file_uring_open(&fx->fu, fx->path, fo ? fo : &defo);
    if (rc < 0)
        return rc;
    fx->fu_open = true;
    rc = blk_dev_init(&fx->blk, &fx->fu.blk, bo);
    if (rc < 0)
        return rc;
    fx->blk_up = true;
    return 0;
}

/* The driver's bring-up for nq queues (the loopback helper does one). */
static inline int fx_plug(struct blk_fx *fx, enum vpci_mode mode, bool force_legacy,
                          uint64_t wanted, unsigned nq)
{
    struct loopback_fn *fn = &fx->fn;
    int rc = loopback_fn_attach(fn, &fx->lb, &fx->blk.vdev, mode, FX_MAX_Q + 1);
    if (rc < 0)
        return rc;
    fx->attached = true;
    struct vdrv_dev *d = &fn->drv;
    if ((rc = loopback_fn_driver_begin(fn, force_legacy, true, wanted)) < 0)
        return rc;
    for (unsigned q = 0; q < nq && q < FX_MAX_Q; q++) {
        struct vdrv_vq *vq = q ? &fx->vq[q] : &fn->vq;
        void **tok = q ? fx->tokens[q] : fn->tokens;
        uint16_t *cl = q ? fx->chain_len[q] : fn->chain_len;
        if ((rc = loopback_fn_queue(fn, q, vq, 0, tok, cl, (uint16_t)(1 + q))) < 0)
            return rc;
    }
    if ((rc = loopback_fn_driver_ok(fn)) < 0)
        return rc;
    vdrv_blk_init(&fx->drv, d, &fn->vq, 0, fx->scratch, fx->scratch_pa, fx_idle, &fx->blk);
    return 0;
}

static inline int fx_up(struct blk_fx *fx, uint64_t img_bytes, const struct blk_opts *bo)
{
    int rc = fx_open(fx, img_bytes, NULL, bo);
    return rc < 0 ? rc : fx_plug(fx, VPCI_MODERN, false, ~0ull, 1);
}

static inline void fx_down(struct blk_fx *fx)
{
    if (fx->attached)
        loopback_fn_detach(&fx->fn);
    if (fx->blk_up)
        blk_dev_destroy(&fx->blk);
    if (fx->fu_open)
        file_uring_close(&fx->fu);
    loopback_destroy(&fx->lb);
    if (fx->host_fd >= 0) {
        close(fx->host_fd);
        unlink(fx->path);
    }
    fx->attached = fx->blk_up = fx->fu_open = false;
    fx->host_fd = -1;
}

static inline void fx_pattern(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

/* Posts a raw chain on queue 0 and waits for it, letting the device run. */
static inline int fx_raw(struct blk_fx *fx, const struct vdrv_sg *sg, unsigned nout, unsigned nin,
                         uint32_t *used_len)
{
    static char tok;
    int rc = vdrv_vq_add(&fx->fn.vq, sg, nout, nin, &tok);
    if (rc < 0)
        return rc;
    if (vdrv_vq_kick_prepare(&fx->fn.vq))
        vdrv_notify(&fx->fn.drv, 0);
    for (int i = 0; i < 100000; i++) {
        void *t = vdrv_vq_get_used(&fx->fn.vq, used_len);
        if (t)
            return t == &tok ? 0 : -EPROTO;
        blk_poll(&fx->blk, true);
    }
    return -ETIMEDOUT;
}

#endif
