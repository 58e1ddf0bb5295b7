/* One entry stub per IDT vector, all landing in irq_common, which saves the
 * registers the C ABI lets irq_dispatch clobber and hands it the frame.
 * Vectors whose exception pushes no error code push a 0, so the frame has
 * one shape (struct irq_frame in irq.h). The CPU aligns RSP to 16 before
 * pushing its five words; the stub's two and the nine saved registers keep
 * it 16-aligned at the call. */

    .section .rodata
    .balign 8
    .globl irq_stub_table
irq_stub_table:

    .set vec, 0
    .rept 256
    .section .text
    .balign 16
1:
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp irq_common
    .section .rodata
    .quad 1b
    .set vec, vec + 1
    .endr

    .section .text
irq_common:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    cld
    mov %rsp, %rdi
    call irq_dispatch
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp
    iretq

    .section .note.GNU-stack, "", @progbits
