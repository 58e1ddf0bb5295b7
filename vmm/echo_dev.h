/* A test device for loopback runs: every chain's device-readable bytes are
 * copied into its device-writable buffers. Modern-only (it has no legacy
 * PCI device ID); virtio type ECHO_DEV_TYPE is not allocated by the spec and
 * is used only inside kick's own tests and demo. */
#ifndef KICK_ECHO_DEV_H
#define KICK_ECHO_DEV_H

#include <stdint.h>

#include "virtio/virtio_dev.h"

#define ECHO_DEV_TYPE 0x3f
#define ECHO_MAX_IOV 64

struct echo_config {
    uint32_t served_lo; /* requests served (low 32 bits), visible to the driver */
    uint32_t max_chain;
};

struct echo_dev {
    struct virtio_dev vdev;
    struct virtq vq;
    struct iovec iov[ECHO_MAX_IOV];
    struct echo_config cfg;
    uint64_t requests, bytes;
};

void echo_dev_init(struct echo_dev *e, uint16_t queue_size);

#endif
