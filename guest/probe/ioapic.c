/* The way from a PCI function's INTx# pin to an IOAPIC input, and the IOAPIC
 * registers (see intx.h).
 *
 * The MP table (MP spec 1.4) is what both QEMU's firmware (SeaBIOS) and kick
 * provide and what needs no AML interpreter: an I/O interrupt entry whose
 * source bus is the PCI bus and whose source IRQ is (device << 2) | (pin - 1)
 * names the IOAPIC and its INTIN, with polarity and trigger mode. Without
 * one, the Interrupt Line register is taken as the INTIN of the IOAPIC at its
 * usual address, with what PCI INTx# is: level-triggered, active low. */
#include <linux/pci_regs.h>

#include "guest/probe/intx.h"

#define MP_FLOAT_SIG      0x5f504d5fu /* "_MP_" */
#define MP_CONFIG_SIG     0x504d4350u /* "PCMP" */
#define MP_FLOAT_LEN      16
#define MP_HEADER_LEN     44
#define MP_CPU_LEN        20
#define MP_ENTRY_LEN      8
#define MP_MAX_BUSES      256

enum { MP_ENT_CPU = 0, MP_ENT_BUS = 1, MP_ENT_IOAPIC = 2, MP_ENT_IOINT = 3, MP_ENT_LINT = 4 };
#define MP_INT_INT        0 /* vectored interrupt (not NMI, SMI, ExtINT) */
#define MP_IOAPIC_ALL     0xff
#define MP_MAX_IOAPICS    8

/* BIOS data area words that locate the EBDA and the top of base memory. */
#define BDA_EBDA_SEG      0x40e
#define BDA_BASE_KIB      0x413
#define BIOS_ROM_START    0xf0000
#define BIOS_ROM_END      0x100000

#define IOAPIC_REGSEL     0x00
#define IOAPIC_WINDOW     0x10
#define IOAPIC_REG_ID     0x00
#define IOAPIC_REG_VER    0x01
#define IOAPIC_REG_RTE    0x10

enum bus_kind { BUS_UNKNOWN, BUS_PCI, BUS_ISA, BUS_OTHER };

struct mp_ioapic {
    uint8_t id;
    bool enabled;
    uint32_t base;
};

/* What the scan kept of the table: bus kinds, IOAPICs, the entries' place. */
static struct {
    bool scanned;
    uint32_t float_at, config_at; /* 0: none */
    const char *why_none;
    uint8_t bus_kind[MP_MAX_BUSES];
    struct mp_ioapic ioapic[MP_MAX_IOAPICS];
    unsigned nioapic;
    uint32_t entries_at;
    unsigned nentries;
    uint32_t end;
} mp;

/* Low physical addresses read through a pointer the compiler cannot see
 * the origin of: it would otherwise call a constant address below 4 KiB an
 * out-of-bounds array access. */
static const volatile uint8_t *phys(uint32_t pa)
{
    uintptr_t p = pa;
    __asm__("" : "+r"(p));
    return (const volatile uint8_t *)p;
}

