/* Conformance rules for the IDs and the modern interface (virtio 1.2,
 * "Virtio Over PCI Bus"). Each rule prints one PASS/FAIL line with what the
 * device showed. The capability list is walked here independently of the
 * library, so a device the library would quietly work around still fails
 * the rule it breaks. */
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "guest/probe/conform.h"

#define PCI_CAP_MAX        48
#define VIRTIO_PCI_VENDOR  0x1af4
#define MODERN_ID_BASE     0x1040
#define MODERN_ID_LAST     0x107f
#define TRANS_ID_FIRST     0x1000
#define TRANS_ID_LAST      0x103f
#define QUEUE_SCAN_MAX     1024u   /* bounds per-queue loops on a lying num_queues */

const char *virtio_type_name(uint16_t type)
{
    switch (type) {
    case VIRTIO_ID_NET: return "net";
    case VIRTIO_ID_BLOCK: return "blk";
    case VIRTIO_ID_CONSOLE: return "console";
    case VIRTIO_ID_RNG: return "rng";
    case VIRTIO_ID_BALLOON: return "balloon";
    case VIRTIO_ID_SCSI: return "scsi";
    case VIRTIO_ID_9P: return "9p";
    default: return "virtio";
    }
}

/* The transitional device ID for a type, 0 where the spec lists none. */
static uint16_t transitional_id(uint16_t type)
{
    switch (type) {
    case VIRTIO_ID_NET: return VIRTIO_TRANS_ID_NET;
    case VIRTIO_ID_BLOCK: return VIRTIO_TRANS_ID_BLOCK;
    case VIRTIO_ID_BALLOON: return VIRTIO_TRANS_ID_BALLOON;
    case VIRTIO_ID_CONSOLE: return VIRTIO_TRANS_ID_CONSOLE;
    case VIRTIO_ID_SCSI: return VIRTIO_TRANS_ID_SCSI;
    case VIRTIO_ID_RNG: return VIRTIO_TRANS_ID_RNG;
    case VIRTIO_ID_9P: return VIRTIO_TRANS_ID_9P;
    default: return 0;
    }
}

void conform_ids(struct pci_fn *f, struct vdrv_dev *d)
{
    (void)f;
    check(d->vendor == VIRTIO_PCI_VENDOR, "vendor ID 0x1af4 (got 0x%04x)", d->vendor);
    if (d->device >= MODERN_ID_BASE) {
        check(d->device > MODERN_ID_BASE && d->device <= MODERN_ID_LAST,
              "modern device ID 0x1040 + type, type > 0 (got 0x%04x)", d->device);
        check(d->revision >= 1, "modern device revision >= 1 (got %u)", d->revision);
        return;
    }
    check(d->device >= TRANS_ID_FIRST && d->device <= TRANS_ID_LAST,
          "transitional device ID in 0x1000-0x103f (got 0x%04x)", d->device);
    check(d->revision == 0, "transitional device revision 0 (got %u)", d->revision);
    check(d->subsys != 0, "transitional subsystem device ID is the virtio type (got %u)",
          d->subsys);
    uint16_t want = transitional_id(d->subsys);
    if (want)
        check(d->device == want, "transitional device ID matches type %u (want 0x%04x got 0x%04x)",
              d->subsys, want, d->device);
}

/* ---- capability walk ---- */

