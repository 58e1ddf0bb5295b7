/* The x86 Linux boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry:
 * loads a bzImage's protected-mode part, fills the zero page (boot_params with
 * the setup header, e820 map, command line, initrd) and reports where to
 * enter. Works on guest RAM through kvm_vm_gpa() only; no vCPU state here
 * (x86_cpu.h sets up long mode).
 *
 * Low memory used by kick (all inside the first 640 KiB of RAM):
 *   0x00500  GDT (x86_cpu.c)
 *   0x07000  boot_params (zero page)
 *   0x09000  page tables (x86_cpu.c), up to 0x0f000
 *   0x20000  kernel command line, up to X86_BOOT_CMDLINE_MAX bytes */
#ifndef KICK_X86_BOOT_H
#define KICK_X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/kvm_vm.h"

#define X86_BOOT_ZERO_PAGE    0x7000ull
#define X86_BOOT_CMDLINE      0x20000ull
#define X86_BOOT_CMDLINE_MAX  0x10000u
#define X86_BOOT_KERNEL_ADDR  0x100000ull /* 1 MiB, for relocatable kernels */
#define X86_BOOT_EBDA_START   0x9fc00ull  /* where conventional RAM ends */
#define X86_BOOT_MIN_PROTOCOL 0x206       /* cmdline_size exists from 2.06 */

/* Which input an error is about, so the CLI can name the argument. */
enum x86_boot_input {
    X86_BOOT_IN_KERNEL,
    X86_BOOT_IN_INITRD,
    X86_BOOT_IN_CMDLINE,
    X86_BOOT_IN_MEMORY,
};

struct x86_boot_images {
    const uint8_t *kernel;
    size_t kernel_len;
    const uint8_t *initrd; /* may be NULL */
    size_t initrd_len;
    const char *cmdline;   /* may be NULL: empty */
};

struct x86_boot_layout {
    uint16_t protocol;     /* boot protocol version of the image, e.g. 0x20f; 0: multiboot */
    bool multiboot;        /* enter in 32-bit protected mode (x86_cpu_boot32_*), not long mode */
    uint64_t entry;        /* 64-bit entry point (load address + 0x200); multiboot: entry_addr */
    uint64_t zero_page;    /* goes in RSI; multiboot: the info structure, goes in EBX */
    uint64_t kernel_addr;  /* where the protected-mode part was loaded */
    uint64_t kernel_end;   /* end of the range the kernel may use while booting */
    uint64_t initrd_addr, initrd_size;
    unsigned e820_entries;
};

/* Multiboot (v1) images, taken when the file is not a bzImage: the header must
 * sit 4-byte aligned in the first 8 KiB and use the address fields (flag 16;
 * kick does not parse ELF). The image and its bss must lie in RAM at or above
 * 1 MiB (below are kick's GDT, page tables, command line and the BIOS area
 * with the ACPI and MP tables). The info structure goes where the zero page
 * would (mem_lower/mem_upper, command line, memory map, loader name). */
#define X86_BOOT_MB_SEARCH     8192u
#define X86_BOOT_MB_HDR_MAGIC  0x1BADB002u
#define X86_BOOT_MB_BOOT_MAGIC 0x2BADB002u /* in EAX at the entry */
#define X86_BOOT_MB_LOW_LIMIT  0x100000ull

/* Validates the bzImage (or multiboot image) and lays everything out in guest RAM. On error
 * returns -errno, sets *culprit and writes one line (no newline) to err. */
int x86_boot_load(const struct kvm_vm *vm, const struct x86_boot_images *img,
                  struct x86_boot_layout *out, enum x86_boot_input *culprit,
                  char *err, size_t errlen);

#endif
