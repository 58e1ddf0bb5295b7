/* IDT, local APIC and TSC frequency for the probe guest (see irq.h). */
#include "guest/probe/irq.h"

#include <asm-generic/errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

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
#define LAPIC_ISR       0x100 /* eight 32-bit words, 16 bytes apart */
#define LAPIC_SVR       0xf0
#define LAPIC_SVR_EN    0x100

struct idt_gate {
    uint16_t off_lo, sel, flags, off_mid;
    uint32_t off_hi, reserved;
};

extern const uint64_t irq_stub_table[IDT_VECTORS];
volatile unsigned irq_count[256];
static irq_hook_fn *volatile irq_hooks[IDT_VECTORS];
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
    irq_hook_fn *hook = irq_hooks[v];
    if (hook)
        hook(v);
    /* The spurious vector is never in service, so it takes no EOI. */
    if (v != IRQ_SPURIOUS && apic_ready)
        *lapic_reg(LAPIC_EOI) = 0;
}

void irq_set_hook(unsigned vector, irq_hook_fn *hook)
{
    if (vector < IDT_VECTORS)
        irq_hooks[vector] = hook;
}

bool irq_in_service(unsigned vector)
{
    return apic_ready && vector < IDT_VECTORS &&
           (*lapic_reg(LAPIC_ISR + 0x10 * (vector / 32)) >> (vector % 32) & 1);
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

/* ---- TSC frequency ---- */

#define PIT_HZ         1193182ull
#define PIT_CH0        0x40
#define PIT_CH2        0x42
#define PIT_CMD        0x43
#define PIT_CH0_LATCH  0x00
#define PIT_CH0_RATE   0x34 /* channel 0, lobyte/hibyte, mode 2 (rate generator) */
#define PIT_CH0_ONCE   0x30 /* channel 0, lobyte/hibyte, mode 0 (one shot) */
#define PIT_CH2_ONCE   0xb0 /* channel 2, lobyte/hibyte, mode 0 (one shot) */
#define PORT_B         0x61 /* bit 0: channel 2 gate; bit 1: speaker; bit 5: channel 2 OUT */
#define PORT_B_GATE2   0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2    0x20
#define PIT_CAL_COUNT  59659u /* 50 ms of PIT input clock */
/* Give up on a PIT that does not count after this many TSC ticks: a
 * second even for a TSC as slow as 60 MHz. */
#define PIT_CAL_GIVE_UP (3ull * 1000 * 1000 * 1000)

static const char *tsc_source = "none";

static uint64_t cpuid_tsc_hz(void)
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

/* Channel 2 one-shot, gated through port B: OUT rises when PIT_CAL_COUNT
 * input clocks have passed. 0 if OUT never rises (or was high already:
 * no gate or no channel 2 behind port B). */
static uint64_t pit_gate_tsc_hz(void)
{
    uint8_t port_b = inb(PORT_B);
    outb(PORT_B, (uint8_t)((port_b & ~PORT_B_SPEAKER) | PORT_B_GATE2));
    outb(PIT_CMD, PIT_CH2_ONCE); /* OUT goes low */
    outb(PIT_CH2, PIT_CAL_COUNT & 0xff);
    outb(PIT_CH2, PIT_CAL_COUNT >> 8); /* counting starts */
    uint64_t t0 = rdtsc(), t1 = t0;
    bool low_at_start = !(inb(PORT_B) & PORT_B_OUT2);
    while (low_at_start && !(inb(PORT_B) & PORT_B_OUT2) && (t1 = rdtsc()) - t0 < PIT_CAL_GIVE_UP)
        ;
    t1 = rdtsc();
    outb(PORT_B, port_b);
    if (!low_at_start || t1 - t0 >= PIT_CAL_GIVE_UP)
        return 0;
    return (t1 - t0) * PIT_HZ / PIT_CAL_COUNT;
}

static uint16_t pit_ch0_read(void)
{
    outb(PIT_CMD, PIT_CH0_LATCH);
    uint8_t lo = inb(PIT_CH0);
    return (uint16_t)(lo | inb(PIT_CH0) << 8);
}

/* Channel 0 as a free-running rate generator (65536 counts a period), read
 * back by latch until PIT_CAL_COUNT input clocks have passed; left as a
 * one-shot that fires once into the masked IRQ 0 and stops. 0 if the
 * count never moves. */
static uint64_t pit_readback_tsc_hz(void)
{
    outb(PIT_CMD, PIT_CH0_RATE);
    outb(PIT_CH0, 0);
    outb(PIT_CH0, 0);
    /* Each timestamp follows its read the same way, so the time a read
     * takes (long where port I/O exits are slow) cancels out. */
    uint16_t prev = pit_ch0_read();
    uint64_t elapsed = 0, t0 = rdtsc(), t1;
    do {
        uint16_t now = pit_ch0_read();
        t1 = rdtsc();
        elapsed += (uint16_t)(prev - now); /* counts down, modulo 65536 */
        prev = now;
    } while (elapsed < PIT_CAL_COUNT && t1 - t0 < PIT_CAL_GIVE_UP);
    outb(PIT_CMD, PIT_CH0_ONCE);
    outb(PIT_CH0, 0xff);
    outb(PIT_CH0, 0xff);
    if (elapsed < PIT_CAL_COUNT)
        return 0;
    return (t1 - t0) * PIT_HZ / elapsed;
}

uint64_t tsc_hz(void)
{
    static uint64_t hz;
    static bool known;
    if (known)
        return hz;
    known = true;
    /* "tsc-readback" on the command line tries only the last way, so the
     * run scripts can exercise it where the others work. */
    if (cmdline_word("tsc-readback")) {
        if ((hz = pit_readback_tsc_hz()))
            tsc_source = "PIT channel 0 readback";
    } else if ((hz = cpuid_tsc_hz()))
        tsc_source = "CPUID";
    else if ((hz = pit_gate_tsc_hz()))
        tsc_source = "PIT channel 2";
    else if ((hz = pit_readback_tsc_hz()))
        tsc_source = "PIT channel 0 readback";
    return hz;
}

const char *tsc_hz_source(void)
{
    tsc_hz();
    return tsc_source;
}

bool irq_wait_used(const struct vdrv_vq *vq, bool irqs_on, uint64_t ticks)
{
    uint64_t deadline = rdtsc() + ticks;
    if (irqs_on)
        __asm__ volatile("sti" ::: "memory");
    while (!vdrv_vq_has_used(vq) && rdtsc() < deadline)
        cpu_relax();
    __asm__ volatile("cli" ::: "memory");
    return vdrv_vq_has_used(vq);
}

bool irq_reap_ok(struct vdrv_vq *vq, const uint8_t *status)
{
    uint32_t len = 0;
    return vdrv_vq_get_used(vq, &len) != (void *)0 && (!status || *status == VIRTIO_BLK_S_OK);
}

int irq_dev_begin(struct vdrv_dev *d)
{
    vdrv_reset(d);
    vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER);
    return vdrv_negotiate(d, d->modern ? 1ull << VIRTIO_F_VERSION_1 : 0);
}

