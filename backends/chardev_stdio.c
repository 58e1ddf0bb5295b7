/* stdio character backend (see chardev_stdio.h). */
#include "backends/chardev_stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static bool fd_ready(int fd, short events)
{
    struct pollfd p = { .fd = fd, .events = events };
    return poll(&p, 1, 0) == 1 && (p.revents & (events | POLLERR | POLLHUP));
}

/* Takes the escape sequences out of buf[0..n); returns the bytes left. */
static size_t filter_escape(struct chardev_stdio *s, uint8_t *buf, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = buf[i];
        if (s->escape) {
            s->escape = false;
            if (b == 'x' || b == 'X') {
                s->quit = true;
                continue;
            }
            if (b != CHARDEV_STDIO_ESCAPE)
                continue; /* unknown command: dropped */
        } else if (b == CHARDEV_STDIO_ESCAPE) {
            s->escape = true;
            continue;
        }
        buf[out++] = b;
    }
    return out;
}

static ssize_t stdio_read(struct console_backend *be, void *buf, size_t len)
{
    struct chardev_stdio *s = (struct chardev_stdio *)be;
    if (s->in_eof || len == 0 || !fd_ready(s->in_fd, POLLIN))
        return 0;
    ssize_t n = read(s->in_fd, buf, len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        s->in_eof = true; /* stop polling it; output goes on */
        return 0;
    }
    return s->tty ? (ssize_t)filter_escape(s, buf, (size_t)n) : n;
}

static ssize_t stdio_write(struct console_backend *be, const void *buf, size_t len)
{
    struct chardev_stdio *s = (struct chardev_stdio *)be;
    if (!s->out_nonblock) {
        if (!fd_ready(s->out_fd, POLLOUT))
            return -EAGAIN;
        if (len > PIPE_BUF)
            len = PIPE_BUF;
    }
    for (;;) {
        ssize_t n = write(s->out_fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static unsigned stdio_pollfds(struct console_backend *be, bool want_in, bool want_out,
                              struct pollfd *fds, unsigned max)
{
    struct chardev_stdio *s = (struct chardev_stdio *)be;
    unsigned n = 0;
    want_in = want_in && !s->in_eof;
    if (want_in && n < max)
        fds[n++] = (struct pollfd){ .fd = s->in_fd, .events = POLLIN };
    if (want_out) {
        if (want_in && s->out_fd == s->in_fd && n)
            fds[n - 1].events |= POLLOUT;
        else if (n < max)
            fds[n++] = (struct pollfd){ .fd = s->out_fd, .events = POLLOUT };
    }
    return n;
}

static const struct console_backend_ops stdio_ops = {
    .read = stdio_read,
    .write = stdio_write,
    .pollfds = stdio_pollfds,
};

void chardev_stdio_open(struct chardev_stdio *s, int in_fd, int out_fd)
{
    memset(s, 0, sizeof(*s));
    s->be = (struct console_backend){ .ops = &stdio_ops, .connected = true };
    s->in_fd = in_fd;
    s->out_fd = out_fd;
    int fl = fcntl(out_fd, F_GETFL);
    s->out_nonblock = fl >= 0 && (fl & O_NONBLOCK);
    if (isatty(in_fd) && tcgetattr(in_fd, &s->saved) == 0) {
        struct termios raw = s->saved;
        cfmakeraw(&raw);
        /* Output post-processing stays: kick's own messages keep their
         * line starts. */
        raw.c_oflag |= OPOST;
        if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
            s->tty = true;
    }
}

void chardev_stdio_close(struct chardev_stdio *s)
{
    if (s->tty)
        tcsetattr(s->in_fd, TCSANOW, &s->saved);
    s->tty = false;
}

int chardev_stdio_winsize(const struct chardev_stdio *s, uint16_t *cols, uint16_t *rows)
{
    struct winsize ws;
    if (ioctl(s->out_fd, TIOCGWINSZ, &ws) < 0 && ioctl(s->in_fd, TIOCGWINSZ, &ws) < 0)
        return -ENOTTY;
    *cols = ws.ws_col;
    *rows = ws.ws_row;
    return 0;
}
