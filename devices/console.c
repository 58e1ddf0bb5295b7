/* virtio-console device model: data path, config, entry points. The control
 * protocol is in console_ctrl.c. See console.h for the model and threading.
 *
 * Byte order: config fields and control messages are little-endian, which
 * is also what a legacy driver uses on the little-endian guests kick runs
 * (legacy means guest-native order). */
#include "devices/console.h"
#include "devices/console_internal.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

void console_log(struct console_dev *c, const char *fmt, ...)
{
    if (!c->log)
        return;
    char line[256];
    int n = snprintf(line, sizeof(line), "virtio-console: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    c->log(c->log_opaque, line);
}

/* The driver broke a ring rule we cannot work around. */
void console_misuse(struct console_dev *c, const char *what, unsigned q)
{
    console_log(c, "queue %u: %s; device needs reset", q, what);
    virtio_dev_needs_reset(&c->vdev);
}

bool console_multiport(const struct console_dev *c)
{
    return virtio_dev_has_feature(&c->vdev, VIRTIO_CONSOLE_F_MULTIPORT);
}

/* Queue q can be served now (running, enabled, and a port queue beyond port
 * 0's only exists with multiport). */
bool console_queue_live(struct console_dev *c, unsigned q)
{
    if (q >= c->vdev.num_queues || !virtio_dev_running(&c->vdev) || !c->vqs[q].ready)
        return false;
    return q < 2 || console_multiport(c);
}

/* --- guest -> host --- */

/* Writes what is left of the held chain. 0 when the chain is done (written,
 * or dropped because nobody can take it), -EAGAIN when the backend is full. */
static int port_write_chain(struct console_dev *c, unsigned p)
{
    struct console_port *pt = &c->port[p];
    struct virtq_elem *e = &pt->tx_elem;
    size_t skip = pt->tx_done;

    for (unsigned i = 0; i < e->nout; i++) {
        const struct iovec *v = &pt->tx_iov[i];
        if (skip >= v->iov_len) {
            skip -= v->iov_len;
            continue;
        }
        const uint8_t *b = (const uint8_t *)v->iov_base + skip;
        size_t left = v->iov_len - skip;
        skip = 0;
        while (left) {
            ssize_t n = pt->be ? pt->be->ops->write(pt->be, b, left) : -ENOTCONN;
            if (n == 0 || n == -EAGAIN)
                return -EAGAIN;
            if (n < 0) {
                uint32_t lost = e->out_len - pt->tx_done;
                pt->tx_dropped += lost;
                if (!pt->tx_dropping)
                    console_log(c, "port %u: host side cannot take output (%s); dropping %u bytes",
                                p, strerror((int)-n), lost);
                pt->tx_dropping = true;
                return 0;
            }
            if ((size_t)n > left)
                n = (ssize_t)left; /* a backend claiming more than it got */
            b += n;
            left -= (size_t)n;
            pt->tx_done += (uint32_t)n;
            pt->tx_bytes += (uint64_t)n;
            pt->tx_dropping = false;
        }
    }
    return 0;
}

void console_port_tx(struct console_dev *c, unsigned p)
{
    struct console_port *pt = &c->port[p];
    unsigned qi = console_txq(p);
    struct virtq *vq = &c->vqs[qi];
    bool pushed = false;

    if (!console_queue_live(c, qi))
        return;
    for (;;) {
        if (!pt->tx_held) {
            pt->tx_elem = (struct virtq_elem){ .iov = pt->tx_iov, .iov_cap = CONSOLE_QUEUE_SIZE };
            int rc = virtq_pop(vq, &pt->tx_elem);
            if (rc == 0)
                break;
            if (rc < 0) {
                console_misuse(c, "bad chain", qi);
                break;
            }
            if (pt->tx_elem.nin) {
                virtq_push(vq, pt->tx_elem.head, 0);
                pushed = true;
                console_misuse(c, "device-writable buffer in a transmitq", qi);
                break;
            }
            pt->tx_held = true;
            pt->tx_done = 0;
        }
        if (port_write_chain(c, p) == -EAGAIN)
            break;
        pt->tx_held = false;
        virtq_push(vq, pt->tx_elem.head, 0);
        pushed = true;
    }
    if (pushed)
        virtio_dev_queue_irq(&c->vdev, qi);
}

/* --- host -> guest --- */

static bool port_rx_allowed(struct console_dev *c, unsigned p)
{
    const struct console_port *pt = &c->port[p];
    if (!pt->be || !pt->be->connected || !console_queue_live(c, console_rxq(p)))
        return false;
    /* With multiport, data goes only to a port the guest has open (the
     * console port too: the driver opens it in answer to CONSOLE_PORT).
     * Linux throws away what arrives on a closed port. */
    return !console_multiport(c) || pt->guest_open;
}

/* Reads backend bytes into one popped receive chain. Returns the bytes
 * placed; *more is false when the backend had no more right now. */
static uint32_t port_fill_chain(struct console_port *pt, const struct virtq_elem *e, bool *more)
{
    uint32_t got = 0;
    *more = true;
    for (unsigned i = e->nout; i < (unsigned)e->nout + e->nin; i++) {
        const struct iovec *v = &pt->rx_iov[i];
        if (v->iov_len == 0)
            continue;
        ssize_t n = pt->be->ops->read(pt->be, v->iov_base, v->iov_len);
        if (n <= 0) {
            *more = false;
            break;
        }
        if ((size_t)n > v->iov_len)
            n = (ssize_t)v->iov_len;
        got += (uint32_t)n;
        if ((size_t)n < v->iov_len) {
            /* A console wants latency more than full buffers: hand this one
             * over now. */
            *more = false;
            break;
        }
    }
    return got;
}

void console_port_rx(struct console_dev *c, unsigned p)
{
    struct console_port *pt = &c->port[p];
    unsigned qi = console_rxq(p);
    struct virtq *vq = &c->vqs[qi];
    bool pushed = false;

    if (!port_rx_allowed(c, p))
        return;
    for (;;) {
        struct virtq_elem e = { .iov = pt->rx_iov, .iov_cap = CONSOLE_QUEUE_SIZE };
        int rc = virtq_pop(vq, &e);
        if (rc == 0)
            break;
        if (rc < 0) {
            console_misuse(c, "bad chain", qi);
            break;
        }
        if (e.nout) {
            virtq_push(vq, e.head, 0);
            pushed = true;
            console_misuse(c, "device-readable buffer in a receiveq", qi);
            break;
        }
        bool more;
        uint32_t got = port_fill_chain(pt, &e, &more);
        if (got == 0) {
            virtq_unpop(vq); /* nothing to say yet: the buffer stays posted */
            break;
        }
        virtq_push(vq, e.head, got);
        pt->rx_bytes += got;
        pushed = true;
        if (!more)
            break;
    }
    if (pushed)
        virtio_dev_queue_irq(&c->vdev, qi);
}

/* --- emergency write --- */

static void emerg_flush(struct console_dev *c)
{
    struct console_backend *be = c->port[0].be;
    unsigned off = 0;
    while (off < c->emerg_len) {
        ssize_t n = be ? be->ops->write(be, c->emerg + off, c->emerg_len - off) : -ENOTCONN;
        if (n == 0 || n == -EAGAIN)
            break;
        if (n < 0) {
            c->stats.emerg_dropped += c->emerg_len - off;
            off = c->emerg_len;
            break;
        }
        off += (unsigned)n < c->emerg_len - off ? (unsigned)n : c->emerg_len - off;
        c->stats.emerg_bytes += (unsigned)n;
    }
    memmove(c->emerg, c->emerg + off, c->emerg_len - off);
    c->emerg_len -= off;
}

static void emerg_put(struct console_dev *c, uint8_t byte)
{
    if (c->emerg_len == CONSOLE_EMERG_BUF) {
        emerg_flush(c);
        if (c->emerg_len == CONSOLE_EMERG_BUF) {
            c->stats.emerg_dropped++;
            return;
        }
    }
    c->emerg[c->emerg_len++] = byte;
    emerg_flush(c);
}

/* --- virtio ops --- */

static void console_queue_notify(struct virtio_dev *d, unsigned q)
{
    struct console_dev *c = d->priv;
    pthread_mutex_lock(&c->lock);
    if (q == 2 || q == 3) {
        if (console_multiport(c) && q == 3)
            console_ctrl_handle_tx(c);
    } else {
        unsigned p = q < 2 ? 0 : (q - 2) / 2;
        if (p < c->nports) {
            if (q & 1)
                console_port_tx(c, p);
            else
                console_port_rx(c, p);
        }
    }
    console_ctrl_flush(c);
    pthread_mutex_unlock(&c->lock);
}

static void console_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
    struct console_dev *c = d->priv;
    pthread_mutex_lock(&c->lock);
    memcpy(buf, (const uint8_t *)&c->cfg + off, len);
    pthread_mutex_unlock(&c->lock);
}

