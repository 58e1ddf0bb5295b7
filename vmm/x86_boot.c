/* bzImage loader and zero page (see x86_boot.h). */
#include "vmm/x86_boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <asm/bootparam.h>
#include <asm/e820.h>

/* The real-mode header starts at this offset of the image (and of the zero
 * page); its "jump" field's second byte tells how long it is. */
#define SETUP_HEADER_OFFSET 0x1f1u
#define SETUP_HEADER_END_BASE 0x202u
#define BOOT_FLAG_MAGIC 0xAA55u
#define HDRS_MAGIC 0x53726448u /* "HdrS" */
#define ENTRY64_OFFSET 0x200u
#define PAGE 4096ull

static int fail(enum x86_boot_input *culprit, enum x86_boot_input in, char *err, size_t errlen,
                int e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    *culprit = in;
    return -e;
}

static bool e820_add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
    if (size == 0)
        return true;
    if (bp->e820_entries >= E820_MAX_ENTRIES_ZEROPAGE)
        return false;
    struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];
    e->addr = addr;
    e->size = size;
    e->type = type;
    return true;
}

/* RAM the kernel may use, the legacy holes Linux expects to be reserved
 * (EBDA, VGA/BIOS area) and nothing for the PCI hole, which Linux then treats
 * as free address space for MMIO. */
static void build_e820(const struct kvm_vm *vm, struct boot_params *bp)
{
    e820_add(bp, 0, X86_BOOT_EBDA_START, E820_RAM);
    e820_add(bp, X86_BOOT_EBDA_START, 0xa0000 - X86_BOOT_EBDA_START, E820_RESERVED);
    e820_add(bp, 0xf0000, 0x10000, E820_RESERVED);
    e820_add(bp, 0x100000, vm->low_size - 0x100000, E820_RAM);
    e820_add(bp, KVM_VM_HIGH_START, vm->high_size, E820_RAM);
}

