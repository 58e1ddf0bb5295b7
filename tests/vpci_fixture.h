/* test_vpci.c's fixture: a small virtio device (2 queues of 16, a few
 * feature bits, an 8-byte config) on a vpci transport, over 1 MiB of
 * malloc'd guest RAM, with every host callback recorded. Tests reach the
 * transport only as a guest would: config space and BAR accesses. */
#ifndef KICK_TEST_VPCI_FIXTURE_H
#define KICK_TEST_VPCI_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_net.h>

#include "virtio/gmem.h"
#include "virtio/vpci.h"

#define RAM_SIZE (1u << 20)
#define NQ 2
#define QMAX 16
#define NVEC 3
#define TEST_FEATURES ((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_MAC) | \
                       (1ull << VIRTIO_F_RING_RESET))
/* ISR bit 0, "queue interrupt" (virtio 1.2 4.1.4.5) */
#define VPCI_ISR_QUEUE_BIT 0x1
#define MODERN VPCI_MODERN_BAR
#define LEGACY VPCI_LEGACY_BAR

struct fx {
    uint8_t *ram;
    struct gmem mem;
    struct virtq vqs[NQ];
    uint8_t config[8];
    struct virtio_dev dev;
    struct vpci t;
    struct pci_func *f;

    unsigned notified[16];
    int nnotify;
    bool intx;
    int nintx;
    uint64_t msi_addr;
    uint32_t msi_data;
    int nmsi;
    int nchanged, last_changed;
};

static inline void on_queue_notify(struct virtio_dev *d, unsigned q)
{
    struct fx *x = d->priv;
    if (x->nnotify < 16)
        x->notified[x->nnotify] = q;
    x->nnotify++;
}

static inline void on_msi(struct vpci *t, uint64_t addr, uint32_t data)
{
    struct fx *x = t->host;
    x->msi_addr = addr;
    x->msi_data = data;
    x->nmsi++;
}

static inline void on_intx(struct vpci *t, bool level)
{
    struct fx *x = t->host;
    x->intx = level;
    x->nintx++;
}

static inline void on_msix_changed(struct vpci *t, int vector)
{
    struct fx *x = t->host;
    x->last_changed = vector;
    x->nchanged++;
}

static const struct virtio_dev_ops dev_ops = { .queue_notify = on_queue_notify };
static const struct vpci_host_ops host_ops = { .msi = on_msi, .intx = on_intx,
                                              .msix_changed = on_msix_changed };

static inline struct fx *fx_new(uint16_t type, enum vpci_mode mode, unsigned nvec)
{
    struct fx *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->ram = calloc(1, RAM_SIZE);
    assert_non_null(x->ram);
    gmem_init(&x->mem);
    assert_int_equal(gmem_add(&x->mem, 0, RAM_SIZE, x->ram), 0);
    for (unsigned i = 0; i < sizeof x->config; i++)
        x->config[i] = (uint8_t)(0x10 + i);
    virtio_dev_init(&x->dev, type, TEST_FEATURES, x->vqs, NQ, QMAX, x->config,
                    sizeof x->config, &dev_ops, x);
    x->dev.mem = &x->mem;
    assert_int_equal(vpci_init(&x->t, &x->dev, mode, nvec, &host_ops, x), 0);
    x->f = vpci_func(&x->t);
    return x;
}

static inline int fx_teardown(void **state)
{
    struct fx *x = *state;
    if (x) {
        vpci_destroy(&x->t);
        free(x->ram);
        free(x);
    }
    return 0;
}

static inline int setup_modern(void **state)
{
    *state = fx_new(VIRTIO_ID_NET, VPCI_MODERN, NVEC);
    return 0;
}

static inline int setup_transitional(void **state)
{
    *state = fx_new(VIRTIO_ID_NET, VPCI_TRANSITIONAL, NVEC);
    return 0;
}

static inline int setup_legacy(void **state)
{
    *state = fx_new(VIRTIO_ID_NET, VPCI_LEGACY, NVEC);
    return 0;
}

static inline int setup_modern_nomsix(void **state)
{
    *state = fx_new(VIRTIO_ID_NET, VPCI_MODERN, 0);
    return 0;
}

/* ---- guest accesses ---- */

static inline uint32_t cfg_rd(struct fx *x, uint32_t off, unsigned len)
{
    return pci_cfg_read_val(x->f, off, len);
}

