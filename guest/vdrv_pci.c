/* virtio-pci, driver side: capability discovery, legacy fallback, status,
 * features, MSI-X and queue setup over struct vdrv_io. Freestanding.
 *
 * The device is not trusted to be sane: capability pointers, lengths, queue
 * sizes and notify offsets are all checked before use, and every polling
 * loop is bounded. */
#include "guest/vdrv_pci.h"

#include <asm-generic/errno-base.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "common/kick_barrier.h"

#include "guest/vdrv_pci_internal.h"

static void region_clear(struct vdrv_region *r)
{
    r->bar = -1;
    r->off = 0;
    r->len = 0;
}

/* ---- probe ---- */

struct cap_scan {
    bool any_modern; /* any common/notify/isr/device cap seen */
};

static void take_region(struct vdrv_region *r, uint8_t bar, uint32_t off, uint32_t len)
{
    r->bar = bar;
    r->off = off;
    r->len = len;
}

static void scan_vendor_cap(struct vdrv_dev *d, uint8_t pos, struct cap_scan *scan)
{
    uint8_t cap_len = (uint8_t)cfg_rd(d, pos + VIRTIO_PCI_CAP_LEN, 1);
    uint8_t type = (uint8_t)cfg_rd(d, pos + VIRTIO_PCI_CAP_CFG_TYPE, 1);
    uint8_t bar = (uint8_t)cfg_rd(d, pos + VIRTIO_PCI_CAP_BAR, 1);

    if (cap_len < sizeof(struct virtio_pci_cap) || pos + cap_len > PCI_CFG_SPACE_SIZE)
        return;
    if (type == VIRTIO_PCI_CAP_PCI_CFG) {
        if (!d->pci_cfg_cap && cap_len >= sizeof(struct virtio_pci_cfg_cap))
            d->pci_cfg_cap = pos;
        return;
    }
    if (type < VIRTIO_PCI_CAP_COMMON_CFG || type > VIRTIO_PCI_CAP_DEVICE_CFG)
        return; /* shared memory and vendor extensions: not ours */
    scan->any_modern = true;
    /* Spec: a reserved BAR value means the driver ignores the structure;
     * the first usable one of each type wins. */
    if (bar >= PCI_BAR_COUNT)
        return;
    uint32_t off = cfg_rd(d, pos + VIRTIO_PCI_CAP_OFFSET, 4);
    uint32_t len = cfg_rd(d, pos + VIRTIO_PCI_CAP_LENGTH, 4);
    if ((uint64_t)off + len > UINT32_MAX)
        return;

    switch (type) {
    case VIRTIO_PCI_CAP_COMMON_CFG:
        if (d->common.bar < 0 && len >= COMMON_CFG_MIN_LEN)
            take_region(&d->common, bar, off, len);
        break;
    case VIRTIO_PCI_CAP_NOTIFY_CFG:
        if (d->notify.bar < 0 && len >= 2 &&
            cap_len >= sizeof(struct virtio_pci_notify_cap)) {
            take_region(&d->notify, bar, off, len);
            d->notify_mult = cfg_rd(d, pos + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
        }
        break;
    case VIRTIO_PCI_CAP_ISR_CFG:
        if (d->isr.bar < 0 && len >= 1)
            take_region(&d->isr, bar, off, len);
        break;
    case VIRTIO_PCI_CAP_DEVICE_CFG:
        if (d->devcfg.bar < 0)
            take_region(&d->devcfg, bar, off, len);
        break;
    }
}

static void scan_caps(struct vdrv_dev *d, struct cap_scan *scan)
{
    if (!(cfg_rd(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
        return;
    uint8_t pos = (uint8_t)cfg_rd(d, PCI_CAPABILITY_LIST, 1);
    /* The low two bits are reserved: PCI says software masks them. A pointer
     * back into the header ends the list; the count bounds a cycle. */
    for (unsigned n = 0; n < PCI_CAP_MAX; n++) {
        pos &= (uint8_t)~3u;
        if (pos < PCI_STD_HEADER_END)
            return;
        uint8_t id = (uint8_t)cfg_rd(d, pos + PCI_CAP_LIST_ID, 1);
        uint8_t next = (uint8_t)cfg_rd(d, pos + PCI_CAP_LIST_NEXT, 1);
        if (id == PCI_CAP_ID_VNDR) {
            scan_vendor_cap(d, pos, scan);
        } else if (id == PCI_CAP_ID_MSIX && !d->msix_cap) {
            uint16_t ctrl = (uint16_t)cfg_rd(d, pos + PCI_MSIX_FLAGS, 2);
            d->msix_cap = pos;
            d->msix_size = (uint16_t)((ctrl & PCI_MSIX_FLAGS_QSIZE) + 1u);
            d->msix_enabled = (ctrl & PCI_MSIX_FLAGS_ENABLE) != 0;
        }
        pos = next;
    }
}

int vdrv_pci_probe(struct vdrv_dev *d, const struct vdrv_io *io, bool force_legacy)
{
    d->io = io;
    d->virtio_type = 0;
    d->modern = false;
    region_clear(&d->common);
    region_clear(&d->isr);
    region_clear(&d->devcfg);
    region_clear(&d->notify);
    d->notify_mult = 0;
    d->pci_cfg_cap = 0;
    d->msix_cap = 0;
    d->msix_size = 0;
    d->msix_enabled = false;
    d->features = 0;
    for (unsigned q = 0; q < VDRV_NOTIFY_CACHE; q++)
        d->queue_notify_off[q] = VDRV_NOTIFY_UNKNOWN;

    d->vendor = (uint16_t)cfg_rd(d, PCI_VENDOR_ID, 2);
    d->device = (uint16_t)cfg_rd(d, PCI_DEVICE_ID, 2);
    d->revision = (uint8_t)cfg_rd(d, PCI_REVISION_ID, 1);
    d->subsys_vendor = (uint16_t)cfg_rd(d, PCI_SUBSYSTEM_VENDOR_ID, 2);
    d->subsys = (uint16_t)cfg_rd(d, PCI_SUBSYSTEM_ID, 2);
    if (d->vendor != VIRTIO_PCI_VENDOR || d->device < VIRTIO_PCI_DEVICE_FIRST ||
        d->device > VIRTIO_PCI_DEVICE_LAST)
        return -ENODEV;

    bool transitional = d->device < VIRTIO_PCI_DEVICE_MODERN;
    /* Transitional IDs say little; the subsystem ID carries the type. */
    d->virtio_type = transitional ? d->subsys : (uint16_t)(d->device - VIRTIO_PCI_DEVICE_MODERN);
    if (d->virtio_type == 0)
        return -ENODEV; /* type 0 is reserved */

    struct cap_scan scan = { .any_modern = false };
    scan_caps(d, &scan);

    bool modern_ok = d->common.bar >= 0 && d->notify.bar >= 0 && d->isr.bar >= 0;
    if (modern_ok && !force_legacy) {
        d->modern = true;
        return 0;
    }
    /* Only transitional IDs have a legacy BAR0, and only an I/O BAR0 is it.
     * A device with half a modern interface is broken, not legacy. */
    if (!transitional || (scan.any_modern && !force_legacy))
        return -ENODEV;
    if (!(cfg_rd(d, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_SPACE_IO))
        return -ENODEV;
    region_clear(&d->common);
    region_clear(&d->isr);
    region_clear(&d->devcfg);
    region_clear(&d->notify);
    d->notify_mult = 0;
    take_region(&d->common, 0, 0, VIRTIO_PCI_CONFIG_OFF(false));
    take_region(&d->isr, 0, VIRTIO_PCI_ISR, 1);
    take_region(&d->notify, 0, VIRTIO_PCI_QUEUE_NOTIFY, 2);
    take_region(&d->devcfg, 0, VIRTIO_PCI_CONFIG_OFF(d->msix_enabled), 0);
    return 0;
}

/* ---- status, features ---- */

uint8_t vdrv_get_status(struct vdrv_dev *d)
{
    if (d->modern)
        return (uint8_t)reg_rd(d, &d->common, VIRTIO_PCI_COMMON_STATUS, 1);
    return (uint8_t)leg_rd(d, VIRTIO_PCI_STATUS, 1);
}

static void set_status(struct vdrv_dev *d, uint8_t status)
{
    if (d->modern)
        reg_wr(d, &d->common, VIRTIO_PCI_COMMON_STATUS, status, 1);
    else
        leg_wr(d, VIRTIO_PCI_STATUS, status, 1);
}

void vdrv_reset(struct vdrv_dev *d)
{
    set_status(d, 0);
    if (!d->modern)
        return;
    /* Spec: reset completes when the device reads back 0. A device that
     * never gets there is left to the caller's status checks. */
    for (unsigned n = 0; n < RESET_POLL_MAX; n++)
        if (vdrv_get_status(d) == 0)
            return;
}

void vdrv_add_status(struct vdrv_dev *d, uint8_t bits)
{
    set_status(d, (uint8_t)(vdrv_get_status(d) | bits));
}

uint64_t vdrv_device_features(struct vdrv_dev *d)
{
    if (!d->modern)
        return (uint32_t)leg_rd(d, VIRTIO_PCI_HOST_FEATURES, 4);
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    uint64_t lo = (uint32_t)reg_rd(d, &d->common, VIRTIO_PCI_COMMON_DF, 4);
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    uint64_t hi = (uint32_t)reg_rd(d, &d->common, VIRTIO_PCI_COMMON_DF, 4);
    return lo | hi << 32;
}

int vdrv_negotiate(struct vdrv_dev *d, uint64_t wanted)
{
    return vdrv_negotiate_ring(d, wanted, false);
}

bool vdrv_ring_packed(const struct vdrv_dev *d)
{
    return d->modern && (d->features & (1ull << VIRTIO_F_RING_PACKED));
}

int vdrv_negotiate_ring(struct vdrv_dev *d, uint64_t wanted, bool packed)
{
    if (!packed)
        wanted &= ~(1ull << VIRTIO_F_RING_PACKED);
    uint64_t features = vdrv_device_features(d) & wanted;

    if (!d->modern) {
        leg_wr(d, VIRTIO_PCI_GUEST_FEATURES, (uint32_t)features, 4);
        d->features = (uint32_t)features;
        return 0;
    }
    /* The modern interface is a 1.x device: without VERSION_1 we would be
     * speaking legacy semantics to it. */
    if (!(features & (1ull << VIRTIO_F_VERSION_1)))
        return -EIO;
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_GF, (uint32_t)features, 4);
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    reg_wr(d, &d->common, VIRTIO_PCI_COMMON_GF, (uint32_t)(features >> 32), 4);
    vdrv_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
    if (!(vdrv_get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK))
        return -EIO;
    d->features = features;
    return 0;
}

/* ---- MSI-X ---- */

int vdrv_msix_enable(struct vdrv_dev *d, uint64_t msg_addr, uint32_t msg_data_base)
{
    if (!d->msix_cap)
        return -ENODEV;
    uint32_t table = cfg_rd(d, d->msix_cap + PCI_MSIX_TABLE, 4);
    int bir = (int)(table & PCI_MSIX_TABLE_BIR);
    uint64_t base = table & PCI_MSIX_TABLE_OFFSET;
    if (bir >= PCI_BAR_COUNT)
        return -ENODEV;

    /* Dword accesses: the only width the MSI-X table must support. */
    for (unsigned v = 0; v < d->msix_size; v++) {
        uint64_t e = base + (uint64_t)v * PCI_MSIX_ENTRY_SIZE;
        d->io->bar_write(d->io->ctx, bir, e + PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)msg_addr, 4);
        d->io->bar_write(d->io->ctx, bir, e + PCI_MSIX_ENTRY_UPPER_ADDR,
                         (uint32_t)(msg_addr >> 32), 4);
        d->io->bar_write(d->io->ctx, bir, e + PCI_MSIX_ENTRY_DATA, msg_data_base + v, 4);
        d->io->bar_write(d->io->ctx, bir, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
    }
    uint16_t ctrl = (uint16_t)cfg_rd(d, d->msix_cap + PCI_MSIX_FLAGS, 2);
    ctrl = (uint16_t)((ctrl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
    cfg_wr(d, d->msix_cap + PCI_MSIX_FLAGS, ctrl, 2);
    d->msix_enabled = true;
    if (!d->modern)
        d->devcfg.off = VIRTIO_PCI_CONFIG_OFF(true); /* vector registers now sit at 20..23 */
    return 0;
}

int vdrv_set_config_vector(struct vdrv_dev *d, uint16_t vector)
{
    uint16_t got;

    if (!d->msix_enabled)
        return -ENODEV;
    if (d->modern) {
        reg_wr(d, &d->common, VIRTIO_PCI_COMMON_MSIX, vector, 2);
        got = (uint16_t)reg_rd(d, &d->common, VIRTIO_PCI_COMMON_MSIX, 2);
    } else {
        leg_wr(d, VIRTIO_MSI_CONFIG_VECTOR, vector, 2);
        got = (uint16_t)leg_rd(d, VIRTIO_MSI_CONFIG_VECTOR, 2);
    }
    /* A device out of vectors answers NO_VECTOR. */
    return got == vector ? 0 : -EIO;
}

/* ---- queues ---- */

uint8_t vdrv_read_isr(struct vdrv_dev *d)
{
    if (d->modern)
        return (uint8_t)reg_rd(d, &d->isr, 0, 1);
    return (uint8_t)leg_rd(d, VIRTIO_PCI_ISR, 1);
}

/* ---- device config ---- */

/* Spec: fields are read at their natural width, 64-bit ones as two dwords.
 * Choosing the widest aligned access that fits gives exactly that for
 * naturally aligned fields. */
static unsigned access_width(uint32_t off, uint32_t left)
{
    if (!(off & 3) && left >= 4)
        return 4;
    if (!(off & 1) && left >= 2)
        return 2;
    return 1;
}

static void config_copy_in(struct vdrv_dev *d, uint64_t base, uint32_t off, uint8_t *buf,
                           uint32_t len)
{
    while (len) {
        unsigned w = access_width(off, len);
        uint64_t v = d->modern ? reg_rd(d, &d->devcfg, off, w) : leg_rd(d, base + off, w);
        for (unsigned b = 0; b < w; b++)
            buf[b] = (uint8_t)(v >> (8 * b));
        buf += w;
        off += w;
        len -= w;
    }
}

/* Modern: the config window's bounds. Legacy BAR0 has no stated length. */
static bool config_in_range(const struct vdrv_dev *d, uint32_t off, uint32_t len)
{
    if (!d->modern)
        return (uint64_t)off + len <= 0x10000;
    return d->devcfg.bar >= 0 && (uint64_t)off + len <= d->devcfg.len;
}

void vdrv_config_read(struct vdrv_dev *d, uint32_t off, void *buf, uint32_t len)
{
    uint8_t *out = buf;

    if (!config_in_range(d, off, len)) {
        for (uint32_t i = 0; i < len; i++)
            KICK_WRITE_ONCE(out[i], (uint8_t)0); /* not a memset call */
        return;
    }
    if (!d->modern) {
        config_copy_in(d, VIRTIO_PCI_CONFIG_OFF(d->msix_enabled), off, out, len);
        return;
    }
    /* A generation change means the device updated config mid-read: retry
     * so multi-access fields come out consistent. */
    for (unsigned tries = 0; tries < CONFIG_GEN_RETRIES; tries++) {
        uint8_t gen = (uint8_t)reg_rd(d, &d->common, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
        config_copy_in(d, 0, off, out, len);
        if ((uint8_t)reg_rd(d, &d->common, VIRTIO_PCI_COMMON_CFGGENERATION, 1) == gen)
            return;
    }
}

void vdrv_config_write(struct vdrv_dev *d, uint32_t off, const void *buf, uint32_t len)
{
    const uint8_t *in = buf;
    uint64_t base = d->modern ? 0 : VIRTIO_PCI_CONFIG_OFF(d->msix_enabled);

    if (!config_in_range(d, off, len))
        return;
    while (len) {
        unsigned w = access_width(off, len);
        uint64_t v = 0;
        for (unsigned b = 0; b < w; b++)
            v |= (uint64_t)in[b] << (8 * b);
        if (d->modern)
            reg_wr(d, &d->devcfg, off, v, w);
        else
            leg_wr(d, base + off, v, w);
        in += w;
        off += w;
        len -= w;
    }
}
