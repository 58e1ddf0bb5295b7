/* PCI bus 0: mechanism #1 config access, BAR placement and routing (see pci_host.h). */
#include "vmm/pci_host.h"

#include <errno.h>
#include <string.h>

/* Red Hat's "QEMU PCIe host bridge" ID: no Linux quirk keys on it. */
#define BRIDGE_VENDOR 0x1b36
#define BRIDGE_DEVICE 0x0008
#define CFG_ENABLE    0x80000000u
/* base class 06 (bridge), sub class 00 (host): not in the uapi pci_regs.h */
#define HOST_BRIDGE_CLASS 0x060000u

static void bridge_bar_read(struct pci_func *f, int bar, uint64_t off, void *data, unsigned len)
{
    (void)f, (void)bar, (void)off;
    memset(data, 0xff, len);
}

static const struct pci_func_ops bridge_ops = { .bar_read = bridge_bar_read };

static uint64_t ones(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* The function a mechanism #1 address selects, or NULL (other buses,
 * functions 1-7 and empty slots read as all ones: nothing there). */
static struct pci_func *cfg_target(struct pci_host *h, uint32_t addr)
{
    unsigned bus = (addr >> 16) & 0xff, dev = (addr >> 11) & 0x1f, fn = (addr >> 8) & 7;
    if (!(addr & CFG_ENABLE) || bus != 0 || fn != 0 || dev >= h->nslots)
        return NULL;
    return h->slot[dev];
}

static bool cfg_pio(struct pci_host *h, unsigned off, unsigned size, uint64_t *value,
                    bool is_write)
{
    if (off < 4) {
        /* Only whole-dword accesses reach the address register; the byte
         * write Linux's probe does to 0xCFB is not one. */
        if (off == 0 && size == 4) {
            if (is_write)
                h->cfg_addr = (uint32_t)*value & 0x80fffffcu;
            else
                *value = h->cfg_addr;
        } else if (!is_write) {
            *value = ones(size);
        }
        return true;
    }
    unsigned byte = off - 4;
    struct pci_func *f = cfg_target(h, h->cfg_addr);
    if (!f || byte + size > 4) {
        if (!is_write)
            *value = ones(size);
        return true;
    }
    uint32_t reg = (h->cfg_addr & 0xfc) + byte;
    if (is_write)
        pci_cfg_write_val(f, reg, (uint32_t)*value, size);
    else
        *value = pci_cfg_read_val(f, reg, size);
    return true;
}

/* Finds the enabled BAR of the right kind decoding [addr, addr + size). */
static bool bar_route(struct pci_host *h, bool io, uint64_t addr, unsigned size,
                      struct pci_func **fp, int *barp, uint64_t *offp, unsigned *slotp)
{
    for (unsigned s = 1; s < h->nslots; s++) {
        struct pci_func *f = h->slot[s];
        for (int n = 0; n < PCI_NUM_BARS; n++) {
            const struct pci_bar *b = &f->bar[n];
            if (!b->size || !(b->flags & PCI_BAR_IO) != !io || !pci_bar_enabled(f, n))
                continue;
            uint64_t base = pci_bar_addr(f, n);
            if (addr >= base && addr - base < b->size && size <= b->size - (addr - base)) {
                *fp = f;
                *barp = n;
                *offp = addr - base;
                *slotp = s;
                return true;
            }
        }
    }
    return false;
}

static bool bar_access(struct pci_host *h, bool io, uint64_t addr, unsigned size,
                       uint64_t *value, bool is_write)
{
    struct pci_func *f;
    int bar;
    uint64_t off;
    unsigned slot;
    if (!bar_route(h, io, addr, size, &f, &bar, &off, &slot))
        return false;
    h->bar_exits[slot]++;
    if (is_write) {
        pci_bar_write(f, bar, off, value, size);
    } else {
        uint64_t v = 0;
        pci_bar_read(f, bar, off, &v, size);
        *value = v;
    }
    return true;
}

bool pci_host_pio(void *host, uint64_t port, unsigned size, uint64_t *value, bool is_write)
{
    struct pci_host *h = host;
    pthread_mutex_lock(&h->lock);
    bool claimed;
    if (port >= PCI_HOST_CFG_ADDR_PORT && port < PCI_HOST_CFG_ADDR_PORT + 8 &&
        port + size <= PCI_HOST_CFG_ADDR_PORT + 8)
        claimed = cfg_pio(h, (unsigned)(port - PCI_HOST_CFG_ADDR_PORT), size, value, is_write);
    else
        claimed = bar_access(h, true, port, size, value, is_write);
    pthread_mutex_unlock(&h->lock);
    return claimed;
}

bool pci_host_mmio(void *host, uint64_t addr, unsigned size, uint64_t *value, bool is_write)
{
    struct pci_host *h = host;
    pthread_mutex_lock(&h->lock);
    bool claimed = bar_access(h, false, addr, size, value, is_write);
    pthread_mutex_unlock(&h->lock);
    return claimed;
}

static uint64_t pio_range_read(void *opaque, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    pci_host_pio(opaque, PCI_HOST_CFG_ADDR_PORT + off, size, &v, false);
    return v;
}

static void pio_range_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    pci_host_pio(opaque, PCI_HOST_CFG_ADDR_PORT + off, size, &value, true);
}

