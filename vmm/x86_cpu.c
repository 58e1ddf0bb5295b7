/* Long-mode boot state (see x86_cpu.h). */
#include "vmm/x86_cpu.h"

#include <errno.h>
#include <string.h>

#include "vmm/x86_boot.h"

#include <asm/processor-flags.h>

#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define PTE_PRESENT 0x1ull
#define PTE_RW      0x2ull
#define PTE_PS      0x80ull /* 2 MiB page in a page-directory entry */

/* Flags field of a descriptor: bits 8-15 (type, S, DPL, P) and 20-23 (AVL,
 * L, D/B, G) of the upper dword, packed as 0xGX0TT with the limit nibble
 * between them. */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
    return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
           ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
           (uint64_t)(limit & 0x0000ffffu);
}

#define GDT_ENTRIES 6

int x86_cpu_write_tables(const struct kvm_vm *vm)
{
    uint64_t *gdt = kvm_vm_gpa(vm, X86_CPU_GDT_ADDR, GDT_ENTRIES * 8);
    uint64_t pt_bytes = (2 + X86_CPU_IDMAP_GIB) * 4096ull;
    uint64_t *pml4 = kvm_vm_gpa(vm, X86_CPU_PML4_ADDR, pt_bytes);
    if (!gdt || !pml4)
        return -ENOMEM;
    gdt[0] = 0;
    gdt[1] = 0;
    gdt[X86_CPU_SEL_CODE >> 3] = gdt_entry(0xa09b, 0, 0xfffff); /* 64-bit code, G */
    gdt[X86_CPU_SEL_DATA >> 3] = gdt_entry(0xc093, 0, 0xfffff); /* 4 GiB data, D/B, G */
    gdt[X86_CPU_SEL_TSS >> 3] = gdt_entry(0x808b, 0, 0xfffff);  /* busy TSS */
    gdt[X86_CPU_SEL_CODE32 >> 3] = gdt_entry(0xc09b, 0, 0xfffff); /* 32-bit code, D, G */

    memset(pml4, 0, pt_bytes);
    uint64_t pdpt_addr = X86_CPU_PML4_ADDR + 4096;
    uint64_t *pdpt = pml4 + 512;
    pml4[0] = pdpt_addr | PTE_PRESENT | PTE_RW;
    for (uint64_t g = 0; g < X86_CPU_IDMAP_GIB; g++) {
        uint64_t pd_addr = pdpt_addr + 4096 * (g + 1);
        uint64_t *pd = pml4 + 512 * (g + 2);
        pdpt[g] = pd_addr | PTE_PRESENT | PTE_RW;
        for (uint64_t i = 0; i < 512; i++)
            pd[i] = ((g << 30) + (i << 21)) | PTE_PRESENT | PTE_RW | PTE_PS;
    }
    return 0;
}

static struct kvm_segment segment(uint16_t sel, uint8_t type, uint8_t s, uint8_t l, uint8_t db)
{
    return (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = sel, .type = type, .present = 1,
        .dpl = 0, .db = db, .s = s, .l = l, .g = 1,
    };
}

void x86_cpu_boot_sregs(struct kvm_sregs *sregs)
{
    sregs->cs = segment(X86_CPU_SEL_CODE, 0xb, 1, 1, 0);
    struct kvm_segment data = segment(X86_CPU_SEL_DATA, 0x3, 1, 0, 1);
    sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
    sregs->tr = segment(X86_CPU_SEL_TSS, 0xb, 0, 0, 0);
    sregs->gdt.base = X86_CPU_GDT_ADDR;
    sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
    sregs->idt.base = 0;
    sregs->idt.limit = 0;
    sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
    sregs->cr3 = X86_CPU_PML4_ADDR;
    sregs->cr4 = X86_CR4_PAE;
    sregs->efer = EFER_LME | EFER_LMA;
}

void x86_cpu_boot_regs(struct kvm_regs *regs, uint64_t rip, uint64_t rsi)
{
    memset(regs, 0, sizeof *regs);
    regs->rflags = X86_EFLAGS_FIXED; /* interrupts off */
    regs->rip = rip;
    regs->rsi = rsi;
    regs->rsp = X86_CPU_BOOT_STACK;
}

void x86_cpu_boot32_sregs(struct kvm_sregs *sregs)
{
    x86_cpu_boot_sregs(sregs);
    sregs->cs = segment(X86_CPU_SEL_CODE32, 0xb, 1, 0, 1);
    sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
    sregs->cr3 = 0;
    sregs->cr4 = 0;
    sregs->efer = 0;
}

void x86_cpu_boot32_regs(struct kvm_regs *regs, uint32_t eip, uint32_t ebx)
{
    memset(regs, 0, sizeof *regs);
    regs->rflags = X86_EFLAGS_FIXED;
    regs->rip = eip;
    regs->rax = X86_BOOT_MB_BOOT_MAGIC;
    regs->rbx = ebx;
    /* multiboot leaves ESP undefined; a usable one costs nothing */
    regs->rsp = X86_CPU_BOOT_STACK;
}
