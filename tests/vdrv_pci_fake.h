/* A fake virtio-pci function for the driver-side tests: a config space with
 * hand-built capabilities, a modern BAR with a live common config, a legacy
 * BAR0, an MSI-X table. Every BAR access and config write is logged so tests
 * can check register sequences, not just end states. One instance (F) per
 * test program; include after cmocka. */
#ifndef KICK_TEST_VDRV_PCI_FAKE_H
#define KICK_TEST_VDRV_PCI_FAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "guest/vdrv_pci.h"

#define MBAR 4          /* modern BAR */
#define XBAR 1          /* MSI-X table BAR */
#define COMMON_OFF 0x0000
#define ISR_OFF    0x1000
#define DEVCFG_OFF 0x2000
#define NOTIFY_OFF 0x3000
#define MULT       4
#define NQ         3

struct access { bool write; int bar; uint64_t off; uint64_t val; unsigned len; };

struct fake {
    uint8_t cfg[256];
    uint8_t devcfg[64];
    uint8_t leg_cfg[64];
    uint8_t msix[16 * 8];
    uint32_t dev_features[2], drv_features[2];
    uint32_t dfsel, gfsel;
    uint16_t qsel, qmax[NQ], qsize[NQ], qvec[NQ], qnoff[NQ], qenable[NQ], config_vec;
    uint64_t qaddr[NQ][3];
    uint32_t pfn[NQ];
    uint8_t status, isr, gen;
    unsigned reset_reads;     /* status reads that still see the old value */
    unsigned gen_bumps;       /* generation reads that see a new value */
    bool refuse_features_ok;
    unsigned vectors;         /* vectors the device accepts */
    unsigned cfg_reads;
    struct access log[512];
    unsigned nlog;
};

static struct fake F;

static void logit(bool w, int bar, uint64_t off, uint64_t val, unsigned len)
{
    if (F.nlog < 512)
        F.log[F.nlog++] = (struct access){ w, bar, off, val, len };
}

