/* Multiboot (v1) entry for the probe guest: QEMU's -kernel hands us 32-bit
 * protected mode with paging off. We identity-map the first 4 GiB with 2 MiB
 * pages (the PCI hole at 3-4 GiB uncached), enter long mode and call
 * probe_main(magic, info).
 *
 * QEMU refuses to load an ELF64 image as multiboot, so the header uses the
 * address fields ("a.out kludge"): QEMU then copies the file flat from the
 * header's position, which the linker script keeps at the image start. */

#define MB_MAGIC      0x1BADB002
#define MB_FLAGS      0x00010003 /* page-align modules, memory info, address fields */

#define PTE_P         0x001
#define PTE_W         0x002
#define PTE_PWT       0x008
#define PTE_PCD       0x010
#define PTE_PS        0x080

#define CR0_PG        0x80000000
#define CR4_PAE       0x00000020
#define MSR_EFER      0xC0000080
#define EFER_LME      0x00000100

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header         /* header_addr */
    .long __image_start     /* load_addr */
    .long __data_end        /* load_end_addr */
    .long __bss_end         /* bss_end_addr */
    .long _start            /* entry_addr */

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    mov %eax, %ebp          /* multiboot magic */
    mov %ebx, %esi          /* multiboot info (kept in esi across the setup) */

    /* Zero .bss: the page tables and the stack live there. */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    shr $2, %ecx
    xor %eax, %eax
    rep stosl

    /* PML4[0] -> PDPT; PDPT[0..3] -> boot_pd[0..3]. */
    mov $boot_pdpt, %eax
    or $(PTE_P | PTE_W), %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    or $(PTE_P | PTE_W), %eax
    xor %ecx, %ecx
1:  mov %eax, boot_pdpt(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jne 1b

    /* 2048 2 MiB pages covering 0-4 GiB; from 3 GiB on (BARs, APIC,
     * firmware) uncached. */
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_P | PTE_W | PTE_PS), %eax
    cmp $1536, %ecx
    jb 3f
    or $(PTE_PCD | PTE_PWT), %eax
3:  mov %eax, boot_pd(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    or $CR0_PG, %eax
    mov %eax, %cr0

    lgdt gdt_ptr
    ljmp $0x08, $long_entry

    .code64
long_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack_top, %rsp
    xor %ebx, %ebx
    mov %ebp, %edi          /* probe_main(magic, info) */
    mov %esi, %esi          /* zero-extends */
    call probe_main
4:  hlt
    jmp 4b

    .section .rodata
    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff /* 0x08: 64-bit code, ring 0 */
    .quad 0x00cf92000000ffff /* 0x10: data, ring 0 */
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt

    .section .bss
    .balign 4096
    .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
boot_stack:
    .skip 65536
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
