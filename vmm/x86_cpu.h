/* Boot CPU state for the 64-bit Linux entry (and the 32-bit multiboot one): identity page tables and a GDT
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
#define X86_CPU_SEL_CODE32 0x28 /* flat 32-bit code, for the multiboot entry */

/* Writes the GDT and page tables. Returns 0, or -ENOMEM if low RAM is too
 * small to hold them. */
int x86_cpu_write_tables(const struct kvm_vm *vm);

/* Fills sregs (keeping fields KVM gave, e.g. apic_base) and regs for the
 * 64-bit entry at rip with rsi pointing to the zero page. */
void x86_cpu_boot_sregs(struct kvm_sregs *sregs);
void x86_cpu_boot_regs(struct kvm_regs *regs, uint64_t rip, uint64_t rsi);

/* The multiboot v1 machine state instead: 32-bit protected mode, paging off,
 * CS flat 32-bit code, DS/ES/FS/GS/SS flat data, EFLAGS.IF and VM clear,
 * EAX = 0x2BADB002, EBX = the info structure. */
void x86_cpu_boot32_sregs(struct kvm_sregs *sregs);
void x86_cpu_boot32_regs(struct kvm_regs *regs, uint32_t eip, uint32_t ebx);

#endif
