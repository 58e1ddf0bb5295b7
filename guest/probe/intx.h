/* INTx as a real interrupt: where a function's INTx# pin enters the IOAPIC
 * (the MP table's I/O interrupt entries, else the Interrupt Line register),
 * the IOAPIC redirection entry that delivers it to this CPU, and the checks
 * of level-triggered INTx semantics on each device (irq_intx.c). */
#ifndef KICK_PROBE_INTX_H
#define KICK_PROBE_INTX_H

#include "guest/probe/irq.h"

#define IOAPIC_DEFAULT_BASE 0xfec00000ull

/* MP spec 1.4, table 4-10: I/O interrupt entry flags. */
#define MP_POLARITY_MASK    0x3
#define MP_POLARITY_CONFORM 0x0
#define MP_POLARITY_HIGH    0x1
#define MP_POLARITY_LOW     0x3
#define MP_TRIGGER_SHIFT    2
#define MP_TRIGGER_MASK     0x3
#define MP_TRIGGER_CONFORM  0x0
#define MP_TRIGGER_EDGE     0x1
#define MP_TRIGGER_LEVEL    0x3

/* Where one function's INTx# goes. */
struct intx_route {
    bool found;
    bool from_mptable;      /* else the Interrupt Line register */
    uint8_t int_pin;        /* 1-4: INTA#-INTD# */
    uint8_t line;           /* the Interrupt Line register */
    uint64_t ioapic_base;
    uint8_t ioapic_id;      /* 0xff: not known (Interrupt Line fallback) */
    uint8_t intin;          /* the IOAPIC input */
    bool level, active_low;
    char how[112];          /* how it was found, for the verdict line */
};

/* Looks the function's INTx# up (f's Interrupt Pin must be 1-4). false,
 * with r->how saying why, when nothing names an IOAPIC input. */
bool intx_route_find(const struct pci_fn *f, struct intx_route *r);

/* The IOAPIC's highest redirection entry (version register bits 23:16). */
unsigned ioapic_max_entry(uint64_t base);
uint64_t ioapic_rte_read(uint64_t base, unsigned intin);
void ioapic_rte_write(uint64_t base, unsigned intin, uint64_t rte);

/* Redirection entry bits (82093AA datasheet, 3.2.4). */
#define IOAPIC_RTE_VECTOR     0xffull
#define IOAPIC_RTE_DELIV_MASK (7ull << 8)   /* 000: fixed */
#define IOAPIC_RTE_DEST_LOG   (1ull << 11)
#define IOAPIC_RTE_PENDING    (1ull << 12)  /* delivery status, read-only */
#define IOAPIC_RTE_ACTIVE_LOW (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)  /* read-only; set until EOI */
#define IOAPIC_RTE_LEVEL      (1ull << 15)
#define IOAPIC_RTE_MASKED     (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT 56

/* irq_intx.c: with MSI-X off and INTx enabled, one used buffer must raise
 * exactly one interrupt through the IOAPIC; reading the ISR must deassert
 * the line; with Interrupt Disable set nothing arrives but the Interrupt
 * Status bit shows the interrupt pending. Leaves the device reset and the
 * redirection entry masked. */
void drive_intx(struct pci_fn *f, struct vdrv_dev *d);

#endif
