/* virtio device core: what every device model implements and every transport
 * drives. No PCI or KVM types here: the same device serves virtio-pci,
 * loopback tests and (later) vhost-user.
 *
 * Threading: transport calls (status, features, queue setup) come from the
 * thread emulating the transport; queue_notify may come from a device thread
 * (ioeventfd). Models that run a queue on another thread must stop it in
 * reset(). */
#ifndef KICK_VIRTIO_DEV_H
#define KICK_VIRTIO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_config.h>

#include "virtio/virtq.h"

struct virtio_dev;

struct virtio_dev_ops {
    /* "Queue q was notified" - the one entry point for every kind of kick
     * (PIO, MMIO, ioeventfd, a backend's eventfd). Only called while the
     * device is DRIVER_OK and queue q is ready. */
    void (*queue_notify)(struct virtio_dev *d, unsigned q);
    /* Device-specific config. If NULL, reads come from d->config and writes
     * are ignored. off+len is already checked against config_len. */
    void (*config_read)(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len);
    void (*config_write)(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len);
    /* Extra dependency rules for the driver's feature set (the core already
     * refuses bits that were not offered). 0 to accept, <0 to refuse. */
    int (*validate_features)(struct virtio_dev *d, uint64_t features);
    /* Driver set DRIVER_OK: the model may start its work. */
    void (*driver_ok)(struct virtio_dev *d);
    /* Device reset: stop all work and forget all state. Queues are reset by
     * the core after this returns. */
    void (*reset)(struct virtio_dev *d);
    /* One queue is being reset (VIRTIO_F_RING_RESET, or legacy PFN 0): stop
     * using it. The core resets the ring after this returns. Optional. */
    void (*queue_reset)(struct virtio_dev *d, unsigned q);
};

/* Implemented by the transport. vq is a queue index, or VIRTIO_IRQ_CONFIG. */
#define VIRTIO_IRQ_CONFIG (-1)
struct virtio_transport {
    void (*irq)(struct virtio_dev *d, int vq);
    void *opaque;
};

struct virtio_dev {
    uint16_t device_id;      /* VIRTIO_ID_* */
    uint64_t host_features;  /* offered */
    uint64_t guest_features; /* written by the driver; final once FEATURES_OK */
    uint8_t status;
    uint8_t config_generation;
    bool legacy;             /* the driver chose the legacy interface */

    void *config;            /* device-specific config bytes (little-endian) */
    uint32_t config_len;

    unsigned num_queues;
    struct virtq *vqs;       /* num_queues entries, owned by the model */

    const struct virtio_dev_ops *ops;
    struct virtio_transport transport;
    const struct gmem *mem;
    void *priv;              /* the model's own state */
};

/* Sets up the core. vqs must hold num_queues entries; each gets max_size
 * queue_max (power of two, <= 32768). Offered features always include
 * VIRTIO_F_VERSION_1; the transport masks it for legacy drivers. */
void virtio_dev_init(struct virtio_dev *d, uint16_t device_id, uint64_t features,
                     struct virtq *vqs, unsigned num_queues, uint16_t queue_max,
                     void *config, uint32_t config_len,
                     const struct virtio_dev_ops *ops, void *priv);

/* --- called by transports --- */

/* Writes the device status register: 0 resets; FEATURES_OK is kept only if
 * the driver's features are acceptable; bits never go down except by reset. */
void virtio_dev_set_status(struct virtio_dev *d, uint8_t status);
/* Driver feature writes: ignored (returns -EPERM) once FEATURES_OK is set. */
int virtio_dev_set_guest_features(struct virtio_dev *d, uint64_t features);
/* Driver enabled queue q (modern queue_enable=1, legacy PFN != 0).
 * Starts the ring; a bad ring marks NEEDS_RESET. 0 or -EINVAL. */
int virtio_dev_queue_enable(struct virtio_dev *d, unsigned q);
/* Driver reset one queue: ops->queue_reset, then the ring back to its reset
 * state. q is bounds-checked. */
void virtio_dev_queue_reset(struct virtio_dev *d, unsigned q);
/* The kick: bounds-checked, then ops->queue_notify when DRIVER_OK and ready. */
void virtio_dev_notify(struct virtio_dev *d, unsigned q);
/* Reset the whole device (status write 0, or transport reset). */
void virtio_dev_reset(struct virtio_dev *d);
/* Device config access; out-of-range bytes read as 0 and writes are dropped. */
void virtio_dev_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len);
void virtio_dev_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len);

/* --- called by device models --- */

/* Config changed: bump generation, raise the config interrupt. */
void virtio_dev_config_changed(struct virtio_dev *d);
/* The device hit an error it cannot recover from: NEEDS_RESET, and the config
 * interrupt if the driver is running. Idempotent. */
void virtio_dev_needs_reset(struct virtio_dev *d);
/* After pushing used elements on q: interrupt if the driver wants one. */
void virtio_dev_queue_irq(struct virtio_dev *d, unsigned q);

static inline bool virtio_dev_has_feature(const struct virtio_dev *d, unsigned bit)
{
    return (d->guest_features >> bit) & 1;
}

static inline bool virtio_dev_running(const struct virtio_dev *d)
{
    return (d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

#endif
