/* virtio device core: status state machine, feature negotiation, reset,
 * device config access (virtio 1.2 §2.1-2.5, §3.1).
 *
 * Choices where the spec leaves room (all in the device's favour of staying
 * consistent, never of crashing):
 * - A status write that clears bits (other than writing 0) keeps the cleared
 *   bits set: the driver MUST NOT clear them, and honouring it would let the
 *   device run on with half its setup undone. Newly set bits still apply.
 * - NEEDS_RESET is the device's alone; the driver can neither set nor clear it
 *   (only a reset clears it).
 * - A modern driver setting DRIVER_OK without FEATURES_OK has skipped
 *   negotiation (or ignored a refusal): the device marks NEEDS_RESET and never
 *   starts. Likewise a modern driver enabling a queue before FEATURES_OK,
 *   since the ring layout depends on the negotiated features.
 * - Legacy drivers have no FEATURES_OK: bits that were not offered are
 *   dropped when written, and the set is final once a queue is enabled or
 *   DRIVER_OK is set; ops->validate_features refusing it then marks
 *   NEEDS_RESET, the only way left to say no.
 * - A config write that reaches past config_len is dropped whole; a read
 *   returns the in-range bytes and zeroes for the rest.
 * - Reset leaves d->legacy alone: which interface the driver uses is the
 *   transport's record, and the transport resets it itself.
 */
#include <errno.h>
#include <string.h>

#include "virtio/virtio_dev.h"

#define STATUS_DRIVER_SETTABLE                                                     \
    (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | \
     VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)

static const struct virtio_dev_ops no_ops;

/* status is written by the transport thread and, for NEEDS_RESET, by
 * whichever thread runs a queue: bits are only ever added atomically, so
 * neither side's update is lost. */
static uint8_t status_of(const struct virtio_dev *d)
{
    return __atomic_load_n(&d->status, __ATOMIC_ACQUIRE);
}

static uint8_t status_add(struct virtio_dev *d, uint8_t bits)
{
    return __atomic_fetch_or(&d->status, bits, __ATOMIC_SEQ_CST);
}

static const struct virtio_dev_ops *dev_ops(const struct virtio_dev *d)
{
    return d->ops ? d->ops : &no_ops;
}

static void raise_irq(struct virtio_dev *d, int vq)
{
    if (d->transport.irq)
        d->transport.irq(d, vq);
}

void virtio_dev_init(struct virtio_dev *d, uint16_t device_id, uint64_t features,
                     struct virtq *vqs, unsigned num_queues, uint16_t queue_max,
                     void *config, uint32_t config_len,
                     const struct virtio_dev_ops *ops, void *priv)
{
    memset(d, 0, sizeof(*d));
    d->device_id = device_id;
    d->host_features = features | (1ULL << VIRTIO_F_VERSION_1);
    d->config = config;
    d->config_len = config ? config_len : 0;
    d->num_queues = vqs ? num_queues : 0;
    d->vqs = vqs;
    d->ops = ops;
    d->priv = priv;
    for (unsigned i = 0; i < d->num_queues; i++) {
        memset(&vqs[i], 0, sizeof(vqs[i]));
        vqs[i].max_size = queue_max;
        vqs[i].dev = d;
        vqs[i].index = i;
        virtq_reset(&vqs[i]);
    }
}

/* 0 if the driver's feature set can be accepted (§2.2.1, §6). */
static int check_features(struct virtio_dev *d, uint64_t features)
{
    if (features & ~d->host_features)
        return -EINVAL;
    if (!d->legacy) {
        /* §6.2: a device MAY refuse to go on without VERSION_1 (we are a
         * modern device on this interface) or without ACCESS_PLATFORM when
         * it offered it (its memory access then relies on translation). */
        if (!(features & (1ULL << VIRTIO_F_VERSION_1)))
            return -EINVAL;
        if ((d->host_features & (1ULL << VIRTIO_F_ACCESS_PLATFORM)) &&
            !(features & (1ULL << VIRTIO_F_ACCESS_PLATFORM)))
            return -EINVAL;
    }
    const struct virtio_dev_ops *ops = dev_ops(d);
    if (ops->validate_features && ops->validate_features(d, features) < 0)
        return -EINVAL;
    return 0;
}

static bool any_queue_ready(const struct virtio_dev *d)
{
    for (unsigned i = 0; i < d->num_queues; i++)
        if (d->vqs[i].ready)
            return true;
    return false;
}

/* Legacy: the features in use are final from the first queue enable or
 * DRIVER_OK on. */
static bool legacy_features_final(const struct virtio_dev *d)
{
    return (status_of(d) & VIRTIO_CONFIG_S_DRIVER_OK) || any_queue_ready(d);
}

int virtio_dev_set_guest_features(struct virtio_dev *d, uint64_t features)
{
    if (d->legacy) {
        if (legacy_features_final(d))
            return -EPERM;
        d->guest_features = features & d->host_features;
        return 0;
    }
    if (status_of(d) & (VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK))
        return -EPERM;
    d->guest_features = features;
    return 0;
}

