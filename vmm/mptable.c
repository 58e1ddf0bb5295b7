/* MP tables (see mptable.h). Entries are written byte by byte, little-endian,
 * in the layouts of MP spec 1.4 chapter 4; no packed structs. */
#include "vmm/mptable.h"

#include <errno.h>
#include <string.h>

#define FLOAT_LEN   16
#define HEADER_LEN  44
#define CPU_LEN     20
#define ENTRY_LEN   8 /* bus, IOAPIC, I/O and local interrupt entries */
#define SPEC_REV    4 /* 1.4 */

enum { ENT_CPU = 0, ENT_BUS = 1, ENT_IOAPIC = 2, ENT_IOINT = 3, ENT_LINT = 4 };
enum { INT_INT = 0, INT_NMI = 1, INT_EXTINT = 3 };

#define BUS_PCI 0 /* same number as the PCI bus it names */
#define BUS_ISA 1
#define CPU_EN  0x01
#define CPU_BP  0x02
#define LAPIC_VERSION  0x14 /* integrated local APIC */
#define IOAPIC_VERSION 0x11
/* polarity bits 1:0 = 3 active low, trigger bits 3:2 = 3 level: PCI INTx# */
#define FLAGS_PCI 0x0f
#define FLAGS_CONFORM 0x00

/* ISA IRQs go to the IOAPIC pin of the same number, as KVM's default GSI
 * routing wires them; 2 is the PIC cascade and reaches no device. */
#define ISA_IRQS 16
#define ISA_SKIPPED 1

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0x100 - sum);
}

static unsigned entry_count(const struct mptable_config *c)
{
    /* CPUs, two buses, the IOAPIC, ISA IRQs, PCI INTx, LINT0 and LINT1 */
    return c->cpus + 2 + 1 + (ISA_IRQS - ISA_SKIPPED) + c->npci + 2;
}

size_t mptable_size(const struct mptable_config *c)
{
    return FLOAT_LEN + HEADER_LEN + (size_t)c->cpus * CPU_LEN +
           (size_t)(entry_count(c) - c->cpus) * ENTRY_LEN;
}

static uint8_t *io_int(uint8_t *p, uint8_t type, uint16_t flags, uint8_t bus, uint8_t bus_irq,
                       uint8_t ioapic, uint8_t pin)
{
    p[0] = ENT_IOINT;
    p[1] = type;
    put16(p + 2, flags);
    p[4] = bus;
    p[5] = bus_irq;
    p[6] = ioapic;
    p[7] = pin;
    return p + ENTRY_LEN;
}

static uint8_t *local_int(uint8_t *p, uint8_t type, uint8_t lint)
{
    p[0] = ENT_LINT;
    p[1] = type;
    put16(p + 2, FLAGS_CONFORM);
    p[4] = BUS_ISA;
    p[5] = 0;
    p[6] = 0xff; /* every local APIC */
    p[7] = lint;
    return p + ENTRY_LEN;
}

long mptable_write(const struct mptable_config *c, uint64_t gpa, void *buf, size_t len)
{
    if (c->cpus == 0 || c->cpus > MPTABLE_MAX_CPUS || (c->npci && !c->pci) ||
        gpa + FLOAT_LEN > 0xffffffffull)
        return -EINVAL;
    for (unsigned i = 0; i < c->npci; i++)
        if (c->pci[i].slot > 31 || c->pci[i].pin < 1 || c->pci[i].pin > 4 ||
            c->pci[i].gsi >= MPTABLE_IOAPIC_PINS)
            return -EINVAL;
    size_t size = mptable_size(c);
    if (len < size)
        return -ENOSPC;
    uint8_t *base = buf;
    memset(base, 0, size);
    uint8_t ioapic_id = (uint8_t)c->cpus; /* the first ID no CPU has */

    uint8_t *fp = base;
    memcpy(fp, "_MP_", 4);
    put32(fp + 4, (uint32_t)(gpa + FLOAT_LEN));
    fp[8] = 1; /* length in 16-byte units */
    fp[9] = SPEC_REV;
    /* feature bytes 0: a configuration table is present, no IMCR (virtual wire) */
    fp[10] = checksum(fp, FLOAT_LEN);

    uint8_t *hdr = base + FLOAT_LEN;
    memcpy(hdr, "PCMP", 4);
    put16(hdr + 4, (uint16_t)(size - FLOAT_LEN));
    hdr[6] = SPEC_REV;
    memcpy(hdr + 8, "KICK    ", 8);
    memcpy(hdr + 16, "VIRTIO-PCI  ", 12);
    put16(hdr + 34, (uint16_t)entry_count(c));
    put32(hdr + 36, MPTABLE_LAPIC_ADDR);

    uint8_t *p = hdr + HEADER_LEN;
    for (unsigned i = 0; i < c->cpus; i++, p += CPU_LEN) {
        p[0] = ENT_CPU;
        p[1] = (uint8_t)i;
        p[2] = LAPIC_VERSION;
        p[3] = CPU_EN | (i == 0 ? CPU_BP : 0);
        put32(p + 4, 0x600); /* family 6: only informative */
        put32(p + 8, 0x201); /* FPU, APIC on chip */
    }
    p[0] = ENT_BUS;
    p[1] = BUS_PCI;
    memcpy(p + 2, "PCI   ", 6);
    p += ENTRY_LEN;
    p[0] = ENT_BUS;
    p[1] = BUS_ISA;
    memcpy(p + 2, "ISA   ", 6);
    p += ENTRY_LEN;
    p[0] = ENT_IOAPIC;
    p[1] = ioapic_id;
    p[2] = IOAPIC_VERSION;
    p[3] = 1; /* enabled */
    put32(p + 4, MPTABLE_IOAPIC_ADDR);
    p += ENTRY_LEN;
    for (unsigned irq = 0; irq < ISA_IRQS; irq++)
        if (irq != 2)
            p = io_int(p, INT_INT, FLAGS_CONFORM, BUS_ISA, (uint8_t)irq, ioapic_id, (uint8_t)irq);
    for (unsigned i = 0; i < c->npci; i++)
        p = io_int(p, INT_INT, FLAGS_PCI, BUS_PCI,
                   (uint8_t)(c->pci[i].slot << 2 | (c->pci[i].pin - 1)), ioapic_id,
                   c->pci[i].gsi);
    p = local_int(p, INT_EXTINT, 0);
    p = local_int(p, INT_NMI, 1);
    hdr[7] = checksum(hdr, size - FLOAT_LEN);
    return (long)size;
}
