/* Driver-side virtio-pci against the small fake function in
 * vdrv_pci_fake.h: probe, status, features, queues, notify, MSI-X, config. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "guest/vdrv_pci.h"

#include "tests/vdrv_pci_fake.h"

static struct vdrv_dev D;

/* ---- probe ---- */

static void test_probe_modern(void **state)
{
    (void)state;
    fake_reset(0x1041, 0);
    fake_modern_caps();
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
    assert_true(D.modern);
    assert_int_equal(D.virtio_type, 1);
    assert_int_equal(D.common.bar, MBAR);
    assert_int_equal(D.common.off, COMMON_OFF);
    assert_int_equal(D.notify.off, NOTIFY_OFF);
    assert_int_equal(D.notify.len, 0x1000);
    assert_int_equal(D.notify_mult, MULT);
    assert_int_equal(D.isr.off, ISR_OFF);
    assert_int_equal(D.devcfg.off, DEVCFG_OFF);
    assert_int_equal(D.devcfg.len, sizeof(F.devcfg));
    assert_int_equal(D.pci_cfg_cap, 0x98);
    assert_int_equal(D.msix_cap, 0x40);
    assert_int_equal(D.msix_size, 4);
    assert_false(D.msix_enabled);
    assert_int_equal(F.nlog, 0); /* probing writes nothing */

    /* No device config is fine for a device without one. */
    F.cfg[0x78 + PCI_CAP_LIST_NEXT] = 0;
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
    assert_true(D.modern);
    assert_int_equal(D.devcfg.bar, -1);
}

static void test_probe_transitional_and_forced(void **state)
{
    (void)state;
    fake_reset(0x1001, 2);
    fake_modern_caps();
    fake_legacy_bar0();
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
    assert_true(D.modern);
    assert_int_equal(D.virtio_type, 2); /* from the subsystem ID */
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, true), 0);
    assert_false(D.modern);
    assert_int_equal(D.virtio_type, 2);
    assert_int_equal(D.msix_cap, 0x40); /* still found: legacy uses it too */

    /* Forced legacy needs an I/O BAR0. */
    le_put(F.cfg + PCI_BASE_ADDRESS_0, 0xfe000000, 4);
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, true), -ENODEV);

    /* A modern-only ID has no legacy interface to force. */
    fake_reset(0x1042, 0);
    fake_modern_caps();
    fake_legacy_bar0();
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, true), -ENODEV);
}

static void test_probe_legacy_only(void **state)
{
    (void)state;
    fake_reset(0x1000, 1);
    fake_legacy_bar0();
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
    assert_false(D.modern);
    assert_int_equal(D.virtio_type, 1);
    assert_int_equal(D.msix_cap, 0);

    /* Half a modern interface (common only) is broken, not legacy. */
    le_put(F.cfg + PCI_STATUS, PCI_STATUS_CAP_LIST, 2);
    F.cfg[PCI_CAPABILITY_LIST] = 0x50;
    put_vcap(0x50, 0, VIRTIO_PCI_CAP_COMMON_CFG, MBAR, 0, 0x38, 16);
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), -ENODEV);
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, true), 0);
    assert_false(D.modern);
}

static void test_probe_not_virtio(void **state)
{
    (void)state;
    static const uint16_t ids[][3] = {
        { 0x8086, 0x1041, 1 }, { 0x1af4, 0x0fff, 1 }, { 0x1af4, 0x1080, 1 },
        { 0x1af4, 0x1040, 0 }, /* type 0 is reserved */
        { 0x1af4, 0x1003, 0 }, /* transitional with no subsystem type */
    };
    for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        fake_reset(ids[i][1], ids[i][2]);
        le_put(F.cfg + PCI_VENDOR_ID, ids[i][0], 2);
        fake_modern_caps();
        fake_legacy_bar0();
        assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), -ENODEV);
    }
    /* Edges of the range are virtio. */
    fake_reset(0x107f, 0);
    fake_modern_caps();
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
    assert_int_equal(D.virtio_type, 0x3f);
}

