/* virtio-pci transport: building the PCI function, BAR dispatch, interrupts,
 * the PCI_CFG access window and transitional layout arbitration. The
 * registers themselves live in vpci_common.c (modern) and vpci_legacy.c. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "virtio/vpci_internal.h"

#define VPCI_MSIX_BAR_SIZE 0x1000
/* PCI allows an I/O BAR at most 256 bytes. */
#define VPCI_LEGACY_BAR_MAX 256

/* ---- identity ---- */

/* Transitional device IDs exist only for the device types that had a
 * legacy (virtio 0.9.5) PCI binding. */
static int legacy_device_id(uint16_t type)
{
    switch (type) {
    case VIRTIO_ID_NET: return VIRTIO_TRANS_ID_NET;
    case VIRTIO_ID_BLOCK: return VIRTIO_TRANS_ID_BLOCK;
    case VIRTIO_ID_BALLOON: return VIRTIO_TRANS_ID_BALLOON;
    case VIRTIO_ID_CONSOLE: return VIRTIO_TRANS_ID_CONSOLE;
    case VIRTIO_ID_SCSI: return VIRTIO_TRANS_ID_SCSI;
    case VIRTIO_ID_RNG: return VIRTIO_TRANS_ID_RNG;
    case VIRTIO_ID_9P: return VIRTIO_TRANS_ID_9P;
    default: return -EINVAL;
    }
}

/* Class codes let firmware and OS inventories show something sensible; the
 * virtio driver itself matches on vendor/device only. */
static uint32_t class_code(uint16_t type)
{
    switch (type) {
    case VIRTIO_ID_NET: return 0x020000;     /* network, ethernet */
    case VIRTIO_ID_BLOCK: return 0x010000;   /* mass storage, SCSI-like */
    case VIRTIO_ID_SCSI: return 0x010000;
    case VIRTIO_ID_CONSOLE: return 0x078000; /* communication, other */
    case VIRTIO_ID_GPU: return 0x038000;     /* display, other */
    case VIRTIO_ID_INPUT: return 0x098000;   /* input, other */
    default: return 0xff0000;                /* fits no defined class */
    }
}

/* ---- helpers shared by the layouts ---- */

bool vpci_layout_claim(struct vpci *t, enum vpci_layout l, bool commit)
{
    if (t->layout == l)
        return true;
    if (t->layout != VPCI_LAYOUT_NONE)
        return false;
    if (commit) {
        t->layout = l;
        t->vdev->legacy = l == VPCI_LAYOUT_LEGACY;
    }
    return true;
}

struct virtq *vpci_selected_vq(struct vpci *t)
{
    if (t->queue_sel >= t->vdev->num_queues)
        return NULL;
    return &t->vdev->vqs[t->queue_sel];
}