static void console_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
    struct console_dev *c = d->priv;
    const uint32_t emerg = offsetof(struct virtio_console_config, emerg_wr);
    /* Offered is enough: the spec lets a driver use it before (or without)
     * acknowledging the feature. The low byte of the field is the character. */
    if (!((d->host_features >> VIRTIO_CONSOLE_F_EMERG_WRITE) & 1) || off > emerg ||
        off + len <= emerg)
        return;
    pthread_mutex_lock(&c->lock);
    emerg_put(c, ((const uint8_t *)buf)[emerg - off]);
    pthread_mutex_unlock(&c->lock);
}

static void console_driver_ok(struct virtio_dev *d)
{
    struct console_dev *c = d->priv;
    pthread_mutex_lock(&c->lock);
    /* Receive buffers may have been posted before DRIVER_OK without a kick. */
    for (unsigned p = 0; p < c->nports; p++)
        console_port_rx(c, p);
    pthread_mutex_unlock(&c->lock);
}

static void console_reset(struct virtio_dev *d)
{
    struct console_dev *c = d->priv;
    pthread_mutex_lock(&c->lock);
    for (unsigned p = 0; p < c->nports; p++) {
        struct console_port *pt = &c->port[p];
        pt->added = pt->ready = pt->guest_open = pt->host_open_told = false;
        pt->tx_held = false; /* the ring it came from is being forgotten */
    }
    c->device_ready = false;
    c->ctrl_head = c->ctrl_count = 0;
    pthread_mutex_unlock(&c->lock);
}

