/* PCI function model: type 0 config space, BAR sizing and placement,
 * capability list, config hooks and INTx. MSI-X lives in msix.c. */
#include "pci/pci.h"
#include "pci/pci_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Stand-in so that every callback can be tested for NULL without also
 * testing the ops pointer. */
static const struct pci_func_ops no_ops;

/* Command bits a guest may change: decode, bus mastering, error reporting
 * and INTx disable. The rest are legacy features this model has not got. */
#define CMD_WRITABLE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
                      PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

/* Error bits the device would report; the guest clears them by writing 1. */
#define STATUS_W1C (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | \
                    PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT | \
                    PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

/* x86 port space is 16 bits wide; an I/O BAR ending above it cannot decode. */
#define IO_SPACE_END 0x10000ull
/* Widest physical address x86-64 defines. A 64-bit BAR beyond it holds a
 * sizing pattern or garbage, not a placement. */
#define MEM64_SPACE_END (1ull << 52)
/* PCI limits one I/O BAR to 256 bytes. */
#define IO_BAR_MAX 256u

static uint16_t cfg16(const struct pci_func *f, uint32_t off)
{
    return (uint16_t)pci_get_le(f->cfg + off, 2);
}

static void cfg_put(struct pci_func *f, uint32_t off, uint64_t v, unsigned len)
{
    pci_put_le(f->cfg + off, v, len);
}

static void wmask_put(struct pci_func *f, uint32_t off, uint64_t v, unsigned len)
{
    pci_put_le(f->wmask + off, v, len);
}

void pci_func_init(struct pci_func *f, const struct pci_id *id,
                   const struct pci_func_ops *ops, void *owner)
{
    static const struct pci_id no_id;

    if (!id)
        id = &no_id;
    memset(f, 0, sizeof *f);
    f->ops = ops ? ops : &no_ops;
    f->owner = owner;
    f->cap_end = PCI_STD_HEADER_SIZEOF;

    cfg_put(f, PCI_VENDOR_ID, id->vendor, 2);
    cfg_put(f, PCI_DEVICE_ID, id->device, 2);
    cfg_put(f, PCI_REVISION_ID, id->revision, 1);
    cfg_put(f, PCI_CLASS_PROG, id->class_code & 0xffffffu, 3);
    cfg_put(f, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL, 1);
    cfg_put(f, PCI_SUBSYSTEM_VENDOR_ID, id->subsys_vendor, 2);
    cfg_put(f, PCI_SUBSYSTEM_ID, id->subsys, 2);
    cfg_put(f, PCI_INTERRUPT_PIN, id->intx_pin <= 4 ? id->intx_pin : 0, 1);

    wmask_put(f, PCI_COMMAND, CMD_WRITABLE, 2);
    pci_put_le(f->w1cmask + PCI_STATUS, STATUS_W1C, 2);
    /* Linux writes the cache line size and reads it back; keep what it wrote. */
    wmask_put(f, PCI_CACHE_LINE_SIZE, 0xff, 1);
    wmask_put(f, PCI_INTERRUPT_LINE, 0xff, 1);
    /* BARs get their masks from pci_bar_set; the expansion ROM BAR stays 0
     * so sizing it reads 0, which says "no ROM". */
}

void pci_func_destroy(struct pci_func *f)
{
    free(f->msix.table);
    free(f->msix.pba);
    f->msix.table = NULL;
    f->msix.pba = NULL;
    f->msix.nvec = 0;
}

/* ---- BARs ---- */

static uint32_t bar_reg(int n)
{
    return PCI_BASE_ADDRESS_0 + 4u * (uint32_t)n;
}

static bool bar_is_upper_half(const struct pci_func *f, int n)
{
    return n > 0 && f->bar[n - 1].size && (f->bar[n - 1].flags & PCI_BAR_MEM64);
}

int pci_bar_set(struct pci_func *f, int n, uint64_t size, uint32_t flags)
{
    const uint32_t known = PCI_BAR_IO | PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
    bool io = flags & PCI_BAR_IO, is64 = flags & PCI_BAR_MEM64;

    if (n < 0 || n >= PCI_NUM_BARS || (flags & ~known))
        return -EINVAL;
    if (io && flags != PCI_BAR_IO)
        return -EINVAL;
    if (!size || (size & (size - 1)))
        return -EINVAL;
    if (io ? (size < 4 || size > IO_BAR_MAX) : size < 16)
        return -EINVAL;
    if (!io && !is64 && size > (1ull << 31))
        return -EINVAL;
    if (is64 && (n + 1 >= PCI_NUM_BARS || size > (1ull << 63)))
        return -EINVAL;
    if (f->bar[n].size || bar_is_upper_half(f, n) || (is64 && f->bar[n + 1].size))
        return -EINVAL;

    f->bar[n] = (struct pci_bar){ .size = size, .flags = flags };
    uint64_t base_bits = ~(size - 1);
    uint32_t flag_bits = io ? 0x3u : 0xfu;
    /* The flag bits double as the BAR's low read-only bits. */
    cfg_put(f, bar_reg(n), flags, 4);
    wmask_put(f, bar_reg(n), (uint32_t)base_bits & ~flag_bits, 4);
    if (is64) {
        cfg_put(f, bar_reg(n + 1), 0, 4);
        wmask_put(f, bar_reg(n + 1), (uint32_t)(base_bits >> 32), 4);
    }
    return 0;
}