static uint64_t le_get(const uint8_t *p, unsigned len)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void le_put(uint8_t *p, uint64_t v, unsigned len)
{
    for (unsigned i = 0; i < len; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t f_cfg_read(void *ctx, uint32_t off, unsigned len)
{
    (void)ctx;
    F.cfg_reads++;
    assert_true(off + len <= 256);
    return (uint32_t)le_get(F.cfg + off, len);
}

static void f_cfg_write(void *ctx, uint32_t off, uint32_t val, unsigned len)
{
    (void)ctx;
    logit(true, -1, off, val, len);
    assert_true(off + len <= 256);
    le_put(F.cfg + off, val, len);
}

static bool msix_on(void)
{
    return F.cfg[0x40] == PCI_CAP_ID_MSIX && (le_get(F.cfg + 0x42, 2) & PCI_MSIX_FLAGS_ENABLE);
}

static uint16_t vec_ok(uint64_t v)
{
    return v < F.vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static uint64_t common_read(uint64_t off)
{
    unsigned s = F.qsel < NQ ? F.qsel : 0;
    switch (off) {
    case VIRTIO_PCI_COMMON_DF: return F.dfsel < 2 ? F.dev_features[F.dfsel] : 0;
    case VIRTIO_PCI_COMMON_GF: return F.gfsel < 2 ? F.drv_features[F.gfsel] : 0;
    case VIRTIO_PCI_COMMON_MSIX: return F.config_vec;
    case VIRTIO_PCI_COMMON_NUMQ: return NQ;
    case VIRTIO_PCI_COMMON_STATUS:
        if (F.reset_reads) {
            F.reset_reads--;
            return 0x0f;
        }
        return F.status;
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        if (F.gen_bumps) {
            F.gen_bumps--;
            F.gen++;
            F.devcfg[0]++; /* the device changes config as it bumps */
        }
        return F.gen;
    case VIRTIO_PCI_COMMON_Q_SELECT: return F.qsel;
    case VIRTIO_PCI_COMMON_Q_SIZE: return F.qsel < NQ ? F.qsize[s] : 0;
    case VIRTIO_PCI_COMMON_Q_MSIX: return F.qvec[s];
    case VIRTIO_PCI_COMMON_Q_ENABLE: return F.qenable[s];
    case VIRTIO_PCI_COMMON_Q_NOFF: return F.qnoff[s];
    }
    return 0;
}

static void common_write(uint64_t off, uint64_t v)
{
    unsigned s = F.qsel < NQ ? F.qsel : 0;
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT: F.dfsel = (uint32_t)v; break;
    case VIRTIO_PCI_COMMON_GFSELECT: F.gfsel = (uint32_t)v; break;
    case VIRTIO_PCI_COMMON_GF: if (F.gfsel < 2) F.drv_features[F.gfsel] = (uint32_t)v; break;
    case VIRTIO_PCI_COMMON_MSIX: F.config_vec = vec_ok(v); break;
    case VIRTIO_PCI_COMMON_STATUS:
        F.status = (uint8_t)v;
        if (F.refuse_features_ok)
            F.status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
        break;
    case VIRTIO_PCI_COMMON_Q_SELECT: F.qsel = (uint16_t)v; break;
    case VIRTIO_PCI_COMMON_Q_SIZE: F.qsize[s] = (uint16_t)v; break;
    case VIRTIO_PCI_COMMON_Q_MSIX: F.qvec[s] = vec_ok(v); break;
    case VIRTIO_PCI_COMMON_Q_ENABLE: F.qenable[s] = (uint16_t)v; break;
    default:
        if (off >= VIRTIO_PCI_COMMON_Q_DESCLO && off <= VIRTIO_PCI_COMMON_Q_USEDHI) {
            unsigned which = (unsigned)(off - VIRTIO_PCI_COMMON_Q_DESCLO) / 8;
            unsigned shift = (off & 4) ? 32 : 0;
            F.qaddr[s][which] &= ~(0xffffffffull << shift);
            F.qaddr[s][which] |= (v & 0xffffffffull) << shift;
        }
    }
}

static uint64_t legacy_read(uint64_t off, unsigned len)
{
    unsigned s = F.qsel < NQ ? F.qsel : 0;
    unsigned cfg_off = VIRTIO_PCI_CONFIG_OFF(msix_on());
    if (off >= cfg_off)
        return le_get(F.leg_cfg + off - cfg_off, len);
    switch (off) {
    case VIRTIO_PCI_HOST_FEATURES: return F.dev_features[0];
    case VIRTIO_PCI_GUEST_FEATURES: return F.drv_features[0];
    case VIRTIO_PCI_QUEUE_PFN: return F.pfn[s];
    case VIRTIO_PCI_QUEUE_NUM: return F.qsel < NQ ? F.qmax[s] : 0;
    case VIRTIO_PCI_STATUS: return F.status;
    case VIRTIO_PCI_ISR: { uint8_t v = F.isr; F.isr = 0; return v; }
    case VIRTIO_MSI_CONFIG_VECTOR: return F.config_vec;
    case VIRTIO_MSI_QUEUE_VECTOR: return F.qvec[s];
    }
    return 0;
}

static void legacy_write(uint64_t off, uint64_t v, unsigned len)
{
    unsigned s = F.qsel < NQ ? F.qsel : 0;
    unsigned cfg_off = VIRTIO_PCI_CONFIG_OFF(msix_on());
    if (off >= cfg_off) {
        le_put(F.leg_cfg + off - cfg_off, v, len);
        return;
    }
    switch (off) {
    case VIRTIO_PCI_GUEST_FEATURES: F.drv_features[0] = (uint32_t)v; break;
    case VIRTIO_PCI_QUEUE_PFN: F.pfn[s] = (uint32_t)v; break;
    case VIRTIO_PCI_QUEUE_SEL: F.qsel = (uint16_t)v; break;
    case VIRTIO_PCI_STATUS: F.status = (uint8_t)v; break;
    case VIRTIO_MSI_CONFIG_VECTOR: F.config_vec = vec_ok(v); break;
    case VIRTIO_MSI_QUEUE_VECTOR: F.qvec[s] = vec_ok(v); break;
    }
}

static uint64_t f_bar_read(void *ctx, int bar, uint64_t off, unsigned len)
{
    (void)ctx;
    logit(false, bar, off, 0, len);
    if (bar == 0)
        return legacy_read(off, len);
    if (bar == XBAR)
        return off + len <= sizeof(F.msix) ? le_get(F.msix + off, len) : 0;
    assert_int_equal(bar, MBAR);
    if (off < ISR_OFF)
        return common_read(off - COMMON_OFF);
    if (off == ISR_OFF) {
        uint8_t v = F.isr;
        F.isr = 0;
        return v;
    }
    if (off >= DEVCFG_OFF && off + len <= DEVCFG_OFF + sizeof(F.devcfg))
        return le_get(F.devcfg + off - DEVCFG_OFF, len);
    return 0;
}

static void f_bar_write(void *ctx, int bar, uint64_t off, uint64_t val, unsigned len)
{
    (void)ctx;
    logit(true, bar, off, val, len);
    if (bar == 0)
        legacy_write(off, val, len);
    else if (bar == XBAR && off + len <= sizeof(F.msix))
        le_put(F.msix + off, val, len);
    else if (bar == MBAR && off < ISR_OFF)
        common_write(off - COMMON_OFF, val);
    else if (bar == MBAR && off >= DEVCFG_OFF && off + len <= DEVCFG_OFF + sizeof(F.devcfg))
        le_put(F.devcfg + off - DEVCFG_OFF, val, len);
}

static const struct vdrv_io fake_io = { f_cfg_read, f_cfg_write, f_bar_read, f_bar_write, NULL };

/* ---- building config spaces ---- */

static void put_cap(uint8_t pos, uint8_t id, uint8_t next)
{
    F.cfg[pos + PCI_CAP_LIST_ID] = id;
    F.cfg[pos + PCI_CAP_LIST_NEXT] = next;
}

static void put_vcap(uint8_t pos, uint8_t next, uint8_t type, uint8_t bar, uint32_t off,
                     uint32_t len, uint8_t cap_len)
{
    put_cap(pos, PCI_CAP_ID_VNDR, next);
    F.cfg[pos + VIRTIO_PCI_CAP_LEN] = cap_len;
    F.cfg[pos + VIRTIO_PCI_CAP_CFG_TYPE] = type;
    F.cfg[pos + VIRTIO_PCI_CAP_BAR] = bar;
    le_put(F.cfg + pos + VIRTIO_PCI_CAP_OFFSET, off, 4);
    le_put(F.cfg + pos + VIRTIO_PCI_CAP_LENGTH, len, 4);
}

static void fake_reset(uint16_t device, uint16_t subsys)
{
    memset(&F, 0, sizeof(F));
    le_put(F.cfg + PCI_VENDOR_ID, 0x1af4, 2);
    le_put(F.cfg + PCI_DEVICE_ID, device, 2);
    le_put(F.cfg + PCI_SUBSYSTEM_VENDOR_ID, 0x1af4, 2);
    le_put(F.cfg + PCI_SUBSYSTEM_ID, subsys, 2);
    F.cfg[PCI_REVISION_ID] = device >= 0x1040 ? 1 : 0;
    for (unsigned q = 0; q < NQ; q++) {
        F.qmax[q] = F.qsize[q] = 256;
        F.qnoff[q] = (uint16_t)q;
        F.qvec[q] = VIRTIO_MSI_NO_VECTOR;
    }
    F.config_vec = VIRTIO_MSI_NO_VECTOR;
    F.vectors = 4;
}

/* Modern capabilities (and MSI-X with 4 vectors in BAR1) as kick's vpci lays
 * them out. */
static void fake_modern_caps(void)
{
    le_put(F.cfg + PCI_STATUS, PCI_STATUS_CAP_LIST, 2);
    F.cfg[PCI_CAPABILITY_LIST] = 0x40;
    put_cap(0x40, PCI_CAP_ID_MSIX, 0x50);
    le_put(F.cfg + 0x42, 4 - 1, 2);
    le_put(F.cfg + 0x44, 0 | XBAR, 4);
    le_put(F.cfg + 0x48, 0x800 | XBAR, 4);
    put_vcap(0x50, 0x60, VIRTIO_PCI_CAP_COMMON_CFG, MBAR, COMMON_OFF, 0x38, 16);
    put_vcap(0x60, 0x78, VIRTIO_PCI_CAP_NOTIFY_CFG, MBAR, NOTIFY_OFF, 0x1000, 20);
    le_put(F.cfg + 0x60 + VIRTIO_PCI_NOTIFY_CAP_MULT, MULT, 4);
    put_vcap(0x78, 0x88, VIRTIO_PCI_CAP_ISR_CFG, MBAR, ISR_OFF, 1, 16);
    put_vcap(0x88, 0x98, VIRTIO_PCI_CAP_DEVICE_CFG, MBAR, DEVCFG_OFF, sizeof(F.devcfg), 16);
    put_vcap(0x98, 0x00, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 20);
}

static void fake_legacy_bar0(void)
{
    le_put(F.cfg + PCI_BASE_ADDRESS_0, 0xc000 | PCI_BASE_ADDRESS_SPACE_IO, 4);
}

#endif
