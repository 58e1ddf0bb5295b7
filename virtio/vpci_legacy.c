/* virtio-pci legacy layout: the I/O BAR of virtio 0.9.5 (register offsets
 * from linux/virtio_pci.h), device config after the registers. The two MSI-X
 * vector registers exist only while MSI-X is enabled, and the device config
 * moves from 20 to 24 with them.
 *
 * Legacy queues have a fixed size (the device's maximum) and one address:
 * QUEUE_PFN * 4096 is the start of the legacy ring layout, descriptors then
 * the avail ring, the used ring at the next 4096 boundary. Writing PFN 0
 * deactivates the queue; a second non-zero PFN while the queue runs is
 * ignored (Linux always writes 0 first). Only the low 32 feature bits exist
 * here, so VIRTIO_F_VERSION_1 is never offered to a legacy driver. */
#include <stddef.h>
#include <string.h>

#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio/vpci_internal.h"

static const struct vpci_reg legacy_regs[] = {
    { VIRTIO_PCI_HOST_FEATURES, 4 }, { VIRTIO_PCI_GUEST_FEATURES, 4 },
    { VIRTIO_PCI_QUEUE_PFN, 4 },     { VIRTIO_PCI_QUEUE_NUM, 2 },
    { VIRTIO_PCI_QUEUE_SEL, 2 },     { VIRTIO_PCI_QUEUE_NOTIFY, 2 },
    { VIRTIO_PCI_STATUS, 1 },        { VIRTIO_PCI_ISR, 1 },
    { VIRTIO_MSI_CONFIG_VECTOR, 2 }, { VIRTIO_MSI_QUEUE_VECTOR, 2 },
};
#define LEGACY_NREGS_NO_MSIX 8

static bool msix_on(const struct vpci *t)
{
    return pci_msix_enabled(&t->pci);
}

static unsigned config_off(const struct vpci *t)
{
    return VIRTIO_PCI_CONFIG_OFF(msix_on(t));
}

/* The register block as a read returns it, ISR excluded (reading it has a
 * side effect the caller applies only if the access covers it). */
static void legacy_image(struct vpci *t, uint8_t img[VPCI_LEGACY_REGS_LEN])
{
    struct virtio_dev *d = t->vdev;
    struct virtq *vq = vpci_selected_vq(t);

    memset(img, 0, VPCI_LEGACY_REGS_LEN);
    vpci_put32(img + VIRTIO_PCI_HOST_FEATURES, (uint32_t)d->host_features);
    vpci_put32(img + VIRTIO_PCI_GUEST_FEATURES, (uint32_t)d->guest_features);
    if (vq) {
        vpci_put32(img + VIRTIO_PCI_QUEUE_PFN,
                   (uint32_t)(vq->desc_gpa >> VIRTIO_PCI_QUEUE_ADDR_SHIFT));
        vpci_put16(img + VIRTIO_PCI_QUEUE_NUM, vq->max_size);
    }
    vpci_put16(img + VIRTIO_PCI_QUEUE_SEL, t->queue_sel);
    img[VIRTIO_PCI_STATUS] = vpci_dev_status(t);
    vpci_put16(img + VIRTIO_MSI_CONFIG_VECTOR, t->msix_config);
    vpci_put16(img + VIRTIO_MSI_QUEUE_VECTOR,
               vq ? t->queue_vector[t->queue_sel] : VIRTIO_MSI_NO_VECTOR);
}

static void legacy_set_pfn(struct vpci *t, struct virtq *vq, uint32_t pfn)
{
    if (pfn == 0) {
        virtio_dev_queue_reset(t->vdev, vq->index);
        return;
    }
    if (vq->ready)
        return;
    /* 32-bit PFN << 12 stays far below 2^64: no overflow to check. */
    uint64_t base = (uint64_t)pfn << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
    uint64_t size = vq->max_size;
    uint64_t avail_end = base + sizeof(struct vring_desc) * size +
                         offsetof(struct vring_avail, ring) + sizeof(__virtio16) * (size + 1);
    vq->size = vq->max_size;
    vq->desc_gpa = base;
    vq->avail_gpa = base + sizeof(struct vring_desc) * size;
    vq->used_gpa = (avail_end + VIRTIO_PCI_VRING_ALIGN - 1) & ~(uint64_t)(VIRTIO_PCI_VRING_ALIGN - 1);
    virtio_dev_queue_enable(t->vdev, t->queue_sel);
}

