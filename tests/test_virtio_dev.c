/* virtio device core: status machine, feature negotiation and refusal,
 * reset, device config bounds and generation, notify bounds, interrupts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio_dev.h"

#define NQ 2
#define QMAX 16
#define F_VERSION1 (1ULL << VIRTIO_F_VERSION_1)
#define F_DEV0 (1ULL << 0)
#define F_DEV5 (1ULL << 5)

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define S_NR  VIRTIO_CONFIG_S_NEEDS_RESET

struct fx {
    struct virtio_dev dev;
    struct virtq vq[NQ];
    uint8_t config[8];
    uint8_t *ram;
    struct gmem mem;
    /* what the model and transport saw */
    unsigned resets, driver_oks, notifies[NQ + 1], config_irqs, queue_irqs[NQ];
    unsigned validates, config_writes;
    unsigned queue_resets[NQ + 1];
    bool ring_seen_at_queue_reset;
    uint64_t validated;
    int refuse;
    uint32_t last_off, last_len;
};

static struct fx *fx_of(struct virtio_dev *d) { return d->priv; }

static void m_notify(struct virtio_dev *d, unsigned q) { fx_of(d)->notifies[q < NQ ? q : NQ]++; }
static void m_driver_ok(struct virtio_dev *d) { fx_of(d)->driver_oks++; }
static void m_reset(struct virtio_dev *d) { fx_of(d)->resets++; }
static void m_queue_reset(struct virtio_dev *d, unsigned q)
{
    fx_of(d)->queue_resets[q < NQ ? q : NQ]++;
    /* the model is told while the ring is still there to stop using */
    fx_of(d)->ring_seen_at_queue_reset = d->vqs[q].ready;
}
static int m_validate(struct virtio_dev *d, uint64_t features)
{
    fx_of(d)->validates++;
    fx_of(d)->validated = features;
    return fx_of(d)->refuse ? -EINVAL : 0;
}
static void m_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
    struct fx *f = fx_of(d);
    f->config_writes++;
    f->last_off = off;
    f->last_len = len;
    memcpy(f->config + off, buf, len);
}
static void t_irq(struct virtio_dev *d, int vq)
{
    struct fx *f = fx_of(d);
    if (vq == VIRTIO_IRQ_CONFIG)
        f->config_irqs++;
    else
        f->queue_irqs[vq]++;
}

static const struct virtio_dev_ops model_ops = {
    .queue_notify = m_notify,
    .driver_ok = m_driver_ok,
    .reset = m_reset,
    .queue_reset = m_queue_reset,
    .validate_features = m_validate,
    .config_write = m_config_write,
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    for (unsigned i = 0; i < sizeof(f->config); i++)
        f->config[i] = (uint8_t)(0x10 + i);
    f->ram = aligned_alloc(4096, 0x10000);
    memset(f->ram, 0, 0x10000);
    gmem_init(&f->mem);
    assert_int_equal(gmem_add(&f->mem, 0, 0x10000, f->ram), 0);
    virtio_dev_init(&f->dev, 4, F_DEV0 | F_DEV5, f->vq, NQ, QMAX, f->config,
                    sizeof(f->config), &model_ops, f);
    f->dev.mem = &f->mem;
    f->dev.transport.irq = t_irq;
    for (unsigned i = 0; i < NQ; i++) {
        f->vq[i].desc_gpa = 0x1000 * (i + 1);
        f->vq[i].avail_gpa = 0x4000 + 0x1000 * i;
        f->vq[i].used_gpa = 0x8000 + 0x1000 * i;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    free(f->ram);
    free(f);
    return 0;
}

/* The usual driver sequence up to FEATURES_OK; returns the status read back. */
static uint8_t negotiate(struct fx *f, uint64_t features)
{
    virtio_dev_set_status(&f->dev, S_ACK);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV);
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, features), 0);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_FOK);
    return f->dev.status;
}

static void bring_up(struct fx *f)
{
    assert_true(negotiate(f, F_VERSION1 | F_DEV5) & S_FOK);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), 0);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_FOK | S_DOK);
    assert_true(virtio_dev_running(&f->dev));
}

