/* Shared by test_pci.c and test_pci_msix.c: a pci_func whose owner records
 * every callback, so tests can assert on what the model reported. */
#ifndef KICK_TEST_PCI_FIXTURE_H
#define KICK_TEST_PCI_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "pci/pci.h"

#define LOG_MAX 32

/* What the owner saw through the callbacks. */
struct rec {
    struct { int bar; uint64_t addr; bool en; } map[LOG_MAX];
    int nmap;
    struct { uint64_t addr; uint32_t data; } msi[LOG_MAX];
    int nmsi;
    int changed[LOG_MAX];
    int nchanged;
    bool intx[LOG_MAX];
    int nintx;
    int nbar_read, nbar_write;
    int last_bar;
    uint64_t last_off, last_val;
    unsigned last_len;
    int nhook;
    uint32_t hook_off;
    unsigned hook_len;
    bool hook_write;
    uint8_t hook_seen[4];
};

struct fx {
    struct pci_func f;
    struct rec r;
};

static inline struct rec *rec_of(struct pci_func *f)
{
    return f->owner;
}

static inline void cb_bar_read(struct pci_func *f, int bar, uint64_t off, void *data, unsigned len)
{
    struct rec *r = rec_of(f);
    r->nbar_read++;
    r->last_bar = bar;
    r->last_off = off;
    r->last_len = len;
    memset(data, 0xa5, len);
}

static inline void cb_bar_write(struct pci_func *f, int bar, uint64_t off, const void *data, unsigned len)
{
    struct rec *r = rec_of(f);
    r->nbar_write++;
    r->last_bar = bar;
    r->last_off = off;
    r->last_len = len;
    r->last_val = 0;
    memcpy(&r->last_val, data, len);
}

static inline void cb_bar_map(struct pci_func *f, int bar, uint64_t addr, bool en)
{
    struct rec *r = rec_of(f);
    assert_true(r->nmap < LOG_MAX);
    r->map[r->nmap].bar = bar;
    r->map[r->nmap].addr = addr;
    r->map[r->nmap].en = en;
    r->nmap++;
    /* The model's own view must already agree when the owner is told. */
    assert_int_equal(pci_bar_enabled(f, bar), en);
    assert_int_equal(pci_bar_addr(f, bar), addr);
}

static inline void cb_msi(struct pci_func *f, uint64_t addr, uint32_t data)
{
    struct rec *r = rec_of(f);
    assert_true(r->nmsi < LOG_MAX);
    r->msi[r->nmsi].addr = addr;
    r->msi[r->nmsi].data = data;
    r->nmsi++;
}

static inline void cb_msix_changed(struct pci_func *f, int vector)
{
    struct rec *r = rec_of(f);
    assert_true(r->nchanged < LOG_MAX);
    r->changed[r->nchanged++] = vector;
}

static inline void cb_intx(struct pci_func *f, bool level)
{
    struct rec *r = rec_of(f);
    assert_true(r->nintx < LOG_MAX);
    r->intx[r->nintx++] = level;
}

static const struct pci_func_ops ops = {
    .bar_read = cb_bar_read,
    .bar_write = cb_bar_write,
    .bar_map = cb_bar_map,
    .msi = cb_msi,
    .msix_changed = cb_msix_changed,
    .intx = cb_intx,
};

static const struct pci_id test_id = {
    .vendor = 0x1af4, .device = 0x1041, .subsys_vendor = 0x1af4, .subsys = 0x0001,
    .revision = 0x01, .class_code = 0x020000, .intx_pin = 1,
};

static inline int setup(void **state)
{
    struct fx *x = test_calloc(1, sizeof *x);
    pci_func_init(&x->f, &test_id, &ops, &x->r);
    *state = x;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *x = *state;
    pci_func_destroy(&x->f);
    test_free(x);
    return 0;
}

#define FX struct fx *x = *state; struct pci_func *f = &x->f; struct rec *r = &x->r; (void)r

static inline uint32_t rd(struct pci_func *f, uint32_t off, unsigned len)
{
    return pci_cfg_read_val(f, off, len);
}

static inline void wr(struct pci_func *f, uint32_t off, uint32_t v, unsigned len)
{
    pci_cfg_write_val(f, off, v, len);
}

#endif
