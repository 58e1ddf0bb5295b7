/* Loopback: kick's driver side drives kick's device side through the PCI
 * model, for every transport mode, with MSI-X and with INTx. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "backends/entropy.h"
#include "devices/rng.h"
#include "vmm/echo_dev.h"
#include "vmm/loopback.h"

struct fixture {
    struct loopback lb;
    struct rng_dev rng;
    struct echo_dev echo;
    struct loopback_fn rfn, efn;
};

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof(fx));
    if (loopback_init(&fx.lb, 8 << 20) < 0)
        return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    loopback_destroy(&fx->lb);
    return 0;
}

/* Deterministic entropy so the test can check the bytes arrived intact. */
static ssize_t counting_fill(void *opaque, void *buf, size_t len)
{
    unsigned *next = opaque;
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(0xa5 ^ (*next)++);
    return (ssize_t)len;
}

/* rng through one transport/interrupt combination. */
static void rng_case(void **state, enum vpci_mode mode, bool force_legacy, bool msix,
                     bool expect_modern)
{
    struct fixture *fx = *state;
    unsigned next = 0;
    rng_dev_init(&fx->rng, counting_fill, &next);
    assert_int_equal(loopback_fn_attach(&fx->rfn, &fx->lb, &fx->rng.vdev, mode, msix ? 2 : 0), 0);
    assert_int_equal(loopback_fn_driver_up(&fx->rfn, force_legacy, msix, ~0ull, 64), 0);
    struct loopback_fn *fn = &fx->rfn;
    assert_int_equal(fn->drv.modern, expect_modern);
    assert_int_equal(fx->rng.vdev.legacy, !expect_modern);
    /* modern negotiates VERSION_1; legacy can't */
    assert_int_equal(!!(fn->drv.features & (1ull << VIRTIO_F_VERSION_1)), expect_modern);
    assert_true(fn->drv.features & (1ull << VIRTIO_RING_F_EVENT_IDX));
    assert_int_equal(fx->rng.vdev.guest_features, fn->drv.features);

    uint64_t pa;
    uint8_t *buf = loopback_alloc(&fx->lb, 100, 8, &pa);
    assert_non_null(buf);
    unsigned expect = 0;
    for (unsigned i = 0; i < 300; i++) { /* > queue size: the ring wraps */
        struct vdrv_sg sg = { pa, 100 };
        uint32_t got = 0;
        assert_int_equal(loopback_fn_roundtrip(fn, &sg, 0, 1, &got), 0);
        assert_int_equal(got, 100);
        for (unsigned j = 0; j < 100; j++)
            assert_int_equal(buf[j], (uint8_t)(0xa5 ^ expect++));
        if (msix) {
            assert_int_equal(fn->msi[1], i + 1); /* queue vector, one per request */
            assert_false(fn->intx_level);
        } else {
            assert_true(fn->intx_level);
            uint8_t isr = vdrv_read_isr(&fn->drv);
            assert_int_equal(isr & VIRTIO_PCI_ISR_CONFIG, 0);
            assert_true(isr & 1);
            assert_false(fn->intx_level); /* ISR read deasserts */
            assert_int_equal(vdrv_read_isr(&fn->drv), 0); /* and clears */
        }
    }
    assert_int_equal(fn->msi[0], 0); /* no config interrupts */
    assert_int_equal(fn->msi_bad, 0);
    assert_int_equal(fx->rng.requests, 300);
    if (!msix)
        assert_int_equal(fn->intx_raises, 300);
    loopback_fn_detach(fn);
}

static void rng_modern_msix(void **s) { rng_case(s, VPCI_MODERN, false, true, true); }
static void rng_modern_intx(void **s) { rng_case(s, VPCI_MODERN, false, false, true); }
static void rng_legacy_msix(void **s) { rng_case(s, VPCI_LEGACY, false, true, false); }
static void rng_legacy_intx(void **s) { rng_case(s, VPCI_LEGACY, false, false, false); }
static void rng_transitional_modern_msix(void **s) { rng_case(s, VPCI_TRANSITIONAL, false, true, true); }
static void rng_transitional_modern_intx(void **s) { rng_case(s, VPCI_TRANSITIONAL, false, false, true); }
static void rng_transitional_forced_legacy_msix(void **s) { rng_case(s, VPCI_TRANSITIONAL, true, true, false); }
static void rng_transitional_forced_legacy_intx(void **s) { rng_case(s, VPCI_TRANSITIONAL, true, false, false); }

/* A modern-only device has no legacy BAR: forcing legacy finds nothing. */
static void modern_only_refuses_forced_legacy(void **state)
{
    struct fixture *fx = *state;
    rng_dev_init(&fx->rng, entropy_getrandom, NULL);
    assert_int_equal(loopback_fn_attach(&fx->rfn, &fx->lb, &fx->rng.vdev, VPCI_MODERN, 2), 0);
    assert_true(loopback_fn_driver_up(&fx->rfn, true, true, ~0ull, 64) < 0);
    loopback_fn_detach(&fx->rfn);
}