static inline void cfg_wr(struct fx *x, uint32_t off, uint32_t val, unsigned len)
{
    pci_cfg_write_val(x->f, off, val, len);
}

static inline uint64_t bar_rd(struct fx *x, int bar, uint64_t off, unsigned len)
{
    uint8_t b[8] = { 0 };
    uint64_t v = 0;
    pci_bar_read(x->f, bar, off, b, len);
    for (unsigned i = 0; i < len; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static inline void bar_wr(struct fx *x, int bar, uint64_t off, uint64_t val, unsigned len)
{
    uint8_t b[8];
    for (unsigned i = 0; i < len; i++)
        b[i] = (uint8_t)(val >> (8 * i));
    pci_bar_write(x->f, bar, off, b, len);
}

/* Common cfg field at its own width. */
static inline uint32_t cc_rd(struct fx *x, unsigned off, unsigned len)
{
    return (uint32_t)bar_rd(x, MODERN, VPCI_COMMON_OFF + off, len);
}

static inline void cc_wr(struct fx *x, unsigned off, uint32_t val, unsigned len)
{
    bar_wr(x, MODERN, VPCI_COMMON_OFF + off, val, len);
}

/* Config offset of the vendor capability of cfg_type, by walking the list
 * as a driver does; 0 if absent. */
static inline uint32_t find_vcap(struct fx *x, uint8_t cfg_type)
{
    unsigned guard = 0;
    for (uint32_t c = cfg_rd(x, PCI_CAPABILITY_LIST, 1); c && guard < 48; guard++) {
        if (cfg_rd(x, c, 1) == PCI_CAP_ID_VNDR && cfg_rd(x, c + 3, 1) == cfg_type)
            return c;
        c = cfg_rd(x, c + 1, 1);
    }
    return 0;
}

static inline uint32_t find_cap(struct fx *x, uint8_t id)
{
    unsigned guard = 0;
    for (uint32_t c = cfg_rd(x, PCI_CAPABILITY_LIST, 1); c && guard < 48; guard++) {
        if (cfg_rd(x, c, 1) == id)
            return c;
        c = cfg_rd(x, c + 1, 1);
    }
    return 0;
}

/* ACKNOWLEDGE, DRIVER, VERSION_1 (+extra), FEATURES_OK. */
static inline void negotiate(struct fx *x, uint64_t extra)
{
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | extra;
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
    cc_wr(x, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GF, (uint32_t)want, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_GF, (uint32_t)(want >> 32), 4);
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                           VIRTIO_CONFIG_S_FEATURES_OK, 1);
}

/* Rings of queue q inside RAM: desc, avail, used 4 KiB apart. */
static inline void setup_ring(struct fx *x, unsigned q, uint64_t base)
{
    cc_wr(x, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)base, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_DESCHI, (uint32_t)(base >> 32), 4);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)(base + 0x1000), 4);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_AVAILHI, 0, 4);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)(base + 0x2000), 4);
    cc_wr(x, VIRTIO_PCI_COMMON_Q_USEDHI, 0, 4);
}

static inline void driver_ok(struct fx *x)
{
    cc_wr(x, VIRTIO_PCI_COMMON_STATUS,
          VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
              VIRTIO_CONFIG_S_DRIVER_OK, 1);
}

/* MSI-X on, vector v unmasked with message (0xfee00000 + v * 0x10, 0x40 + v). */
static inline void msix_enable(struct fx *x)
{
    uint32_t cap = find_cap(x, PCI_CAP_ID_MSIX);
    assert_int_not_equal(cap, 0);
    cfg_wr(x, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    cfg_wr(x, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
}

static inline void msix_program(struct fx *x, unsigned v)
{
    uint64_t e = (uint64_t)v * PCI_MSIX_ENTRY_SIZE;
    bar_wr(x, VPCI_MSIX_BAR, e + PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000u + v * 0x10, 4);
    bar_wr(x, VPCI_MSIX_BAR, e + PCI_MSIX_ENTRY_UPPER_ADDR, 0, 4);
    bar_wr(x, VPCI_MSIX_BAR, e + PCI_MSIX_ENTRY_DATA, 0x40 + v, 4);
    bar_wr(x, VPCI_MSIX_BAR, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
}

#define X struct fx *x = *state

#endif
