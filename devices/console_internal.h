/* Shared between console.c (data path, entry points) and console_ctrl.c
 * (control protocol). All of it runs under the device's lock. */
#ifndef KICK_CONSOLE_INTERNAL_H
#define KICK_CONSOLE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/console.h"

void console_log(struct console_dev *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void console_misuse(struct console_dev *c, const char *what, unsigned q);
bool console_multiport(const struct console_dev *c);
bool console_queue_live(struct console_dev *c, unsigned q);
void console_port_tx(struct console_dev *c, unsigned p);
void console_port_rx(struct console_dev *c, unsigned p);

/* Queues one device -> driver control message (header, then extra bytes). */
void console_ctrl_queue(struct console_dev *c, uint32_t id, uint16_t event, uint16_t value,
                        const void *extra, uint16_t extra_len);
/* Moves waiting control messages into the driver's c_ivq buffers. */
void console_ctrl_flush(struct console_dev *c);
/* Serves the driver's messages on c_ovq. */
void console_ctrl_handle_tx(struct console_dev *c);

#endif
