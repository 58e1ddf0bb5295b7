/* Boot CPU state for the 64-bit Linux entry: identity page tables and a GDT
 * in guest RAM, and the segment/control/general registers to load into the
 * vCPU (long mode, paging on, interrupts off, RSI = zero page). */
#ifndef KICK_X86_CPU_H
#define KICK_X86_CPU_H

#include <stdint.h>

#include <linux/kvm.h>

#include "vmm/kvm_vm.h"

#define X86_CPU_GDT_ADDR  0x500ull
#define X86_CPU_PML4_ADDR 0x9000ull /* PDPT at +0x1000, 4 page directories after it */
#define X86_CPU_IDMAP_GIB 4         /* identity-mapped with 2 MiB pages */
#define X86_CPU_BOOT_STACK 0x7000ull /* grows down, below the zero page */

/* Selectors the boot protocol requires (__BOOT_CS, __BOOT_DS), and a TSS
 * because VMX wants a usable TR. */
#define X86_CPU_SEL_CODE 0x10
#define X86_CPU_SEL_DATA 0x18
#define X86_CPU_SEL_TSS  0x20

/* Writes the GDT and page tables. Returns 0, or -ENOMEM if low RAM is too
 * small to hold them. */
int x86_cpu_write_tables(const struct kvm_vm *vm);

/* Fills sregs (keeping fields KVM gave, e.g. apic_base) and regs for the
 * 64-bit entry at rip with rsi pointing to the zero page. */
void x86_cpu_boot_sregs(struct kvm_sregs *sregs);
void x86_cpu_boot_regs(struct kvm_regs *regs, uint64_t rip, uint64_t rsi);

#endif