static void test_probe_cap_loops(void **state)
{
    (void)state;
    /* A cap pointing at itself, then a two-cap cycle: probe must end. */
    for (unsigned variant = 0; variant < 3; variant++) {
        fake_reset(0x1041, 0);
        fake_modern_caps();
        if (variant == 0)
            F.cfg[0x98 + PCI_CAP_LIST_NEXT] = 0x98;
        else if (variant == 1)
            F.cfg[0x98 + PCI_CAP_LIST_NEXT] = 0x40;
        else
            F.cfg[0x98 + PCI_CAP_LIST_NEXT] = 0x9b; /* low bits masked: itself */
        F.cfg_reads = 0;
        assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
        assert_true(D.modern);
        assert_true(F.cfg_reads < 48 * 12);
        /* First cap of each type wins even when the loop revisits it. */
        assert_int_equal(D.common.off, COMMON_OFF);
    }
    /* Reserved low pointer bits are masked (PCI), not followed. */
    fake_reset(0x1041, 0);
    fake_modern_caps();
    F.cfg[PCI_CAPABILITY_LIST] = 0x42;
    F.cfg[0x40 + PCI_CAP_LIST_NEXT] = 0x53;
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
    assert_int_equal(D.msix_cap, 0x40);
    assert_int_equal(D.notify.off, NOTIFY_OFF);
    /* A pointer into the header ends the walk. */
    fake_reset(0x1041, 0);
    fake_modern_caps();
    F.cfg[0x50 + PCI_CAP_LIST_NEXT] = 0x10;
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), -ENODEV);
    assert_int_equal(D.common.bar, MBAR);
    assert_int_equal(D.notify.bar, -1);
}

static void test_probe_first_usable_cap_wins(void **state)
{
    (void)state;
    fake_reset(0x1041, 0);
    fake_modern_caps();
    /* Insert before the real ones: a common cfg in a reserved BAR, one too
     * short, and a notify cap whose cap_len has no room for the multiplier. */
    F.cfg[PCI_CAPABILITY_LIST] = 0xb0;
    put_vcap(0xb0, 0xc0, VIRTIO_PCI_CAP_COMMON_CFG, 7, 0x100, 0x38, 16);
    put_vcap(0xc0, 0xd0, VIRTIO_PCI_CAP_COMMON_CFG, MBAR, 0x200, 0x10, 16);
    put_vcap(0xd0, 0xe0, VIRTIO_PCI_CAP_NOTIFY_CFG, MBAR, 0x300, 0x100, 16);
    put_vcap(0xe0, 0x40, VIRTIO_PCI_CAP_ISR_CFG, 2, 0x44, 4, 16); /* usable: wins */
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
    assert_int_equal(D.common.off, COMMON_OFF);
    assert_int_equal(D.notify.off, NOTIFY_OFF);
    assert_int_equal(D.isr.bar, 2);
    assert_int_equal(D.isr.off, 0x44);
}

/* ---- status and features ---- */

static void probe_modern(void)
{
    fake_reset(0x1041, 0);
    fake_modern_caps();
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, false), 0);
}

static void probe_legacy(bool with_msix)
{
    fake_reset(0x1001, 1);
    if (with_msix)
        fake_modern_caps();
    fake_legacy_bar0();
    assert_int_equal(vdrv_pci_probe(&D, &fake_io, with_msix), 0);
    assert_false(D.modern);
}