#define IRQ_QUEUE_SIZE_MAX 64

int irq_queue_start(struct vdrv_dev *d, unsigned q, struct vdrv_vq *vq, uint16_t vector)
{
    int max = vdrv_queue_max(d, q);
    if (max <= 0)
        return -ENOENT;
    uint16_t size = d->modern && max > IRQ_QUEUE_SIZE_MAX ? IRQ_QUEUE_SIZE_MAX : (uint16_t)max;
    void *mem = probe_alloc(vdrv_vq_mem_size(size, !d->modern), 4096);
    void **tokens = probe_alloc(sizeof(void *) * size, 8);
    uint16_t *chain = probe_alloc(sizeof(uint16_t) * size, 2);
    int rc = vdrv_setup_queue(d, q, vq, size, mem, (uintptr_t)mem, tokens, chain, vector);
    if (rc)
        return rc;
    vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
    return 0;
}

void irq_submit(struct vdrv_dev *d, unsigned q, struct vdrv_vq *vq, const struct vdrv_sg *sg,
                unsigned nout, unsigned nin, uint8_t *status)
{
    static char token;
    if (status)
        *status = 0xff;
    if (vdrv_vq_add(vq, sg, nout, nin, &token) == 0 && vdrv_vq_kick_prepare(vq))
        vdrv_notify(d, q);
}
