/* bzImage and multiboot v1 loaders, zero page / multiboot info (see x86_boot.h). */
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

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Multiboot 0.6.96 header flags: bits 0-15 are requirements a loader must
 * refuse when it cannot meet them; kick has no modules (bit 0 is moot) and
 * gives memory information (bit 1), but sets no video mode (bit 2). */
#define MB_HDR_PAGE_ALIGN   0x00000001u
#define MB_HDR_MEMORY_INFO  0x00000002u
#define MB_HDR_REQUIRED     0x0000ffffu
#define MB_HDR_ADDRESSES    0x00010000u
#define MB_HDR_LEN_ADDR     32u /* magic, flags, checksum and the five address fields */

#define MB_INFO_MEMORY      0x001u
#define MB_INFO_CMDLINE     0x004u
#define MB_INFO_MMAP        0x040u
#define MB_INFO_LOADER_NAME 0x200u
#define MB_INFO_SIZE        128u   /* the 0.6.96 structure is 120 bytes */
#define MB_MMAP_OFFSET      0x100u /* memory map, then the loader name, after the info */
#define MB_MMAP_ENTRY       24u    /* size field (20) + base + length + type */
#define MB_NAME_OFFSET      0x200u
#define MB_LOADER_NAME      "kick"

/* Offset of a valid-looking header (magic and checksum) in the first 8 KiB, or -1. */
static long mb_find_header(const uint8_t *k, size_t len)
{
    size_t end = len < X86_BOOT_MB_SEARCH ? len : X86_BOOT_MB_SEARCH;
    for (size_t off = 0; off + 12 <= end; off += 4)
        if (le32(k + off) == X86_BOOT_MB_HDR_MAGIC)
            return (long)off;
    return -1;
}

static void mb_put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* x86 host: little endian like the guest */
}

static uint8_t *mb_mmap_add(uint8_t *p, uint64_t addr, uint64_t size, uint32_t type)
{
    if (size == 0)
        return p;
    mb_put32(p, MB_MMAP_ENTRY - 4);
    memcpy(p + 4, &addr, 8);
    memcpy(p + 12, &size, 8);
    mb_put32(p + 20, type);
    return p + MB_MMAP_ENTRY;
}

