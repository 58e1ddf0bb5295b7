/* virtio-pci transport, device side: driven only through config space and
 * BAR accesses, as a guest driver would. */
#include "vpci_fixture.h"

/* Negotiated, both queues enabled (rings at 0x10000 and 0x20000), DRIVER_OK. */
static void bring_up(struct fx *x)
{
    negotiate(x, 0);
    for (unsigned q = 0; q < NQ; q++) {
        setup_ring(x, q, 0x10000u * (q + 1));
        cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    }
    driver_ok(x);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* ---- identity and capabilities ---- */

static void test_modern_ids(void **state)
{
    X;
    assert_int_equal(cfg_rd(x, PCI_VENDOR_ID, 2), 0x1af4);
    assert_int_equal(cfg_rd(x, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_NET);
    assert_int_equal(cfg_rd(x, PCI_REVISION_ID, 1), 1);
    assert_int_equal(cfg_rd(x, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
    assert_true(cfg_rd(x, PCI_SUBSYSTEM_ID, 2) >= 0x40);
    assert_int_equal(cfg_rd(x, PCI_CLASS_REVISION, 4) >> 8, 0x020000);
    assert_int_equal(cfg_rd(x, PCI_INTERRUPT_PIN, 1), 1);
    /* No legacy BAR on a modern-only device. */
    assert_int_equal(x->f->bar[VPCI_LEGACY_BAR].size, 0);
}

static void test_transitional_and_legacy_ids(void **state)
{
    (void)state;
    static const struct { uint16_t type, id; uint32_t cls; } t[] = {
        { VIRTIO_ID_NET, 0x1000, 0x020000 },   { VIRTIO_ID_BLOCK, 0x1001, 0x010000 },
        { VIRTIO_ID_BALLOON, 0x1002, 0xff0000 }, { VIRTIO_ID_CONSOLE, 0x1003, 0x078000 },
        { VIRTIO_ID_RNG, 0x1005, 0xff0000 },   { VIRTIO_ID_9P, 0x1009, 0xff0000 },
    };
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (int m = 0; m < 2; m++) {
            struct fx *x = fx_new(t[i].type, m ? VPCI_LEGACY : VPCI_TRANSITIONAL, NVEC);
            assert_int_equal(cfg_rd(x, PCI_DEVICE_ID, 2), t[i].id);
            assert_int_equal(cfg_rd(x, PCI_REVISION_ID, 1), 0);
            assert_int_equal(cfg_rd(x, PCI_SUBSYSTEM_ID, 2), t[i].type);
            assert_int_equal(cfg_rd(x, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
            assert_int_equal(cfg_rd(x, PCI_CLASS_REVISION, 4) >> 8, t[i].cls);
            /* Legacy-only: no vendor capabilities at all. */
            assert_int_equal(find_vcap(x, VIRTIO_PCI_CAP_COMMON_CFG) != 0, m == 0);
            void *s = x;
            fx_teardown(&s);
        }
    }
}

static void test_no_transitional_id_refused(void **state)
{
    (void)state;
    struct virtq vqs[1];
    struct virtio_dev d;
    struct vpci t;
    virtio_dev_init(&d, VIRTIO_ID_GPU, 0, vqs, 1, 8, NULL, 0, NULL, NULL);
    assert_int_equal(vpci_init(&t, &d, VPCI_TRANSITIONAL, 2, NULL, NULL), -EINVAL);
    assert_int_equal(vpci_init(&t, &d, VPCI_LEGACY, 2, NULL, NULL), -EINVAL);
    assert_int_equal(vpci_init(&t, &d, VPCI_MODERN, 2, NULL, NULL), 0);
    assert_int_equal(pci_cfg_read_val(vpci_func(&t), PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_GPU);
    vpci_destroy(&t);
    /* More vectors than BAR1's table holds. */
    assert_int_equal(vpci_init(&t, &d, VPCI_MODERN, 4096, NULL, NULL), -EINVAL);
}

static void test_capability_walk(void **state)
{
    X;
    static const struct { uint8_t type; uint32_t off, len; } want[] = {
        { VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF, VIRTIO_PCI_COMMON_Q_RESET + 2 },
        { VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY_OFF, NQ * VPCI_NOTIFY_MULT },
        { VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 1 },
        { VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVCFG_OFF, 8 },
    };
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint32_t c = find_vcap(x, want[i].type);
        assert_int_not_equal(c, 0);
        assert_int_equal(c % 4, 0);
        assert_true(cfg_rd(x, c + VIRTIO_PCI_CAP_LEN, 1) >= sizeof(struct virtio_pci_cap));
        assert_int_equal(cfg_rd(x, c + VIRTIO_PCI_CAP_BAR, 1), VPCI_MODERN_BAR);
        assert_int_equal(cfg_rd(x, c + VIRTIO_PCI_CAP_OFFSET, 4), want[i].off);
        assert_int_equal(cfg_rd(x, c + VIRTIO_PCI_CAP_LENGTH, 4), want[i].len);
    }
    uint32_t n = find_vcap(x, VIRTIO_PCI_CAP_NOTIFY_CFG);
    assert_int_equal(cfg_rd(x, n + VIRTIO_PCI_CAP_LEN, 1), sizeof(struct virtio_pci_notify_cap));
    assert_int_equal(cfg_rd(x, n + VIRTIO_PCI_NOTIFY_CAP_MULT, 4), VPCI_NOTIFY_MULT);
    uint32_t p = find_vcap(x, VIRTIO_PCI_CAP_PCI_CFG);
    assert_int_not_equal(p, 0);
    assert_int_equal(cfg_rd(x, p + VIRTIO_PCI_CAP_LEN, 1), sizeof(struct virtio_pci_cfg_cap));
    assert_int_not_equal(find_cap(x, PCI_CAP_ID_MSIX), 0);
    /* The modern BAR is a 64-bit memory BAR of the documented size. */
    assert_int_equal(x->f->bar[VPCI_MODERN_BAR].size, VPCI_MODERN_BAR_SIZE);
    assert_int_equal(cfg_rd(x, PCI_BASE_ADDRESS_0 + 4 * VPCI_MODERN_BAR, 4) &
                         PCI_BASE_ADDRESS_MEM_TYPE_MASK, PCI_BASE_ADDRESS_MEM_TYPE_64);
}

/* ---- common cfg ---- */

static void test_device_feature_windows(void **state)
{
    X;
    uint64_t offered = x->dev.host_features;
    cc_wr(x, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DF, 4), (uint32_t)offered);
    cc_wr(x, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    uint32_t hi = cc_rd(x, VIRTIO_PCI_COMMON_DF, 4);
    assert_int_equal(hi, (uint32_t)(offered >> 32));
    assert_true(hi & (1u << (VIRTIO_F_VERSION_1 - 32)));
    assert_true(hi & (1u << (VIRTIO_F_RING_RESET - 32)));
    cc_wr(x, VIRTIO_PCI_COMMON_DFSELECT, 2, 4);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DF, 4), 0);
    cc_wr(x, VIRTIO_PCI_COMMON_DFSELECT, 0xffffffff, 4);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DFSELECT, 4), 0xffffffff);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DF, 4), 0);
    /* device_feature is read-only. */
    cc_wr(x, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_DF, 0, 4);
    assert_int_equal(x->dev.host_features, offered);
}

