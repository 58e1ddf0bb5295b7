/* The virtio-console slot: port 0 on kick's stdin/stdout, named ports on
 * UNIX sockets or files, and its device thread (see virtio_slot.h). */
#include "vmm/virtio_slot.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Guest misbehaviour the device reports; one line each on stderr, so the
 * guest cannot flood it: the device logs an event once, not per byte. */
static void console_log(void *opaque, const char *msg)
{
    (void)opaque;
    fprintf(stderr, "kick: virtio-console: %s\n", msg);
}

int vslot_console_make(struct virtio_slot *s, const struct vslot_console *c, char *err,
                       size_t errlen)
{
    if (c->nnamed > VSLOT_MAX_CONSOLE_PORTS) {
        snprintf(err, errlen, "more than %u named ports", VSLOT_MAX_CONSOLE_PORTS);
        return -EINVAL;
    }
    struct console_opts o = { .nports = 1 + c->nnamed, .log = console_log };
    for (unsigned i = 0; i < c->nnamed; i++) {
        int r = chardev_socket_open(&s->sock[i], &c->named[i], err, errlen);
        if (r < 0)
            return r;
        s->nsock++;
        o.port[1 + i] = (struct console_port_opts){ .be = &s->sock[i].be,
                                                    .name = c->named[i].name };
    }
    s->con = calloc(1, sizeof *s->con);
    if (!s->con) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (c->stdio) {
        /* The terminal goes raw here; every way out of kick after this
         * restores it (vslot_destroy, vslot_release_terminal). */
        chardev_stdio_open(&s->stdio, STDIN_FILENO, STDOUT_FILENO);
        s->stdio_open = true;
        o.port[0].be = &s->stdio.be;
        if (chardev_stdio_winsize(&s->stdio, &o.cols, &o.rows) == 0)
            o.size = true;
    }
    int r = console_dev_init(s->con, &o);
    if (r < 0) {
        snprintf(err, errlen, "virtio-console device: %s", strerror(-r));
        return r;
    }
    s->dev_ready = true;
    s->vdev = &s->con->vdev;
    return 0;
}

void vslot_release_terminal(struct virtio_slot *s)
{
    if (s->stdio_open)
        chardev_stdio_close(&s->stdio);
}

bool vslot_console_resized(struct virtio_slot *s, uint16_t *cols, uint16_t *rows)
{
    if (s->kind != VSLOT_CONSOLE || !s->stdio_open || !s->dev_ready ||
        chardev_stdio_winsize(&s->stdio, cols, rows) < 0)
        return false;
    pci_host_lock(s->env->bus);
    console_set_size(s->con, *cols, *rows);
    pci_host_unlock(s->env->bus);
    return true;
}

void vslot_console_destroy(struct virtio_slot *s)
{
    if (s->dev_ready)
        console_dev_destroy(s->con);
    s->dev_ready = false;
    free(s->con);
    s->con = NULL;
    for (unsigned i = 0; i < s->nsock; i++)
        chardev_socket_close(&s->sock[i]);
    s->nsock = 0;
    if (s->stdio_open)
        chardev_stdio_close(&s->stdio);
    s->stdio_open = false;
}

#define CONSOLE_POLL_MAX (1 + VSLOT_MAX_QUEUES + 4 * (1 + VSLOT_MAX_CONSOLE_PORTS))

/* Waits (without the bus lock) on the stop eventfd, the queue kicks and
 * whatever the device wants from its backends now; then serves kicks and
 * backends under the lock. The backend set is recomputed every round: it
 * follows the guest's buffers and the peers. */
void *vslot_console_thread(void *arg)
{
    struct virtio_slot *s = arg;
    struct pollfd fds[CONSOLE_POLL_MAX];
    for (;;) {
        unsigned n = 0;
        fds[n++] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
        for (unsigned q = 0; q < s->nq; q++)
            fds[n++] = (struct pollfd){ .fd = s->kick_fd[q], .events = POLLIN };
        n += console_pollfds(s->con, fds + n, CONSOLE_POLL_MAX - n);
        if (poll(fds, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            run_stop_request(s->env->stop, 1, true, "console thread: poll: %s", strerror(errno));
            return NULL;
        }
        if (fds[0].revents)
            return NULL;
        pci_host_lock(s->env->bus);
        for (unsigned q = 0; q < s->nq; q++) {
            if (!(fds[1 + q].revents & POLLIN) || !vslot_drain(s->kick_fd[q]))
                continue;
            s->fd_kicks++;
            virtio_dev_notify(s->vdev, q);
        }
        console_poll(s->con);
        pci_host_unlock(s->env->bus);
        if (s->stdio_open && s->stdio.quit) {
            run_stop_request(s->env->stop, 0, false, "quit from the console (Ctrl-A x)");
            return NULL;
        }
    }
}