static void test_init(void **state)
{
    struct fx *f = *state;
    assert_int_equal(f->dev.device_id, 4);
    assert_int_equal(f->dev.host_features, F_DEV0 | F_DEV5 | F_VERSION1);
    assert_int_equal(f->dev.status, 0);
    assert_int_equal(f->dev.guest_features, 0);
    for (unsigned i = 0; i < NQ; i++) {
        assert_int_equal(f->vq[i].max_size, QMAX);
        assert_int_equal(f->vq[i].size, QMAX);
        assert_ptr_equal(f->vq[i].dev, &f->dev);
        assert_int_equal(f->vq[i].index, i);
        assert_false(f->vq[i].ready);
    }
}

static void test_normal_bring_up(void **state)
{
    struct fx *f = *state;
    bring_up(f);
    assert_int_equal(f->dev.status, S_ACK | S_DRV | S_FOK | S_DOK);
    assert_int_equal(f->dev.guest_features, F_VERSION1 | F_DEV5);
    assert_int_equal(f->validates, 1);
    assert_int_equal(f->validated, F_VERSION1 | F_DEV5);
    assert_int_equal(f->driver_oks, 1);
    assert_true(f->vq[0].ready);
    /* Setting DRIVER_OK again is not a second start. */
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_FOK | S_DOK);
    assert_int_equal(f->driver_oks, 1);
}

static void test_refuse_unoffered_feature(void **state)
{
    struct fx *f = *state;
    uint8_t s = negotiate(f, F_VERSION1 | (1ULL << 3));
    assert_int_equal(s, S_ACK | S_DRV);
}

static void test_refuse_missing_version_1(void **state)
{
    struct fx *f = *state;
    assert_int_equal(negotiate(f, F_DEV0), S_ACK | S_DRV);
}

static void test_refuse_by_model(void **state)
{
    struct fx *f = *state;
    f->refuse = 1;
    assert_int_equal(negotiate(f, F_VERSION1 | F_DEV0), S_ACK | S_DRV);
    assert_int_equal(f->validated, F_VERSION1 | F_DEV0);
    /* The driver may try a smaller set before FEATURES_OK sticks. */
    f->refuse = 0;
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, F_VERSION1), 0);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_FOK);
    assert_int_equal(f->dev.status, S_ACK | S_DRV | S_FOK);
}

static void test_refuse_missing_access_platform(void **state)
{
    struct fx *f = *state;
    f->dev.host_features |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
    assert_int_equal(negotiate(f, F_VERSION1), S_ACK | S_DRV);
    virtio_dev_reset(&f->dev);
    assert_true(negotiate(f, F_VERSION1 | (1ULL << VIRTIO_F_ACCESS_PLATFORM)) & S_FOK);
}

static void test_features_frozen_after_features_ok(void **state)
{
    struct fx *f = *state;
    assert_true(negotiate(f, F_VERSION1) & S_FOK);
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, F_VERSION1 | F_DEV0), -EPERM);
    assert_int_equal(f->dev.guest_features, F_VERSION1);
}

static void test_driver_cannot_clear_bits(void **state)
{
    struct fx *f = *state;
    bring_up(f);
    virtio_dev_set_status(&f->dev, S_ACK); /* clears DRIVER, FEATURES_OK, DRIVER_OK */
    assert_int_equal(f->dev.status, S_ACK | S_DRV | S_FOK | S_DOK);
    assert_int_equal(f->resets, 0);
    /* New bits still apply alongside a clearing write. */
    virtio_dev_set_status(&f->dev, VIRTIO_CONFIG_S_FAILED);
    assert_int_equal(f->dev.status, S_ACK | S_DRV | S_FOK | S_DOK | VIRTIO_CONFIG_S_FAILED);
}

