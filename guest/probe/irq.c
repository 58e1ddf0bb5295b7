/* IDT, local APIC and TSC frequency for the probe guest (see irq.h). */
#include "guest/probe/irq.h"

#define IDT_VECTORS     256
#define IDT_GATE_INTR   0x8e00 /* present, DPL 0, 64-bit interrupt gate */
#define KERNEL_CS       0x08
#define EXCEPTIONS      32

#define MSR_APIC_BASE   0x1b
#define APIC_BASE_EN    (1ull << 11)
#define APIC_BASE_X2    (1ull << 10)
#define CPUID1_EDX_APIC (1u << 9)

/* 8259 pair: firmware leaves it delivering the PIT on vector 8 (#DF's). */
#define PIC1_CMD        0x20
#define PIC1_DATA       0x21
#define PIC2_CMD        0xa0
#define PIC2_DATA       0xa1
#define PIC_ICW1_INIT   0x11 /* edge, cascade, ICW4 follows */
#define PIC_ICW4_8086   0x01
#define PIC_VECTOR_BASE 0x20 /* IRQ 0-15 -> 0x20-0x2f, clear of the exceptions */

#define LAPIC_ID        0x20
#define LAPIC_TPR       0x80
#define LAPIC_EOI       0xb0
#define LAPIC_SVR       0xf0
#define LAPIC_SVR_EN    0x100

struct idt_gate {
    uint16_t off_lo, sel, flags, off_mid;
    uint32_t off_hi, reserved;
};

extern const uint64_t irq_stub_table[IDT_VECTORS];
volatile unsigned irq_count[256];
static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static bool apic_ready;

void irq_dispatch(struct irq_frame *fr);

static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline volatile uint32_t *lapic_reg(uint32_t off)
{
    return (volatile uint32_t *)(uintptr_t)(LAPIC_BASE + off);
}

static const char *const exception_names[EXCEPTIONS] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?", "#TS", "#NP", "#SS", "#GP",
    "#PF", "?", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

void irq_dispatch(struct irq_frame *fr)
{
    unsigned v = (unsigned)fr->vector & 0xff;
    if (v < EXCEPTIONS) {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        const char *name = exception_names[v] ? exception_names[v] : "?";
        con_printf("FAIL cpu: exception %u %s error 0x%llx rip 0x%llx rsp 0x%llx cr2 0x%llx\n", v,
                   name, (unsigned long long)fr->error, (unsigned long long)fr->rip,
                   (unsigned long long)fr->rsp, (unsigned long long)cr2);
        report_summary();
        probe_exit(1);
    }
    irq_count[v]++;
    /* The spurious vector is never in service, so it takes no EOI. */
    if (v != IRQ_SPURIOUS && apic_ready)
        *lapic_reg(LAPIC_EOI) = 0;
}

/* Remapped and fully masked: a stray or spurious 8259 interrupt then counts
 * on 0x20-0x2f instead of posing as an exception. */
static void pic_disable(void)
{
    outb(PIC1_CMD, PIC_ICW1_INIT);
    outb(PIC2_CMD, PIC_ICW1_INIT);
    outb(PIC1_DATA, PIC_VECTOR_BASE);
    outb(PIC2_DATA, PIC_VECTOR_BASE + 8);
    outb(PIC1_DATA, 1u << 2); /* slave on IRQ2 */
    outb(PIC2_DATA, 2);
    outb(PIC1_DATA, PIC_ICW4_8086);
    outb(PIC2_DATA, PIC_ICW4_8086);
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
}

bool irq_init(void)
{
    pic_disable();
    for (unsigned v = 0; v < IDT_VECTORS; v++) {
        uint64_t a = irq_stub_table[v];
        idt[v] = (struct idt_gate){ .off_lo = (uint16_t)a, .sel = KERNEL_CS, .flags = IDT_GATE_INTR,
                                    .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32) };
    }
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = { sizeof(idt) - 1, (uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));

    uint32_t r[4];
    cpuid(1, r);
    if (!(r[3] & CPUID1_EDX_APIC)) {
        con_printf("INFO: CPUID says no local APIC: no interrupt checks\n");
        return false;
    }
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (base & APIC_BASE_X2) {
        con_printf("INFO: local APIC already in x2APIC mode: no interrupt checks\n");
        return false;
    }
    if ((base & ~0xfffull & 0xffffffffffull) != LAPIC_BASE) {
        con_printf("INFO: local APIC at 0x%llx, not 0x%llx: no interrupt checks\n",
                   (unsigned long long)(base & ~0xfffull), LAPIC_BASE);
        return false;
    }
    if (!(base & APIC_BASE_EN))
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN);
    if (!probe_map_mmio(LAPIC_BASE, 4096)) {
        con_printf("INFO: cannot map the local APIC: no interrupt checks\n");
        return false;
    }
    *lapic_reg(LAPIC_TPR) = 0;
    *lapic_reg(LAPIC_SVR) = LAPIC_SVR_EN | IRQ_SPURIOUS;
    apic_ready = true;
    con_printf("INFO: local APIC id %u enabled (SVR 0x%x)\n", irq_apic_id(),
               *lapic_reg(LAPIC_SVR));
    return true;
}

bool irq_ready(void) { return apic_ready; }

uint8_t irq_apic_id(void) { return (uint8_t)(*lapic_reg(LAPIC_ID) >> 24); }

bool irq_wait(unsigned vector, unsigned want, uint64_t ticks)
{
    uint64_t deadline = rdtsc() + ticks;
    bool got;
    __asm__ volatile("sti" ::: "memory");
    while (!(got = irq_count[vector] >= want) && rdtsc() < deadline)
        cpu_relax();
    __asm__ volatile("cli" ::: "memory");
    return got || irq_count[vector] >= want;
}

void irq_window(uint64_t ticks)
{
    uint64_t deadline = rdtsc() + ticks;
    __asm__ volatile("sti" ::: "memory");
    while (rdtsc() < deadline)
        cpu_relax();
    __asm__ volatile("cli" ::: "memory");
}

uint64_t tsc_hz(void)
{
    uint32_t r[4];
    cpuid(0, r);
    uint32_t max = r[0];
    if (max >= 0x15) {
        cpuid(0x15, r);
        /* eax/ebx: TSC to crystal ratio; ecx: crystal Hz (0: not given). */
        if (r[0] && r[1] && r[2])
            return (uint64_t)r[2] * r[1] / r[0];
    }
    if (max >= 0x16) {
        cpuid(0x16, r);
        if (r[0] & 0xffff)
            return (uint64_t)(r[0] & 0xffff) * 1000000ull;
    }
    cpuid(1, r);
    if (r[2] & (1u << 31)) { /* hypervisor present */
        cpuid(0x40000000, r);
        if (r[0] >= 0x40000010) {
            cpuid(0x40000010, r);
            if (r[0])
                return (uint64_t)r[0] * 1000ull;
        }
    }
    return 0;
}
