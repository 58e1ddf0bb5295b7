/* virtio-pci transport: the legacy BAR0 layout and transitional arbitration,
 * driven only through config space and BAR accesses. */
#include "vpci_fixture.h"

static uint32_t lg_rd(struct fx *x, unsigned off, unsigned len)
{
    return (uint32_t)bar_rd(x, LEGACY, off, len);
}

static void lg_wr(struct fx *x, unsigned off, uint32_t val, unsigned len)
{
    bar_wr(x, LEGACY, off, val, len);
}

#define ACK_DRIVER (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)

/* Legacy driver init: reset, ACK|DRIVER, features, PFNs 0x10 and 0x20, DRIVER_OK. */
static void legacy_bring_up(struct fx *x)
{
    lg_wr(x, VIRTIO_PCI_STATUS, 0, 1);
    lg_wr(x, VIRTIO_PCI_STATUS, ACK_DRIVER, 1);
    lg_wr(x, VIRTIO_PCI_GUEST_FEATURES, 1u << VIRTIO_NET_F_MAC, 4);
    for (unsigned q = 0; q < NQ; q++) {
        lg_wr(x, VIRTIO_PCI_QUEUE_SEL, q, 2);
        lg_wr(x, VIRTIO_PCI_QUEUE_PFN, 0x10 * (q + 1), 4);
    }
    lg_wr(x, VIRTIO_PCI_STATUS, ACK_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK, 1);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_STATUS, 1), ACK_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void test_legacy_register_layout(void **state)
{
    X;
    assert_true(cfg_rd(x, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_SPACE_IO);
    /* 24 register bytes + 8 config bytes round up to 32. */
    assert_int_equal(x->t.legacy_bar_size, 32);
    assert_int_equal(x->f->bar[VPCI_LEGACY_BAR].size, 32);
    assert_int_equal(x->f->bar[VPCI_MODERN_BAR].size, 0);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_HOST_FEATURES, 4), (uint32_t)TEST_FEATURES);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_NUM, 2), QMAX);
    lg_wr(x, VIRTIO_PCI_QUEUE_NUM, 4, 2); /* read-only */
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_NUM, 2), QMAX);
    lg_wr(x, VIRTIO_PCI_QUEUE_SEL, NQ, 2);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_SEL, 2), NQ);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_NUM, 2), 0);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_PFN, 4), 0);
    lg_wr(x, VIRTIO_PCI_QUEUE_PFN, 0x10, 4); /* no such queue */
    assert_false(x->vqs[0].ready || x->vqs[1].ready);
    lg_wr(x, VIRTIO_PCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_STATUS, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE);
    assert_true(x->dev.legacy);
    /* Device config right after the registers while MSI-X is off. */
    assert_int_equal(lg_rd(x, VIRTIO_PCI_CONFIG_OFF(0), 4), 0x13121110);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_CONFIG_OFF(0) + 4, 4), 0x17161514);
    /* Outside the BAR: nothing, no crash. */
    assert_int_equal(lg_rd(x, 32, 4), 0xffffffff);
    lg_wr(x, 30, 0xffffffff, 4);
}

static void test_legacy_features_are_32bit(void **state)
{
    X;
    lg_wr(x, VIRTIO_PCI_GUEST_FEATURES, 0xffffffff, 4);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_GUEST_FEATURES, 4), (uint32_t)TEST_FEATURES);
    assert_true(x->dev.guest_features == (uint32_t)TEST_FEATURES);
    assert_false(x->dev.guest_features & (1ull << VIRTIO_F_VERSION_1));
    /* An 8-byte read at 0 sees host then guest features. */
    assert_true(bar_rd(x, LEGACY, 0, 8) ==
                ((uint64_t)(uint32_t)TEST_FEATURES << 32 | (uint32_t)TEST_FEATURES));
}

