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

/* The vnet header rules (spec 5.1.6.2, 5.1.3.1), in net_ctrl.c. */

/* A driver's transmit header, checked against the negotiated features and
 * the frame length, made safe to hand on: 0, or -EOPNOTSUPP (an offload not
 * negotiated) / -EINVAL (malformed). Fixes what may be fixed: rx-only flags
 * cleared, num_buffers 0, an hdr_len beyond the frame dropped to 0. */
int net_hdr_tx_check(const struct net_dev *n, struct virtio_net_hdr_v1 *h, size_t frame_len);
/* A backend's receive header for this driver: 0 (flags it may not see
 * cleared) or -EOPNOTSUPP (the frame needs an offload the driver lacks). */
int net_hdr_rx_check(const struct net_dev *n, struct virtio_net_hdr_v1 *h);
/* Feature dependencies (5.1.3.1): 0 or -EINVAL. */
int net_features_check(uint64_t f);

#endif
