/* stdio console (see console_stdio.h). */
#include "vmm/console_stdio.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void console_stdio_open(struct console_stdio *c, int in_fd, int out_fd)
{
    memset(c, 0, sizeof *c);
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    if (isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
        struct termios raw = c->saved;
        cfmakeraw(&raw);
        /* keep output post-processing so kick's own messages stay readable */
        raw.c_oflag |= OPOST;
        if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
            c->tty = true;
    }
}

void console_stdio_close(struct console_stdio *c)
{
    if (c->tty)
        tcsetattr(c->in_fd, TCSANOW, &c->saved);
    c->tty = false;
}

void console_stdio_tx(void *opaque, uint8_t byte)
{
    struct console_stdio *c = opaque;
    /* A console nobody reads (closed pipe) must not stop the guest. */
    while (write(c->out_fd, &byte, 1) < 0 && errno == EINTR)
        ;
}

int console_stdio_poll_fd(const struct console_stdio *c)
{
    return c->in_eof || c->pend_len ? -1 : c->in_fd;
}

bool console_stdio_has_pending(const struct console_stdio *c)
{
    return c->pend_len != 0;
}

/* Filters the escape sequence out of n fresh bytes in pending[0..n). */
static bool filter_escape(struct console_stdio *c, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = c->pending[i];
        if (c->escape) {
            c->escape = false;
            if (b == 'x' || b == 'X')
                return true;
            if (b != CONSOLE_ESCAPE_CHAR)
                continue; /* unknown command: dropped */
        } else if (b == CONSOLE_ESCAPE_CHAR) {
            c->escape = true;
            continue;
        }
        c->pending[out++] = b;
    }
    c->pend_off = 0;
    c->pend_len = out;
    return false;
}

bool console_stdio_pump(struct console_stdio *c, struct serial8250 *uart, bool read_input)
{
    if (read_input && !c->pend_len && !c->in_eof) {
        ssize_t n = read(c->in_fd, c->pending, sizeof c->pending);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            c->in_eof = true;
        else if (n > 0) {
            if (c->tty && filter_escape(c, (size_t)n))
                return true;
            if (!c->tty) {
                c->pend_off = 0;
                c->pend_len = (size_t)n;
            }
        }
    }
    if (c->pend_len) {
        size_t took = serial_receive(uart, c->pending + c->pend_off, c->pend_len);
        c->pend_off += took;
        c->pend_len -= took;
    }
    return false;
}
