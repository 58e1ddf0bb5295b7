/* ACPI tables for `kick run` (ACPI 6.x): what lets Linux power the VM off
 * (\_S5 + PM1a_CNT), find the CPUs and the IOAPIC (MADT), route PCI INTx#
 * (_PRT) and reach extended config space through ECAM (MCFG).
 *
 * Everything lives in the BIOS area at ACPI_AREA_GPA (0xE0000..0xEFFFF,
 * below the MP table at 0xF0000), which Linux scans for the RSDP on 16-byte
 * boundaries, so the boot protocol needs no change:
 *   RSDP (v2) -> XSDT -> FADT (rev 6) -> DSDT, FACS
 *                     -> MADT (APIC)
 *                     -> MCFG
 * There is no RSDT: an ACPI 2.0+ OS follows the XSDT.
 *
 * The DSDT holds \_S5, a Processor device (ACPI0007) per CPU, the PCI root
 * bridge \_SB.PCI0 (PNP0A08/PNP0A03 with its windows in _CRS and INTx#
 * routing in _PRT) and \_SB.MRES (PNP0C02), which reserves the ECAM window
 * and the PM1 ports as motherboard resources: Linux accepts an MCFG region
 * only if the firmware reserves it there (or in e820).
 *
 * No _OSC: the platform keeps control of PCIe native features (hot-plug,
 * AER, PME, LTR), none of which kick implements; Linux then disables ASPM,
 * which kick does not have either. */
#ifndef KICK_ACPI_H
#define KICK_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_AREA_GPA     0xE0000ull
#define ACPI_AREA_SIZE    0x10000u  /* up to the MP table at 0xF0000 */

/* Where the ECAM window goes by default: the 1 MiB after the local APIC's
 * MSI range (0xFEE00000-0xFEEFFFFF), inside the 3-4 GiB hole but outside
 * the PCI host's 32-bit BAR window (0xC0000000-0xFEC00000), the IOAPIC and
 * KVM's TSS/identity pages (0xFFFBC000). Guest RAM ends at the hole
 * (0xC0000000) at most, so nothing below it is free for every memory size.
 * One bus (bus 0) takes 1 MiB. */
#define ACPI_ECAM_BASE    0xFEF00000ull

#define ACPI_PM1_BASE     0x600u    /* PM1a_EVT at +0 (4 bytes), PM1a_CNT at +4 (2) */
#define ACPI_SCI_IRQ      9
#define ACPI_S5_SLP_TYP   5         /* \_S5's SLP_TYP for PM1a_CNT */
#define ACPI_MAX_CPUS     254       /* xAPIC IDs; the IOAPIC takes the next one */
#define ACPI_MAX_PCI_SLOTS 32

struct acpi_config {
    unsigned ncpus;                /* APIC IDs and processor UIDs 0..ncpus-1 */
    uint64_t ioapic_addr;
    uint8_t ioapic_id;
    uint32_t lapic_addr;
    /* Root bridge windows. mem64_size 0: no 64-bit window. */
    uint32_t mem32_base, mem32_end; /* [base, end) */
    uint64_t mem64_base, mem64_size;
    /* ECAM: ecam_base is bus 0's address (MCFG's base); the window holds
     * buses ecam_bus_start..ecam_bus_end, 1 MiB each, and is also the root
     * bridge's bus range. It must lie below 4 GiB. */
    uint64_t ecam_base;
    uint8_t ecam_bus_start, ecam_bus_end;
    /* Slots whose INTA#..INTD# get a _PRT entry (bit n: slot n), each routed
     * to GSI 16 + (slot + pin) % 8 (pin 0 = INTA#), as the MP table does. */
    uint32_t pci_slot_mask;
    uint16_t pm1_base;             /* PM1a event block; control block at +4 */
};

/* Fills c with kick's layout for ncpus CPUs, RAM ending at ram_end (highest
 * RAM address + 1) and the given slots; the 64-bit window is
 * [align_up(max(ram_end, 4 GiB), 1 GiB), +16 GiB): where pci_host puts
 * 64-bit BARs, and below 64 GiB (36 physical address bits, the x86-64
 * minimum) while RAM ends below 47 GiB. Callers may adjust fields after. */
void acpi_config_default(struct acpi_config *c, unsigned ncpus, uint64_t ram_end,
                         uint32_t pci_slot_mask);

/* Builds every table into bios_area, the host view of guest-physical
 * ACPI_AREA_GPA (len bytes, at most ACPI_AREA_SIZE), and stores the RSDP's
 * guest-physical address. 0, -EINVAL (bad config) or -ENOSPC. */
int acpi_build(const struct acpi_config *c, void *bios_area, size_t len, uint64_t *rsdp_gpa);

/* GSI of slot's INTx# (pin 0 = INTA#): the same as pci_host_intx_gsi(). */
static inline unsigned acpi_pci_gsi(unsigned slot, unsigned pin0)
{
    return 16 + (slot + pin0) % 8;
}

#endif
