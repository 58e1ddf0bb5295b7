/* Shared by test_console*.c: the console device plugged into the loopback as
 * a virtio-pci function, port 0 on the stdio backend over two real pipes
 * (host_in: the test types, host_out: the test reads the guest's output),
 * further ports as the test sets them, and kick's own driver (vdrv_pci +
 * vdrv_console) driving it. While the driver waits it lets the device poll
 * its backends, which is what a VMM's device thread does on readiness. */
#ifndef KICK_TEST_CONSOLE_FIXTURE_H
#define KICK_TEST_CONSOLE_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "backends/chardev_socket.h"
#include "backends/chardev_stdio.h"
#include "devices/console.h"
#include "guest/vdrv_console.h"
#include "vmm/loopback.h"

#define FX_NQ      CONSOLE_MAX_QUEUES
#define FX_BUF     (1u << 20)

struct con_fx {
    struct loopback lb;
    struct console_dev con;
    struct loopback_fn fn;
    struct vdrv_console drv;
    struct chardev_stdio stdio;
    struct console_opts opts;
    bool con_up, attached, lb_up;
    int host_in[2], host_out[2];
    struct vdrv_vq vq[FX_NQ];
    void *tokens[FX_NQ][CONSOLE_QUEUE_SIZE];
    uint16_t chain_len[FX_NQ][CONSOLE_QUEUE_SIZE];
    unsigned nq;
    uint8_t *buf, *buf2, *scratch;
    uint64_t buf_pa, buf2_pa, scratch_pa;
    char last_log[256];
    unsigned nlogs;
};

static inline void fx_idle(void *ctx)
{
    console_poll(ctx);
}

static inline void fx_log(void *opaque, const char *msg)
{
    struct con_fx *fx = opaque;
    snprintf(fx->last_log, sizeof(fx->last_log), "%s", msg);
    fx->nlogs++;
}

/* Pipes, guest memory and the opts for port 0; the test may add ports and
 * options to fx->opts before fx_start(). out_nonblock: the device's end of
 * host_out is O_NONBLOCK (else the backend's poll-then-write path runs). */
static inline int fx_open(struct con_fx *fx, bool out_nonblock)
{
    memset(fx, 0, sizeof(*fx));
    fx->host_in[0] = fx->host_in[1] = fx->host_out[0] = fx->host_out[1] = -1;
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(fx->host_in, O_CLOEXEC) < 0 || pipe2(fx->host_out, O_CLOEXEC) < 0)
        return -errno;
    fcntl(fx->host_out[0], F_SETFL, O_NONBLOCK); /* the test's reading end */
    if (out_nonblock)
        fcntl(fx->host_out[1], F_SETFL, O_NONBLOCK);
    if (loopback_init(&fx->lb, 16 << 20) < 0)
        return -ENOMEM;
    fx->lb_up = true;
    fx->buf = loopback_alloc(&fx->lb, FX_BUF, 4096, &fx->buf_pa);
    fx->buf2 = loopback_alloc(&fx->lb, FX_BUF, 4096, &fx->buf2_pa);
    fx->scratch = loopback_alloc(&fx->lb, VDRV_CONSOLE_SCRATCH, 64, &fx->scratch_pa);
    if (!fx->buf || !fx->buf2 || !fx->scratch)
        return -ENOMEM;
    chardev_stdio_open(&fx->stdio, fx->host_in[0], fx->host_out[1]);
    fx->opts.port[0].be = &fx->stdio.be;
    fx->opts.log = fx_log;
    fx->opts.log_opaque = fx;
    return 0;
}

static inline int fx_start(struct con_fx *fx)
{
    int rc = console_dev_init(&fx->con, &fx->opts);
    if (rc == 0)
        fx->con_up = true;
    return rc;
}

/* Plugs the device in and probes it, nothing more. */
static inline int fx_attach(struct con_fx *fx, enum vpci_mode mode, bool force_legacy)
{
    int rc = loopback_fn_attach(&fx->fn, &fx->lb, &fx->con.vdev, mode, FX_NQ + 1);
    if (rc < 0)
        return rc;
    fx->attached = true;
    return vdrv_pci_probe(&fx->fn.drv, &fx->fn.io, force_legacy);
}

