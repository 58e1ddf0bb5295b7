/* PCI for the probe guest: configuration mechanism #1 (0xCF8/0xCFC), a scan
 * of bus 0 and the buses behind bridges, BAR sizing, and the struct vdrv_io
 * the driver library reaches the hardware through.
 *
 * The firmware (SeaBIOS) has assigned the BARs; we only read and size them.
 * Every library access is checked against the sized BAR, so a capability
 * that points outside its BAR shows up as a counted refusal, not a stray
 * write into some other device. */
#include <linux/pci_regs.h>

#include "guest/probe/probe.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA    0xcfc
#define PCI_CONFIG_ENABLE  0x80000000u
#define PCI_CFG_SIZE       256
#define PCI_MAX_BUS        256
#define PCI_MAX_DEV        32
#define PCI_MAX_FN         8

static uint32_t cfg_addr(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t off)
{
    return PCI_CONFIG_ENABLE | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
           (off & 0xfc);
}

static uint32_t raw_read(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t off, unsigned len)
{
    outl(PCI_CONFIG_ADDRESS, cfg_addr(bus, dev, fn, off));
    uint16_t port = (uint16_t)(PCI_CONFIG_DATA + (off & 3));
    if (len == 1)
        return inb(port);
    if (len == 2)
        return inw(port);
    return inl(port);
}

static void raw_write(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t off, uint32_t val,
                      unsigned len)
{
    outl(PCI_CONFIG_ADDRESS, cfg_addr(bus, dev, fn, off));
    uint16_t port = (uint16_t)(PCI_CONFIG_DATA + (off & 3));
    if (len == 1)
        outb(port, (uint8_t)val);
    else if (len == 2)
        outw(port, (uint16_t)val);
    else
        outl(port, val);
}

/* Mechanism #1 reaches 256 bytes, in naturally aligned pieces of a dword;
 * anything else is done bytewise. */
static bool cfg_access_ok(uint32_t off, unsigned len)
{
    return (len == 1 || len == 2 || len == 4) && !(off & (len - 1)) && off + len <= PCI_CFG_SIZE;
}

uint32_t pci_cfg_read(const struct pci_fn *f, uint32_t off, unsigned len)
{
    if (cfg_access_ok(off, len))
        return raw_read(f->bus, f->dev, f->fn, off, len);
    uint32_t v = 0;
    for (unsigned i = 0; i < len && i < 4; i++) {
        uint32_t b = off + i < PCI_CFG_SIZE ? raw_read(f->bus, f->dev, f->fn, off + i, 1) : 0xff;
        v |= b << (8 * i);
    }
    return v;
}

void pci_cfg_write(const struct pci_fn *f, uint32_t off, uint32_t val, unsigned len)
{
    if (cfg_access_ok(off, len)) {
        raw_write(f->bus, f->dev, f->fn, off, val, len);
        return;
    }
    for (unsigned i = 0; i < len && i < 4; i++)
        if (off + i < PCI_CFG_SIZE)
            raw_write(f->bus, f->dev, f->fn, off + i, (val >> (8 * i)) & 0xff, 1);
}

/* ---- BARs ---- */

static void size_bars(struct pci_fn *f)
{
    uint16_t cmd = (uint16_t)pci_cfg_read(f, PCI_COMMAND, 2);
    /* Decode off while the BARs hold all-ones probes. */
    pci_cfg_write(f, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY), 2);
    for (int i = 0; i < PCI_BARS; i++) {
        struct pci_bar *b = &f->bar[i];
        uint32_t reg = PCI_BASE_ADDRESS_0 + 4u * (unsigned)i;
        uint32_t orig = pci_cfg_read(f, reg, 4);
        pci_cfg_write(f, reg, 0xffffffffu, 4);
        uint32_t probe = pci_cfg_read(f, reg, 4);
        pci_cfg_write(f, reg, orig, 4);
        if (orig & PCI_BASE_ADDRESS_SPACE_IO) {
            b->io = true;
            b->base = orig & PCI_BASE_ADDRESS_IO_MASK;
            uint32_t mask = probe & PCI_BASE_ADDRESS_IO_MASK & 0xffff;
            b->size = mask ? (~mask & 0xffff) + 1u : 0;
            continue;
        }
        uint64_t base = orig & PCI_BASE_ADDRESS_MEM_MASK;
        uint64_t mask = probe & PCI_BASE_ADDRESS_MEM_MASK;
        bool is64 = (orig & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
        if (is64 && i + 1 < PCI_BARS) {
            uint32_t reg_hi = reg + 4;
            uint32_t orig_hi = pci_cfg_read(f, reg_hi, 4);
            pci_cfg_write(f, reg_hi, 0xffffffffu, 4);
            uint32_t probe_hi = pci_cfg_read(f, reg_hi, 4);
            pci_cfg_write(f, reg_hi, orig_hi, 4);
            base |= (uint64_t)orig_hi << 32;
            mask |= (uint64_t)probe_hi << 32;
        } else {
            mask |= 0xffffffff00000000ull; /* a 32-bit BAR's size from its low dword */
        }
        b->mem64 = is64;
        b->base = base;
        b->size = mask ? ~mask + 1 : 0;
        if (is64)
            i++; /* the upper half is not a BAR of its own */
    }
    pci_cfg_write(f, PCI_COMMAND, cmd, 2);
    for (int i = 0; i < PCI_BARS; i++) {
        struct pci_bar *b = &f->bar[i];
        /* Unassigned, or unreachable: treat as absent so nothing touches it. */
        if (b->size && (b->base == 0 || (!b->io && !probe_map_mmio(b->base, b->size))))
            b->size = 0;
    }
}