unsigned vcaps_walk(struct pci_fn *f, struct vcap *out, unsigned max)
{
    unsigned n = 0;
    if (!(pci_cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
        return 0;
    uint8_t pos = (uint8_t)pci_cfg_read(f, PCI_CAPABILITY_LIST, 1);
    for (unsigned i = 0; i < PCI_CAP_MAX && n < max; i++) {
        pos &= (uint8_t)~3u;
        if (pos < PCI_STD_HEADER_SIZEOF)
            break;
        uint8_t id = (uint8_t)pci_cfg_read(f, pos + PCI_CAP_LIST_ID, 1);
        uint8_t next = (uint8_t)pci_cfg_read(f, pos + PCI_CAP_LIST_NEXT, 1);
        if (id == PCI_CAP_ID_VNDR) {
            struct vcap *c = &out[n++];
            c->pos = pos;
            c->cap_len = (uint8_t)pci_cfg_read(f, pos + VIRTIO_PCI_CAP_LEN, 1);
            c->type = (uint8_t)pci_cfg_read(f, pos + VIRTIO_PCI_CAP_CFG_TYPE, 1);
            c->bar = (uint8_t)pci_cfg_read(f, pos + VIRTIO_PCI_CAP_BAR, 1);
            c->offset = pci_cfg_read(f, pos + VIRTIO_PCI_CAP_OFFSET, 4);
            c->length = pci_cfg_read(f, pos + VIRTIO_PCI_CAP_LENGTH, 4);
            if (c->type == VIRTIO_PCI_CAP_SHARED_MEMORY_CFG &&
                c->cap_len >= sizeof(struct virtio_pci_cap64)) {
                c->offset |= (uint64_t)pci_cfg_read(
                    f, pos + offsetof(struct virtio_pci_cap64, offset_hi), 4) << 32;
                c->length |= (uint64_t)pci_cfg_read(
                    f, pos + offsetof(struct virtio_pci_cap64, length_hi), 4) << 32;
            }
        }
        pos = next;
    }
    return n;
}

uint64_t creg_read(struct vdrv_dev *d, uint64_t off, unsigned len)
{
    return d->io->bar_read(d->io->ctx, d->common.bar, d->common.off + off, len);
}

void creg_write(struct vdrv_dev *d, uint64_t off, uint64_t val, unsigned len)
{
    d->io->bar_write(d->io->ctx, d->common.bar, d->common.off + off, val, len);
}

/* One access through VIRTIO_PCI_CAP_PCI_CFG: point the window, then move
 * the data through pci_cfg_data. */
static void window_point(struct pci_fn *f, uint8_t cap, int bar, uint32_t off, unsigned len)
{
    pci_cfg_write(f, cap + VIRTIO_PCI_CAP_BAR, (uint32_t)bar, 1);
    pci_cfg_write(f, cap + VIRTIO_PCI_CAP_OFFSET, off, 4);
    pci_cfg_write(f, cap + VIRTIO_PCI_CAP_LENGTH, len, 4);
}

static uint32_t window_read(struct pci_fn *f, uint8_t cap, int bar, uint32_t off, unsigned len)
{
    window_point(f, cap, bar, off, len);
    return pci_cfg_read(f, cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), len);
}

static void window_write(struct pci_fn *f, uint8_t cap, int bar, uint32_t off, uint32_t val,
                         unsigned len)
{
    window_point(f, cap, bar, off, len);
    pci_cfg_write(f, cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), val, len);
}