static void test_needs_reset_is_device_only(void **state)
{
    struct fx *f = *state;
    bring_up(f);
    virtio_dev_set_status(&f->dev, f->dev.status | S_NR);
    assert_false(f->dev.status & S_NR);
    assert_int_equal(f->config_irqs, 0);
    virtio_dev_needs_reset(&f->dev);
    assert_true(f->dev.status & S_NR);
    assert_int_equal(f->config_irqs, 1);
    virtio_dev_needs_reset(&f->dev); /* idempotent: no second interrupt */
    assert_int_equal(f->config_irqs, 1);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_FOK | S_DOK);
    assert_true(f->dev.status & S_NR);
    assert_false(virtio_dev_running(&f->dev));
    virtio_dev_set_status(&f->dev, 0);
    assert_int_equal(f->dev.status, 0);
}

static void test_needs_reset_before_driver_ok_is_silent(void **state)
{
    struct fx *f = *state;
    negotiate(f, F_VERSION1);
    virtio_dev_needs_reset(&f->dev);
    assert_true(f->dev.status & S_NR);
    assert_int_equal(f->config_irqs, 0);
}

static void test_driver_ok_without_features_ok(void **state)
{
    struct fx *f = *state;
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV);
    virtio_dev_set_guest_features(&f->dev, F_VERSION1);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_DOK);
    assert_true(f->dev.status & S_NR);
    assert_int_equal(f->driver_oks, 0);
    assert_false(virtio_dev_running(&f->dev));
    assert_int_equal(f->config_irqs, 1);
    /* Features cannot be fixed up afterwards either. */
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, F_VERSION1), -EPERM);
    virtio_dev_set_status(&f->dev, f->dev.status | S_FOK);
    assert_false(f->dev.status & S_FOK);
}

static void test_legacy_driver(void **state)
{
    struct fx *f = *state;
    f->dev.legacy = true;
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV);
    /* No VERSION_1 and no FEATURES_OK; bits not offered are dropped. */
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, F_DEV0 | (1ULL << 3)), 0);
    assert_int_equal(f->dev.guest_features, F_DEV0);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), 0);
    /* Final once a queue runs. */
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, F_DEV5), -EPERM);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_DOK);
    assert_int_equal(f->driver_oks, 1);
    assert_true(virtio_dev_running(&f->dev));
}

static void test_legacy_refused_features(void **state)
{
    struct fx *f = *state;
    f->dev.legacy = true;
    f->refuse = 1;
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV);
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, F_DEV0), 0);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_DOK);
    assert_true(f->dev.status & S_NR);
    assert_int_equal(f->driver_oks, 0);
}

static void test_reset_clears_everything(void **state)
{
    struct fx *f = *state;
    bring_up(f);
    virtio_dev_config_changed(&f->dev);
    uint8_t gen = f->dev.config_generation;
    f->vq[1].size = 4;
    virtio_dev_needs_reset(&f->dev);
    virtio_dev_set_status(&f->dev, 0);
    assert_int_equal(f->resets, 1);
    assert_int_equal(f->dev.status, 0);
    assert_int_equal(f->dev.guest_features, 0);
    assert_int_equal(f->dev.config_generation, gen); /* keeps counting */
    for (unsigned i = 0; i < NQ; i++) {
        assert_false(f->vq[i].ready);
        assert_null(f->vq[i].avail);
        assert_int_equal(f->vq[i].size, QMAX);
        assert_int_equal(f->vq[i].desc_gpa, 0);
        assert_ptr_equal(f->vq[i].dev, &f->dev);
        assert_int_equal(f->vq[i].index, i);
    }
    /* And the device can be brought up again. */
    for (unsigned i = 0; i < NQ; i++) {
        f->vq[i].desc_gpa = 0x1000 * (i + 1);
        f->vq[i].avail_gpa = 0x4000 + 0x1000 * i;
        f->vq[i].used_gpa = 0x8000 + 0x1000 * i;
    }
    bring_up(f);
    assert_int_equal(f->driver_oks, 2);
}