static void test_reset_waits_for_zero(void **state)
{
    (void)state;
    probe_modern();
    F.status = 0x0f;
    F.reset_reads = 5;
    vdrv_reset(&D);
    assert_int_equal(F.reset_reads, 0);
    assert_int_equal(vdrv_get_status(&D), 0);
    /* A device that never finishes does not hang the driver. */
    F.reset_reads = ~0u;
    vdrv_reset(&D);
    assert_true(F.reset_reads > 0);

    probe_legacy(false);
    F.status = 7;
    vdrv_reset(&D);
    assert_int_equal(F.status, 0);
    vdrv_add_status(&D, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    vdrv_add_status(&D, VIRTIO_CONFIG_S_DRIVER);
    assert_int_equal(F.status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

static const struct access *find(bool w, int bar, uint64_t off, unsigned from)
{
    for (unsigned i = from; i < F.nlog; i++)
        if (F.log[i].write == w && F.log[i].bar == bar && F.log[i].off == off)
            return &F.log[i];
    return NULL;
}

static void test_negotiate_modern(void **state)
{
    (void)state;
    probe_modern();
    F.dev_features[0] = (1u << 5) | (1u << VIRTIO_RING_F_EVENT_IDX);
    F.dev_features[1] = 1u << (VIRTIO_F_VERSION_1 - 32);
    assert_int_equal(vdrv_device_features(&D),
                     (1ull << VIRTIO_F_VERSION_1) | (1u << 5) | (1u << VIRTIO_RING_F_EVENT_IDX));
    F.nlog = 0;
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1u << 5) | (1ull << 40);
    assert_int_equal(vdrv_negotiate(&D, want), 0);
    assert_int_equal(D.features, (1ull << VIRTIO_F_VERSION_1) | (1u << 5));
    assert_int_equal(F.drv_features[0], 1u << 5);
    assert_int_equal(F.drv_features[1], 1u << (VIRTIO_F_VERSION_1 - 32));
    assert_true(F.status & VIRTIO_CONFIG_S_FEATURES_OK);
    /* Sequence: both feature words before FEATURES_OK, then a re-read. */
    const struct access *gf_hi = NULL;
    for (unsigned i = 0; i < F.nlog; i++)
        if (F.log[i].write && F.log[i].off == VIRTIO_PCI_COMMON_GFSELECT && F.log[i].val == 1)
            gf_hi = find(true, MBAR, VIRTIO_PCI_COMMON_GF, i);
    assert_non_null(gf_hi);
    const struct access *ok = find(true, MBAR, VIRTIO_PCI_COMMON_STATUS, 0);
    assert_non_null(ok);
    assert_true(ok > gf_hi);
    assert_non_null(find(false, MBAR, VIRTIO_PCI_COMMON_STATUS, (unsigned)(ok - F.log)));

    /* The device refusing FEATURES_OK, and a device without VERSION_1. */
    probe_modern();
    F.dev_features[1] = 1u << (VIRTIO_F_VERSION_1 - 32);
    F.refuse_features_ok = true;
    assert_int_equal(vdrv_negotiate(&D, ~0ull), -EIO);
    probe_modern();
    F.dev_features[0] = 1u << 5;
    assert_int_equal(vdrv_negotiate(&D, ~0ull), -EIO);
    assert_false(F.status & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void test_negotiate_legacy(void **state)
{
    (void)state;
    probe_legacy(false);
    F.dev_features[0] = 0x80000021u;
    assert_int_equal(vdrv_device_features(&D), 0x80000021u);
    assert_int_equal(vdrv_negotiate(&D, 0x1ffffffffull), 0);
    assert_int_equal(D.features, 0x80000021u);
    assert_int_equal(F.drv_features[0], 0x80000021u);
    assert_null(find(true, 0, VIRTIO_PCI_STATUS, 0)); /* no FEATURES_OK in legacy */
}

/* ---- queues, notify ---- */

static uint8_t ring[3 * 4096] __attribute__((aligned(4096)));
static void *tokens[256];
static uint16_t chain_len[256];

static void test_queue_setup_modern(void **state)
{
    (void)state;
    probe_modern();
    struct vdrv_vq vq;
    F.qnoff[2] = 7;
    F.nlog = 0;
    assert_int_equal(vdrv_setup_queue(&D, 2, &vq, 64, ring, 0x7000000, tokens, chain_len, 1), 0);
    assert_int_equal(vq.size, 64);
    assert_int_equal(F.qsize[2], 64);
    assert_int_equal(F.qaddr[2][0], 0x7000000);
    assert_int_equal(F.qaddr[2][1], vq.avail_pa);
    assert_int_equal(F.qaddr[2][2], vq.used_pa);
    assert_int_equal(F.qvec[2], 1);
    assert_int_equal(F.qenable[2], 1);
    /* Enable comes last. */
    const struct access *en = find(true, MBAR, VIRTIO_PCI_COMMON_Q_ENABLE, 0);
    assert_int_equal(en - F.log, F.nlog - 1);

    F.nlog = 0;
    vdrv_notify(&D, 2);
    assert_int_equal(F.nlog, 1); /* one write, nothing re-read */
    assert_true(F.log[0].write);
    assert_int_equal(F.log[0].bar, MBAR);
    assert_int_equal(F.log[0].off, NOTIFY_OFF + 7 * MULT);
    assert_int_equal(F.log[0].val, 2);
    assert_int_equal(F.log[0].len, 2);

    /* Odd device maximum: rounded down to a power of two. */
    F.qsize[0] = 100;
    assert_int_equal(vdrv_setup_queue(&D, 0, &vq, 256, ring, 0x7000000, tokens, chain_len,
                                      VIRTIO_MSI_NO_VECTOR), 0);
    assert_int_equal(vq.size, 64);
    /* No such queue; queue size 0; a vector the device refuses; a notify
     * offset outside the notify capability. */
    assert_int_equal(vdrv_setup_queue(&D, NQ, &vq, 64, ring, 0, tokens, chain_len, 0), -ENOENT);
    F.qsize[1] = 0;
    assert_int_equal(vdrv_queue_max(&D, 1), -ENOENT);
    F.qsize[1] = 16;
    assert_int_equal(vdrv_queue_max(&D, 1), 16);
    assert_int_equal(vdrv_setup_queue(&D, 1, &vq, 16, ring, 0, tokens, chain_len, 9), -EIO);
    assert_int_equal(F.qenable[1], 0);
    F.qnoff[1] = 0x400; /* 0x400 * 4 = the cap's length: no room */
    assert_int_equal(vdrv_setup_queue(&D, 1, &vq, 16, ring, 0, tokens, chain_len, 0), -EIO);
    assert_int_equal(F.qenable[1], 0);
}

static void test_queue_setup_legacy(void **state)
{
    (void)state;
    probe_legacy(false);
    struct vdrv_vq vq;
    F.qmax[1] = 128;
    assert_int_equal(vdrv_setup_queue(&D, 1, &vq, 64, ring, 0x5000000, tokens, chain_len, 0),
                     -ENOSPC); /* the device's 128 does not fit our 64 */
    assert_int_equal(vdrv_setup_queue(&D, 1, &vq, 128, ring, 0x5000800, tokens, chain_len, 0),
                     -EINVAL); /* PFN needs 4 KiB alignment */
    F.nlog = 0;
    assert_int_equal(vdrv_setup_queue(&D, 1, &vq, 256, ring, 0x5000000, tokens, chain_len, 0), 0);
    assert_int_equal(vq.size, 128);
    assert_int_equal(F.pfn[1], 0x5000);
    assert_int_equal(vq.used_pa % 4096, 0); /* legacy layout */
    assert_int_equal(vq.used_pa, 0x5000000 + vring_size(128, 4096) - (6 + 8 * 128));
    /* Without MSI-X the vector register does not exist: not written. */
    assert_null(find(true, 0, VIRTIO_MSI_QUEUE_VECTOR, 0));

    F.nlog = 0;
    vdrv_notify(&D, 1);
    assert_int_equal(F.nlog, 1);
    assert_int_equal(F.log[0].off, VIRTIO_PCI_QUEUE_NOTIFY);
    assert_int_equal(F.log[0].val, 1);
    assert_int_equal(F.log[0].len, 2);
}

/* ---- packed queues ---- */

static struct vdrv_pvq_id pk_ids[256];

static unsigned pos_of(const struct access *a)
{
    return a ? (unsigned)(a - F.log) : ~0u;
}

static void test_negotiate_ring_choice(void **state)
{
    (void)state;
    uint64_t packed = 1ull << VIRTIO_F_RING_PACKED;
    /* "Everything" from vdrv_negotiate still means a split ring. */
    probe_modern();
    F.dev_features[0] = 1u << VIRTIO_RING_F_EVENT_IDX;
    F.dev_features[1] = (uint32_t)(((1ull << VIRTIO_F_VERSION_1) | packed) >> 32);
    assert_int_equal(vdrv_negotiate(&D, ~0ull), 0);
    assert_false(F.drv_features[1] & (uint32_t)(packed >> 32));
    assert_false(vdrv_ring_packed(&D));
    /* Asked for and offered: accepted. */
    assert_int_equal(vdrv_negotiate_ring(&D, ~0ull, true), 0);
    assert_true(F.drv_features[1] & (uint32_t)(packed >> 32));
    assert_true(vdrv_ring_packed(&D));
    /* packed true is permission, not a demand: wanted must still hold it. */
    assert_int_equal(vdrv_negotiate_ring(&D, ~packed, true), 0);
    assert_false(vdrv_ring_packed(&D));
    /* Not offered: split it is. */
    F.dev_features[1] = (uint32_t)((1ull << VIRTIO_F_VERSION_1) >> 32);
    assert_int_equal(vdrv_negotiate_ring(&D, ~0ull, true), 0);
    assert_false(vdrv_ring_packed(&D));
    /* Legacy has 32 feature bits, so bit 34 can never be offered there, even
     * by a device offering every bit it has. */
    probe_legacy(false);
    F.dev_features[0] = ~0u;
    assert_int_equal(vdrv_negotiate_ring(&D, ~0ull, true), 0);
    assert_false(vdrv_ring_packed(&D));
    struct vdrv_pvq pvq;
    assert_int_equal(vdrv_setup_queue_packed(&D, 0, &pvq, 16, ring, 0x9000, pk_ids, 0), -EINVAL);
}

static void negotiate_packed(bool event_idx)
{
    probe_modern();
    F.dev_features[0] = event_idx ? 1u << VIRTIO_RING_F_EVENT_IDX : 0;
    F.dev_features[1] =
        (uint32_t)(((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_PACKED)) >> 32);
    assert_int_equal(vdrv_negotiate_ring(&D, ~0ull, true), 0);
    assert_true(vdrv_ring_packed(&D));
}

static void test_queue_setup_packed(void **state)
{
    (void)state;
    struct vdrv_pvq pvq;
    struct vdrv_vq vq;
    uint64_t pa = (uintptr_t)ring;

    /* Without RING_PACKED negotiated: refused before touching the device. */
    probe_modern();
    F.dev_features[1] = (uint32_t)((1ull << VIRTIO_F_VERSION_1) >> 32);
    assert_int_equal(vdrv_negotiate_ring(&D, ~0ull, true), 0);
    F.nlog = 0;
    assert_int_equal(vdrv_setup_queue_packed(&D, 0, &pvq, 16, ring, pa, pk_ids, 0), -EINVAL);
    assert_int_equal(F.nlog, 0);

    negotiate_packed(true);
    /* The split setup would hand a packed device a split ring. */
    F.nlog = 0;
    assert_int_equal(vdrv_setup_queue(&D, 0, &vq, 16, ring, pa, tokens, chain_len, 0), -EINVAL);
    assert_int_equal(F.nlog, 0);

    /* Any size up to the maximum: 100 stays 100. */
    F.qnoff[2] = 5;
    F.nlog = 0;
    assert_int_equal(vdrv_setup_queue_packed(&D, 2, &pvq, 100, ring, pa, pk_ids, 1), 0);
    assert_int_equal(pvq.size, 100);
    assert_int_equal(F.qsize[2], 100);
    assert_true(pvq.event_idx);
    assert_false(pvq.in_order);
    /* Descriptor ring, then the driver's event area, then the device's. */
    assert_int_equal(F.qaddr[2][0], pa);
    assert_int_equal(F.qaddr[2][1], pa + 16 * 100);
    assert_int_equal(F.qaddr[2][2], pa + 16 * 100 + 4);
    assert_int_equal(F.qvec[2], 1);
    assert_int_equal(F.qenable[2], 1);
    /* Select, size, addresses, vector, enable: in that order, enable last. */
    unsigned sel = pos_of(find(true, MBAR, VIRTIO_PCI_COMMON_Q_SELECT, 0));
    unsigned size = pos_of(find(true, MBAR, VIRTIO_PCI_COMMON_Q_SIZE, 0));
    unsigned desc_hi = pos_of(find(true, MBAR, VIRTIO_PCI_COMMON_Q_DESCHI, 0));
    unsigned used_hi = pos_of(find(true, MBAR, VIRTIO_PCI_COMMON_Q_USEDHI, 0));
    unsigned vec = pos_of(find(true, MBAR, VIRTIO_PCI_COMMON_Q_MSIX, 0));
    assert_true(sel < size && size < desc_hi && desc_hi < used_hi && used_hi < vec);
    assert_int_equal(pos_of(find(true, MBAR, VIRTIO_PCI_COMMON_Q_ENABLE, 0)), F.nlog - 1);

    /* The registers name the areas the queue really uses: a buffer shows up
     * at the descriptor address, and the device's word at the device address
     * governs kicks. */
    struct vdrv_sg sg = { 0x123000, 64 };
    static char tok[2];
    assert_int_equal(vdrv_pvq_add(&pvq, &sg, 0, 1, &tok[0]), 0);
    const struct vring_packed_desc *desc = (const void *)(uintptr_t)F.qaddr[2][0];
    assert_int_equal(desc[0].addr, 0x123000);
    assert_true(desc[0].flags & (1u << VRING_PACKED_DESC_F_AVAIL));
    struct vring_packed_desc_event *dev_ev = (void *)(uintptr_t)F.qaddr[2][2];
    dev_ev->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
    assert_false(vdrv_pvq_kick_prepare(&pvq));
    assert_int_equal(vdrv_pvq_add(&pvq, &sg, 0, 1, &tok[1]), 0);
    dev_ev->flags = VRING_PACKED_EVENT_FLAG_ENABLE;
    assert_true(vdrv_pvq_kick_prepare(&pvq));
    const struct vring_packed_desc_event *drv_ev = (const void *)(uintptr_t)F.qaddr[2][1];
    vdrv_pvq_disable_cb(&pvq);
    assert_int_equal(drv_ev->flags, VRING_PACKED_EVENT_FLAG_DISABLE);

    F.nlog = 0;
    vdrv_notify(&D, 2);
    assert_int_equal(F.nlog, 1);
    assert_int_equal(F.log[0].off, NOTIFY_OFF + 5 * MULT);
    assert_int_equal(F.log[0].val, 2);

    /* A device maximum below the wish wins, odd or not; no event idx. */
    negotiate_packed(false);
    F.qsize[0] = 7;
    assert_int_equal(vdrv_setup_queue_packed(&D, 0, &pvq, 64, ring, pa, pk_ids,
                                             VIRTIO_MSI_NO_VECTOR), 0);
    assert_int_equal(pvq.size, 7);
    assert_int_equal(F.qsize[0], 7);
    assert_false(pvq.event_idx);
    assert_int_equal(F.qaddr[0][1], pa + 16 * 7);
    /* Misaligned ring, no such queue, size 0, a refused vector, a doorbell
     * outside the notify cap: errors, and the queue is never enabled. */
    F.nlog = 0;
    assert_int_equal(vdrv_setup_queue_packed(&D, 1, &pvq, 16, ring + 4, pa + 4, pk_ids, 0),
                     -EINVAL);
    assert_int_equal(vdrv_setup_queue_packed(&D, 1, &pvq, 0, ring, pa, pk_ids, 0), -EINVAL);
    assert_int_equal(F.nlog, 0);
    assert_int_equal(vdrv_setup_queue_packed(&D, NQ, &pvq, 16, ring, pa, pk_ids, 0), -ENOENT);
    assert_int_equal(vdrv_setup_queue_packed(&D, 1, &pvq, 16, ring, pa, pk_ids, 9), -EIO);
    assert_int_equal(F.qenable[1], 0);
    F.qnoff[1] = 0x400;
    assert_int_equal(vdrv_setup_queue_packed(&D, 1, &pvq, 16, ring, pa, pk_ids, 0), -EIO);
    assert_int_equal(F.qenable[1], 0);
}

/* ---- MSI-X, legacy config shift ---- */

static void test_msix_enable(void **state)
{
    (void)state;
    probe_modern();
    assert_int_equal(vdrv_set_config_vector(&D, 0), -ENODEV); /* MSI-X off */
    le_put(F.cfg + 0x42, 3 | PCI_MSIX_FLAGS_MASKALL, 2);
    memset(F.msix, 0xff, sizeof(F.msix));
    assert_int_equal(vdrv_msix_enable(&D, 0xfee01000, 0x40), 0);
    for (unsigned v = 0; v < 4; v++) {
        assert_int_equal(le_get(F.msix + 16 * v + PCI_MSIX_ENTRY_LOWER_ADDR, 4), 0xfee01000);
        assert_int_equal(le_get(F.msix + 16 * v + PCI_MSIX_ENTRY_UPPER_ADDR, 4), 0);
        assert_int_equal(le_get(F.msix + 16 * v + PCI_MSIX_ENTRY_DATA, 4), 0x40 + v);
        assert_int_equal(le_get(F.msix + 16 * v + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 0);
    }
    assert_int_equal(le_get(F.msix + 16 * 4, 4), 0xffffffff); /* past the table: untouched */
    uint16_t ctrl = (uint16_t)le_get(F.cfg + 0x42, 2);
    assert_true(ctrl & PCI_MSIX_FLAGS_ENABLE);
    assert_false(ctrl & PCI_MSIX_FLAGS_MASKALL);
    assert_true(D.msix_enabled);
    assert_int_equal(vdrv_set_config_vector(&D, 3), 0);
    assert_int_equal(F.config_vec, 3);
    assert_int_equal(vdrv_set_config_vector(&D, 4), -EIO); /* device has 4 */

    probe_legacy(false);
    assert_int_equal(vdrv_msix_enable(&D, 0xfee00000, 0), -ENODEV);
}

static void test_legacy_config_shift(void **state)
{
    (void)state;
    probe_legacy(true);
    for (unsigned i = 0; i < sizeof(F.leg_cfg); i++)
        F.leg_cfg[i] = (uint8_t)(0x10 + i);
    uint8_t buf[6];
    vdrv_config_read(&D, 0, buf, 6);
    assert_non_null(find(false, 0, 20, 0)); /* MSI-X off: config at 20 */
    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(buf[i], 0x10 + i);

    assert_int_equal(vdrv_msix_enable(&D, 0xfee00000, 0), 0);
    F.nlog = 0;
    vdrv_config_read(&D, 2, buf, 4);
    assert_non_null(find(false, 0, 24 + 2, 0)); /* now at 24 */
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(buf[i], 0x12 + i);
    assert_int_equal(vdrv_set_config_vector(&D, 2), 0);
    assert_int_equal(F.config_vec, 2);

    struct vdrv_vq vq;
    F.qmax[0] = 16;
    assert_int_equal(vdrv_setup_queue(&D, 0, &vq, 16, ring, 0x9000, tokens, chain_len, 1), 0);
    assert_int_equal(F.qvec[0], 1);
    assert_int_equal(vdrv_setup_queue(&D, 0, &vq, 16, ring, 0x9000, tokens, chain_len, 7), -EIO);
    assert_int_equal(F.pfn[0], 0); /* queue given back on failure */

    uint8_t w[3] = { 0xaa, 0xbb, 0xcc };
    vdrv_config_write(&D, 5, w, 3);
    assert_memory_equal(F.leg_cfg + 5, w, 3);
}

/* ---- modern config, ISR ---- */

static void test_config_modern(void **state)
{
    (void)state;
    probe_modern();
    for (unsigned i = 0; i < sizeof(F.devcfg); i++)
        F.devcfg[i] = (uint8_t)i;
    uint8_t buf[8];
    F.nlog = 0;
    vdrv_config_read(&D, 8, buf, 8);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(buf[i], 8 + i);
    /* A 64-bit field: two aligned dwords, between two generation reads. */
    assert_int_equal(F.nlog, 4);
    assert_int_equal(F.log[1].len, 4);
    assert_int_equal(F.log[2].off, DEVCFG_OFF + 12);

    /* Natural widths for unaligned pieces. */
    F.nlog = 0;
    vdrv_config_read(&D, 1, buf, 3);
    assert_int_equal(F.log[1].len, 1);
    assert_int_equal(F.log[2].len, 2);
    assert_int_equal(buf[0], 1);
    assert_int_equal(buf[2], 3);

    /* The device changes config mid-read: the driver re-reads until the
     * generation holds, and so returns the new value. */
    F.gen_bumps = 3;
    vdrv_config_read(&D, 0, buf, 4);
    assert_int_equal(F.gen_bumps, 0);
    assert_int_equal(buf[0], 3);
    /* Forever changing: bounded. */
    F.gen_bumps = ~0u;
    vdrv_config_read(&D, 0, buf, 4);
    assert_true(F.gen_bumps > 0);
    F.gen_bumps = 0;

    /* Outside the window: zeros, no access. */
    memset(buf, 0x55, sizeof(buf));
    F.nlog = 0;
    vdrv_config_read(&D, sizeof(F.devcfg) - 2, buf, 4);
    assert_int_equal(F.nlog, 0);
    assert_int_equal(buf[0] | buf[3], 0);

    uint8_t w[4] = { 1, 2, 3, 4 };
    vdrv_config_write(&D, 4, w, 4);
    assert_memory_equal(F.devcfg + 4, w, 4);

    F.isr = 3;
    assert_int_equal(vdrv_read_isr(&D), 3);
    assert_int_equal(vdrv_read_isr(&D), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_modern),
        cmocka_unit_test(test_probe_transitional_and_forced),
        cmocka_unit_test(test_probe_legacy_only),
        cmocka_unit_test(test_probe_not_virtio),
        cmocka_unit_test(test_probe_cap_loops),
        cmocka_unit_test(test_probe_first_usable_cap_wins),
        cmocka_unit_test(test_reset_waits_for_zero),
        cmocka_unit_test(test_negotiate_modern),
        cmocka_unit_test(test_negotiate_legacy),
        cmocka_unit_test(test_queue_setup_modern),
        cmocka_unit_test(test_queue_setup_legacy),
        cmocka_unit_test(test_negotiate_ring_choice),
        cmocka_unit_test(test_queue_setup_packed),
        cmocka_unit_test(test_msix_enable),
        cmocka_unit_test(test_legacy_config_shift),
        cmocka_unit_test(test_config_modern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