static void check_pci_cfg_window(struct pci_fn *f, struct vdrv_dev *d, uint8_t cap)
{
    uint32_t base = (uint32_t)d->common.off;
    uint32_t numq_bar = (uint32_t)creg_read(d, VIRTIO_PCI_COMMON_NUMQ, 2);
    uint32_t numq_win = window_read(f, cap, d->common.bar, base + VIRTIO_PCI_COMMON_NUMQ, 2);
    check(numq_bar == numq_win, "PCI_CFG window reads num_queues as the BAR does (BAR %u window %u)",
          numq_bar, numq_win);
    creg_write(d, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    uint32_t df_bar = (uint32_t)creg_read(d, VIRTIO_PCI_COMMON_DF, 4);
    uint32_t df_win = window_read(f, cap, d->common.bar, base + VIRTIO_PCI_COMMON_DF, 4);
    check(df_bar == df_win,
          "PCI_CFG window reads device_feature[0] as the BAR does (BAR 0x%08x window 0x%08x)",
          df_bar, df_win);
    /* And the other way: a write through the window lands in the BAR. */
    window_write(f, cap, d->common.bar, base + VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    uint32_t sel = (uint32_t)creg_read(d, VIRTIO_PCI_COMMON_DFSELECT, 4);
    check(sel == 1, "PCI_CFG window write of device_feature_select=1 reads back via BAR (got %u)",
          sel);
    creg_write(d, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
}

static const char *cap_type_name(uint8_t type)
{
    switch (type) {
    case VIRTIO_PCI_CAP_COMMON_CFG: return "common";
    case VIRTIO_PCI_CAP_NOTIFY_CFG: return "notify";
    case VIRTIO_PCI_CAP_ISR_CFG: return "isr";
    case VIRTIO_PCI_CAP_DEVICE_CFG: return "device";
    case VIRTIO_PCI_CAP_PCI_CFG: return "pci_cfg";
    case VIRTIO_PCI_CAP_SHARED_MEMORY_CFG: return "shm";
    default: return "vendor";
    }
}

static void check_cap_fits(struct pci_fn *f, const struct vcap *c)
{
    const char *name = cap_type_name(c->type);
    if (!check(c->bar < PCI_BARS && f->bar[c->bar].size,
               "%s cap at 0x%02x: BAR %u exists", name, c->pos, c->bar))
        return;
    uint64_t size = f->bar[c->bar].size;
    check(c->offset <= size && c->length <= size - c->offset,
          "%s cap at 0x%02x: offset 0x%llx + length 0x%llx fits BAR %u (size 0x%llx)", name,
          c->pos, (unsigned long long)c->offset, (unsigned long long)c->length, c->bar,
          (unsigned long long)size);
}

static void check_notify(struct pci_fn *f, struct vdrv_dev *d, const struct vcap *c)
{
    check(c->cap_len >= sizeof(struct virtio_pci_notify_cap),
          "notify cap length >= %zu (got %u)", sizeof(struct virtio_pci_notify_cap), c->cap_len);
    uint32_t mult = pci_cfg_read(f, c->pos + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
    check(mult == 0 || (mult >= 2 && !(mult & (mult - 1))),
          "notify_off_multiplier is 0 or an even power of 2 (got %u)", mult);
    check(!(c->offset & 1), "notify cap offset 2-byte aligned (got 0x%llx)",
          (unsigned long long)c->offset);
    check(c->length >= 2, "notify cap length >= 2 (got %llu)", (unsigned long long)c->length);

    uint16_t numq = (uint16_t)creg_read(d, VIRTIO_PCI_COMMON_NUMQ, 2);
    unsigned bad = 0, worst_q = 0;
    uint64_t worst_end = 0;
    for (unsigned q = 0; q < numq && q < QUEUE_SCAN_MAX; q++) {
        creg_write(d, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        uint64_t noff = creg_read(d, VIRTIO_PCI_COMMON_Q_NOFF, 2);
        uint64_t end = noff * mult + 2;
        if (end > worst_end) {
            worst_end = end;
            worst_q = q;
        }
        if (end > c->length)
            bad++;
    }
    check(bad == 0,
          "every queue's notify address inside the notify cap (%u queues, highest end %llu "
          "at queue %u, length %llu)",
          numq, (unsigned long long)worst_end, worst_q, (unsigned long long)c->length);
}

void conform_caps(struct pci_fn *f, struct vdrv_dev *d)
{
    struct vcap caps[PCI_CAP_MAX];
    unsigned n = vcaps_walk(f, caps, PCI_CAP_MAX);
    unsigned seen[VIRTIO_PCI_CAP_SHARED_MEMORY_CFG + 1] = { 0 };

    for (unsigned i = 0; i < n; i++) {
        const struct vcap *c = &caps[i];
        if (c->type < sizeof(seen) / sizeof(seen[0]))
            seen[c->type]++;
        if (c->type == VIRTIO_PCI_CAP_PCI_CFG) {
            check(c->cap_len >= sizeof(struct virtio_pci_cfg_cap),
                  "pci_cfg cap at 0x%02x: cap_len >= %zu (got %u)", c->pos,
                  sizeof(struct virtio_pci_cfg_cap), c->cap_len);
            continue;
        }
        if (c->type < VIRTIO_PCI_CAP_COMMON_CFG ||
            (c->type > VIRTIO_PCI_CAP_PCI_CFG && c->type != VIRTIO_PCI_CAP_SHARED_MEMORY_CFG)) {
            note("vendor capability type %u at 0x%02x ignored", c->type, c->pos);
            continue;
        }
        check(c->cap_len >= sizeof(struct virtio_pci_cap), "%s cap at 0x%02x: cap_len >= %zu (got %u)",
              cap_type_name(c->type), c->pos, sizeof(struct virtio_pci_cap), c->cap_len);
        check_cap_fits(f, c);
        if (c->type == VIRTIO_PCI_CAP_COMMON_CFG && seen[c->type] == 1)
            check(c->length >= sizeof(struct virtio_pci_common_cfg),
                  "common cfg length >= %zu (got %llu)", sizeof(struct virtio_pci_common_cfg),
                  (unsigned long long)c->length);
        if (c->type == VIRTIO_PCI_CAP_NOTIFY_CFG && seen[c->type] == 1)
            check_notify(f, d, c);
        if (c->type == VIRTIO_PCI_CAP_ISR_CFG && seen[c->type] == 1)
            check(c->length >= 1, "isr cap length >= 1 (got %llu)", (unsigned long long)c->length);
    }
    check(seen[VIRTIO_PCI_CAP_COMMON_CFG] >= 1, "common cfg capability present (%u)",
          seen[VIRTIO_PCI_CAP_COMMON_CFG]);
    check(seen[VIRTIO_PCI_CAP_NOTIFY_CFG] >= 1, "notify capability present (%u)",
          seen[VIRTIO_PCI_CAP_NOTIFY_CFG]);
    check(seen[VIRTIO_PCI_CAP_ISR_CFG] >= 1, "isr capability present (%u)",
          seen[VIRTIO_PCI_CAP_ISR_CFG]);
    if (d->virtio_type != VIRTIO_ID_RNG)
        check(seen[VIRTIO_PCI_CAP_DEVICE_CFG] >= 1,
              "device cfg capability present for a type with config (%u)",
              seen[VIRTIO_PCI_CAP_DEVICE_CFG]);
    if (check(seen[VIRTIO_PCI_CAP_PCI_CFG] >= 1, "pci_cfg capability present (%u)",
              seen[VIRTIO_PCI_CAP_PCI_CFG]) &&
        d->pci_cfg_cap)
        check_pci_cfg_window(f, d, d->pci_cfg_cap);
}
