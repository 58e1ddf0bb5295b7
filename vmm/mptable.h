/* Intel MultiProcessor Specification 1.4 tables: how a Linux booted without
 * ACPI learns the CPUs (so it starts the APs), the IOAPIC (KVM's in-kernel
 * one) and which IOAPIC pin each ISA IRQ and each PCI slot's INTx# drives.
 *
 * The floating pointer and the configuration table go in the BIOS area at
 * MPTABLE_ADDR (0xF0000..0xFFFFF is one of the places Linux scans, and the
 * e820 map reserves it). */
#ifndef KICK_MPTABLE_H
#define KICK_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define MPTABLE_ADDR       0xF0000ull
#define MPTABLE_IOAPIC_ADDR 0xFEC00000u
#define MPTABLE_LAPIC_ADDR 0xFEE00000u
#define MPTABLE_IOAPIC_PINS 24
#define MPTABLE_MAX_CPUS   254 /* the IOAPIC takes the next APIC ID */

/* A PCI slot whose INTx# pin (1..4) is wired to IOAPIC pin gsi. */
struct mptable_pci_irq {
    uint8_t slot, pin, gsi;
};

struct mptable_config {
    unsigned cpus;                      /* APIC IDs 0..cpus-1, CPU 0 boots */
    const struct mptable_pci_irq *pci;  /* PCI interrupt wiring */
    unsigned npci;
};

/* Bytes mptable_write() needs. */
size_t mptable_size(const struct mptable_config *c);

/* Writes the floating pointer followed by the configuration table into buf
 * (mptable_size() bytes), which the guest will see at guest-physical gpa.
 * Returns the bytes written, or -EINVAL (no CPUs, too many, bad wiring) /
 * -ENOSPC (len too small). */
long mptable_write(const struct mptable_config *c, uint64_t gpa, void *buf, size_t len);

#endif
