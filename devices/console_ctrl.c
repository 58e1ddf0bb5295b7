/* virtio-console control protocol (§5.3.6.2 "Multiport Device Operation").
 *
 * Driver -> device messages are validated before anything is done with them:
 * a short message, a port that does not exist or was never added, a value
 * outside what the event allows, an event only the device may send, or a
 * repeat of a one-time message is ignored, counted and logged. Answers are
 * bounded: each port is added once per reset and answered once per
 * PORT_READY, so a driver cannot make the device queue unbounded work; the
 * host queue dropping a message (counted) is the last line. */
#include "devices/console_internal.h"

#include <endian.h>
#include <string.h>

#define CTRL_HDR sizeof(struct virtio_console_control)
#define C_IVQ 2
#define C_OVQ 3

static void ignored(struct console_dev *c, const char *why, uint32_t id, uint16_t event,
                    uint16_t value)
{
    c->stats.ctrl_ignored++;
    console_log(c, "ignored control message (id %u, event %u, value %u): %s", id, event, value,
                why);
}

void console_ctrl_queue(struct console_dev *c, uint32_t id, uint16_t event, uint16_t value,
                        const void *extra, uint16_t extra_len)
{
    if (c->ctrl_count == CONSOLE_CTRL_PENDING) {
        c->stats.ctrl_dropped++;
        console_log(c, "control queue full; dropped event %u for port %u", event, id);
        return;
    }
    struct console_ctrl_msg *m = &c->ctrl[(c->ctrl_head + c->ctrl_count) % CONSOLE_CTRL_PENDING];
    struct virtio_console_control h = {
        .id = htole32(id), .event = htole16(event), .value = htole16(value),
    };
    if (extra_len > sizeof(m->buf) - CTRL_HDR)
        extra_len = sizeof(m->buf) - CTRL_HDR;
    memcpy(m->buf, &h, CTRL_HDR);
    if (extra_len)
        memcpy(m->buf + CTRL_HDR, extra, extra_len);
    m->len = (uint16_t)(CTRL_HDR + extra_len);
    c->ctrl_count++;
}

void console_ctrl_flush(struct console_dev *c)
{
    struct virtq *vq = &c->vqs[C_IVQ];
    bool pushed = false;

    if (!c->ctrl_count || !console_queue_live(c, C_IVQ))
        return;
    while (c->ctrl_count) {
        struct virtq_elem e = { .iov = c->ctrl_iov, .iov_cap = CONSOLE_QUEUE_SIZE };
        int rc = virtq_pop(vq, &e);
        if (rc == 0)
            break;
        if (rc < 0) {
            console_misuse(c, "bad chain", C_IVQ);
            break;
        }
        if (e.nout) {
            virtq_push(vq, e.head, 0);
            pushed = true;
            console_misuse(c, "device-readable buffer in the control receiveq", C_IVQ);
            break;
        }
        const struct console_ctrl_msg *m = &c->ctrl[c->ctrl_head];
        uint32_t put = 0;
        for (unsigned i = 0; i < e.nin && put < m->len; i++) {
            size_t k = c->ctrl_iov[i].iov_len < m->len - put ? c->ctrl_iov[i].iov_len
                                                             : m->len - put;
            memcpy(c->ctrl_iov[i].iov_base, m->buf + put, k);
            put += (uint32_t)k;
        }
        if (put < m->len) {
            c->stats.ctrl_truncated++;
            console_log(c, "control buffer of %u bytes too small for a %u byte message",
                        e.in_len, m->len);
        }
        virtq_push(vq, e.head, put);
        pushed = true;
        c->stats.ctrl_tx++;
        c->ctrl_head = (c->ctrl_head + 1) % CONSOLE_CTRL_PENDING;
        c->ctrl_count--;
    }
    if (pushed)
        virtio_dev_queue_irq(&c->vdev, C_IVQ);
}