int pci_host_init(struct pci_host *h, struct iobus *pio, struct iobus *mmio, uint64_t ram_end)
{
    memset(h, 0, sizeof *h);
    int r = pthread_mutex_init(&h->lock, NULL);
    if (r)
        return -r;
    h->ready = true;
    static const struct pci_id bridge_id = {
        .vendor = BRIDGE_VENDOR, .device = BRIDGE_DEVICE,
        .subsys_vendor = BRIDGE_VENDOR, .subsys = BRIDGE_DEVICE,
        .class_code = HOST_BRIDGE_CLASS,
    };
    pci_func_init(&h->bridge, &bridge_id, &bridge_ops, h);
    h->slot[0] = &h->bridge;
    h->nslots = 1;
    uint64_t above = ram_end > 0x100000000ull ? ram_end : 0x100000000ull;
    h->mem64_base = (above + PCI_HOST_MEM64_ALIGN - 1) & ~(PCI_HOST_MEM64_ALIGN - 1);
    if ((r = iobus_add(pio, PCI_HOST_CFG_ADDR_PORT, 8, pio_range_read, pio_range_write, h,
                       "pci-cfg")) < 0)
        return r;
    iobus_set_fallback(pio, pci_host_pio, h);
    iobus_set_fallback(mmio, pci_host_mmio, h);
    return 0;
}

void pci_host_destroy(struct pci_host *h)
{
    if (!h->ready)
        return;
    pci_func_destroy(&h->bridge);
    pthread_mutex_destroy(&h->lock);
    h->ready = false;
}

int pci_host_add(struct pci_host *h, struct pci_func *f)
{
    if (h->nslots >= PCI_HOST_SLOTS)
        return -ENOSPC;
    h->slot[h->nslots] = f;
    return (int)h->nslots++;
}

/* Next address in [*next, end) aligned to size; advances *next. */
static int take(uint64_t *next, uint64_t end, uint64_t size, uint64_t *addr)
{
    uint64_t a = (*next + size - 1) & ~(size - 1);
    if (a < *next || a > end || size > end - a)
        return -ENOSPC;
    *addr = a;
    *next = a + size;
    return 0;
}

int pci_host_place_bars(struct pci_host *h)
{
    uint64_t io = PCI_HOST_IO_BASE, mem32 = PCI_HOST_MEM32_BASE, mem64 = h->mem64_base;
    pthread_mutex_lock(&h->lock);
    int r = 0;
    for (unsigned s = 1; s < h->nslots && r == 0; s++) {
        struct pci_func *f = h->slot[s];
        for (int n = 0; n < PCI_NUM_BARS && r == 0; n++) {
            const struct pci_bar *b = &f->bar[n];
            if (!b->size)
                continue;
            uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * (uint32_t)n;
            uint64_t addr;
            if (b->flags & PCI_BAR_IO) {
                /* ISA aliasing aside, Linux wants I/O BARs 4-aligned at least */
                r = take(&io, PCI_HOST_IO_END, b->size < 4 ? 4 : b->size, &addr);
            } else {
                /* page-sized at least, so a BAR can be mapped alone */
                uint64_t sz = b->size < 4096 ? 4096 : b->size;
                r = (b->flags & PCI_BAR_MEM64) ? take(&mem64, ~0ull, sz, &addr)
                                               : take(&mem32, PCI_HOST_MEM32_END, sz, &addr);
            }
            if (r)
                break;
            pci_cfg_write_val(f, reg, (uint32_t)addr, 4);
            if (b->flags & PCI_BAR_MEM64)
                pci_cfg_write_val(f, reg + 4, (uint32_t)(addr >> 32), 4);
            if (b->flags & PCI_BAR_MEM64)
                n++;
        }
        unsigned pin = pci_cfg_read_val(f, PCI_INTERRUPT_PIN, 1);
        if (pin >= 1 && pin <= 4)
            pci_cfg_write_val(f, PCI_INTERRUPT_LINE, pci_host_intx_gsi(s, pin), 1);
        pci_cfg_write_val(f, PCI_COMMAND,
                          PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}

/* ECAM reaches the same functions as CF8/CFC (bus 0, function 0), with the
 * extended config space too. */
static struct pci_func *ecam_target(struct pci_host *h, uint16_t bdf)
{
    unsigned bus = bdf >> 8, dev = (bdf >> 3) & 31, fn = bdf & 7;
    return bus == 0 && fn == 0 && dev < h->nslots ? h->slot[dev] : NULL;
}

uint32_t pci_host_ecam_read(void *opaque, uint16_t bdf, unsigned off, unsigned len)
{
    struct pci_host *h = opaque;
    uint32_t v = len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
    pci_host_lock(h);
    struct pci_func *f = ecam_target(h, bdf);
    if (f)
        v = pci_cfg_read_val(f, off, len);
    pci_host_unlock(h);
    return v;
}

void pci_host_ecam_write(void *opaque, uint16_t bdf, unsigned off, uint32_t data, unsigned len)
{
    struct pci_host *h = opaque;
    pci_host_lock(h);
    struct pci_func *f = ecam_target(h, bdf);
    if (f)
        pci_cfg_write_val(f, off, data, len);
    pci_host_unlock(h);
}