static void legacy_reg_write(struct vpci *t, unsigned reg, uint32_t val)
{
    struct virtq *vq = vpci_selected_vq(t);

    switch (reg) {
    case VIRTIO_PCI_GUEST_FEATURES:
        virtio_dev_set_guest_features(t->vdev, val);
        break;
    case VIRTIO_PCI_QUEUE_PFN:
        if (vq)
            legacy_set_pfn(t, vq, val);
        break;
    case VIRTIO_PCI_QUEUE_SEL:
        t->queue_sel = (uint16_t)val;
        break;
    case VIRTIO_PCI_QUEUE_NOTIFY:
        if (val < t->vdev->num_queues)
            virtio_dev_notify(t->vdev, val);
        break;
    case VIRTIO_PCI_STATUS:
        vpci_status_write(t, (uint8_t)val);
        break;
    case VIRTIO_MSI_CONFIG_VECTOR:
        __atomic_store_n(&t->msix_config, vpci_vector_filter(t, val), __ATOMIC_RELAXED);
        vpci_vectors_changed(t);
        break;
    case VIRTIO_MSI_QUEUE_VECTOR:
        if (vq) {
            __atomic_store_n(&t->queue_vector[t->queue_sel], vpci_vector_filter(t, val),
                             __ATOMIC_RELAXED);
            vpci_vectors_changed(t);
        }
        break;
    default: /* HOST_FEATURES, QUEUE_NUM, ISR are read-only */
        break;
    }
}

void vpci_legacy_read(struct vpci *t, uint64_t off, uint8_t *data, unsigned len)
{
    memset(data, 0, len);
    if (off >= t->legacy_bar_size || len > t->legacy_bar_size - off)
        return;
    if (!vpci_layout_claim(t, VPCI_LAYOUT_LEGACY, false)) {
        memset(data, 0xff, len);
        return;
    }
    unsigned cfg = config_off(t);
    unsigned start = (unsigned)off, end = start + len;

    if (start < cfg) {
        uint8_t img[VPCI_LEGACY_REGS_LEN];
        legacy_image(t, img);
        unsigned n = (end < cfg ? end : cfg) - start;
        if (start <= VIRTIO_PCI_ISR && VIRTIO_PCI_ISR < start + n)
            img[VIRTIO_PCI_ISR] = vpci_isr_read_clear(t);
        memcpy(data, img + start, n);
    }
    if (end > cfg) {
        unsigned from = start > cfg ? start : cfg;
        if (from - cfg < t->vdev->config_len)
            virtio_dev_config_read(t->vdev, from - cfg, data + (from - start), end - from);
    }
}

void vpci_legacy_write(struct vpci *t, uint64_t off, const uint8_t *data, unsigned len)
{
    if (off >= t->legacy_bar_size || len > t->legacy_bar_size - off)
        return;
    if (!vpci_layout_claim(t, VPCI_LAYOUT_LEGACY, true)) {
        /* See is_status_reset() in vpci_common.c: a reset may cross over. */
        if (off == VIRTIO_PCI_STATUS && len == 1 && data[0] == 0)
            vpci_status_write(t, 0);
        return;
    }
    unsigned cfg = config_off(t);
    unsigned start = (unsigned)off, end = start + len;

    if (start < cfg) {
        uint8_t img[VPCI_LEGACY_REGS_LEN];
        legacy_image(t, img);
        unsigned nregs = msix_on(t) ? sizeof legacy_regs / sizeof legacy_regs[0]
                                    : LEGACY_NREGS_NO_MSIX;
        unsigned n = (end < cfg ? end : cfg) - start;
        vpci_regs_write(t, legacy_regs, nregs, img, start, data, n, legacy_reg_write);
    }
    if (end > cfg) {
        unsigned from = start > cfg ? start : cfg;
        if (from - cfg < t->vdev->config_len)
            virtio_dev_config_write(t->vdev, from - cfg, data + (from - start), end - from);
    }
}