static uint64_t bar_addr_from_cfg(const struct pci_func *f, int n)
{
    const struct pci_bar *b = &f->bar[n];
    uint32_t lo = (uint32_t)pci_get_le(f->cfg + bar_reg(n), 4);
    uint64_t addr = lo & ((b->flags & PCI_BAR_IO) ? ~0x3u : ~0xfu);

    if (b->flags & PCI_BAR_MEM64)
        addr |= pci_get_le(f->cfg + bar_reg(n + 1), 4) << 32;
    return addr;
}

/* Whether addr is a real placement rather than reset state, a sizing
 * pattern or a range the BAR's address space cannot hold. */
static bool bar_placeable(const struct pci_bar *b, uint64_t addr)
{
    uint64_t last = addr + (b->size - 1);

    if (!addr || last < addr)
        return false;
    if (b->flags & PCI_BAR_IO)
        return last < IO_SPACE_END;
    if (b->flags & PCI_BAR_MEM64)
        return last < MEM64_SPACE_END;
    /* A 32-bit BAR that ends at 4 GiB is indistinguishable from the all-ones
     * sizing write. */
    return last < 0xffffffffull;
}

static bool bar_decode_on(const struct pci_func *f, int n)
{
    uint16_t cmd = cfg16(f, PCI_COMMAND);

    return cmd & ((f->bar[n].flags & PCI_BAR_IO) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
}

/* Brings each BAR's recorded placement in line with config space and tells
 * the owner about what it routes: a change of enable, or of address while
 * enabled. Address changes while disabled route nothing, so stay quiet. */
static void bars_sync(struct pci_func *f)
{
    for (int n = 0; n < PCI_NUM_BARS; n++) {
        struct pci_bar *b = &f->bar[n];
        if (!b->size)
            continue;
        uint64_t addr = bar_addr_from_cfg(f, n);
        bool enabled = bar_decode_on(f, n) && bar_placeable(b, addr);
        bool changed = enabled != b->mapped || (enabled && addr != b->addr);
        b->addr = addr;
        b->mapped = enabled;
        if (changed && f->ops->bar_map)
            f->ops->bar_map(f, n, addr, enabled);
    }
}

uint64_t pci_bar_addr(const struct pci_func *f, int n)
{
    if (n < 0 || n >= PCI_NUM_BARS || !f->bar[n].size)
        return 0;
    return f->bar[n].addr;
}

bool pci_bar_enabled(const struct pci_func *f, int n)
{
    if (n < 0 || n >= PCI_NUM_BARS || !f->bar[n].size)
        return false;
    return bar_decode_on(f, n) && bar_placeable(&f->bar[n], f->bar[n].addr);
}

static bool bar_access_ok(const struct pci_func *f, int n, uint64_t off, unsigned len)
{
    if (n < 0 || n >= PCI_NUM_BARS || !f->bar[n].size)
        return false;
    if (len != 1 && len != 2 && len != 4 && len != 8)
        return false;
    return off < f->bar[n].size && len <= f->bar[n].size - off;
}

void pci_bar_read(struct pci_func *f, int n, uint64_t off, void *data, unsigned len)
{
    if (!data)
        return;
    if (!bar_access_ok(f, n, off, len)) {
        memset(data, 0xff, len);
        return;
    }
    if (pci_msix_bar_read(f, n, off, data, len))
        return;
    /* Zero first so an owner that forgets a range leaks no stack bytes. */
    memset(data, 0, len);
    if (f->ops->bar_read)
        f->ops->bar_read(f, n, off, data, len);
}

void pci_bar_write(struct pci_func *f, int n, uint64_t off, const void *data, unsigned len)
{
    if (!data || !bar_access_ok(f, n, off, len))
        return;
    if (pci_msix_bar_write(f, n, off, data, len))
        return;
    if (f->ops->bar_write)
        f->ops->bar_write(f, n, off, data, len);
}

/* ---- capabilities and hooks ---- */

int pci_cap_add(struct pci_func *f, const void *body, unsigned len)
{
    if (!body || len < 2)
        return -EINVAL;
    uint32_t start = f->cap_end < PCI_STD_HEADER_SIZEOF ? PCI_STD_HEADER_SIZEOF : f->cap_end;
    uint32_t off = (start + 3u) & ~3u;
    if (off >= PCI_CFG_STD_SIZE || len > PCI_CFG_STD_SIZE - off)
        return -ENOSPC;

    memcpy(f->cfg + off, body, len);
    f->cfg[off + PCI_CAP_LIST_NEXT] = 0;
    if (f->last_cap)
        f->cfg[f->last_cap + PCI_CAP_LIST_NEXT] = (uint8_t)off;
    else
        f->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
    f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    f->last_cap = (uint8_t)off;
    f->cap_end = off + len;
    return (int)off;
}

void pci_cfg_set_wmask(struct pci_func *f, uint32_t off, uint32_t len, uint8_t mask)
{
    if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off)
        return;
    memset(f->wmask + off, mask, len);
}