static void test_guest_feature_windows(void **state)
{
    X;
    cc_wr(x, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GF, 1u << VIRTIO_NET_F_MAC, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GF, 1u << (VIRTIO_F_VERSION_1 - 32), 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GFSELECT, 5, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GF, 0xffffffff, 4); /* no such window */
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_GF, 4), 0);
    assert_true(x->dev.guest_features ==
                ((1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_F_VERSION_1)));
    cc_wr(x, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_GF, 4), 1u << VIRTIO_NET_F_MAC);
    cc_wr(x, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_GF, 4), 1u << (VIRTIO_F_VERSION_1 - 32));
}

static void test_features_ok_refused_for_unoffered_bit(void **state)
{
    X;
    negotiate(x, 1ull << VIRTIO_NET_F_GUEST_TSO4); /* not offered */
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    negotiate(x, 1ull << VIRTIO_NET_F_CSUM);
    assert_true(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void test_num_queues_notify_off_and_data(void **state)
{
    X;
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
    for (unsigned q = 0; q < NQ; q++) {
        cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SELECT, 2), q);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_NOFF, 2), q);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_NDATA, 2), q);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    }
    cc_wr(x, VIRTIO_PCI_COMMON_NUMQ, 77, 2); /* read-only */
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
}

static void test_queue_select_out_of_range(void **state)
{
    X;
    negotiate(x, 0);
    static const uint16_t bad[] = { NQ, NQ + 1, 0x7fff, 0xffff };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, bad[i], 2);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SELECT, 2), bad[i]);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
        cc_wr(x, VIRTIO_PCI_COMMON_Q_SIZE, 4, 2);
        cc_wr(x, VIRTIO_PCI_COMMON_Q_DESCLO, 0x5000, 4);
        cc_wr(x, VIRTIO_PCI_COMMON_Q_MSIX, 1, 2);
        cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
    }
    for (unsigned q = 0; q < NQ; q++) {
        assert_int_equal(x->vqs[q].size, QMAX);
        assert_false(x->vqs[q].ready);
        assert_int_equal(x->vqs[q].desc_gpa, 0);
        assert_int_equal(x->t.queue_vector[q], VIRTIO_MSI_NO_VECTOR);
    }
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