static void test_legacy_queue_pfn(void **state)
{
    X;
    lg_wr(x, VIRTIO_PCI_STATUS, ACK_DRIVER, 1);
    lg_wr(x, VIRTIO_PCI_QUEUE_SEL, 1, 2);
    lg_wr(x, VIRTIO_PCI_QUEUE_PFN, 0x10, 4);
    assert_true(x->vqs[1].ready);
    assert_int_equal(x->vqs[1].size, QMAX);
    assert_int_equal(x->vqs[1].desc_gpa, 0x10000);
    assert_int_equal(x->vqs[1].avail_gpa, 0x10000 + 16 * QMAX);
    /* avail ring (4 + 2 * QMAX) and used_event, then the next 4 KiB. */
    assert_int_equal(x->vqs[1].used_gpa, 0x11000);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_PFN, 4), 0x10);
    lg_wr(x, VIRTIO_PCI_QUEUE_PFN, 0x30, 4); /* while running: ignored */
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_PFN, 4), 0x10);
    lg_wr(x, VIRTIO_PCI_QUEUE_PFN, 0, 4);
    assert_false(x->vqs[1].ready);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_PFN, 4), 0);
    assert_false(x->vqs[0].ready);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

static void test_legacy_pfn_outside_ram_needs_reset(void **state)
{
    X;
    lg_wr(x, VIRTIO_PCI_STATUS, ACK_DRIVER, 1);
    lg_wr(x, VIRTIO_PCI_QUEUE_PFN, 0xffffffff, 4);
    assert_false(x->vqs[0].ready);
    assert_true(lg_rd(x, VIRTIO_PCI_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
    lg_wr(x, VIRTIO_PCI_STATUS, 0, 1);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_STATUS, 1), 0);
    lg_wr(x, VIRTIO_PCI_QUEUE_PFN, (RAM_SIZE >> 12) - 1, 4); /* used ring past the end */
    assert_false(x->vqs[0].ready);
    assert_true(lg_rd(x, VIRTIO_PCI_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void test_legacy_notify_isr_intx(void **state)
{
    X;
    legacy_bring_up(x);
    lg_wr(x, VIRTIO_PCI_QUEUE_NOTIFY, 1, 2);
    lg_wr(x, VIRTIO_PCI_QUEUE_NOTIFY, 0, 2);
    lg_wr(x, VIRTIO_PCI_QUEUE_NOTIFY, NQ, 2);
    lg_wr(x, VIRTIO_PCI_QUEUE_NOTIFY, 0xffff, 2);
    assert_int_equal(x->nnotify, 2);
    assert_int_equal(x->notified[0], 1);
    assert_int_equal(x->notified[1], 0);
    struct vpci_notify_loc loc;
    assert_int_equal(vpci_notify_loc(&x->t, 1, true, &loc), 0);
    assert_int_equal(loc.bar, VPCI_LEGACY_BAR);
    assert_int_equal(loc.off, VIRTIO_PCI_QUEUE_NOTIFY);
    assert_int_equal(loc.len, 2);
    assert_true(loc.datamatch);
    assert_int_equal(loc.data, 1);
    assert_int_equal(vpci_notify_loc(&x->t, 1, false, &loc), -EINVAL); /* legacy only */

    virtio_dev_queue_irq(&x->dev, 0);
    assert_true(x->intx);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_ISR, 1), VPCI_ISR_QUEUE_BIT);
    assert_false(x->intx);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_ISR, 1), 0);
    /* A wide read covering ISR clears it too. */
    virtio_dev_config_changed(&x->dev);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_STATUS, 2) >> 8, VIRTIO_PCI_ISR_CONFIG);
    assert_false(x->intx);
}