static int multiboot_load(const struct kvm_vm *vm, const struct x86_boot_images *img, long hoff,
                          struct x86_boot_layout *out, enum x86_boot_input *culprit, char *err,
                          size_t errlen)
{
    const uint8_t *h = img->kernel + hoff;
    uint32_t magic = le32(h), flags = le32(h + 4), sum = le32(h + 8);
    if ((uint32_t)(magic + flags + sum) != 0)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "multiboot header at offset 0x%lx: bad checksum (magic + flags + checksum "
                    "= 0x%x, must be 0)", hoff, (unsigned)(magic + flags + sum));
    if (flags & MB_HDR_REQUIRED & ~(MB_HDR_PAGE_ALIGN | MB_HDR_MEMORY_INFO))
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, ENOTSUP,
                    "multiboot header requires features kick lacks (flags 0x%x; kick offers "
                    "memory information only, no video mode)", flags);
    if (!(flags & MB_HDR_ADDRESSES))
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, ENOTSUP,
                    "multiboot header without address fields (flag 16): kick loads no ELF");
    if ((size_t)hoff + MB_HDR_LEN_ADDR > img->kernel_len)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "multiboot header at offset 0x%lx is cut off by the end of the file", hoff);
    uint64_t header_addr = le32(h + 12), load_addr = le32(h + 16), load_end = le32(h + 20),
             bss_end = le32(h + 24), entry = le32(h + 28);

    /* The file is loaded from where load_addr falls relative to the header. */
    if (header_addr < load_addr || header_addr - load_addr > (uint64_t)hoff)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "multiboot header_addr 0x%llx and load_addr 0x%llx put the load start "
                    "before the file's start", (unsigned long long)header_addr,
                    (unsigned long long)load_addr);
    uint64_t file_off = (uint64_t)hoff - (header_addr - load_addr);
    if (load_end == 0)
        load_end = load_addr + (img->kernel_len - file_off);
    if (load_end <= load_addr || load_end - load_addr > img->kernel_len - file_off)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "multiboot load_end_addr 0x%llx: not above load_addr 0x%llx or beyond the "
                    "%zu-byte file", (unsigned long long)load_end,
                    (unsigned long long)load_addr, img->kernel_len);
    if (bss_end == 0)
        bss_end = load_end;
    if (bss_end < load_end)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "multiboot bss_end_addr 0x%llx is below load_end_addr 0x%llx",
                    (unsigned long long)bss_end, (unsigned long long)load_end);
    if (entry < load_addr || entry >= load_end)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "multiboot entry_addr 0x%llx is outside the loaded range 0x%llx-0x%llx",
                    (unsigned long long)entry, (unsigned long long)load_addr,
                    (unsigned long long)load_end);
    if (load_addr < X86_BOOT_MB_LOW_LIMIT)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "multiboot image loads at 0x%llx, below 1 MiB, where kick keeps its boot "
                    "tables and the BIOS area (ACPI, MP table at 0xE0000-0xFFFFF)",
                    (unsigned long long)load_addr);
    if (bss_end > vm->low_size)
        return fail(culprit, X86_BOOT_IN_MEMORY, err, errlen, ENOMEM,
                    "too small for the multiboot image (it needs RAM up to 0x%llx; RAM below "
                    "the PCI hole ends at 0x%llx)", (unsigned long long)bss_end,
                    (unsigned long long)vm->low_size);

    size_t cmd_len = img->cmdline ? strlen(img->cmdline) : 0;
    if (cmd_len > X86_BOOT_CMDLINE_MAX - 1)
        return fail(culprit, X86_BOOT_IN_CMDLINE, err, errlen, E2BIG,
                    "%zu bytes long, kick passes at most %u", cmd_len, X86_BOOT_CMDLINE_MAX - 1);
    if (img->initrd && img->initrd_len)
        return fail(culprit, X86_BOOT_IN_INITRD, err, errlen, ENOTSUP,
                    "kick passes no multiboot modules; drop --initrd for a multiboot image");
    uint8_t *dst = kvm_vm_gpa(vm, load_addr, bss_end - load_addr);
    uint8_t *info = kvm_vm_gpa(vm, X86_BOOT_ZERO_PAGE, PAGE);
    char *cmd_dst = kvm_vm_gpa(vm, X86_BOOT_CMDLINE, cmd_len + 1);
    if (!dst || !info || !cmd_dst)
        return fail(culprit, X86_BOOT_IN_MEMORY, err, errlen, ENOMEM, "too small for boot data");

    memcpy(dst, img->kernel + file_off, load_end - load_addr);
    memset(dst + (load_end - load_addr), 0, bss_end - load_end);
    memcpy(cmd_dst, img->cmdline ? img->cmdline : "", cmd_len);
    cmd_dst[cmd_len] = 0;

    memset(info, 0, PAGE);
    uint8_t *m = info + MB_MMAP_OFFSET, *m0 = m;
    m = mb_mmap_add(m, 0, X86_BOOT_EBDA_START, E820_RAM);
    m = mb_mmap_add(m, X86_BOOT_EBDA_START, 0xa0000 - X86_BOOT_EBDA_START, E820_RESERVED);
    m = mb_mmap_add(m, 0xe0000, 0x20000, E820_RESERVED);
    m = mb_mmap_add(m, 0x100000, vm->low_size - 0x100000, E820_RAM);
    m = mb_mmap_add(m, KVM_VM_HIGH_START, vm->high_size, E820_RAM);
    memcpy(info + MB_NAME_OFFSET, MB_LOADER_NAME, sizeof MB_LOADER_NAME);
    mb_put32(info + 0, MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MMAP | MB_INFO_LOADER_NAME);
    mb_put32(info + 4, (uint32_t)(X86_BOOT_EBDA_START >> 10));              /* mem_lower, KiB */
    mb_put32(info + 8, (uint32_t)((vm->low_size - 0x100000) >> 10));        /* mem_upper, KiB */
    mb_put32(info + 16, (uint32_t)X86_BOOT_CMDLINE);
    mb_put32(info + 44, (uint32_t)(m - m0));                                /* mmap_length */
    mb_put32(info + 48, (uint32_t)(X86_BOOT_ZERO_PAGE + MB_MMAP_OFFSET));   /* mmap_addr */
    mb_put32(info + 64, (uint32_t)(X86_BOOT_ZERO_PAGE + MB_NAME_OFFSET));   /* loader name */

    out->multiboot = true;
    out->entry = entry;
    out->zero_page = X86_BOOT_ZERO_PAGE;
    out->kernel_addr = load_addr;
    out->kernel_end = bss_end;
    out->e820_entries = (unsigned)((m - m0) / MB_MMAP_ENTRY);
    return 0;
}

int x86_boot_load(const struct kvm_vm *vm, const struct x86_boot_images *img,
                  struct x86_boot_layout *out, enum x86_boot_input *culprit,
                  char *err, size_t errlen)
{
    const uint8_t *k = img->kernel;
    struct setup_header hdr;
    memset(out, 0, sizeof *out);

    bool bz = img->kernel_len >= 1024;
    if (bz) {
        memcpy(&hdr, k + SETUP_HEADER_OFFSET, sizeof hdr);
        bz = hdr.boot_flag == BOOT_FLAG_MAGIC && hdr.header == HDRS_MAGIC;
    }
    long mb = bz ? -1 : mb_find_header(k, img->kernel_len);
    if (mb >= 0)
        return multiboot_load(vm, img, mb, out, culprit, err, errlen);
    if (img->kernel_len < 1024)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "not a bzImage (only %zu bytes) nor a multiboot image", img->kernel_len);
    if (!bz)
        return fail(culprit, X86_BOOT_IN_KERNEL, err, errlen, EINVAL,
                    "not a bzImage (no 0xAA55 boot flag and \"HdrS\" header magic) nor a "
                    "multiboot image (no header magic 0x1BADB002 in the first 8 KiB)");
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
