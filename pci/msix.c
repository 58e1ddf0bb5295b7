/* MSI-X: the capability, the vector table and pending bit array inside a
 * memory BAR, masking and delivery. */
#include "pci/pci.h"
#include "pci/pci_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t pba_bytes(unsigned nvec)
{
    return (nvec + 63u) / 64u * 8u;
}

static uint64_t table_bytes(unsigned nvec)
{
    return (uint64_t)nvec * PCI_MSIX_ENTRY_SIZE;
}

static bool msix_bar_usable(const struct pci_func *f, int n)
{
    return n >= 0 && n < PCI_NUM_BARS && f->bar[n].size && !(f->bar[n].flags & PCI_BAR_IO);
}

static bool fits(uint64_t bar_size, uint64_t off, uint64_t len)
{
    return off <= bar_size && len <= bar_size - off;
}

int pci_msix_init(struct pci_func *f, unsigned nvec, int table_bar, uint32_t table_off,
                  int pba_bar, uint32_t pba_off)
{
    if (f->msix.nvec)
        return -EBUSY;
    if (nvec == 0 || nvec > PCI_MSIX_MAX_VECTORS)
        return -EINVAL;
    if (!msix_bar_usable(f, table_bar) || !msix_bar_usable(f, pba_bar))
        return -EINVAL;
    /* The low three bits of both offset registers carry the BAR index. */
    if ((table_off & PCI_MSIX_TABLE_BIR) || (pba_off & PCI_MSIX_PBA_BIR))
        return -EINVAL;
    uint64_t tlen = table_bytes(nvec), plen = pba_bytes(nvec);
    if (!fits(f->bar[table_bar].size, table_off, tlen) ||
        !fits(f->bar[pba_bar].size, pba_off, plen))
        return -EINVAL;
    if (table_bar == pba_bar && pci_ranges_overlap(table_off, tlen, pba_off, plen))
        return -EINVAL;

    uint8_t *table = calloc(nvec, PCI_MSIX_ENTRY_SIZE);
    uint64_t *pba = calloc(plen / 8, sizeof *pba);
    if (!table || !pba) {
        free(table);
        free(pba);
        return -ENOMEM;
    }
    for (unsigned v = 0; v < nvec; v++)
        table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;

    uint8_t cap[PCI_CAP_MSIX_SIZEOF] = { PCI_CAP_ID_MSIX };
    pci_put_le(cap + PCI_MSIX_FLAGS, nvec - 1, 2);
    pci_put_le(cap + PCI_MSIX_TABLE, table_off | (uint32_t)table_bar, 4);
    pci_put_le(cap + PCI_MSIX_PBA, pba_off | (uint32_t)pba_bar, 4);
    int off = pci_cap_add(f, cap, sizeof cap);
    if (off < 0) {
        free(table);
        free(pba);
        return off;
    }
    /* Only enable and function mask are the guest's; they live in the high
     * byte of message control. */
    pci_cfg_set_wmask(f, (uint32_t)off + PCI_MSIX_FLAGS + 1, 1,
                      (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8);

    f->msix = (struct pci_msix){
        .nvec = nvec,
        .cap = (uint8_t)off,
        .table_bar = table_bar,
        .pba_bar = pba_bar,
        .table_off = table_off,
        .pba_off = pba_off,
        .table = table,
        .pba = pba,
    };
    return off;
}

static uint16_t msix_ctrl(const struct pci_func *f)
{
    return (uint16_t)pci_get_le(f->cfg + f->msix.cap + PCI_MSIX_FLAGS, 2);
}

bool pci_msix_enabled(const struct pci_func *f)
{
    return f->msix.nvec && (msix_ctrl(f) & PCI_MSIX_FLAGS_ENABLE);
}

static bool function_masked(const struct pci_func *f)
{
    return msix_ctrl(f) & PCI_MSIX_FLAGS_MASKALL;
}

static uint8_t *entry(const struct pci_func *f, unsigned v)
{
    return f->msix.table + (size_t)v * PCI_MSIX_ENTRY_SIZE;
}

static bool vector_masked(const struct pci_func *f, unsigned v)
{
    return entry(f, v)[PCI_MSIX_ENTRY_VECTOR_CTRL] & PCI_MSIX_ENTRY_CTRL_MASKBIT;
}

static bool pending(const struct pci_func *f, unsigned v)
{
    return (f->msix.pba[v / 64] >> (v % 64)) & 1;
}

static void deliver(struct pci_func *f, unsigned v)
{
    const uint8_t *e = entry(f, v);

    if (f->ops->msi)
        f->ops->msi(f, pci_get_le(e + PCI_MSIX_ENTRY_LOWER_ADDR, 8),
                    (uint32_t)pci_get_le(e + PCI_MSIX_ENTRY_DATA, 4));
}

/* A pending vector fires as soon as nothing masks it any more. */
static void flush_pending(struct pci_func *f, unsigned v)
{
    if (!pci_msix_enabled(f) || function_masked(f) || vector_masked(f, v) || !pending(f, v))
        return;
    f->msix.pba[v / 64] &= ~(1ull << (v % 64));
    deliver(f, v);
}

bool pci_msix_notify(struct pci_func *f, unsigned v)
{
    if (!pci_msix_enabled(f) || v >= f->msix.nvec)
        return false;
    if (function_masked(f) || vector_masked(f, v))
        f->msix.pba[v / 64] |= 1ull << (v % 64);
    else
        deliver(f, v);
    return true;
}

int pci_msix_message(const struct pci_func *f, unsigned v, uint64_t *addr, uint32_t *data,
                     bool *masked)
{
    if (v >= f->msix.nvec)
        return -EINVAL;
    const uint8_t *e = entry(f, v);
    if (addr)
        *addr = pci_get_le(e + PCI_MSIX_ENTRY_LOWER_ADDR, 8);
    if (data)
        *data = (uint32_t)pci_get_le(e + PCI_MSIX_ENTRY_DATA, 4);
    if (masked)
        *masked = function_masked(f) || vector_masked(f, v);
    return 0;
}

void pci_msix_ctrl_written(struct pci_func *f, uint16_t old_ctrl)
{
    const uint16_t guest_bits = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;

    if (!((old_ctrl ^ msix_ctrl(f)) & guest_bits))
        return;
    if (f->ops->msix_changed)
        f->ops->msix_changed(f, -1);
    if (!pci_msix_enabled(f) || function_masked(f))
        return;
    for (unsigned w = 0; w < pba_bytes(f->msix.nvec) / 8; w++) {
        /* Walk a snapshot: flush_pending re-checks the live state, so an msi
         * callback that changes masks meanwhile cannot confuse the walk. */
        for (uint64_t bits = f->msix.pba[w]; bits; bits &= bits - 1)
            flush_pending(f, w * 64 + (unsigned)__builtin_ctzll(bits));
    }
}

/* Which MSI-X structure an access in BAR n falls in. An access that only
 * partly covers one is refused rather than split. */
enum msix_region { MSIX_NONE, MSIX_TABLE, MSIX_PBA, MSIX_REFUSED };

static enum msix_region in_region(uint64_t off, unsigned len, uint64_t start, uint64_t size,
                                  enum msix_region inside, uint64_t *rel)
{
    if (off < start || !fits(size, off - start, len))
        return MSIX_REFUSED;
    *rel = off - start;
    return inside;
}

static enum msix_region msix_region(const struct pci_func *f, int n, uint64_t off, unsigned len,
                                    uint64_t *rel)
{
    const struct pci_msix *m = &f->msix;
    uint64_t tlen = table_bytes(m->nvec), plen = pba_bytes(m->nvec);

    if (!m->nvec)
        return MSIX_NONE;
    if (n == m->table_bar && pci_ranges_overlap(off, len, m->table_off, tlen))
        return in_region(off, len, m->table_off, tlen, MSIX_TABLE, rel);
    if (n == m->pba_bar && pci_ranges_overlap(off, len, m->pba_off, plen))
        return in_region(off, len, m->pba_off, plen, MSIX_PBA, rel);
    return MSIX_NONE;
}

bool pci_msix_bar_read(struct pci_func *f, int n, uint64_t off, void *data, unsigned len)
{
    uint64_t rel = 0;
    uint8_t *out = data;

    switch (msix_region(f, n, off, len, &rel)) {
    case MSIX_NONE:
        return false;
    case MSIX_TABLE:
        memcpy(out, f->msix.table + rel, len);
        return true;
    case MSIX_PBA:
        for (unsigned i = 0; i < len; i++) {
            uint64_t byte = rel + i;
            out[i] = (uint8_t)(f->msix.pba[byte / 8] >> (8 * (byte % 8)));
        }
        return true;
    case MSIX_REFUSED:
        break;
    }
    memset(out, 0xff, len);
    return true;
}

/* Per byte of a table entry, the bits the guest may write: address and data
 * in full, of vector control only the mask bit. */
static uint8_t entry_wmask(unsigned byte)
{
    if (byte < PCI_MSIX_ENTRY_VECTOR_CTRL)
        return 0xff;
    return byte == PCI_MSIX_ENTRY_VECTOR_CTRL ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0;
}

static void table_write(struct pci_func *f, uint64_t rel, const uint8_t *val, unsigned len)
{
    /* len <= 8 touches at most two entries. */
    unsigned first = (unsigned)(rel / PCI_MSIX_ENTRY_SIZE);
    unsigned last = (unsigned)((rel + len - 1) / PCI_MSIX_ENTRY_SIZE);
    uint8_t before[2][PCI_MSIX_ENTRY_SIZE];
    bool was_masked[2];

    for (unsigned v = first; v <= last; v++) {
        memcpy(before[v - first], entry(f, v), PCI_MSIX_ENTRY_SIZE);
        was_masked[v - first] = vector_masked(f, v);
    }
    for (unsigned i = 0; i < len; i++) {
        uint8_t *b = f->msix.table + rel + i;
        uint8_t mask = entry_wmask((unsigned)((rel + i) % PCI_MSIX_ENTRY_SIZE));
        *b = (uint8_t)((*b & ~mask) | (val[i] & mask));
    }
    for (unsigned v = first; v <= last; v++) {
        if (!memcmp(before[v - first], entry(f, v), PCI_MSIX_ENTRY_SIZE))
            continue;
        if (f->ops->msix_changed)
            f->ops->msix_changed(f, (int)v);
        if (was_masked[v - first] && !vector_masked(f, v))
            flush_pending(f, v);
    }
}

bool pci_msix_bar_write(struct pci_func *f, int n, uint64_t off, const void *data, unsigned len)
{
    uint64_t rel = 0;

    switch (msix_region(f, n, off, len, &rel)) {
    case MSIX_NONE:
        return false;
    case MSIX_TABLE:
        table_write(f, rel, data, len);
        return true;
    case MSIX_PBA:     /* read-only to the guest */
    case MSIX_REFUSED:
        return true;
    }
    return true;
}
