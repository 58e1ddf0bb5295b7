/* kick's own stdin/stdout as a virtio-console port's host side.
 *
 * If in_fd is a terminal it is put in raw mode (bytes go to the guest as
 * typed, no local echo or line editing) and Ctrl-A x sets `quit` for the VMM
 * (Ctrl-A Ctrl-A sends one Ctrl-A). chardev_stdio_close() puts the terminal
 * back: the VMM calls it on every way out (it is also safe to call from a
 * fatal-signal handler: only tcsetattr).
 *
 * Never blocks, without touching the descriptors' flags (stdin/stdout are
 * shared with the parent shell, which should not find them non-blocking):
 * input is read only after poll() reports it, and output on a blocking
 * descriptor is written only after poll() reports room and at most PIPE_BUF
 * bytes at a time (a pipe then takes them all at once). A descriptor the
 * caller made O_NONBLOCK is simply written. -EAGAIN when there is no room.
 * Writing to a pipe nobody reads raises SIGPIPE: the VMM ignores it, and the
 * write then fails with -EPIPE (the device drops and counts that output).
 * End of input is not a disconnect: output still goes out. */
#ifndef KICK_CHARDEV_STDIO_H
#define KICK_CHARDEV_STDIO_H

#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

#include "devices/console.h"

#define CHARDEV_STDIO_ESCAPE 0x01 /* Ctrl-A */

struct chardev_stdio {
    struct console_backend be; /* the device's view; connected is always true */
    int in_fd, out_fd;
    bool out_nonblock;         /* out_fd was O_NONBLOCK when opened */
    bool tty;                  /* in_fd is a terminal we switched to raw mode */
    struct termios saved;
    bool in_eof;
    bool escape;               /* the last byte was the escape character */
    bool quit;                 /* the user typed Ctrl-A x */
};

/* Never fails: a terminal that refuses raw mode stays as it was. */
void chardev_stdio_open(struct chardev_stdio *s, int in_fd, int out_fd);
/* Restores the terminal. Idempotent. */
void chardev_stdio_close(struct chardev_stdio *s);
/* The terminal's size (from out_fd, else in_fd): 0, or -ENOTTY. */
int chardev_stdio_winsize(const struct chardev_stdio *s, uint16_t *cols, uint16_t *rows);

#endif