/* ---- scan ---- */

struct scan {
    uint16_t vendor;
    struct pci_fn *out;
    unsigned max, count;
    uint8_t seen[PCI_MAX_BUS / 8];
};

static void scan_bus(struct scan *s, uint8_t bus, unsigned depth)
{
    if (depth > 8 || s->seen[bus / 8] & (1u << (bus % 8)))
        return; /* a bridge loop or absurd nesting */
    s->seen[bus / 8] |= (uint8_t)(1u << (bus % 8));
    for (uint8_t dev = 0; dev < PCI_MAX_DEV; dev++) {
        uint8_t nfn = 1;
        for (uint8_t fn = 0; fn < nfn; fn++) {
            uint16_t vendor = (uint16_t)raw_read(bus, dev, fn, PCI_VENDOR_ID, 2);
            if (vendor == 0xffff)
                continue;
            uint8_t hdr = (uint8_t)raw_read(bus, dev, fn, PCI_HEADER_TYPE, 1);
            if (fn == 0 && hdr & 0x80)
                nfn = PCI_MAX_FN;
            if ((hdr & 0x7f) == PCI_HEADER_TYPE_BRIDGE) {
                uint8_t sec = (uint8_t)raw_read(bus, dev, fn, PCI_SECONDARY_BUS, 1);
                if (sec > bus)
                    scan_bus(s, sec, depth + 1);
                continue;
            }
            if (vendor != s->vendor || s->count == s->max || (hdr & 0x7f) != PCI_HEADER_TYPE_NORMAL)
                continue;
            struct pci_fn *f = &s->out[s->count++];
            memset(f, 0, sizeof(*f));
            f->bus = bus;
            f->dev = dev;
            f->fn = fn;
            f->vendor = vendor;
            f->device = (uint16_t)raw_read(bus, dev, fn, PCI_DEVICE_ID, 2);
            size_bars(f);
        }
    }
}

unsigned pci_scan(uint16_t vendor, struct pci_fn *out, unsigned max)
{
    static struct scan s;
    memset(&s, 0, sizeof(s));
    s.vendor = vendor;
    s.out = out;
    s.max = max;
    scan_bus(&s, 0, 0);
    return s.count;
}

/* ---- struct vdrv_io ---- */

static uint32_t io_cfg_read(void *ctx, uint32_t off, unsigned len)
{
    return pci_cfg_read(ctx, off, len);
}

static void io_cfg_write(void *ctx, uint32_t off, uint32_t val, unsigned len)
{
    pci_cfg_write(ctx, off, val, len);
}

static const struct pci_bar *bar_for(struct pci_fn *f, int bar, uint64_t off, unsigned len)
{
    if (bar < 0 || bar >= PCI_BARS || !(len == 1 || len == 2 || len == 4 || len == 8))
        goto bad;
    const struct pci_bar *b = &f->bar[bar];
    if (!b->size || off >= b->size || len > b->size - off || (b->io && len == 8))
        goto bad;
    return b;
bad:
    f->bad_access++;
    return 0;
}

static uint64_t io_bar_read(void *ctx, int bar, uint64_t off, unsigned len)
{
    const struct pci_bar *b = bar_for(ctx, bar, off, len);
    if (!b)
        return len == 8 ? ~0ull : (1ull << (8 * len)) - 1;
    if (b->io) {
        uint16_t port = (uint16_t)(b->base + off);
        return len == 1 ? inb(port) : len == 2 ? inw(port) : inl(port);
    }
    uintptr_t a = (uintptr_t)(b->base + off);
    switch (len) {
    case 1: return *(volatile uint8_t *)a;
    case 2: return *(volatile uint16_t *)a;
    case 4: return *(volatile uint32_t *)a;
    default: return *(volatile uint64_t *)a;
    }
}

static void io_bar_write(void *ctx, int bar, uint64_t off, uint64_t val, unsigned len)
{
    const struct pci_bar *b = bar_for(ctx, bar, off, len);
    if (!b)
        return;
    if (b->io) {
        uint16_t port = (uint16_t)(b->base + off);
        if (len == 1)
            outb(port, (uint8_t)val);
        else if (len == 2)
            outw(port, (uint16_t)val);
        else
            outl(port, (uint32_t)val);
        return;
    }
    uintptr_t a = (uintptr_t)(b->base + off);
    switch (len) {
    case 1: *(volatile uint8_t *)a = (uint8_t)val; break;
    case 2: *(volatile uint16_t *)a = (uint16_t)val; break;
    case 4: *(volatile uint32_t *)a = (uint32_t)val; break;
    default: *(volatile uint64_t *)a = val; break;
    }
}

void pci_fn_activate(struct pci_fn *f)
{
    f->io.cfg_read = io_cfg_read;
    f->io.cfg_write = io_cfg_write;
    f->io.bar_read = io_bar_read;
    f->io.bar_write = io_bar_write;
    f->io.ctx = f;
    uint16_t cmd = (uint16_t)pci_cfg_read(f, PCI_COMMAND, 2);
    pci_cfg_write(f, PCI_COMMAND, cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}