/* The driver's bring-up: features, MSI-X (config vector 0, queue q on
 * 1 + q), every queue the negotiated features give, DRIVER_OK, then the
 * console driver with its ports bound and (multiport) control buffers. */
static inline int fx_plug(struct con_fx *fx, enum vpci_mode mode, bool force_legacy,
                          uint64_t wanted)
{
    int rc = fx_attach(fx, mode, force_legacy);
    if (rc < 0)
        return rc;
    struct vdrv_dev *d = &fx->fn.drv;
    if ((rc = loopback_fn_driver_begin(&fx->fn, force_legacy, true, wanted)) < 0)
        return rc;
    bool multiport = (d->features >> VIRTIO_CONSOLE_F_MULTIPORT) & 1;
    uint32_t nports = 1;
    if (multiport)
        vdrv_config_read(d, offsetof(struct virtio_console_config, max_nr_ports), &nports, 4);
    if (nports == 0 || nports > CONSOLE_MAX_PORTS)
        return -EPROTO;
    fx->nq = multiport ? 2 + 2 * nports : 2;
    for (unsigned q = 0; q < fx->nq; q++)
        if ((rc = loopback_fn_queue(&fx->fn, q, &fx->vq[q], 0, fx->tokens[q], fx->chain_len[q],
                                    (uint16_t)(1 + q))) < 0)
            return rc;
    if ((rc = loopback_fn_driver_ok(&fx->fn)) < 0)
        return rc;
    vdrv_console_init(&fx->drv, d, fx->scratch, fx->scratch_pa, fx_idle, &fx->con);
    fx->drv.poll_limit = 20000;
    for (unsigned p = 0; p < nports; p++)
        vdrv_console_bind_port(&fx->drv, p, &fx->vq[vdrv_console_rxq(p)],
                               &fx->vq[vdrv_console_txq(p)]);
    if (multiport)
        return vdrv_console_ctrl_start(&fx->drv, &fx->vq[2], &fx->vq[3]);
    return 0;
}

static inline int fx_up(struct con_fx *fx, enum vpci_mode mode, bool force_legacy)
{
    int rc = fx_start(fx);
    return rc < 0 ? rc : fx_plug(fx, mode, force_legacy, ~0ull);
}

static inline void fx_down(struct con_fx *fx)
{
    if (fx->attached)
        loopback_fn_detach(&fx->fn);
    if (fx->con_up)
        console_dev_destroy(&fx->con);
    chardev_stdio_close(&fx->stdio);
    if (fx->lb_up)
        loopback_destroy(&fx->lb);
    for (int i = 0; i < 2; i++) {
        if (fx->host_in[i] >= 0)
            close(fx->host_in[i]);
        if (fx->host_out[i] >= 0)
            close(fx->host_out[i]);
    }
    memset(fx, 0, sizeof(*fx));
    fx->host_in[0] = fx->host_in[1] = fx->host_out[0] = fx->host_out[1] = -1;
}

/* Reads exactly len bytes from fd (non-blocking) within about a second,
 * letting the device poll meanwhile. Returns the bytes read. */
static inline size_t fx_read_fd(struct con_fx *fx, int fd, void *buf, size_t len)
{
    size_t got = 0;
    for (int i = 0; i < 1000 && got < len; i++) {
        ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (fx->con_up)
            console_poll(&fx->con);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 1);
    }
    return got;
}

/* Bytes waiting in fd right now (a pipe or a socket). */
static inline int fx_unread(int fd)
{
    int n = -1;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

static inline void fx_pattern(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

/* Index of the first control message (event, id) in the driver's log at or
 * after `from`, or -1. */
static inline int fx_find_event(const struct vdrv_console *c, unsigned from, uint16_t event,
                                uint32_t id)
{
    for (unsigned i = from; i < c->nlog && i < VDRV_CONSOLE_LOG; i++)
        if (c->log[i].event == event && c->log[i].id == id)
            return (int)i;
    return -1;
}

#endif