static void test_legacy_msix_shifts_config(void **state)
{
    X;
    legacy_bring_up(x);
    msix_enable(x);
    msix_program(x, 0);
    msix_program(x, 2);
    assert_int_equal(lg_rd(x, VIRTIO_MSI_CONFIG_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_CONFIG_OFF(1), 4), 0x13121110);
    lg_wr(x, VIRTIO_MSI_CONFIG_VECTOR, 2, 2);
    assert_int_equal(lg_rd(x, VIRTIO_MSI_CONFIG_VECTOR, 2), 2);
    lg_wr(x, VIRTIO_MSI_CONFIG_VECTOR, NVEC, 2);
    assert_int_equal(lg_rd(x, VIRTIO_MSI_CONFIG_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
    lg_wr(x, VIRTIO_MSI_CONFIG_VECTOR, 2, 2);
    lg_wr(x, VIRTIO_PCI_QUEUE_SEL, 1, 2);
    lg_wr(x, VIRTIO_MSI_QUEUE_VECTOR, 0, 2);
    assert_int_equal(lg_rd(x, VIRTIO_MSI_QUEUE_VECTOR, 2), 0);
    lg_wr(x, VIRTIO_PCI_QUEUE_SEL, 0, 2);
    assert_int_equal(lg_rd(x, VIRTIO_MSI_QUEUE_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
    virtio_dev_queue_irq(&x->dev, 1);
    assert_int_equal(x->nmsi, 1);
    assert_int_equal(x->msi_data, 0x40);
    virtio_dev_config_changed(&x->dev);
    assert_int_equal(x->nmsi, 2);
    assert_int_equal(x->msi_data, 0x42);
    assert_false(x->intx);
    /* MSI-X off again: config back at 20, vector registers gone. */
    cfg_wr(x, find_cap(x, PCI_CAP_ID_MSIX) + PCI_MSIX_FLAGS, 0, 2);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_CONFIG_OFF(0), 2), 0x1110);
    lg_wr(x, VIRTIO_MSI_CONFIG_VECTOR, 0, 2); /* now a config write, dropped */
    msix_enable(x);
    assert_int_equal(lg_rd(x, VIRTIO_MSI_CONFIG_VECTOR, 2), 2);
}

static void test_legacy_config_limits(void **state)
{
    (void)state;
    static uint8_t big[240];
    struct virtq vqs[1];
    struct virtio_dev d;
    struct vpci t;
    virtio_dev_init(&d, VIRTIO_ID_BLOCK, 0, vqs, 1, 8, big, 100, NULL, NULL);
    assert_int_equal(vpci_init(&t, &d, VPCI_LEGACY, 0, NULL, NULL), 0);
    assert_int_equal(t.legacy_bar_size, 128);
    vpci_destroy(&t);
    virtio_dev_init(&d, VIRTIO_ID_BLOCK, 0, vqs, 1, 8, big, sizeof big, NULL, NULL);
    assert_int_equal(vpci_init(&t, &d, VPCI_TRANSITIONAL, 0, NULL, NULL), -EINVAL);
    assert_int_equal(vpci_init(&t, &d, VPCI_MODERN, 0, NULL, NULL), 0);
    vpci_destroy(&t);
}

/* ---- transitional ---- */

static void test_transitional_legacy_locks_out_modern(void **state)
{
    X;
    assert_int_equal(x->t.layout, VPCI_LAYOUT_NONE);
    lg_wr(x, VIRTIO_PCI_STATUS, ACK_DRIVER, 1);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_LEGACY);
    assert_true(x->dev.legacy);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS, ACK_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, 1);
    cc_wr(x, VIRTIO_PCI_COMMON_GF, 1, 4);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_SEL, 2), 0);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_STATUS, 1), ACK_DRIVER);
    assert_true(x->dev.guest_features == 0);
    /* Modern kicks are refused too. */
    lg_wr(x, VIRTIO_PCI_QUEUE_PFN, 0x10, 4);
    lg_wr(x, VIRTIO_PCI_STATUS, ACK_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK, 1);
    bar_wr(x, MODERN, VPCI_NOTIFY_OFF, 0, 2);
    assert_int_equal(x->nnotify, 0);
    lg_wr(x, VIRTIO_PCI_QUEUE_NOTIFY, 0, 2);
    assert_int_equal(x->nnotify, 1);
    /* Reset through the chosen layout frees the choice. */
    lg_wr(x, VIRTIO_PCI_STATUS, 0, 1);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_NONE);
    assert_false(x->dev.legacy);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
    negotiate(x, 0);
    assert_true(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_MODERN);
}

static void test_transitional_modern_locks_out_legacy(void **state)
{
    X;
    /* Reads alone do not choose. */
    assert_int_equal(lg_rd(x, VIRTIO_PCI_HOST_FEATURES, 4), (uint32_t)TEST_FEATURES);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_NONE);
    negotiate(x, 0);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_MODERN);
    assert_false(x->dev.legacy);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_HOST_FEATURES, 4), 0xffffffff);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_ISR, 1), 0xff);
    lg_wr(x, VIRTIO_PCI_QUEUE_SEL, 1, 2);
    lg_wr(x, VIRTIO_PCI_GUEST_FEATURES, 0, 4);
    lg_wr(x, VIRTIO_PCI_QUEUE_PFN, 0x10, 4);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
    assert_false(x->vqs[0].ready);
    assert_true(x->dev.guest_features & (1ull << VIRTIO_F_VERSION_1));
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_NONE);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_HOST_FEATURES, 4), (uint32_t)TEST_FEATURES);
}

