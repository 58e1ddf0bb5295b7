/* kick's own terminal as the guest's serial console: UART output goes to
 * stdout, stdin goes to the UART's receive FIFO. If stdin is a terminal it is
 * put in raw mode (restored by console_stdio_close) and Ctrl-A x ends kick,
 * Ctrl-A Ctrl-A sends one Ctrl-A. stdin is read only when poll says so, never
 * switched to non-blocking (it may be shared with the parent shell). */
#ifndef KICK_CONSOLE_STDIO_H
#define KICK_CONSOLE_STDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "vmm/serial.h"

#define CONSOLE_ESCAPE_CHAR 0x01 /* Ctrl-A */

struct console_stdio {
    int in_fd, out_fd;
    bool tty;           /* in_fd is a terminal we switched to raw mode */
    struct termios saved;
    bool in_eof;
    bool escape;        /* last byte was the escape character */
    uint8_t pending[256]; /* read from stdin, not yet taken by the UART */
    size_t pend_off, pend_len;
};

void console_stdio_open(struct console_stdio *c, int in_fd, int out_fd);
void console_stdio_close(struct console_stdio *c);

/* serial_ops.tx callback; opaque = struct console_stdio *. */
void console_stdio_tx(void *opaque, uint8_t byte);

/* fd to poll for input, or -1 (end of input, or bytes still pending). */
int console_stdio_poll_fd(const struct console_stdio *c);
bool console_stdio_has_pending(const struct console_stdio *c);

/* Reads what stdin has (call when poll said readable) and offers pending
 * bytes to the UART. Returns true if the user asked to quit (Ctrl-A x). */
bool console_stdio_pump(struct console_stdio *c, struct serial8250 *uart, bool read_input);

#endif
