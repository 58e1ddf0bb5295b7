/* virtio-net internals shared by net.c and net_ctrl.c (not an interface). */
#ifndef KICK_NET_CTRL_H
#define KICK_NET_CTRL_H

#include <stddef.h>
#include <sys/uio.h>

#include "devices/net.h"

/* Serves every chain on the control queue qi. */
void net_ctrl_process(struct net_dev *n, unsigned qi);

/* Copies between a flat buffer and iov[0..n) starting off bytes in; returns
 * the bytes copied (short when the iovecs end first). */
size_t net_iov_read_at(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len);
size_t net_iov_write_at(const struct iovec *iov, unsigned n, size_t off, const void *src,
                        size_t len);

#endif