static uint16_t rd16(uint32_t pa)
{
    const volatile uint8_t *p = phys(pa);
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(uint32_t pa)
{
    return rd16(pa) | (uint32_t)rd16(pa + 2) << 16;
}

static bool sums_to_zero(uint32_t pa, uint32_t len)
{
    uint8_t sum = 0;
    const volatile uint8_t *p = phys(pa);
    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

/* MP spec 1.4, 4.1: the floating pointer sits on a 16-byte boundary. */
static uint32_t find_float(uint32_t start, uint32_t len)
{
    for (uint32_t a = start & ~15u; a + MP_FLOAT_LEN <= start + len; a += 16) {
        if (rd32(a) != MP_FLOAT_SIG)
            continue;
        uint32_t flen = phys(a)[8] * 16u;
        if (flen >= MP_FLOAT_LEN && flen <= 64 && sums_to_zero(a, flen))
            return a;
    }
    return 0;
}

static void mp_scan(void)
{
    mp.scanned = true;
    mp.why_none = "no _MP_ floating pointer in the EBDA, base memory's last KiB or 0xF0000-0xFFFFF";
    uint32_t ebda = (uint32_t)rd16(BDA_EBDA_SEG) << 4;
    uint32_t base_top = (uint32_t)rd16(BDA_BASE_KIB) * 1024;
    uint32_t fp = 0;
    if (ebda >= 0x80000 && ebda < 0xa0000)
        fp = find_float(ebda, 1024);
    if (!fp && base_top >= 0x80000 && base_top <= 0xa0000)
        fp = find_float(base_top - 1024, 1024);
    if (!fp)
        fp = find_float(BIOS_ROM_START, BIOS_ROM_END - BIOS_ROM_START);
    if (!fp)
        return;
    mp.float_at = fp;
    uint32_t cfg = rd32(fp + 4);
    if (phys(fp)[11]) {
        mp.why_none = "the MP floating pointer names a default configuration, no table";
        return;
    }
    uint16_t len = cfg ? rd16(cfg + 4) : 0;
    if (!cfg || cfg >= 0xfec00000u || rd32(cfg) != MP_CONFIG_SIG || len < MP_HEADER_LEN ||
        !sums_to_zero(cfg, len)) {
        mp.why_none = "the MP floating pointer's configuration table is missing or corrupt";
        return;
    }
    mp.config_at = cfg;
    mp.entries_at = cfg + MP_HEADER_LEN;
    mp.nentries = rd16(cfg + 34);
    mp.end = cfg + len;
    /* First pass: buses and IOAPICs, which the interrupt entries name. */
    uint32_t p = mp.entries_at;
    for (unsigned i = 0; i < mp.nentries && p < mp.end; i++) {
        uint8_t type = phys(p)[0];
        uint32_t elen = type == MP_ENT_CPU ? MP_CPU_LEN : MP_ENTRY_LEN;
        if (type > MP_ENT_LINT || p + elen > mp.end)
            break; /* an unknown entry has no known length: stop there */
        const volatile uint8_t *e = phys(p);
        if (type == MP_ENT_BUS) {
            enum bus_kind k = BUS_OTHER;
            if (e[2] == 'P' && e[3] == 'C' && e[4] == 'I' && e[5] == ' ')
                k = BUS_PCI;
            else if (e[2] == 'I' && e[3] == 'S' && e[4] == 'A' && e[5] == ' ')
                k = BUS_ISA;
            mp.bus_kind[e[1]] = (uint8_t)k;
        } else if (type == MP_ENT_IOAPIC && mp.nioapic < MP_MAX_IOAPICS) {
            mp.ioapic[mp.nioapic++] = (struct mp_ioapic){ e[1], e[3] & 1, rd32(p + 4) };
        }
        p += elen;
    }
}

static const struct mp_ioapic *mp_ioapic_by_id(uint8_t id)
{
    for (unsigned i = 0; i < mp.nioapic; i++)
        if (mp.ioapic[i].enabled &&
            (mp.ioapic[i].id == id || (id == MP_IOAPIC_ALL && mp.nioapic == 1)))
            return &mp.ioapic[i];
    return NULL;
}

static const char *polarity_name(unsigned po)
{
    switch (po) {
    case MP_POLARITY_CONFORM: return "conforms to bus";
    case MP_POLARITY_HIGH: return "active high";
    case MP_POLARITY_LOW: return "active low";
    default: return "reserved";
    }
}

static const char *trigger_name(unsigned el)
{
    switch (el) {
    case MP_TRIGGER_CONFORM: return "conforms to bus";
    case MP_TRIGGER_EDGE: return "edge";
    case MP_TRIGGER_LEVEL: return "level";
    default: return "reserved";
    }
}

/* The I/O interrupt entry for (PCI bus, device, pin), decoded into r: 1,
 * or 0 when there is none, -1 when there is one that names no enabled
 * IOAPIC or has reserved flags. "Conforms to bus" on a PCI source bus means
 * what PCI INTx# is: level, active low. */
static int mp_lookup(const struct pci_fn *f, struct intx_route *r)
{
    if (mp.bus_kind[f->bus] != BUS_PCI) {
        probe_snprintf(r->how, sizeof(r->how), "MP table at 0x%x has no PCI bus %u", mp.config_at,
                       f->bus);
        return 0;
    }
    uint8_t src_irq = (uint8_t)(f->dev << 2 | (r->int_pin - 1));
    uint32_t p = mp.entries_at;
    for (unsigned i = 0; i < mp.nentries && p < mp.end; i++) {
        uint8_t type = phys(p)[0];
        uint32_t elen = type == MP_ENT_CPU ? MP_CPU_LEN : MP_ENTRY_LEN;
        if (type > MP_ENT_LINT || p + elen > mp.end)
            break;
        const volatile uint8_t *e = phys(p);
        p += elen;
        if (type != MP_ENT_IOINT || e[1] != MP_INT_INT || e[4] != f->bus || e[5] != src_irq)
            continue;
        uint16_t flags = rd16(p - elen + 2);
        unsigned po = flags & MP_POLARITY_MASK;
        unsigned el = flags >> MP_TRIGGER_SHIFT & MP_TRIGGER_MASK;
        const struct mp_ioapic *io = mp_ioapic_by_id(e[6]);
        probe_snprintf(r->how, sizeof(r->how),
                       "MP table I/O interrupt entry: bus %u irq 0x%02x flags 0x%x (%s, %s)",
                       f->bus, src_irq, flags, polarity_name(po), trigger_name(el));
        r->from_mptable = true;
        if (!io || po == 2 || el == 2)
            return -1;
        r->ioapic_id = io->id;
        r->ioapic_base = io->base;
        r->intin = e[7];
        r->active_low = po == MP_POLARITY_LOW || po == MP_POLARITY_CONFORM;
        r->level = el == MP_TRIGGER_LEVEL || el == MP_TRIGGER_CONFORM;
        return 1;
    }
    probe_snprintf(r->how, sizeof(r->how), "MP table at 0x%x has no entry for bus %u irq 0x%02x",
                   mp.config_at, f->bus, src_irq);
    return 0;
}

bool intx_route_find(const struct pci_fn *f, struct intx_route *r)
{
    memset(r, 0, sizeof(*r));
    r->int_pin = (uint8_t)pci_cfg_read(f, PCI_INTERRUPT_PIN, 1);
    r->line = (uint8_t)pci_cfg_read(f, PCI_INTERRUPT_LINE, 1);
    r->ioapic_id = MP_IOAPIC_ALL;
    if (r->int_pin < 1 || r->int_pin > 4) {
        probe_snprintf(r->how, sizeof(r->how), "Interrupt Pin register is %u", r->int_pin);
        return false;
    }
    if (!mp.scanned)
        mp_scan();
    /* "intx-line" on the command line ignores the MP table, so the run
     * scripts can exercise the fallback where a table exists. */
    if (cmdline_word("intx-line") && mp.config_at) {
        mp.config_at = 0;
        mp.why_none = "MP table ignored: intx-line on the command line";
    }
    char why[sizeof(r->how)];
    if (mp.config_at) {
        /* An entry that is there but unusable is the table's fault: the
         * Interrupt Line is no excuse for it. */
        int rc = mp_lookup(f, r);
        if (rc)
            return r->found = rc > 0;
        memcpy(why, r->how, sizeof(why));
    } else
        probe_snprintf(why, sizeof(why), "%s", mp.why_none);
    /* PCI Local Bus 3.0, 6.2.4: 0xff (x86: also 0) says "unknown or not
     * connected". */
    if (r->line == 0 || r->line == 0xff) {
        probe_snprintf(r->how, sizeof(r->how), "%s; Interrupt Line register %u", why, r->line);
        return false;
    }
    r->ioapic_base = IOAPIC_DEFAULT_BASE;
    r->intin = r->line;
    r->level = true;
    r->active_low = true;
    probe_snprintf(r->how, sizeof(r->how), "Interrupt Line register, PCI's level/active low (%s)",
                   why);
    return r->found = true;
}

/* ---- IOAPIC registers: an index, then a 32-bit window ---- */

static uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
    *(volatile uint32_t *)(uintptr_t)(base + IOAPIC_REGSEL) = reg;
    return *(volatile uint32_t *)(uintptr_t)(base + IOAPIC_WINDOW);
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t val)
{
    *(volatile uint32_t *)(uintptr_t)(base + IOAPIC_REGSEL) = reg;
    *(volatile uint32_t *)(uintptr_t)(base + IOAPIC_WINDOW) = val;
}

unsigned ioapic_max_entry(uint64_t base)
{
    if (!probe_map_mmio(base, 4096))
        return 0;
    return ioapic_read(base, IOAPIC_REG_VER) >> 16 & 0xff;
}

uint64_t ioapic_rte_read(uint64_t base, unsigned intin)
{
    uint32_t lo = ioapic_read(base, IOAPIC_REG_RTE + 2 * intin);
    uint32_t hi = ioapic_read(base, IOAPIC_REG_RTE + 2 * intin + 1);
    return (uint64_t)hi << 32 | lo;
}

/* High half first, the low half (with the mask bit) last: the entry never
 * delivers to a half-written destination. */
void ioapic_rte_write(uint64_t base, unsigned intin, uint64_t rte)
{
    ioapic_write(base, IOAPIC_REG_RTE + 2 * intin + 1, (uint32_t)(rte >> 32));
    ioapic_write(base, IOAPIC_REG_RTE + 2 * intin, (uint32_t)rte);
}
