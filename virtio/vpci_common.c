/* virtio-pci modern layout: the memory BAR holding common cfg, ISR, device
 * cfg and the notify slots (offsets in vpci.h).
 *
 * Reads build the whole common cfg as the driver would see it and copy the
 * bytes asked for, so any width or alignment reads something coherent.
 * Writes are applied per register (vpci_regs_write): the spec has the driver
 * use each field's own width, and other widths are merged into the field's
 * current value rather than refused, which keeps the rules in one place.
 *
 * Rules chosen where the spec leaves the device a choice:
 * - queue_size: accepted only while the queue is disabled and the value is a
 *   power of two in 1..max (any 1..max with VIRTIO_F_RING_PACKED); anything
 *   else leaves the size as it was, so the driver reads back what is in force.
 * - ring addresses likewise only change while the queue is disabled.
 * - queue_enable: 1 enables a disabled queue; 0 (forbidden to drivers) and
 *   re-enabling are ignored.
 * - queue_reset: acts only once VIRTIO_F_RING_RESET is negotiated; the reset
 *   is synchronous, so the field always reads 0.
 * - selects/fields past the last queue: queue_size, queue_enable and the
 *   addresses read 0, queue_msix_vector reads NO_VECTOR, writes are dropped. */
#include <stddef.h>
#include <string.h>

#include <linux/virtio_pci.h>

#include "virtio/vpci_internal.h"

static const struct vpci_reg common_regs[] = {
    { VIRTIO_PCI_COMMON_DFSELECT, 4 }, { VIRTIO_PCI_COMMON_DF, 4 },
    { VIRTIO_PCI_COMMON_GFSELECT, 4 }, { VIRTIO_PCI_COMMON_GF, 4 },
    { VIRTIO_PCI_COMMON_MSIX, 2 },     { VIRTIO_PCI_COMMON_NUMQ, 2 },
    { VIRTIO_PCI_COMMON_STATUS, 1 },   { VIRTIO_PCI_COMMON_CFGGENERATION, 1 },
    { VIRTIO_PCI_COMMON_Q_SELECT, 2 }, { VIRTIO_PCI_COMMON_Q_SIZE, 2 },
    { VIRTIO_PCI_COMMON_Q_MSIX, 2 },   { VIRTIO_PCI_COMMON_Q_ENABLE, 2 },
    { VIRTIO_PCI_COMMON_Q_NOFF, 2 },   { VIRTIO_PCI_COMMON_Q_DESCLO, 4 },
    { VIRTIO_PCI_COMMON_Q_DESCHI, 4 }, { VIRTIO_PCI_COMMON_Q_AVAILLO, 4 },
    { VIRTIO_PCI_COMMON_Q_AVAILHI, 4 }, { VIRTIO_PCI_COMMON_Q_USEDLO, 4 },
    { VIRTIO_PCI_COMMON_Q_USEDHI, 4 }, { VIRTIO_PCI_COMMON_Q_NDATA, 2 },
    { VIRTIO_PCI_COMMON_Q_RESET, 2 },
};

_Static_assert(VPCI_COMMON_LEN == sizeof(struct virtio_pci_common_cfg) + 4,
               "common cfg is the 1.0 struct plus queue_notify_data and queue_reset");

/* 32-bit window sel of a 64-bit feature set; windows past 1 are empty. */
static uint32_t feature_window(uint64_t features, uint32_t sel)
{
    return sel < 2 ? (uint32_t)(features >> (32 * sel)) : 0;
}