/* Three-descriptor chains through the echo device, data compared. */
static void echo_three_descriptor_chains(void **state)
{
    struct fixture *fx = *state;
    echo_dev_init(&fx->echo, 128);
    assert_int_equal(loopback_fn_attach(&fx->efn, &fx->lb, &fx->echo.vdev, VPCI_MODERN, 2), 0);
    assert_int_equal(loopback_fn_driver_up(&fx->efn, false, true, ~0ull, 128), 0);
    uint64_t hpa, ppa, rpa;
    uint8_t *h = loopback_alloc(&fx->lb, 16, 16, &hpa);
    uint8_t *p = loopback_alloc(&fx->lb, 4000, 16, &ppa);
    uint8_t *r = loopback_alloc(&fx->lb, 4016, 16, &rpa);
    for (unsigned i = 0; i < 500; i++) {
        for (unsigned j = 0; j < 16; j++)
            h[j] = (uint8_t)(i * 3 + j);
        for (unsigned j = 0; j < 4000; j++)
            p[j] = (uint8_t)(i ^ j);
        memset(r, 0, 4016);
        struct vdrv_sg sg[3] = { { hpa, 16 }, { ppa, 4000 }, { rpa, 4016 } };
        uint32_t got = 0;
        assert_int_equal(loopback_fn_roundtrip(&fx->efn, sg, 2, 1, &got), 0);
        assert_int_equal(got, 4016);
        assert_memory_equal(r, h, 16);
        assert_memory_equal(r + 16, p, 4000);
    }
    assert_int_equal(fx->echo.requests, 500);
    /* device config visible through the driver's config read */
    uint32_t served = 0;
    vdrv_config_read(&fx->efn.drv, 0, &served, 4);
    assert_int_equal(served, 500);
    loopback_fn_detach(&fx->efn);
}

/* A guest that corrupts its ring gets NEEDS_RESET and a config interrupt;
 * a second device keeps working; a reset brings the first one back. */
static void corrupt_ring_needs_reset_other_device_unaffected(void **state)
{
    struct fixture *fx = *state;
    unsigned next = 0;
    rng_dev_init(&fx->rng, counting_fill, &next);
    echo_dev_init(&fx->echo, 64);
    assert_int_equal(loopback_fn_attach(&fx->rfn, &fx->lb, &fx->rng.vdev, VPCI_MODERN, 2), 0);
    assert_int_equal(loopback_fn_attach(&fx->efn, &fx->lb, &fx->echo.vdev, VPCI_MODERN, 2), 0);
    assert_int_equal(loopback_fn_driver_up(&fx->rfn, false, true, ~0ull, 64), 0);
    assert_int_equal(loopback_fn_driver_up(&fx->efn, false, true, ~0ull, 64), 0);

    uint64_t pa;
    uint8_t *buf = loopback_alloc(&fx->lb, 64, 8, &pa);
    (void)buf;
    /* post a chain whose buffer lies far past guest RAM */
    struct vdrv_sg bad = { LOOPBACK_RAM_GPA + fx->lb.ram_size + 0x1000, 64 };
    static char tok;
    assert_int_equal(vdrv_vq_add(&fx->rfn.vq, &bad, 0, 1, &tok), 0);
    vdrv_vq_kick_prepare(&fx->rfn.vq);
    vdrv_notify(&fx->rfn.drv, 0);
    assert_true(vdrv_get_status(&fx->rfn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert_int_equal(fx->rfn.msi[0], 1); /* config change interrupt */
    assert_null(vdrv_vq_get_used(&fx->rfn.vq, NULL));

    /* the other function still echoes */
    struct vdrv_sg sg[2] = { { pa, 32 }, { pa + 32, 32 } };
    uint32_t got = 0;
    assert_int_equal(loopback_fn_roundtrip(&fx->efn, sg, 1, 1, &got), 0);
    assert_int_equal(got, 32);

    /* reset and re-initialise the broken one: it works again */
    assert_int_equal(loopback_fn_driver_up(&fx->rfn, false, true, ~0ull, 64), 0);
    assert_false(vdrv_get_status(&fx->rfn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
    struct vdrv_sg good = { pa, 64 };
    assert_int_equal(loopback_fn_roundtrip(&fx->rfn, &good, 0, 1, &got), 0);
    assert_int_equal(got, 64);
    loopback_fn_detach(&fx->rfn);
    loopback_fn_detach(&fx->efn);
}

/* The device refuses FEATURES_OK for a feature it never offered. */
static void features_ok_refused_for_unoffered_bit(void **state)
{
    struct fixture *fx = *state;
    rng_dev_init(&fx->rng, entropy_getrandom, NULL);
    assert_int_equal(loopback_fn_attach(&fx->rfn, &fx->lb, &fx->rng.vdev, VPCI_MODERN, 2), 0);
    struct vdrv_dev *d = &fx->rfn.drv;
    assert_int_equal(vdrv_pci_probe(d, &fx->rfn.io, false), 0);
    vdrv_reset(d);
    vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    uint64_t offered = vdrv_device_features(d);
    assert_false(offered & (1ull << VIRTIO_F_RING_PACKED));
    /* write the guest feature windows by hand, including an unoffered bit */
    uint64_t bad = offered | (1ull << VIRTIO_F_RING_PACKED);
    for (unsigned w = 0; w < 2; w++) {
        fx->rfn.io.bar_write(fx->rfn.io.ctx, d->common.bar, d->common.off + VIRTIO_PCI_COMMON_GFSELECT, w, 4);
        fx->rfn.io.bar_write(fx->rfn.io.ctx, d->common.bar, d->common.off + VIRTIO_PCI_COMMON_GF,
                             (uint32_t)(bad >> (32 * w)), 4);
    }
    vdrv_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
    assert_false(vdrv_get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK);
    /* a correct set is accepted after reset */
    vdrv_reset(d);
    vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    assert_int_equal(vdrv_negotiate(d, offered), 0);
    assert_true(vdrv_get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK);
    loopback_fn_detach(&fx->rfn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rng_modern_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(rng_modern_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(rng_legacy_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(rng_legacy_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(rng_transitional_modern_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(rng_transitional_modern_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(rng_transitional_forced_legacy_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(rng_transitional_forced_legacy_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(modern_only_refuses_forced_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(echo_three_descriptor_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_ring_needs_reset_other_device_unaffected, setup, teardown),
        cmocka_unit_test_setup_teardown(features_ok_refused_for_unoffered_bit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