int x86_boot_load(const struct kvm_vm *vm, const struct x86_boot_images *img,
                  struct x86_boot_layout *out, enum x86_boot_input *culprit,
                  char *err, size_t errlen)
{
    const uint8_t *k = img->kernel;
    struct setup_header hdr;
    memset(out, 0, sizeof *out);

    if (img->kernel_len < 1024)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "not a bzImage (only %zu bytes)", img->kernel_len);
    memcpy(&hdr, k + SETUP_HEADER_OFFSET, sizeof hdr);
    if (hdr.boot_flag != BOOT_FLAG_MAGIC || hdr.header != HDRS_MAGIC)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "not a bzImage (no 0xAA55 boot flag and \"HdrS\" header magic)");
    if (hdr.version < X86_BOOT_MIN_PROTOCOL)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, ENOTSUP,
                    "boot protocol %u.%02u is too old (kick needs 2.06 or later)",
                    hdr.version >> 8, hdr.version & 0xff);
    if (!(hdr.loadflags & LOADED_HIGH))
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, ENOTSUP,
                    "a zImage (loads low); kick boots only bzImages");
    if (!(hdr.xloadflags & XLF_KERNEL_64))
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, ENOTSUP,
                    "kernel has no 64-bit entry point (not an x86-64 kernel?)");

    size_t setup_sects = hdr.setup_sects ? hdr.setup_sects : 4;
    size_t setup_size = (setup_sects + 1) * 512;
    size_t header_end = SETUP_HEADER_END_BASE + k[SETUP_HEADER_END_BASE - 1];
    if (setup_size >= img->kernel_len || header_end > setup_size ||
        header_end > sizeof(struct boot_params))
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "corrupt bzImage (setup size %zu, file size %zu)", setup_size,
                    img->kernel_len);
    size_t pm_size = img->kernel_len - setup_size;

    /* A relocatable kernel moves itself to a suitably aligned address (at
     * least pref_address) and decompresses there, so the range it needs runs
     * to max(load address, pref_address) + init_size. */
    uint64_t load = hdr.relocatable_kernel ? X86_BOOT_KERNEL_ADDR : hdr.pref_address;
    if (load < X86_BOOT_KERNEL_ADDR)
        load = X86_BOOT_KERNEL_ADDR;
    uint64_t run_base = hdr.pref_address > load ? hdr.pref_address : load;
    uint64_t need = run_base + (hdr.init_size > pm_size ? hdr.init_size : pm_size);
    if (need < run_base || need > vm->low_size)
        return fail(culprit, X86_BOOT_IN_MEMORY, err, errlen, ENOMEM,
                    "too small for this kernel (it needs RAM up to %llu MiB while booting)",
                    (unsigned long long)((need + (1 << 20) - 1) >> 20));
    uint8_t *kdst = kvm_vm_gpa(vm, load, pm_size);
    if (!kdst)
        return fail(culprit, X86_BOOT_IN_MEMORY, err, errlen, ENOMEM,
                    "too small for the %zu-byte kernel", pm_size);

    size_t cmd_len = img->cmdline ? strlen(img->cmdline) : 0;
    uint32_t cmd_max = hdr.cmdline_size < X86_BOOT_CMDLINE_MAX - 1 ? hdr.cmdline_size
                                                                   : X86_BOOT_CMDLINE_MAX - 1;
    if (cmd_len > cmd_max)
        return fail(culprit, X86_BOOT_IN_CMDLINE, err, errlen, E2BIG,
                    "%zu bytes long, this kernel takes at most %u", cmd_len, cmd_max);

    uint64_t initrd_addr = 0;
    if (img->initrd && img->initrd_len) {
        /* As high as allowed, so it stays clear of the decompressing kernel. */
        uint64_t top = vm->low_size;
        if ((uint64_t)hdr.initrd_addr_max + 1 < top)
            top = (uint64_t)hdr.initrd_addr_max + 1;
        if (img->initrd_len > top || ((top - img->initrd_len) & ~(PAGE - 1)) < need)
            return fail(culprit, X86_BOOT_IN_INITRD, err, errlen, ENOMEM,
                        "%zu bytes do not fit between the kernel (ends at %llu MiB) and "
                        "the initrd limit (%llu MiB); give more --memory",
                        img->initrd_len, (unsigned long long)(need >> 20),
                        (unsigned long long)(top >> 20));
        initrd_addr = (top - img->initrd_len) & ~(PAGE - 1);
    }

    struct boot_params *bp = kvm_vm_gpa(vm, X86_BOOT_ZERO_PAGE, sizeof *bp);
    char *cmd_dst = kvm_vm_gpa(vm, X86_BOOT_CMDLINE, cmd_len + 1);
    if (!bp || !cmd_dst)
        return fail(culprit, X86_BOOT_IN_MEMORY, err, errlen, ENOMEM, "too small for boot data");

    /* Only now, with every check passed, is guest RAM written. */
    memcpy(kdst, k + setup_size, pm_size);
    memset(bp, 0, sizeof *bp);
    memcpy((uint8_t *)bp + SETUP_HEADER_OFFSET, k + SETUP_HEADER_OFFSET,
           header_end - SETUP_HEADER_OFFSET);
    bp->hdr.type_of_loader = 0xff; /* undefined loader */
    bp->hdr.loadflags |= CAN_USE_HEAP;
    bp->hdr.loadflags &= (uint8_t)~KEEP_SEGMENTS;
    bp->hdr.heap_end_ptr = 0xfe00;
    bp->hdr.vid_mode = 0xffff; /* "normal" */
    bp->hdr.code32_start = (uint32_t)load;
    memcpy(cmd_dst, img->cmdline ? img->cmdline : "", cmd_len);
    cmd_dst[cmd_len] = 0;
    bp->hdr.cmd_line_ptr = (uint32_t)X86_BOOT_CMDLINE;
    bp->ext_cmd_line_ptr = 0;
    if (initrd_addr) {
        memcpy(kvm_vm_gpa(vm, initrd_addr, img->initrd_len), img->initrd, img->initrd_len);
        bp->hdr.ramdisk_image = (uint32_t)initrd_addr;
        bp->hdr.ramdisk_size = (uint32_t)img->initrd_len;
    }
    build_e820(vm, bp);

    out->protocol = hdr.version;
    out->entry = load + ENTRY64_OFFSET;
    out->zero_page = X86_BOOT_ZERO_PAGE;
    out->kernel_addr = load;
    out->kernel_end = need;
    out->initrd_addr = initrd_addr;
    out->initrd_size = initrd_addr ? img->initrd_len : 0;
    out->e820_entries = bp->e820_entries;
    return 0;
}