static void common_image(struct vpci *t, uint8_t img[VPCI_COMMON_LEN])
{
    struct virtio_dev *d = t->vdev;
    struct virtq *vq = vpci_selected_vq(t);

    memset(img, 0, VPCI_COMMON_LEN);
    vpci_put32(img + VIRTIO_PCI_COMMON_DFSELECT, t->dfselect);
    vpci_put32(img + VIRTIO_PCI_COMMON_DF, feature_window(d->host_features, t->dfselect));
    vpci_put32(img + VIRTIO_PCI_COMMON_GFSELECT, t->gfselect);
    vpci_put32(img + VIRTIO_PCI_COMMON_GF, feature_window(d->guest_features, t->gfselect));
    vpci_put16(img + VIRTIO_PCI_COMMON_MSIX, t->msix_config);
    vpci_put16(img + VIRTIO_PCI_COMMON_NUMQ, (uint16_t)d->num_queues);
    img[VIRTIO_PCI_COMMON_STATUS] = vpci_dev_status(t);
    img[VIRTIO_PCI_COMMON_CFGGENERATION] = __atomic_load_n(&d->config_generation,
                                                            __ATOMIC_RELAXED);
    vpci_put16(img + VIRTIO_PCI_COMMON_Q_SELECT, t->queue_sel);
    if (!vq) {
        vpci_put16(img + VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
        return;
    }
    vpci_put16(img + VIRTIO_PCI_COMMON_Q_SIZE, vq->size);
    vpci_put16(img + VIRTIO_PCI_COMMON_Q_MSIX, t->queue_vector[t->queue_sel]);
    vpci_put16(img + VIRTIO_PCI_COMMON_Q_ENABLE, vq->ready);
    /* queue q's slot is q * VPCI_NOTIFY_MULT into the notify region. */
    vpci_put16(img + VIRTIO_PCI_COMMON_Q_NOFF, t->queue_sel);
    vpci_put32(img + VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)vq->desc_gpa);
    vpci_put32(img + VIRTIO_PCI_COMMON_Q_DESCHI, (uint32_t)(vq->desc_gpa >> 32));
    vpci_put32(img + VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)vq->avail_gpa);
    vpci_put32(img + VIRTIO_PCI_COMMON_Q_AVAILHI, (uint32_t)(vq->avail_gpa >> 32));
    vpci_put32(img + VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)vq->used_gpa);
    vpci_put32(img + VIRTIO_PCI_COMMON_Q_USEDHI, (uint32_t)(vq->used_gpa >> 32));
    vpci_put16(img + VIRTIO_PCI_COMMON_Q_NDATA, t->queue_sel);
}

static void set_half(uint64_t *addr, bool high, uint32_t val)
{
    if (high)
        *addr = (*addr & 0xffffffffull) | (uint64_t)val << 32;
    else
        *addr = (*addr & ~0xffffffffull) | val;
}

static bool queue_size_ok(const struct vpci *t, const struct virtq *vq, uint32_t size)
{
    if (size == 0 || size > vq->max_size)
        return false;
    if (virtio_dev_has_feature(t->vdev, VIRTIO_F_RING_PACKED))
        return true;
    return (size & (size - 1)) == 0;
}