uint16_t vpci_vector_filter(const struct vpci *t, uint32_t v)
{
    return v < t->msix_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

void vpci_vectors_changed(struct vpci *t)
{
    if (t->host_ops && t->host_ops->msix_changed)
        t->host_ops->msix_changed(t, -1);
}

uint8_t vpci_dev_status(const struct vpci *t)
{
    /* A device thread may set NEEDS_RESET concurrently. */
    return __atomic_load_n(&t->vdev->status, __ATOMIC_RELAXED);
}

uint8_t vpci_isr_read_clear(struct vpci *t)
{
    uint8_t isr = __atomic_exchange_n(&t->isr, 0, __ATOMIC_ACQ_REL);

    pci_intx_set(&t->pci, false);
    /* A device thread may have raised between the exchange and the
     * deassert; its pci_intx_set(true) would then be undone above. */
    if (__atomic_load_n(&t->isr, __ATOMIC_ACQUIRE))
        pci_intx_set(&t->pci, true);
    return isr;
}

/* tell_host: false only while vpci_init builds the function, before the
 * host has it. */
static void transport_reset(struct vpci *t, bool tell_host)
{
    t->dfselect = 0;
    t->gfselect = 0;
    t->queue_sel = 0;
    t->msix_config = VIRTIO_MSI_NO_VECTOR;
    for (unsigned q = 0; q < t->vdev->num_queues; q++)
        t->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
    __atomic_store_n(&t->isr, 0, __ATOMIC_RELEASE);
    pci_intx_set(&t->pci, false);

    switch (t->mode) {
    case VPCI_MODERN: t->layout = VPCI_LAYOUT_MODERN; break;
    case VPCI_LEGACY: t->layout = VPCI_LAYOUT_LEGACY; break;
    default: t->layout = VPCI_LAYOUT_NONE; break;
    }
    t->vdev->legacy = t->layout == VPCI_LAYOUT_LEGACY;
    if (tell_host)
        vpci_vectors_changed(t);
}

void vpci_status_write(struct vpci *t, uint8_t status)
{
    virtio_dev_set_status(t->vdev, status);
    if (status == 0)
        transport_reset(t, true);
}

void vpci_reset(struct vpci *t)
{
    virtio_dev_reset(t->vdev);
    transport_reset(t, true);
}

void vpci_regs_write(struct vpci *t, const struct vpci_reg *regs, unsigned nregs,
                     const uint8_t *image, uint64_t off, const uint8_t *data, unsigned len,
                     vpci_reg_write_fn *fn)
{
    for (unsigned i = 0; i < nregs; i++) {
        uint64_t lo = regs[i].off, hi = lo + regs[i].width;
        if (off >= hi || off + len <= lo)
            continue;
        uint32_t val = 0;
        for (unsigned b = 0; b < regs[i].width; b++) {
            uint64_t at = lo + b;
            uint8_t byte = at >= off && at < off + len ? data[at - off] : image[at];
            val |= (uint32_t)byte << (8 * b);
        }
        fn(t, regs[i].off, val);
    }
}

/* ---- interrupts ---- */

static void vpci_irq(struct virtio_dev *d, int vq)
{
    struct vpci *t = d->transport.opaque;

    /* The spec wants the config bit in ISR before any config notification,
     * MSI-X or not (the queue bit only without MSI-X). */
    if (vq == VIRTIO_IRQ_CONFIG)
        __atomic_fetch_or(&t->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_ACQ_REL);
    if (pci_msix_enabled(&t->pci)) {
        uint16_t vector;
        if (vq == VIRTIO_IRQ_CONFIG)
            vector = __atomic_load_n(&t->msix_config, __ATOMIC_RELAXED);
        else if (vq >= 0 && (unsigned)vq < d->num_queues)
            vector = __atomic_load_n(&t->queue_vector[vq], __ATOMIC_RELAXED);
        else
            return;
        if (vector != VIRTIO_MSI_NO_VECTOR)
            pci_msix_notify(&t->pci, vector);
        return;
    }
    if (vq != VIRTIO_IRQ_CONFIG && (vq < 0 || (unsigned)vq >= d->num_queues))
        return;
    if (vq != VIRTIO_IRQ_CONFIG)
        __atomic_fetch_or(&t->isr, VPCI_ISR_QUEUE, __ATOMIC_ACQ_REL);
    pci_intx_set(&t->pci, true);
}

/* ---- pci_func callbacks ---- */

static void vpci_bar_read(struct pci_func *f, int bar, uint64_t off, void *data, unsigned len)
{
    struct vpci *t = f->owner;

    if (bar == VPCI_MODERN_BAR && t->mode != VPCI_LEGACY)
        vpci_modern_read(t, off, data, len);
    else if (bar == VPCI_LEGACY_BAR && t->mode != VPCI_MODERN)
        vpci_legacy_read(t, off, data, len);
    else
        memset(data, 0, len);
}

static void vpci_bar_write(struct pci_func *f, int bar, uint64_t off, const void *data,
                           unsigned len)
{
    struct vpci *t = f->owner;

    if (bar == VPCI_MODERN_BAR && t->mode != VPCI_LEGACY)
        vpci_modern_write(t, off, data, len);
    else if (bar == VPCI_LEGACY_BAR && t->mode != VPCI_MODERN)
        vpci_legacy_write(t, off, data, len);
}

static void vpci_bar_map(struct pci_func *f, int bar, uint64_t addr, bool enabled)
{
    struct vpci *t = f->owner;

    if (t->host_ops && t->host_ops->bar_map)
        t->host_ops->bar_map(t, bar, addr, enabled);
}

static void vpci_msi(struct pci_func *f, uint64_t addr, uint32_t data)
{
    struct vpci *t = f->owner;

    if (t->host_ops && t->host_ops->msi)
        t->host_ops->msi(t, addr, data);
}

static void vpci_msix_changed(struct pci_func *f, int vector)
{
    struct vpci *t = f->owner;

    if (t->host_ops && t->host_ops->msix_changed)
        t->host_ops->msix_changed(t, vector);
}

static void vpci_intx(struct pci_func *f, bool level)
{
    struct vpci *t = f->owner;

    if (t->host_ops && t->host_ops->intx)
        t->host_ops->intx(t, level);
}

static const struct pci_func_ops vpci_pci_ops = {
    .bar_read = vpci_bar_read,
    .bar_write = vpci_bar_write,
    .bar_map = vpci_bar_map,
    .msi = vpci_msi,
    .msix_changed = vpci_msix_changed,
    .intx = vpci_intx,
};

/* ---- VIRTIO_PCI_CAP_PCI_CFG window ---- */

static uint32_t cfg_le32(const struct pci_func *f, uint32_t off)
{
    const uint8_t *p = f->cfg + off;
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The guest programs bar/offset/length in the capability, then touching
 * pci_cfg_data performs one BAR access of `length` bytes. Anything the spec
 * forbids the driver (odd length, misalignment, outside the BAR, a BAR that
 * does not exist) leaves the window inert. */
static void vpci_cfg_window(struct pci_func *f, uint32_t off, void *data, unsigned len,
                            bool is_write)
{
    struct vpci *t = f->owner;
    uint32_t cap = t->pci_cfg_cap;
    uint32_t data_off = cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
    uint8_t bar = f->cfg[cap + offsetof(struct virtio_pci_cap, bar)];
    uint32_t boff = cfg_le32(f, cap + offsetof(struct virtio_pci_cap, offset));
    uint32_t blen = cfg_le32(f, cap + offsetof(struct virtio_pci_cap, length));

    if (off < data_off || off - data_off >= 4 || len > 4 - (off - data_off))
        return;
    if (blen != 1 && blen != 2 && blen != 4)
        return;
    if (bar >= PCI_NUM_BARS || !f->bar[bar].size || boff % blen ||
        boff > f->bar[bar].size - blen)
        return;

    uint8_t *window = f->cfg + data_off;
    if (is_write) {
        /* The written bytes are already in the window (it is guest-writable). */
        pci_bar_write(f, bar, boff, window, blen);
        return;
    }
    uint8_t buf[4];
    pci_bar_read(f, bar, boff, buf, blen);
    memcpy(window, buf, blen);
    memcpy(data, window + (off - data_off), len);
}

/* ---- construction ---- */

static int add_vndr_cap(struct vpci *t, uint8_t cfg_type, uint32_t off, uint32_t length)
{
    struct virtio_pci_cap cap = {
        .cap_vndr = PCI_CAP_ID_VNDR,
        .cap_len = sizeof cap,
        .cfg_type = cfg_type,
        .bar = VPCI_MODERN_BAR,
        .offset = off,
        .length = length,
    };
    return pci_cap_add(&t->pci, &cap, sizeof cap);
}

static int add_modern_caps(struct vpci *t)
{
    struct virtio_dev *d = t->vdev;
    int r;

    if ((r = add_vndr_cap(t, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF, VPCI_COMMON_LEN)) < 0)
        return r;

    /* Notify length covers every queue's slot (and at least the 2 bytes a
     * driver of a queueless device may still probe). */
    uint32_t notify_len = d->num_queues * VPCI_NOTIFY_MULT;
    struct virtio_pci_notify_cap ncap = {
        .cap = {
            .cap_vndr = PCI_CAP_ID_VNDR,
            .cap_len = sizeof ncap,
            .cfg_type = VIRTIO_PCI_CAP_NOTIFY_CFG,
            .bar = VPCI_MODERN_BAR,
            .offset = VPCI_NOTIFY_OFF,
            .length = notify_len ? notify_len : VPCI_NOTIFY_MULT,
        },
        .notify_off_multiplier = VPCI_NOTIFY_MULT,
    };
    if ((r = pci_cap_add(&t->pci, &ncap, sizeof ncap)) < 0)
        return r;

    if ((r = add_vndr_cap(t, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 1)) < 0)
        return r;
    /* A zero-length device cfg cap makes Linux fail the probe; the spec only
     * requires one for devices that have a config. */
    if (d->config_len &&
        (r = add_vndr_cap(t, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVCFG_OFF, d->config_len)) < 0)
        return r;

    struct virtio_pci_cfg_cap ccap = {
        .cap = {
            .cap_vndr = PCI_CAP_ID_VNDR,
            .cap_len = sizeof ccap,
            .cfg_type = VIRTIO_PCI_CAP_PCI_CFG,
        },
    };
    if ((r = pci_cap_add(&t->pci, &ccap, sizeof ccap)) < 0)
        return r;
    uint32_t cap = (uint32_t)r;
    t->pci_cfg_cap = (uint8_t)cap;
    pci_cfg_set_wmask(&t->pci, cap + offsetof(struct virtio_pci_cap, bar), 1, 0xff);
    pci_cfg_set_wmask(&t->pci, cap + offsetof(struct virtio_pci_cap, offset), 4, 0xff);
    pci_cfg_set_wmask(&t->pci, cap + offsetof(struct virtio_pci_cap, length), 4, 0xff);
    pci_cfg_set_wmask(&t->pci, cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 4, 0xff);
    pci_cfg_hook(&t->pci, cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 4,
                 vpci_cfg_window);
    return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int vpci_init(struct vpci *t, struct virtio_dev *vdev, enum vpci_mode mode,
              unsigned msix_vectors, const struct vpci_host_ops *ops, void *host)
{
    if (!t || !vdev || (mode != VPCI_MODERN && mode != VPCI_LEGACY && mode != VPCI_TRANSITIONAL))
        return -EINVAL;
    if (vdev->num_queues > VPCI_MAX_QUEUES || (vdev->num_queues && !vdev->vqs))
        return -EINVAL;
    /* The MSI-X table fills BAR1 below the PBA, 16 bytes a vector. */
    if (msix_vectors > VPCI_MSIX_PBA_OFF / PCI_MSIX_ENTRY_SIZE)
        return -EINVAL;

    struct pci_id id = {
        .vendor = VPCI_VENDOR,
        .subsys_vendor = VPCI_VENDOR,
        .class_code = class_code(vdev->device_id),
        .intx_pin = 1,
    };
    uint32_t legacy_size = 0;
    if (mode == VPCI_MODERN) {
        if (vdev->config_len > VPCI_NOTIFY_OFF - VPCI_DEVCFG_OFF)
            return -EINVAL;
        id.device = VPCI_MODERN_DEVICE_BASE + vdev->device_id;
        /* Non-transitional devices SHOULD use a subsystem ID >= 0x40. */
        id.subsys = id.device;
        id.revision = 1;
    } else {
        int legacy_id = legacy_device_id(vdev->device_id);
        if (legacy_id < 0)
            return legacy_id;
        if (vdev->config_len > VPCI_LEGACY_BAR_MAX - VPCI_LEGACY_REGS_LEN)
            return -EINVAL;
        id.device = (uint16_t)legacy_id;
        id.subsys = vdev->device_id;
        id.revision = 0;
        legacy_size = pow2_at_least(VPCI_LEGACY_REGS_LEN + vdev->config_len);
    }

    memset(t, 0, sizeof *t);
    t->vdev = vdev;
    t->mode = mode;
    t->msix_vectors = msix_vectors;
    t->legacy_bar_size = legacy_size;
    t->host_ops = ops;
    t->host = host;
    t->queue_vector = calloc(vdev->num_queues ? vdev->num_queues : 1, sizeof *t->queue_vector);
    if (!t->queue_vector)
        return -ENOMEM;

    pci_func_init(&t->pci, &id, &vpci_pci_ops, t);
    int r = 0;
    if (mode != VPCI_MODERN)
        r = pci_bar_set(&t->pci, VPCI_LEGACY_BAR, legacy_size, PCI_BAR_IO);
    if (!r && msix_vectors)
        r = pci_bar_set(&t->pci, VPCI_MSIX_BAR, VPCI_MSIX_BAR_SIZE, PCI_BAR_MEM32);
    if (!r && mode != VPCI_LEGACY)
        r = pci_bar_set(&t->pci, VPCI_MODERN_BAR, VPCI_MODERN_BAR_SIZE,
                        PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    if (!r && msix_vectors) {
        r = pci_msix_init(&t->pci, msix_vectors, VPCI_MSIX_BAR, 0, VPCI_MSIX_BAR,
                          VPCI_MSIX_PBA_OFF);
        r = r < 0 ? r : 0;
    }
    if (!r && mode != VPCI_LEGACY)
        r = add_modern_caps(t);
    if (r) {
        vpci_destroy(t);
        return r;
    }

    vdev->transport.irq = vpci_irq;
    vdev->transport.opaque = t;
    transport_reset(t, false);
    return 0;
}

void vpci_destroy(struct vpci *t)
{
    if (!t)
        return;
    if (t->vdev && t->vdev->transport.opaque == t) {
        t->vdev->transport.irq = NULL;
        t->vdev->transport.opaque = NULL;
    }
    pci_func_destroy(&t->pci);
    free(t->queue_vector);
    t->queue_vector = NULL;
}

int vpci_notify_loc(const struct vpci *t, unsigned q, bool legacy, struct vpci_notify_loc *loc)
{
    if (!t || !loc || q >= t->vdev->num_queues)
        return -EINVAL;
    if (legacy) {
        if (t->mode == VPCI_MODERN)
            return -EINVAL;
        *loc = (struct vpci_notify_loc){
            .bar = VPCI_LEGACY_BAR,
            .off = VIRTIO_PCI_QUEUE_NOTIFY,
            .len = 2,
            .datamatch = true,
            .data = q,
        };
        return 0;
    }
    if (t->mode == VPCI_LEGACY)
        return -EINVAL;
    /* Drivers write the 16-bit queue index here (32 bits with
     * VIRTIO_F_NOTIFICATION_DATA, which then takes the slow path). */
    *loc = (struct vpci_notify_loc){
        .bar = VPCI_MODERN_BAR,
        .off = VPCI_NOTIFY_OFF + (uint64_t)q * VPCI_NOTIFY_MULT,
        .len = 2,
    };
    return 0;
}