/* A driver of the other kind begins with a reset (an OS after legacy
 * firmware): that one write crosses over and frees the choice. */
static void test_transitional_reset_from_other_layout(void **state)
{
    X;
    legacy_bring_up(x);
    assert_true(x->vqs[0].ready);
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_NONE);
    assert_false(x->vqs[0].ready);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    negotiate(x, 0);
    setup_ring(x, 0, 0x40000);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    assert_true(x->vqs[0].ready);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
    /* ... and the same the other way round. */
    lg_wr(x, VIRTIO_PCI_STATUS, 0, 1);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_NONE);
    assert_false(x->vqs[0].ready);
}

static void test_transitional_vpci_reset_frees_choice(void **state)
{
    X;
    lg_wr(x, VIRTIO_PCI_STATUS, ACK_DRIVER, 1);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_LEGACY);
    vpci_reset(&x->t);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_NONE);
    assert_false(x->dev.legacy);
    assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
}

static void test_transitional_pci_cfg_window_to_legacy_bar(void **state)
{
    X;
    uint32_t cap = find_vcap(x, VIRTIO_PCI_CAP_PCI_CFG);
    uint32_t data = cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
    assert_int_not_equal(cap, 0);
    cfg_wr(x, cap + VIRTIO_PCI_CAP_BAR, VPCI_LEGACY_BAR, 1);
    cfg_wr(x, cap + VIRTIO_PCI_CAP_OFFSET, VIRTIO_PCI_HOST_FEATURES, 4);
    cfg_wr(x, cap + VIRTIO_PCI_CAP_LENGTH, 4, 4);
    assert_int_equal(cfg_rd(x, data, 4), lg_rd(x, VIRTIO_PCI_HOST_FEATURES, 4));
    cfg_wr(x, cap + VIRTIO_PCI_CAP_OFFSET, VIRTIO_PCI_QUEUE_SEL, 4);
    cfg_wr(x, cap + VIRTIO_PCI_CAP_LENGTH, 2, 4);
    cfg_wr(x, data, 1, 2);
    assert_int_equal(lg_rd(x, VIRTIO_PCI_QUEUE_SEL, 2), 1);
    assert_int_equal(x->t.layout, VPCI_LAYOUT_LEGACY);
    /* Byte-wise reads of the window return the matching bytes. */
    cfg_wr(x, cap + VIRTIO_PCI_CAP_OFFSET, VIRTIO_PCI_CONFIG_OFF(0), 4);
    cfg_wr(x, cap + VIRTIO_PCI_CAP_LENGTH, 4, 4);
    assert_int_equal(cfg_rd(x, data + 2, 1), 0x12);
    assert_int_equal(cfg_rd(x, data + 2, 2), 0x1312);
}

static void test_transitional_notify_locs(void **state)
{
    X;
    struct vpci_notify_loc loc;
    assert_int_equal(vpci_notify_loc(&x->t, 0, true, &loc), 0);
    assert_int_equal(loc.bar, VPCI_LEGACY_BAR);
    assert_int_equal(vpci_notify_loc(&x->t, 0, false, &loc), 0);
    assert_int_equal(loc.bar, VPCI_MODERN_BAR);
    assert_int_equal(loc.off, VPCI_NOTIFY_OFF);
    assert_int_equal(vpci_notify_loc(&x->t, NQ, true, &loc), -EINVAL);
}

#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_legacy_register_layout, setup_legacy),
        T(test_legacy_features_are_32bit, setup_legacy),
        T(test_legacy_queue_pfn, setup_legacy),
        T(test_legacy_pfn_outside_ram_needs_reset, setup_legacy),
        T(test_legacy_notify_isr_intx, setup_legacy),
        T(test_legacy_msix_shifts_config, setup_legacy),
        cmocka_unit_test(test_legacy_config_limits),
        T(test_transitional_legacy_locks_out_modern, setup_transitional),
        T(test_transitional_modern_locks_out_legacy, setup_transitional),
        T(test_transitional_reset_from_other_layout, setup_transitional),
        T(test_transitional_vpci_reset_frees_choice, setup_transitional),
        T(test_transitional_pci_cfg_window_to_legacy_bar, setup_transitional),
        T(test_transitional_notify_locs, setup_transitional),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