static void test_queue_enable(void **state)
{
    struct fx *f = *state;
    /* Modern: the ring layout depends on negotiated features. */
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), -EINVAL);
    assert_true(f->dev.status & S_NR);
    virtio_dev_reset(&f->dev);
    for (unsigned i = 0; i < NQ; i++) {
        f->vq[i].desc_gpa = 0x1000 * (i + 1);
        f->vq[i].avail_gpa = 0x4000 + 0x1000 * i;
        f->vq[i].used_gpa = 0x8000 + 0x1000 * i;
    }
    assert_true(negotiate(f, F_VERSION1) & S_FOK);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, NQ), -EINVAL);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, UINT32_MAX), -EINVAL);
    assert_false(f->dev.status & S_NR);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 1), 0);
    assert_true(f->vq[1].ready);
    f->vq[0].used_gpa = 0x10000 - 8; /* used ring runs past RAM */
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), -EINVAL);
    assert_false(f->vq[0].ready);
    assert_true(f->dev.status & S_NR);
}

static void test_queue_reset(void **state)
{
    struct fx *f = *state;
    bring_up(f);
    assert_true(f->vq[0].ready);
    virtio_dev_queue_reset(&f->dev, NQ);      /* out of range: nothing */
    virtio_dev_queue_reset(&f->dev, UINT32_MAX);
    assert_int_equal(f->queue_resets[NQ], 0);
    assert_true(f->vq[0].ready);
    virtio_dev_queue_reset(&f->dev, 0);
    assert_int_equal(f->queue_resets[0], 1);
    assert_true(f->ring_seen_at_queue_reset);
    assert_false(f->vq[0].ready);
    assert_int_equal(f->vq[0].size, QMAX);
    assert_int_equal(f->vq[0].desc_gpa, 0);
    /* the device as a whole keeps running, and a kick to the reset queue
     * reaches nobody */
    assert_true(virtio_dev_running(&f->dev));
    virtio_dev_notify(&f->dev, 0);
    assert_int_equal(f->notifies[0], 0);
}

static void test_notify_bounds(void **state)
{
    struct fx *f = *state;
    virtio_dev_notify(&f->dev, 0); /* not running */
    assert_true(negotiate(f, F_VERSION1) & S_FOK);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), 0);
    virtio_dev_notify(&f->dev, 0); /* still not DRIVER_OK */
    assert_int_equal(f->notifies[0], 0);
    virtio_dev_set_status(&f->dev, S_ACK | S_DRV | S_FOK | S_DOK);
    virtio_dev_notify(&f->dev, 0);
    assert_int_equal(f->notifies[0], 1);
    virtio_dev_notify(&f->dev, 1); /* queue 1 not enabled */
    virtio_dev_notify(&f->dev, NQ);
    virtio_dev_notify(&f->dev, 0xffff);
    virtio_dev_notify(&f->dev, UINT32_MAX);
    assert_int_equal(f->notifies[1], 0);
    assert_int_equal(f->notifies[NQ], 0);
    virtio_dev_needs_reset(&f->dev);
    virtio_dev_notify(&f->dev, 0); /* stopped by NEEDS_RESET */
    assert_int_equal(f->notifies[0], 1);
}

static void test_config_read(void **state)
{
    struct fx *f = *state;
    uint8_t buf[8];
    memset(buf, 0xee, sizeof(buf));
    virtio_dev_config_read(&f->dev, 2, buf, 4);
    assert_memory_equal(buf, ((uint8_t[]){ 0x12, 0x13, 0x14, 0x15 }), 4);
    memset(buf, 0xee, sizeof(buf));
    virtio_dev_config_read(&f->dev, 6, buf, 4); /* straddles the end */
    assert_memory_equal(buf, ((uint8_t[]){ 0x16, 0x17, 0, 0 }), 4);
    memset(buf, 0xee, sizeof(buf));
    virtio_dev_config_read(&f->dev, 8, buf, 4);
    assert_memory_equal(buf, ((uint8_t[]){ 0, 0, 0, 0 }), 4);
    memset(buf, 0xee, sizeof(buf));
    virtio_dev_config_read(&f->dev, UINT32_MAX - 1, buf, 4); /* off + len wraps */
    assert_memory_equal(buf, ((uint8_t[]){ 0, 0, 0, 0 }), 4);
}