static void console_queue_reset(struct virtio_dev *d, unsigned q)
{
    struct console_dev *c = d->priv;
    pthread_mutex_lock(&c->lock);
    if (q & 1 && q != 3) {
        unsigned p = q < 2 ? 0 : (q - 2) / 2;
        if (p < c->nports)
            c->port[p].tx_held = false;
    }
    pthread_mutex_unlock(&c->lock);
}

static const struct virtio_dev_ops console_ops = {
    .queue_notify = console_queue_notify,
    .config_read = console_config_read,
    .config_write = console_config_write,
    .driver_ok = console_driver_ok,
    .reset = console_reset,
    .queue_reset = console_queue_reset,
};

/* --- host side entry points --- */

/* Tells the driver about host side connects and disconnects on ready ports. */
static void sync_host_open(struct console_dev *c)
{
    if (!console_multiport(c) || !virtio_dev_running(&c->vdev))
        return;
    for (unsigned p = 0; p < c->nports; p++) {
        struct console_port *pt = &c->port[p];
        bool open = pt->be && pt->be->connected;
        if (pt->ready && open != pt->host_open_told) {
            console_ctrl_queue(c, p, VIRTIO_CONSOLE_PORT_OPEN, open, NULL, 0);
            pt->host_open_told = open;
        }
    }
}