static void test_queue_size_rules(void **state)
{
    X;
    negotiate(x, 0);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SIZE, 8, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
    static const uint16_t bad[] = { 6, 0, QMAX * 2, 0xffff, 3 };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cc_wr(x, VIRTIO_PCI_COMMON_Q_SIZE, bad[i], 2);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
    }
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SIZE, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), 1);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SIZE, QMAX, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
    /* Queue 0 kept its own size. */
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
    /* Frozen once enabled, like the addresses. */
    setup_ring(x, 1, 0x30000);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SIZE, 4, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_DESCLO, 0x40000, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_USEDHI, 1, 4);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x30000);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_USEDHI, 4), 0);
}

static void test_msix_vector_out_of_range_reads_no_vector(void **state)
{
    X;
    assert_int_equal(x->nchanged, 0); /* nothing reported while building */
    cc_wr(x, VIRTIO_PCI_COMMON_MSIX, NVEC - 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX, 2), NVEC - 1);
    /* The host hears of remapping, to reroute irqfds. */
    assert_int_equal(x->nchanged, 1);
    assert_int_equal(x->last_changed, -1);
    cc_wr(x, VIRTIO_PCI_COMMON_MSIX, NVEC, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_MSIX, 0, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_MSIX, 0x1234, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}

static void test_no_msix_capability_maps_nothing(void **state)
{
    X;
    assert_int_equal(find_cap(x, PCI_CAP_ID_MSIX), 0);
    cc_wr(x, VIRTIO_PCI_COMMON_MSIX, 0, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_MSIX, 0, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}

static void test_queue_enable_valid_ring(void **state)
{
    X;
    negotiate(x, 0);
    setup_ring(x, 0, 0x10000);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 0, 2); /* forbidden, ignored */
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    assert_true(x->vqs[0].ready);
    assert_true(x->vqs[0].desc_gpa == 0x10000 && x->vqs[0].avail_gpa == 0x11000 &&
                x->vqs[0].used_gpa == 0x12000);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 0, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

static void test_queue_enable_invalid_ring_needs_reset(void **state)
{
    X;
    negotiate(x, 0);
    setup_ring(x, 0, RAM_SIZE - 0x1000); /* avail and used beyond RAM */
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_true(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
    /* 64-bit address high half far outside RAM, on a fresh device. */
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    negotiate(x, 0);
    setup_ring(x, 1, 0x10000);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_DESCHI, 0x80, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    assert_false(x->vqs[1].ready);
    assert_true(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void test_queue_address_as_one_64bit_access(void **state)
{
    X;
    negotiate(x, 0);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    bar_wr(x, MODERN, VIRTIO_PCI_COMMON_Q_DESCLO, 0x0000000512345000ull, 8);
    assert_true(x->vqs[1].desc_gpa == 0x0000000512345000ull);
    assert_true(bar_rd(x, MODERN, VIRTIO_PCI_COMMON_Q_DESCLO, 8) == 0x0000000512345000ull);
    /* A 4-byte write at 20 spans status, generation and queue_select. */
    bar_wr(x, MODERN, VIRTIO_PCI_COMMON_STATUS, 0x00000000u | (0u << 16), 4);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
}

static void test_queue_reset(void **state)
{
    X;
    negotiate(x, 1ull << VIRTIO_F_RING_RESET);
    setup_ring(x, 1, 0x20000);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SIZE, 8, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_MSIX, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_RESET, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_RESET, 2), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    /* Re-enable after the reset. */
    setup_ring(x, 1, 0x30000);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
}

static void test_queue_reset_needs_feature(void **state)
{
    X;
    negotiate(x, 0);
    setup_ring(x, 0, 0x10000);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_RESET, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
}

static void test_device_config_region(void **state)
{
    X;
    assert_true(bar_rd(x, MODERN, VPCI_DEVCFG_OFF, 8) == 0x1716151413121110ull);
    assert_int_equal(bar_rd(x, MODERN, VPCI_DEVCFG_OFF + 6, 2), 0x1716);
    assert_int_equal(bar_rd(x, MODERN, VPCI_DEVCFG_OFF + 8, 4), 0);
    assert_int_equal(bar_rd(x, MODERN, VPCI_DEVCFG_OFF + 0x800, 4), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_CFGGENERATION, 1), x->dev.config_generation);
    virtio_dev_config_changed(&x->dev);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_CFGGENERATION, 1), x->dev.config_generation);
    assert_int_equal(x->dev.config_generation, 1);
}

