/* Interrupts for the probe guest: an IDT (exceptions end the run with a
 * FAIL line instead of a triple fault or a hang), the local APIC in xAPIC
 * mode, counters per vector, and the TSC frequency for the latency lines. */
#ifndef KICK_PROBE_IRQ_H
#define KICK_PROBE_IRQ_H

#include "guest/probe/probe.h"

#define IRQ_DEVICE_BASE 0x40 /* MSI-X table entry n raises IDT vector base + n */
#define IRQ_DEVICE_COUNT 16
#define IRQ_SPURIOUS    0xff
#define LAPIC_BASE      0xfee00000ull

/* Matches irq_entry.S: saved registers, then vector and error code, then
 * what the CPU pushed. */
struct irq_frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Interrupts delivered per vector (exceptions never return). */
extern volatile unsigned irq_count[256];

/* Runs in the interrupt, after the count and before the local APIC's EOI:
 * for a level-triggered source, what it does there decides whether the EOI
 * (which clears the IOAPIC's Remote IRR) lets the interrupt in again. NULL
 * removes it. */
typedef void irq_hook_fn(unsigned vector);
void irq_set_hook(unsigned vector, irq_hook_fn *hook);
/* The local APIC's In-Service bit for vector: inside that vector's handler
 * it must be set until the EOI (Intel SDM vol. 3, "Interrupt Acceptance for
 * Fixed Interrupts"). */
bool irq_in_service(unsigned vector);

/* Loads the IDT and software-enables the local APIC. false (with an INFO
 * line saying why) when there is no usable xAPIC: MSI-X checks are skipped. */
bool irq_init(void);
bool irq_ready(void);
uint8_t irq_apic_id(void);
/* Spins with interrupts enabled until irq_count[vector] reaches `want` or
 * `ticks` pass; interrupts are off again on return. */
bool irq_wait(unsigned vector, unsigned want, uint64_t ticks);
/* Spins `ticks` with interrupts enabled. */
void irq_window(uint64_t ticks);
/* Polls vq's used ring for up to ticks, with interrupts on if irqs_on (so
 * the interrupt may come while the buffer does); true once one is there. */
bool irq_wait_used(const struct vdrv_vq *vq, bool irqs_on, uint64_t ticks);
/* Reclaims one used buffer: true if there was one and, when status is given
 * (blk), its status byte says OK. */
bool irq_reap_ok(struct vdrv_vq *vq, const uint8_t *status);
/* Resets d and negotiates (VERSION_1 when modern, nothing else): the start
 * of every interrupt drive. */
int irq_dev_begin(struct vdrv_dev *d);
/* Sets queue q up (at most 64 entries when modern) on `vector`, then
 * DRIVER_OK. */
int irq_queue_start(struct vdrv_dev *d, unsigned q, struct vdrv_vq *vq, uint16_t vector);
/* One request of sg on queue q, kicked if the device wants it; a blk
 * status byte is primed to 0xff first. */
void irq_submit(struct vdrv_dev *d, unsigned q, struct vdrv_vq *vq, const struct vdrv_sg *sg,
                unsigned nout, unsigned nin, uint8_t *status);
/* TSC ticks per second from CPUID (0x15, 0x16, or the hypervisor timing
 * leaf 0x40000010), else measured against the PIT (channel 2 gated through
 * port 0x61, else channel 0 read back); 0 when nothing works. Measured once
 * (50 ms), on the first call. */
uint64_t tsc_hz(void);
/* Where tsc_hz() got it: "CPUID", "PIT channel 2", ... or "none". */
const char *tsc_hz_source(void);

/* irq_msix.c */
/* MSI-X delivery and masking checks on rng and blk, and (when `latency`)
 * round-trip latency figures polling against MSI-X. Leaves the device reset
 * and MSI-X disabled. */
void drive_msix(struct pci_fn *f, struct vdrv_dev *d, bool latency);

#define IRQ_INTX_VECTOR 0x60 /* the IOAPIC entry under test delivers here */

#endif