static void port_ready(struct console_dev *c, uint32_t id, uint16_t value)
{
    struct console_port *pt = &c->port[id];
    if (value != 1) {
        /* The driver could not set the port up: it stays unusable. */
        console_log(c, "driver failed to add port %u", id);
        return;
    }
    pt->ready = true;
    if (id == 0)
        console_ctrl_queue(c, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
    if (pt->name_len)
        console_ctrl_queue(c, id, VIRTIO_CONSOLE_PORT_NAME, 1, pt->name, pt->name_len);
    if (pt->be && pt->be->connected) {
        console_ctrl_queue(c, id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0);
        pt->host_open_told = true;
    }
}

static void handle_msg(struct console_dev *c, uint32_t id, uint16_t event, uint16_t value)
{
    switch (event) {
    case VIRTIO_CONSOLE_DEVICE_READY:
        if (value != 1) {
            console_log(c, "driver reports it could not initialize (DEVICE_READY %u)", value);
            return;
        }
        if (c->device_ready) {
            ignored(c, "repeated DEVICE_READY", id, event, value);
            return;
        }
        c->device_ready = true;
        for (unsigned p = 0; p < c->nports; p++) {
            console_ctrl_queue(c, p, VIRTIO_CONSOLE_PORT_ADD, 0, NULL, 0);
            c->port[p].added = true;
        }
        return;
    case VIRTIO_CONSOLE_PORT_READY:
        if (id >= c->nports || !c->port[id].added)
            ignored(c, "no such port", id, event, value);
        else if (c->port[id].ready)
            ignored(c, "port already ready", id, event, value);
        else
            port_ready(c, id, value);
        return;
    case VIRTIO_CONSOLE_PORT_OPEN:
        if (id >= c->nports || !c->port[id].ready)
            ignored(c, "no such ready port", id, event, value);
        else if (value > 1)
            ignored(c, "value is neither 0 nor 1", id, event, value);
        else {
            c->port[id].guest_open = value;
            if (value)
                console_port_rx(c, id); /* input may be waiting in the backend */
        }
        return;
    case VIRTIO_CONSOLE_PORT_ADD:
    case VIRTIO_CONSOLE_PORT_REMOVE:
    case VIRTIO_CONSOLE_CONSOLE_PORT:
    case VIRTIO_CONSOLE_RESIZE:
    case VIRTIO_CONSOLE_PORT_NAME:
        ignored(c, "only the device sends this event", id, event, value);
        return;
    default:
        ignored(c, "unknown event", id, event, value);
        return;
    }
}

void console_ctrl_handle_tx(struct console_dev *c)
{
    struct virtq *vq = &c->vqs[C_OVQ];
    bool pushed = false;

    if (!console_queue_live(c, C_OVQ))
        return;
    for (;;) {
        struct virtq_elem e = { .iov = c->ctrl_iov, .iov_cap = CONSOLE_QUEUE_SIZE };
        int rc = virtq_pop(vq, &e);
        if (rc == 0)
            break;
        if (rc < 0) {
            console_misuse(c, "bad chain", C_OVQ);
            break;
        }
        if (e.nin) {
            virtq_push(vq, e.head, 0);
            pushed = true;
            console_misuse(c, "device-writable buffer in the control transmitq", C_OVQ);
            break;
        }
        /* Copied out before the buffer goes back: the driver may reuse it. */
        struct virtio_console_control m;
        uint32_t got = 0;
        for (unsigned i = 0; i < e.nout && got < CTRL_HDR; i++) {
            size_t k = c->ctrl_iov[i].iov_len < CTRL_HDR - got ? c->ctrl_iov[i].iov_len
                                                               : CTRL_HDR - got;
            memcpy((uint8_t *)&m + got, c->ctrl_iov[i].iov_base, k);
            got += (uint32_t)k;
        }
        virtq_push(vq, e.head, 0);
        pushed = true;
        c->stats.ctrl_rx++;
        if (got < CTRL_HDR) {
            c->stats.ctrl_ignored++;
            console_log(c, "ignored control message of %u bytes (short)", e.out_len);
            continue;
        }
        handle_msg(c, le32toh(m.id), le16toh(m.event), le16toh(m.value));
    }
    if (pushed)
        virtio_dev_queue_irq(&c->vdev, C_OVQ);
}