/* ---- notify and interrupts ---- */

static void test_notify_reaches_queue(void **state)
{
    X;
    bring_up(x);
    bar_wr(x, MODERN, VPCI_NOTIFY_OFF + 1 * VPCI_NOTIFY_MULT, 1, 2);
    bar_wr(x, MODERN, VPCI_NOTIFY_OFF + 0 * VPCI_NOTIFY_MULT, 0, 2);
    assert_int_equal(x->nnotify, 2);
    assert_int_equal(x->notified[0], 1);
    assert_int_equal(x->notified[1], 0);
    /* Past the last queue, between slots, or the end of the BAR: nothing. */
    bar_wr(x, MODERN, VPCI_NOTIFY_OFF + NQ * VPCI_NOTIFY_MULT, NQ, 2);
    bar_wr(x, MODERN, VPCI_NOTIFY_OFF + 2, 0, 2);
    bar_wr(x, MODERN, VPCI_MODERN_BAR_SIZE - 2, 0, 2);
    bar_wr(x, MODERN, VPCI_MODERN_BAR_SIZE + 0x100, 0, 2);
    assert_int_equal(x->nnotify, 2);
    struct vpci_notify_loc loc;
    assert_int_equal(vpci_notify_loc(&x->t, 1, false, &loc), 0);
    assert_int_equal(loc.bar, VPCI_MODERN_BAR);
    assert_int_equal(loc.off, VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT);
    assert_false(loc.datamatch);
    bar_wr(x, loc.bar, loc.off, 1, loc.len);
    assert_int_equal(x->nnotify, 3);
    assert_int_equal(x->notified[2], 1);
    assert_int_equal(vpci_notify_loc(&x->t, NQ, false, &loc), -EINVAL);
    assert_int_equal(vpci_notify_loc(&x->t, 0, true, &loc), -EINVAL); /* modern only */
}