void pci_cfg_hook(struct pci_func *f, uint32_t off, uint32_t len, pci_cfg_hook_fn *fn)
{
    if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off)
        return;
    f->hook_off = off;
    f->hook_len = len;
    f->hook = fn;
}

/* The hook sees only the bytes of the access inside its range, so an access
 * straddling the range's edge never hands it foreign registers. */
static void cfg_hook_call(struct pci_func *f, uint32_t off, uint8_t *data, unsigned len,
                          bool is_write)
{
    if (!f->hook || !pci_ranges_overlap(off, len, f->hook_off, f->hook_len))
        return;
    uint32_t lo = off > f->hook_off ? off : f->hook_off;
    uint32_t end = off + len, hook_end = f->hook_off + f->hook_len;
    uint32_t hi = end < hook_end ? end : hook_end;
    f->hook(f, lo, data + (lo - off), hi - lo, is_write);
}

/* ---- INTx ---- */

/* The line as the interrupt controller sees it. With MSI-X enabled the
 * function is prohibited from using INTx (PCI Local Bus 3.0, 6.8.2). */
static bool intx_line(const struct pci_func *f)
{
    return f->intx_level && f->cfg[PCI_INTERRUPT_PIN] &&
           !(cfg16(f, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) && !pci_msix_enabled(f);
}

void pci_intx_set(struct pci_func *f, bool level)
{
    bool before = intx_line(f);

    f->intx_level = level;
    if (level)
        f->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        f->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    bool after = intx_line(f);
    if (after != before && f->ops->intx)
        f->ops->intx(f, after);
}

/* ---- config access ---- */

static bool cfg_access_ok(uint32_t off, unsigned len)
{
    return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_SIZE && off % len == 0;
}

void pci_cfg_read(struct pci_func *f, uint32_t off, void *data, unsigned len)
{
    if (!data)
        return;
    if (!cfg_access_ok(off, len)) {
        memset(data, 0xff, len);
        return;
    }
    memcpy(data, f->cfg + off, len);
    cfg_hook_call(f, off, data, len, false);
}

void pci_cfg_write(struct pci_func *f, uint32_t off, const void *data, unsigned len)
{
    if (!data || !cfg_access_ok(off, len))
        return;

    uint8_t val[4];
    memcpy(val, data, len);
    bool line_before = intx_line(f);
    uint32_t msix_ctrl_off = f->msix.cap + PCI_MSIX_FLAGS;
    uint16_t msix_ctrl_before = f->msix.nvec ? cfg16(f, msix_ctrl_off) : 0;

    for (unsigned i = 0; i < len; i++) {
        uint32_t at = off + i;
        uint8_t kept = f->cfg[at] & (uint8_t)~f->wmask[at];
        uint8_t next = kept | (val[i] & f->wmask[at]);
        f->cfg[at] = next & (uint8_t)~(val[i] & f->w1cmask[at]);
    }

    if (pci_ranges_overlap(off, len, PCI_COMMAND, 2) ||
        pci_ranges_overlap(off, len, PCI_BASE_ADDRESS_0, 4u * PCI_NUM_BARS))
        bars_sync(f);
    if (f->msix.nvec && pci_ranges_overlap(off, len, msix_ctrl_off, 2))
        pci_msix_ctrl_written(f, msix_ctrl_before);
    bool line_after = intx_line(f);
    if (line_after != line_before && f->ops->intx)
        f->ops->intx(f, line_after);

    cfg_hook_call(f, off, val, len, true);
}

uint32_t pci_cfg_read_val(struct pci_func *f, uint32_t off, unsigned len)
{
    uint8_t buf[4];

    if (len == 0 || len > sizeof buf)
        return 0xffffffffu;
    pci_cfg_read(f, off, buf, len);
    return (uint32_t)pci_get_le(buf, len);
}

void pci_cfg_write_val(struct pci_func *f, uint32_t off, uint32_t val, unsigned len)
{
    uint8_t buf[4];

    if (len == 0 || len > sizeof buf)
        return;
    pci_put_le(buf, val, len);
    pci_cfg_write(f, off, buf, len);
}