static void test_config_write(void **state)
{
    struct fx *f = *state;
    uint8_t v[4] = { 1, 2, 3, 4 };
    virtio_dev_config_write(&f->dev, 4, v, 4);
    assert_int_equal(f->config_writes, 1);
    assert_int_equal(f->last_off, 4);
    assert_int_equal(f->last_len, 4);
    assert_memory_equal(f->config + 4, v, 4);
    virtio_dev_config_write(&f->dev, 6, v, 4);
    virtio_dev_config_write(&f->dev, 8, v, 1);
    virtio_dev_config_write(&f->dev, UINT32_MAX - 1, v, 4);
    assert_int_equal(f->config_writes, 1);
    /* Without a config_write op, writes are ignored. */
    static const struct virtio_dev_ops bare;
    f->dev.ops = &bare;
    virtio_dev_config_write(&f->dev, 0, v, 4);
    assert_int_equal(f->config[0], 0x10);
}

static void test_config_changed(void **state)
{
    struct fx *f = *state;
    uint8_t gen = f->dev.config_generation;
    virtio_dev_config_changed(&f->dev); /* before DRIVER_OK: no interrupt */
    assert_int_equal(f->dev.config_generation, (uint8_t)(gen + 1));
    assert_int_equal(f->config_irqs, 0);
    bring_up(f);
    virtio_dev_config_changed(&f->dev);
    assert_int_equal(f->dev.config_generation, (uint8_t)(gen + 2));
    assert_int_equal(f->config_irqs, 1);
    /* A transport without an interrupt hook (tests) is fine. */
    f->dev.transport.irq = NULL;
    virtio_dev_config_changed(&f->dev);
    virtio_dev_needs_reset(&f->dev);
    assert_int_equal(f->dev.config_generation, (uint8_t)(gen + 3));
}

static void test_queue_irq(void **state)
{
    struct fx *f = *state;
    bring_up(f);
    struct virtq *q = &f->vq[0];
    /* One chain through the ring, completed. */
    struct vring_desc *d = (void *)(f->ram + q->desc_gpa);
    struct vring_avail *a = (void *)(f->ram + q->avail_gpa);
    d[0] = (struct vring_desc){ .addr = 0xc000, .len = 4, .flags = VRING_DESC_F_WRITE };
    a->ring[0] = 0;
    a->idx = 1;
    struct iovec iov[2];
    struct virtq_elem e = { .iov = iov, .iov_cap = 2 };
    assert_int_equal(virtq_pop(q, &e), 1);
    virtq_push(q, e.head, 4);
    virtio_dev_queue_irq(&f->dev, 0);
    assert_int_equal(f->queue_irqs[0], 1);
    a->flags = VRING_AVAIL_F_NO_INTERRUPT;
    virtio_dev_queue_irq(&f->dev, 0);
    assert_int_equal(f->queue_irqs[0], 1);
    a->flags = 0;
    virtio_dev_queue_irq(&f->dev, NQ); /* out of range: ignored */
    virtio_dev_queue_irq(&f->dev, 1);  /* not started: nothing to signal */
    assert_int_equal(f->queue_irqs[1], 0);
    virtio_dev_reset(&f->dev);
    virtio_dev_queue_irq(&f->dev, 0); /* before DRIVER_OK: never */
    assert_int_equal(f->queue_irqs[0], 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_init),
        T(test_normal_bring_up),
        T(test_refuse_unoffered_feature),
        T(test_refuse_missing_version_1),
        T(test_refuse_by_model),
        T(test_refuse_missing_access_platform),
        T(test_features_frozen_after_features_ok),
        T(test_driver_cannot_clear_bits),
        T(test_needs_reset_is_device_only),
        T(test_needs_reset_before_driver_ok_is_silent),
        T(test_driver_ok_without_features_ok),
        T(test_legacy_driver),
        T(test_legacy_refused_features),
        T(test_reset_clears_everything),
        T(test_queue_enable),
        T(test_queue_reset),
        T(test_notify_bounds),
        T(test_config_read),
        T(test_config_write),
        T(test_config_changed),
        T(test_queue_irq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