static void test_isr_and_intx_without_msix(void **state)
{
    X;
    bring_up(x);
    assert_false(x->intx);
    virtio_dev_queue_irq(&x->dev, 1);
    assert_true(x->intx);
    assert_true(cfg_rd(x, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    virtio_dev_config_changed(&x->dev);
    assert_int_equal(bar_rd(x, MODERN, VPCI_ISR_OFF, 1), VPCI_ISR_QUEUE_BIT | VIRTIO_PCI_ISR_CONFIG);
    assert_false(x->intx);
    assert_false(cfg_rd(x, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    assert_int_equal(bar_rd(x, MODERN, VPCI_ISR_OFF, 1), 0);
    virtio_dev_config_changed(&x->dev);
    assert_true(x->intx);
    bar_wr(x, MODERN, VPCI_ISR_OFF, 0, 1); /* read-only: no clear */
    assert_true(x->intx);
    assert_int_equal(bar_rd(x, MODERN, VPCI_ISR_OFF, 4), VIRTIO_PCI_ISR_CONFIG);
    assert_false(x->intx);
    assert_int_equal(x->nmsi, 0);
}

static void test_msix_delivery(void **state)
{
    X;
    bring_up(x);
    msix_enable(x);
    msix_program(x, 1);
    msix_program(x, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_MSIX, 2, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_MSIX, 1, 2);
    virtio_dev_queue_irq(&x->dev, 1);
    assert_int_equal(x->nmsi, 1);
    assert_int_equal(x->msi_addr, 0xfee00010u);
    assert_int_equal(x->msi_data, 0x41);
    virtio_dev_config_changed(&x->dev);
    assert_int_equal(x->nmsi, 2);
    assert_int_equal(x->msi_data, 0x42);
    /* Queue 0 has no vector: nothing at all, and no INTx/ISR fallback. The
     * config bit is set with MSI-X too (4.1.4.5), the queue bit is not. */
    virtio_dev_queue_irq(&x->dev, 0);
    assert_int_equal(x->nmsi, 2);
    assert_false(x->intx);
    assert_int_equal(x->nintx, 0);
    assert_int_equal(bar_rd(x, MODERN, VPCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
    assert_int_equal(bar_rd(x, MODERN, VPCI_ISR_OFF, 1), 0);
}

/* ---- PCI_CFG window ---- */

static void window_set(struct fx *x, uint32_t cap, uint8_t bar, uint32_t off, uint32_t len)
{
    cfg_wr(x, cap + VIRTIO_PCI_CAP_BAR, bar, 1);
    cfg_wr(x, cap + VIRTIO_PCI_CAP_OFFSET, off, 4);
    cfg_wr(x, cap + VIRTIO_PCI_CAP_LENGTH, len, 4);
}

static void test_pci_cfg_window_matches_bar(void **state)
{
    X;
    uint32_t cap = find_vcap(x, VIRTIO_PCI_CAP_PCI_CFG);
    uint32_t data = cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
    assert_int_not_equal(cap, 0);
    window_set(x, cap, VPCI_MODERN_BAR, VIRTIO_PCI_COMMON_NUMQ, 2);
    assert_int_equal(cfg_rd(x, cap + VIRTIO_PCI_CAP_OFFSET, 4), VIRTIO_PCI_COMMON_NUMQ);
    assert_int_equal(cfg_rd(x, data, 2), cc_rd(x, VIRTIO_PCI_COMMON_NUMQ, 2));
    window_set(x, cap, VPCI_MODERN_BAR, VPCI_DEVCFG_OFF + 4, 4);
    assert_int_equal(cfg_rd(x, data, 4), bar_rd(x, MODERN, VPCI_DEVCFG_OFF + 4, 4));
    window_set(x, cap, VPCI_MODERN_BAR, VPCI_DEVCFG_OFF + 3, 1);
    assert_int_equal(cfg_rd(x, data, 1), 0x13);
    /* Writes: queue_select through the window, seen directly. */
    window_set(x, cap, VPCI_MODERN_BAR, VIRTIO_PCI_COMMON_Q_SELECT, 2);
    cfg_wr(x, data, 1, 2);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    assert_int_equal(cfg_rd(x, data, 2), 0);
    /* A kick through the window. */
    bring_up(x);
    window_set(x, cap, VPCI_MODERN_BAR, VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT, 2);
    cfg_wr(x, data, 1, 2);
    assert_int_equal(x->nnotify, 1);
    assert_int_equal(x->notified[0], 1);
}

static void test_pci_cfg_window_refuses_bad_parameters(void **state)
{
    X;
    uint32_t cap = find_vcap(x, VIRTIO_PCI_CAP_PCI_CFG);
    uint32_t data = cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
    static const struct { uint8_t bar; uint32_t off, len; } bad[] = {
        { VPCI_MODERN_BAR, VIRTIO_PCI_COMMON_Q_SELECT, 3 },       /* odd length */
        { VPCI_MODERN_BAR, VIRTIO_PCI_COMMON_Q_SELECT + 1, 2 },   /* misaligned */
        { VPCI_MODERN_BAR, VPCI_MODERN_BAR_SIZE, 4 },             /* past the BAR */
        { VPCI_MODERN_BAR, 0xfffffffc, 4 },
        { 2, 0, 4 },                                              /* no such BAR */
        { 6, 0, 4 },
        { 0xff, 0, 4 },
        { VPCI_MODERN_BAR, VIRTIO_PCI_COMMON_Q_SELECT, 0 },
        { VPCI_MODERN_BAR, VIRTIO_PCI_COMMON_Q_SELECT, 8 },
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        window_set(x, cap, bad[i].bar, bad[i].off, bad[i].len);
        cfg_wr(x, data, 0x1, 4);
        (void)cfg_rd(x, data, 4);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
    }
    /* Only the window's own fields are writable in the capability. */
    cfg_wr(x, cap + VIRTIO_PCI_CAP_CFG_TYPE, 0, 1);
    assert_int_equal(cfg_rd(x, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1), VIRTIO_PCI_CAP_PCI_CFG);
}

/* ---- reset ---- */

static void test_status_reset_clears_transport_state(void **state)
{
    X;
    bring_up(x);
    cc_wr(x, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_MSIX, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
    virtio_dev_queue_irq(&x->dev, 0);
    assert_true(x->intx);
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    assert_false(x->intx);
    assert_int_equal(bar_rd(x, MODERN, VPCI_ISR_OFF, 1), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DFSELECT, 4), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_GFSELECT, 4), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_GF, 4), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
    for (unsigned q = 0; q < NQ; q++) {
        cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
        assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    }
}

static void test_vpci_reset(void **state)
{
    X;
    bring_up(x);
    cc_wr(x, VIRTIO_PCI_COMMON_MSIX, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    vpci_reset(&x->t);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
    assert_false(x->vqs[0].ready);
}

#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_modern_ids, setup_modern),
        cmocka_unit_test(test_transitional_and_legacy_ids),
        cmocka_unit_test(test_no_transitional_id_refused),
        T(test_capability_walk, setup_modern),
        T(test_device_feature_windows, setup_modern),
        T(test_guest_feature_windows, setup_modern),
        T(test_features_ok_refused_for_unoffered_bit, setup_modern),
        T(test_num_queues_notify_off_and_data, setup_modern),
        T(test_queue_select_out_of_range, setup_modern),
        T(test_queue_size_rules, setup_modern),
        T(test_msix_vector_out_of_range_reads_no_vector, setup_modern),
        T(test_no_msix_capability_maps_nothing, setup_modern_nomsix),
        T(test_queue_enable_valid_ring, setup_modern),
        T(test_queue_enable_invalid_ring_needs_reset, setup_modern),
        T(test_queue_address_as_one_64bit_access, setup_modern),
        T(test_queue_reset, setup_modern),
        T(test_queue_reset_needs_feature, setup_modern),
        T(test_device_config_region, setup_modern),
        T(test_notify_reaches_queue, setup_modern),
        T(test_isr_and_intx_without_msix, setup_modern),
        T(test_msix_delivery, setup_modern),
        T(test_pci_cfg_window_matches_bar, setup_modern),
        T(test_pci_cfg_window_refuses_bad_parameters, setup_modern),
        T(test_status_reset_clears_transport_state, setup_modern),
        T(test_vpci_reset, setup_transitional),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