void console_poll(struct console_dev *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->emerg_len)
        emerg_flush(c);
    for (unsigned p = 0; p < c->nports; p++) {
        struct console_backend *be = c->port[p].be;
        if (be && be->ops->service)
            be->ops->service(be);
        console_port_tx(c, p);
        console_port_rx(c, p);
    }
    sync_host_open(c);
    console_ctrl_flush(c);
    pthread_mutex_unlock(&c->lock);
}

unsigned console_pollfds(struct console_dev *c, struct pollfd *fds, unsigned max)
{
    unsigned n = 0;
    pthread_mutex_lock(&c->lock);
    for (unsigned p = 0; p < c->nports && n < max; p++) {
        struct console_port *pt = &c->port[p];
        if (!pt->be)
            continue;
        bool want_out = pt->tx_held || (p == 0 && c->emerg_len);
        bool want_in = port_rx_allowed(c, p) && virtq_has_avail(&c->vqs[console_rxq(p)]);
        n += pt->be->ops->pollfds(pt->be, want_in, want_out, fds + n, max - n);
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

void console_set_size(struct console_dev *c, uint16_t cols, uint16_t rows)
{
    pthread_mutex_lock(&c->lock);
    if ((c->vdev.host_features >> VIRTIO_CONSOLE_F_SIZE) & 1) {
        c->cfg.cols = htole16(cols);
        c->cfg.rows = htole16(rows);
        virtio_dev_config_changed(&c->vdev);
        /* A multiport driver learns the console size from RESIZE only. */
        if (console_multiport(c) && virtio_dev_running(&c->vdev) && c->port[0].ready) {
            uint8_t size[4] = { (uint8_t)cols, (uint8_t)(cols >> 8), (uint8_t)rows,
                                (uint8_t)(rows >> 8) };
            console_ctrl_queue(c, 0, VIRTIO_CONSOLE_RESIZE, 0, size, sizeof(size));
            console_ctrl_flush(c);
        }
    }
    pthread_mutex_unlock(&c->lock);
}

int console_dev_init(struct console_dev *c, const struct console_opts *o)
{
    unsigned nports = o->nports ? o->nports : 1;
    if (nports > CONSOLE_MAX_PORTS)
        return -EINVAL;
    memset(c, 0, sizeof(*c));
    bool named = false;
    for (unsigned p = 0; p < nports; p++) {
        const char *name = o->port[p].name;
        c->port[p].be = o->port[p].be;
        if (!name)
            continue;
        size_t len = strlen(name);
        if (len == 0 || len > CONSOLE_NAME_MAX)
            return -EINVAL;
        memcpy(c->port[p].name, name, len);
        c->port[p].name_len = (uint16_t)len;
        named = true;
    }
    c->nports = nports;
    c->log = o->log;
    c->log_opaque = o->log_opaque;
    /* Names and extra ports need the control queues. */
    bool multiport = o->multiport || nports > 1 || named;
    uint64_t features = (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC);
    if (o->size) {
        features |= 1ull << VIRTIO_CONSOLE_F_SIZE;
        c->cfg.cols = htole16(o->cols);
        c->cfg.rows = htole16(o->rows);
    }
    if (multiport) {
        features |= 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
        c->cfg.max_nr_ports = htole32(nports);
    }
    if (o->emerg_write)
        features |= 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE;
    if (pthread_mutex_init(&c->lock, NULL) != 0)
        return -ENOMEM;
    virtio_dev_init(&c->vdev, VIRTIO_ID_CONSOLE, features, c->vqs,
                    multiport ? 2 + 2 * nports : 2, CONSOLE_QUEUE_SIZE, &c->cfg, sizeof(c->cfg),
                    &console_ops, c);
    return 0;
}

void console_dev_destroy(struct console_dev *c)
{
    pthread_mutex_destroy(&c->lock);
}