/* Registers about the selected queue. */
static void common_queue_write(struct vpci *t, struct virtq *vq, unsigned reg, uint32_t val)
{
    unsigned q = t->queue_sel;

    switch (reg) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        if (!vq->ready && queue_size_ok(t, vq, val))
            vq->size = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        __atomic_store_n(&t->queue_vector[q], vpci_vector_filter(t, val), __ATOMIC_RELAXED);
        vpci_vectors_changed(t);
        break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        if (val == 1 && !vq->ready)
            virtio_dev_queue_enable(t->vdev, q);
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_DESCHI:
        if (!vq->ready)
            set_half(&vq->desc_gpa, reg == VIRTIO_PCI_COMMON_Q_DESCHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_AVAILHI:
        if (!vq->ready)
            set_half(&vq->avail_gpa, reg == VIRTIO_PCI_COMMON_Q_AVAILHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
    case VIRTIO_PCI_COMMON_Q_USEDHI:
        if (!vq->ready)
            set_half(&vq->used_gpa, reg == VIRTIO_PCI_COMMON_Q_USEDHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_RESET:
        if (val == 1 && virtio_dev_has_feature(t->vdev, VIRTIO_F_RING_RESET)) {
            virtio_dev_queue_reset(t->vdev, q);
            __atomic_store_n(&t->queue_vector[q], VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
            vpci_vectors_changed(t);
        }
        break;
    default: /* read-only: queue_notify_off, queue_notify_data */
        break;
    }
}

static void common_reg_write(struct vpci *t, unsigned reg, uint32_t val)
{
    struct virtio_dev *d = t->vdev;

    switch (reg) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        t->dfselect = val;
        return;
    case VIRTIO_PCI_COMMON_GFSELECT:
        t->gfselect = val;
        return;
    case VIRTIO_PCI_COMMON_GF:
        if (t->gfselect < 2) {
            unsigned shift = 32 * t->gfselect;
            uint64_t features = d->guest_features & ~(0xffffffffull << shift);
            virtio_dev_set_guest_features(d, features | (uint64_t)val << shift);
        }
        return;
    case VIRTIO_PCI_COMMON_MSIX:
        __atomic_store_n(&t->msix_config, vpci_vector_filter(t, val), __ATOMIC_RELAXED);
        vpci_vectors_changed(t);
        return;
    case VIRTIO_PCI_COMMON_STATUS:
        vpci_status_write(t, (uint8_t)val);
        return;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        t->queue_sel = (uint16_t)val;
        return;
    case VIRTIO_PCI_COMMON_DF:
    case VIRTIO_PCI_COMMON_NUMQ:
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return;
    }
    struct virtq *vq = vpci_selected_vq(t);
    if (vq)
        common_queue_write(t, vq, reg, val);
}

/* The modern BAR's regions; an access must stay inside one. */
enum region { R_COMMON, R_ISR, R_DEVCFG, R_NOTIFY, R_NONE };

static enum region region_of(uint64_t off, unsigned len, uint64_t *rel)
{
    static const uint64_t start[] = { VPCI_COMMON_OFF, VPCI_ISR_OFF, VPCI_DEVCFG_OFF,
                                      VPCI_NOTIFY_OFF, VPCI_MODERN_BAR_SIZE };
    for (int r = R_COMMON; r < R_NONE; r++) {
        if (off >= start[r] && off < start[r + 1]) {
            if (len > start[r + 1] - off)
                return R_NONE;
            *rel = off - start[r];
            return (enum region)r;
        }
    }
    return R_NONE;
}

/* Only device_status = 0 may cross from a layout the driver did not choose:
 * a driver of the other kind starts by resetting the device (for example an
 * OS taking over from legacy firmware), and the reset frees the choice. */
static bool is_status_reset(uint64_t rel, const uint8_t *data, unsigned len)
{
    return rel == VIRTIO_PCI_COMMON_STATUS && len == 1 && data[0] == 0;
}

void vpci_modern_read(struct vpci *t, uint64_t off, uint8_t *data, unsigned len)
{
    uint64_t rel = 0;
    enum region r = region_of(off, len, &rel);

    memset(data, 0, len);
    if (!vpci_layout_claim(t, VPCI_LAYOUT_MODERN, false)) {
        memset(data, 0xff, len);
        return;
    }
    switch (r) {
    case R_COMMON:
        if (rel < VPCI_COMMON_LEN) {
            uint8_t img[VPCI_COMMON_LEN];
            common_image(t, img);
            unsigned n = rel + len > VPCI_COMMON_LEN ? VPCI_COMMON_LEN - (unsigned)rel : len;
            memcpy(data, img + rel, n);
        }
        break;
    case R_ISR:
        if (rel == 0)
            data[0] = vpci_isr_read_clear(t);
        break;
    case R_DEVCFG:
        if (rel < t->vdev->config_len)
            virtio_dev_config_read(t->vdev, (uint32_t)rel, data, len);
        break;
    default: /* notify slots read 0 */
        break;
    }
}

void vpci_modern_write(struct vpci *t, uint64_t off, const uint8_t *data, unsigned len)
{
    uint64_t rel = 0;
    enum region r = region_of(off, len, &rel);
    bool commit = r == R_COMMON;

    if (!vpci_layout_claim(t, VPCI_LAYOUT_MODERN, commit)) {
        if (r == R_COMMON && is_status_reset(rel, data, len))
            vpci_status_write(t, 0);
        return;
    }
    switch (r) {
    case R_COMMON:
        if (rel < VPCI_COMMON_LEN) {
            uint8_t img[VPCI_COMMON_LEN];
            common_image(t, img);
            vpci_regs_write(t, common_regs, sizeof common_regs / sizeof common_regs[0], img,
                            rel, data, len, common_reg_write);
        }
        break;
    case R_DEVCFG:
        if (rel < t->vdev->config_len)
            virtio_dev_config_write(t->vdev, (uint32_t)rel, data, len);
        break;
    case R_NOTIFY:
        if (rel % VPCI_NOTIFY_MULT == 0 && rel / VPCI_NOTIFY_MULT < t->vdev->num_queues)
            virtio_dev_notify(t->vdev, (unsigned)(rel / VPCI_NOTIFY_MULT));
        break;
    default: /* ISR is read-only */
        break;
    }
}
