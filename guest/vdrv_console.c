/* virtio-console driver (see vdrv_console.h). Freestanding. Fields are
 * little-endian, the guest's native order on the x86 guests this library
 * targets (what legacy means). Control buffers are single descriptors, which
 * is what a legacy device without VIRTIO_F_ANY_LAYOUT requires. */
#include "guest/vdrv_console.h"

#include <asm-generic/errno-base.h>
#include <asm-generic/errno.h>

#include "common/kick_barrier.h"

#define CTRL_HDR   8
#define CTRL_TX_OFF (VDRV_CONSOLE_CTRL_BUFS * VDRV_CONSOLE_CTRL_BUF)

static uint32_t get_le(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *p, uint32_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void vdrv_console_read_size(struct vdrv_console *c)
{
    if (!c->has_size)
        return;
    uint16_t v = 0;
    vdrv_config_read(c->dev, __builtin_offsetof(struct virtio_console_config, cols), &v, 2);
    c->cols = v;
    vdrv_config_read(c->dev, __builtin_offsetof(struct virtio_console_config, rows), &v, 2);
    c->rows = v;
}

void vdrv_console_init(struct vdrv_console *c, struct vdrv_dev *d, void *scratch,
                       uint64_t scratch_pa, void (*idle)(void *), void *idle_ctx)
{
    uint8_t *z = (uint8_t *)c;
    for (unsigned i = 0; i < sizeof(*c); i++)
        z[i] = 0;
    c->dev = d;
    c->scratch = scratch;
    c->scratch_pa = scratch_pa;
    c->idle = idle;
    c->idle_ctx = idle_ctx;
    c->poll_limit = VDRV_CONSOLE_POLL_LIMIT;
    c->auto_reply = true;
    c->multiport = (d->features >> VIRTIO_CONSOLE_F_MULTIPORT) & 1;
    c->has_size = (d->features >> VIRTIO_CONSOLE_F_SIZE) & 1;
    c->emerg_write = (d->features >> VIRTIO_CONSOLE_F_EMERG_WRITE) & 1;
    c->max_nr_ports = 1;
    if (c->multiport) {
        uint32_t n = 0;
        vdrv_config_read(d, __builtin_offsetof(struct virtio_console_config, max_nr_ports), &n, 4);
        c->max_nr_ports = n == 0 ? 1 : n > VDRV_CONSOLE_MAX_PORTS ? VDRV_CONSOLE_MAX_PORTS : n;
    }
    vdrv_console_read_size(c);
}

int vdrv_console_bind_port(struct vdrv_console *c, unsigned p, struct vdrv_vq *rxq,
                           struct vdrv_vq *txq)
{
    if (p >= c->max_nr_ports)
        return -EINVAL;
    c->port[p].rxq = rxq;
    c->port[p].txq = txq;
    return 0;
}

/* Waits for token to come back on vq. */
static int wait_used(struct vdrv_console *c, struct vdrv_vq *vq, void *token, uint32_t *len)
{
    for (uint32_t spins = 0; spins < c->poll_limit; spins++) {
        void *t = vdrv_vq_get_used(vq, len);
        if (t == token)
            return 0;
        if (t)
            return -EPROTO; /* a chain we did not post came back */
        if (c->idle)
            c->idle(c->idle_ctx);
    }
    return -ETIMEDOUT;
}

static int add_kick_wait(struct vdrv_console *c, struct vdrv_vq *vq, unsigned qidx,
                         const struct vdrv_sg *sg, bool writable, uint32_t *len)
{
    char token;
    int rc = vdrv_vq_add(vq, sg, writable ? 0 : 1, writable ? 1 : 0, &token);
    if (rc < 0)
        return rc;
    if (vdrv_vq_kick_prepare(vq))
        vdrv_notify(c->dev, qidx);
    return wait_used(c, vq, &token, len);
}

int vdrv_console_write(struct vdrv_console *c, unsigned p, uint64_t buf_pa, uint32_t len)
{
    if (p >= c->max_nr_ports || !c->port[p].txq || len == 0)
        return -EINVAL;
    struct vdrv_sg sg = { buf_pa, len };
    uint32_t used;
    return add_kick_wait(c, c->port[p].txq, vdrv_console_txq(p), &sg, false, &used);
}

int vdrv_console_rx_post(struct vdrv_console *c, unsigned p, uint64_t buf_pa, uint32_t len,
                         void *token)
{
    if (p >= c->max_nr_ports || !c->port[p].rxq || len == 0)
        return -EINVAL;
    struct vdrv_sg sg = { buf_pa, len };
    int rc = vdrv_vq_add(c->port[p].rxq, &sg, 0, 1, token);
    if (rc < 0)
        return rc;
    if (vdrv_vq_kick_prepare(c->port[p].rxq))
        vdrv_notify(c->dev, vdrv_console_rxq(p));
    return 0;
}

void *vdrv_console_rx_get(struct vdrv_console *c, unsigned p, uint32_t *len)
{
    if (p >= c->max_nr_ports || !c->port[p].rxq)
        return 0;
    return vdrv_vq_get_used(c->port[p].rxq, len);
}

int vdrv_console_read(struct vdrv_console *c, unsigned p, uint64_t buf_pa, uint32_t len)
{
    static char token;
    int rc = vdrv_console_rx_post(c, p, buf_pa, len, &token);
    if (rc < 0)
        return rc;
    uint32_t got = 0;
    rc = wait_used(c, c->port[p].rxq, &token, &got);
    if (rc < 0)
        return rc;
    kick_rmb();
    return got > len ? -EPROTO : (int)got;
}

void vdrv_console_emerg_write(struct vdrv_console *c, uint8_t ch)
{
    uint32_t v = ch;
    vdrv_config_write(c->dev, __builtin_offsetof(struct virtio_console_config, emerg_wr), &v, 4);
}

/* --- control --- */

static int ctrl_post(struct vdrv_console *c, unsigned i)
{
    struct vdrv_sg sg = { c->scratch_pa + i * VDRV_CONSOLE_CTRL_BUF, VDRV_CONSOLE_CTRL_BUF };
    return vdrv_vq_add(c->c_ivq, &sg, 0, 1, c->scratch + i * VDRV_CONSOLE_CTRL_BUF);
}

int vdrv_console_ctrl_start(struct vdrv_console *c, struct vdrv_vq *c_ivq, struct vdrv_vq *c_ovq)
{
    if (!c->multiport)
        return -EINVAL;
    c->c_ivq = c_ivq;
    c->c_ovq = c_ovq;
    for (unsigned i = 0; i < VDRV_CONSOLE_CTRL_BUFS; i++) {
        int rc = ctrl_post(c, i);
        if (rc < 0)
            return rc;
    }
    if (vdrv_vq_kick_prepare(c_ivq))
        vdrv_notify(c->dev, 2);
    return 0;
}

int vdrv_console_ctrl_send(struct vdrv_console *c, uint32_t id, uint16_t event, uint16_t value)
{
    if (!c->c_ovq)
        return -EINVAL;
    uint8_t *m = c->scratch + CTRL_TX_OFF;
    put_le(m, id, 4);
    put_le(m + 4, event, 2);
    put_le(m + 6, value, 2);
    struct vdrv_sg sg = { c->scratch_pa + CTRL_TX_OFF, CTRL_HDR };
    uint32_t used;
    return add_kick_wait(c, c->c_ovq, 3, &sg, false, &used);
}

int vdrv_console_open_port(struct vdrv_console *c, unsigned p, bool open)
{
    if (p >= c->max_nr_ports)
        return -EINVAL;
    int rc = vdrv_console_ctrl_send(c, p, VIRTIO_CONSOLE_PORT_OPEN, open);
    if (rc == 0)
        c->port[p].guest_open = open;
    return rc;
}

/* One message from the device, already bounds-checked for its header. */
static void ctrl_handle(struct vdrv_console *c, const uint8_t *m, uint32_t len)
{
    uint32_t id = get_le(m, 4);
    uint16_t event = (uint16_t)get_le(m + 4, 2), value = (uint16_t)get_le(m + 6, 2);
    if (c->nlog < VDRV_CONSOLE_LOG)
        c->log[c->nlog] = (struct vdrv_console_event){ id, event, value, len };
    c->nlog++;
    if (id >= c->max_nr_ports) {
        c->bad_msgs++;
        return;
    }
    struct vdrv_console_port *pt = &c->port[id];
    switch (event) {
    case VIRTIO_CONSOLE_PORT_ADD:
        pt->added = true;
        if (c->auto_reply && !pt->ready_sent) {
            pt->ready_sent = true;
            vdrv_console_ctrl_send(c, id, VIRTIO_CONSOLE_PORT_READY, 1);
        }
        break;
    case VIRTIO_CONSOLE_PORT_REMOVE:
        pt->added = pt->host_open = pt->guest_open = false;
        break;
    case VIRTIO_CONSOLE_CONSOLE_PORT:
        pt->console = true;
        if (c->auto_reply)
            vdrv_console_open_port(c, id, true);
        break;
    case VIRTIO_CONSOLE_PORT_OPEN:
        pt->host_open = value != 0;
        break;
    case VIRTIO_CONSOLE_PORT_NAME: {
        uint32_t n = len - CTRL_HDR;
        if (n > VDRV_CONSOLE_NAME_MAX) {
            c->bad_msgs++;
            n = VDRV_CONSOLE_NAME_MAX;
        }
        for (uint32_t i = 0; i < n; i++)
            pt->name[i] = (char)m[CTRL_HDR + i];
        pt->name[n] = 0;
        pt->name_len = (uint16_t)n;
        break;
    }
    case VIRTIO_CONSOLE_RESIZE:
        if (len < CTRL_HDR + 4) {
            c->bad_msgs++;
            break;
        }
        c->cols = (uint16_t)get_le(m + CTRL_HDR, 2);
        c->rows = (uint16_t)get_le(m + CTRL_HDR + 2, 2);
        c->resizes++;
        break;
    default:
        c->bad_msgs++;
        break;
    }
}

int vdrv_console_ctrl_process(struct vdrv_console *c)
{
    if (!c->c_ivq)
        return -EINVAL;
    int handled = 0;
    for (;;) {
        uint32_t len = 0;
        uint8_t *buf = vdrv_vq_get_used(c->c_ivq, &len);
        if (!buf)
            break;
        unsigned i = (unsigned)((buf - c->scratch) / VDRV_CONSOLE_CTRL_BUF);
        kick_rmb();
        if (len < CTRL_HDR || len > VDRV_CONSOLE_CTRL_BUF)
            c->bad_msgs++;
        else
            ctrl_handle(c, buf, len);
        handled++;
        /* Re-posted only after handling: the bytes are ours until then. */
        int rc = ctrl_post(c, i);
        if (rc < 0)
            return rc;
        if (vdrv_vq_kick_prepare(c->c_ivq))
            vdrv_notify(c->dev, 2);
    }
    return handled;
}

int vdrv_console_handshake(struct vdrv_console *c)
{
    int rc = vdrv_console_ctrl_send(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
    if (rc < 0)
        return rc;
    unsigned quiet = 0;
    for (uint32_t spins = 0; spins < c->poll_limit && quiet < VDRV_CONSOLE_QUIET; spins++) {
        rc = vdrv_console_ctrl_process(c);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            quiet = 0;
            continue;
        }
        quiet++;
        if (c->idle)
            c->idle(c->idle_ctx);
    }
    int added = 0;
    for (unsigned p = 0; p < c->max_nr_ports; p++)
        added += c->port[p].added;
    return added ? added : -ETIMEDOUT;
}