void virtio_dev_reset(struct virtio_dev *d)
{
    const struct virtio_dev_ops *ops = dev_ops(d);
    if (ops->reset)
        ops->reset(d);
    for (unsigned i = 0; i < d->num_queues; i++)
        virtq_reset(&d->vqs[i]);
    d->guest_features = 0;
    __atomic_store_n(&d->status, 0, __ATOMIC_SEQ_CST);
    /* config_generation keeps counting: a driver comparing generations
     * across a reset must not see an old value come back. */
}

void virtio_dev_set_status(struct virtio_dev *d, uint8_t status)
{
    if (status == 0) {
        virtio_dev_reset(d);
        return;
    }
    uint8_t set = status & ~status_of(d) & STATUS_DRIVER_SETTABLE;

    if (set & VIRTIO_CONFIG_S_FEATURES_OK) {
        /* Features cannot change under a running driver, and an
         * unacceptable set leaves the bit clear for the driver to read. */
        if ((status_of(d) & VIRTIO_CONFIG_S_DRIVER_OK) ||
            check_features(d, d->guest_features) < 0)
            set &= ~VIRTIO_CONFIG_S_FEATURES_OK;
    }
    status_add(d, set & ~VIRTIO_CONFIG_S_DRIVER_OK);

    if (set & VIRTIO_CONFIG_S_DRIVER_OK) {
        uint8_t now = status_add(d, VIRTIO_CONFIG_S_DRIVER_OK);
        bool features_ok;
        if (d->legacy)
            features_ok = check_features(d, d->guest_features) == 0;
        else
            features_ok = now & VIRTIO_CONFIG_S_FEATURES_OK;
        if (!features_ok) {
            virtio_dev_needs_reset(d);
            return;
        }
        const struct virtio_dev_ops *ops = dev_ops(d);
        if (ops->driver_ok && virtio_dev_running(d))
            ops->driver_ok(d);
    }
}

int virtio_dev_queue_enable(struct virtio_dev *d, unsigned q)
{
    if (q >= d->num_queues)
        return -EINVAL;
    struct virtq *vq = &d->vqs[q];
    if (vq->ready)
        return 0;
    int ret;
    if (d->legacy)
        ret = check_features(d, d->guest_features);
    else
        ret = (status_of(d) & VIRTIO_CONFIG_S_FEATURES_OK) ? 0 : -EINVAL;
    if (ret == 0)
        ret = virtq_start(vq, d->mem, d->guest_features);
    if (ret < 0) {
        virtio_dev_needs_reset(d);
        return -EINVAL;
    }
    return 0;
}

void virtio_dev_queue_reset(struct virtio_dev *d, unsigned q)
{
    if (q >= d->num_queues)
        return;
    const struct virtio_dev_ops *ops = dev_ops(d);
    /* The model stops its worker first: the ring pointers it uses are about
     * to be forgotten. */
    if (ops->queue_reset)
        ops->queue_reset(d, q);
    virtq_reset(&d->vqs[q]);
}

void virtio_dev_notify(struct virtio_dev *d, unsigned q)
{
    /* q comes straight from a guest write to the notify area. */
    if (q >= d->num_queues || !virtio_dev_running(d) || !d->vqs[q].ready)
        return;
    const struct virtio_dev_ops *ops = dev_ops(d);
    if (ops->queue_notify)
        ops->queue_notify(d, q);
}

void virtio_dev_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
    uint32_t in = 0;
    if (off < d->config_len)
        in = (uint64_t)off + len <= d->config_len ? len : d->config_len - off;
    if (in) {
        const struct virtio_dev_ops *ops = dev_ops(d);
        if (ops->config_read)
            ops->config_read(d, off, buf, in);
        else if (d->config)
            memcpy(buf, (const uint8_t *)d->config + off, in);
        else
            memset(buf, 0, in);
    }
    memset((uint8_t *)buf + in, 0, len - in);
}

void virtio_dev_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
    if (len == 0 || (uint64_t)off + len > d->config_len)
        return;
    const struct virtio_dev_ops *ops = dev_ops(d);
    if (ops->config_write)
        ops->config_write(d, off, buf, len);
}

void virtio_dev_config_changed(struct virtio_dev *d)
{
    d->config_generation++;
    if (status_of(d) & VIRTIO_CONFIG_S_DRIVER_OK)
        raise_irq(d, VIRTIO_IRQ_CONFIG);
}

void virtio_dev_needs_reset(struct virtio_dev *d)
{
    uint8_t old = status_add(d, VIRTIO_CONFIG_S_NEEDS_RESET);
    if (old & VIRTIO_CONFIG_S_NEEDS_RESET)
        return;
    /* §2.1.2: with DRIVER_OK set, tell the driver by a config change. */
    if (old & VIRTIO_CONFIG_S_DRIVER_OK)
        raise_irq(d, VIRTIO_IRQ_CONFIG);
}

void virtio_dev_queue_irq(struct virtio_dev *d, unsigned q)
{
    if (q >= d->num_queues || !(status_of(d) & VIRTIO_CONFIG_S_DRIVER_OK))
        return;
    if (virtq_needs_irq(&d->vqs[q]))
        raise_irq(d, (int)q);
}
