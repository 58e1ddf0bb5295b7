/* x86 boot protocol loader on a fake guest RAM (no KVM needed): header checks, kernel and initrd
 * placement, zero page fields, e820 map, command line limits, the long-mode tables; plus the
 * port/MMIO range bus and the --memory size parser the loader's inputs come through. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>
#include <asm/e820.h>

#include "vmm/cli_run.h"
#include "vmm/iobus.h"
#include "vmm/kvm_vm.h"
#include "vmm/x86_boot.h"
#include "vmm/x86_cpu.h"

#define MIB (1ull << 20)
#define SETUP_SECTS 4
#define PM_SIZE (256 * 1024)
#define INIT_SIZE (8 * MIB)
#define PREF_ADDR (16 * MIB)

struct fixture {
    struct kvm_vm vm;
    uint8_t *image;
    size_t image_len;
    char err[256];
};

/* A minimal bzImage: real-mode header as boot.rst describes it, then a protected-mode part
 * filled with a recognisable pattern. */
static uint8_t *make_image(size_t *len, uint16_t version)
{
    size_t setup = (SETUP_SECTS + 1) * 512;
    *len = setup + PM_SIZE;
    uint8_t *img = calloc(1, *len);
    struct setup_header *h = (struct setup_header *)(img + 0x1f1);
    h->setup_sects = SETUP_SECTS;
    h->boot_flag = 0xAA55;
    h->jump = 0x66eb; /* header runs to 0x202 + 0x66 = 0x268 */
    h->header = 0x53726448;
    h->version = version;
    h->loadflags = LOADED_HIGH;
    h->initrd_addr_max = 0x7fffffff;
    h->kernel_alignment = 0x200000;
    h->relocatable_kernel = 1;
    h->xloadflags = XLF_KERNEL_64;
    h->cmdline_size = 2047;
    h->pref_address = PREF_ADDR;
    h->init_size = INIT_SIZE;
    for (size_t i = 0; i < PM_SIZE; i++)
        img[setup + i] = (uint8_t)(i * 7 + 1);
    return img;
}

static struct setup_header *hdr_of(struct fixture *f)
{
    return (struct setup_header *)(f->image + 0x1f1);
}

static int setup_ram(struct fixture *f, uint64_t size)
{
    f->vm = (struct kvm_vm){ .kvm_fd = -1, .vm_fd = -1, .mem_fd = -1 };
    f->vm.mem_size = size;
    f->vm.low_size = size < KVM_VM_HOLE_START ? size : KVM_VM_HOLE_START;
    f->vm.high_size = size - f->vm.low_size;
    f->vm.host = calloc(1, size);
    return f->vm.host ? 0 : -1;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (setup_ram(f, 64 * MIB) < 0)
        return -1;
    f->image = make_image(&f->image_len, 0x20f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->vm.host);
    free(f->image);
    free(f);
    return 0;
}

static int load(struct fixture *f, const uint8_t *initrd, size_t ilen, const char *cmdline,
                struct x86_boot_layout *lay, enum x86_boot_input *culprit)
{
    struct x86_boot_images img = { f->image, f->image_len, initrd, ilen, cmdline };
    return x86_boot_load(&f->vm, &img, lay, culprit, f->err, sizeof f->err);
}

static void loads_kernel_initrd_and_zero_page(void **state)
{
    struct fixture *f = *state;
    uint8_t initrd[5000];
    memset(initrd, 0x5a, sizeof initrd);
    struct x86_boot_layout lay;
    enum x86_boot_input culprit;
    assert_int_equal(load(f, initrd, sizeof initrd, "console=ttyS0", &lay, &culprit), 0);

    assert_int_equal(lay.kernel_addr, X86_BOOT_KERNEL_ADDR);
    assert_int_equal(lay.entry, X86_BOOT_KERNEL_ADDR + 0x200);
    assert_int_equal(lay.kernel_end, PREF_ADDR + INIT_SIZE);
    assert_memory_equal(f->vm.host + X86_BOOT_KERNEL_ADDR, f->image + 5 * 512, PM_SIZE);

    /* initrd: page-aligned, as high as RAM allows, above the kernel's range */
    assert_int_equal(lay.initrd_addr % 4096, 0);
    assert_true(lay.initrd_addr + sizeof initrd <= 64 * MIB);
    assert_true(lay.initrd_addr + sizeof initrd > 64 * MIB - 4096);
    assert_memory_equal(f->vm.host + lay.initrd_addr, initrd, sizeof initrd);

    struct boot_params *bp = (struct boot_params *)(f->vm.host + lay.zero_page);
    assert_int_equal(bp->hdr.header, 0x53726448);
    assert_int_equal(bp->hdr.type_of_loader, 0xff);
    assert_true(bp->hdr.loadflags & CAN_USE_HEAP);
    assert_int_equal(bp->hdr.ramdisk_image, lay.initrd_addr);
    assert_int_equal(bp->hdr.ramdisk_size, sizeof initrd);
    assert_int_equal(bp->hdr.init_size, INIT_SIZE); /* the rest of the header was copied */
    assert_string_equal((char *)f->vm.host + bp->hdr.cmd_line_ptr, "console=ttyS0");
}

static void e820_low_ram_holes_and_above_4g(void **state)
{
    struct fixture *f = *state;
    struct x86_boot_layout lay;
    enum x86_boot_input culprit;
    /* pretend RAM is 3 GiB + 64 MiB: only the map is checked, the buffer stays small */
    f->vm.low_size = KVM_VM_HOLE_START;
    f->vm.high_size = 64 * MIB;
    uint8_t *small = f->vm.host;
    f->vm.low_size = 64 * MIB; /* loader writes stay inside the buffer */
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), 0);
    struct boot_params *bp = (struct boot_params *)(small + lay.zero_page);
    assert_int_equal(bp->e820_entries, 5);
    struct boot_e820_entry *e = bp->e820_table;
    assert_int_equal(e[0].addr, 0);
    assert_int_equal(e[0].size, X86_BOOT_EBDA_START);
    assert_int_equal(e[0].type, E820_RAM);
    assert_int_equal(e[1].type, E820_RESERVED);
    assert_int_equal(e[1].addr + e[1].size, 0xa0000);
    assert_int_equal(e[2].addr, 0xf0000);
    assert_int_equal(e[2].type, E820_RESERVED);
    assert_int_equal(e[3].addr, 0x100000);
    assert_int_equal(e[3].addr + e[3].size, 64 * MIB);
    assert_int_equal(e[4].addr, KVM_VM_HIGH_START);
    assert_int_equal(e[4].size, 64 * MIB);
    assert_int_equal(e[4].type, E820_RAM);
    assert_int_equal(bp->hdr.ramdisk_image, 0);
    assert_string_equal((char *)small + bp->hdr.cmd_line_ptr, "");
}

static void rejects_bad_images_without_writing(void **state)
{
    struct fixture *f = *state;
    struct x86_boot_layout lay;
    enum x86_boot_input culprit = X86_BOOT_IN_MEMORY;

    hdr_of(f)->header = 0x12345678;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -EINVAL);
    assert_int_equal(culprit, X86_BOOT_IN_KERNEL);
    assert_non_null(strstr(f->err, "HdrS"));
    hdr_of(f)->header = 0x53726448;

    hdr_of(f)->version = 0x205;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -ENOTSUP);
    assert_non_null(strstr(f->err, "2.05"));
    hdr_of(f)->version = 0x20f;

    hdr_of(f)->xloadflags = 0;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -ENOTSUP);
    assert_non_null(strstr(f->err, "64-bit"));
    hdr_of(f)->xloadflags = XLF_KERNEL_64;

    hdr_of(f)->loadflags = 0;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -ENOTSUP);
    hdr_of(f)->loadflags = LOADED_HIGH;

    size_t len = f->image_len;
    f->image_len = (SETUP_SECTS + 1) * 512; /* no protected-mode part left */
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -EINVAL);
    assert_int_equal(culprit, X86_BOOT_IN_KERNEL);
    assert_non_null(strstr(f->err, "corrupt"));
    f->image_len = len;

    /* nothing reached guest RAM */
    for (size_t i = 0; i < 2 * MIB; i++)
        if (f->vm.host[i])
            fail_msg("guest RAM written at 0x%zx by a failed load", i);
}

static void truncated_file_is_not_a_bzimage(void **state)
{
    struct fixture *f = *state;
    struct x86_boot_layout lay;
    enum x86_boot_input culprit;
    f->image_len = 600;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -EINVAL);
    assert_int_equal(culprit, X86_BOOT_IN_KERNEL);
}

static void limits_cmdline_memory_and_initrd(void **state)
{
    struct fixture *f = *state;
    struct x86_boot_layout lay;
    enum x86_boot_input culprit;
    char *cmd = malloc(3000);
    memset(cmd, 'a', 2999);
    cmd[2999] = 0;
    assert_int_equal(load(f, NULL, 0, cmd, &lay, &culprit), -E2BIG);
    assert_int_equal(culprit, X86_BOOT_IN_CMDLINE);
    cmd[2047] = 0; /* exactly cmdline_size fits */
    assert_int_equal(load(f, NULL, 0, cmd, &lay, &culprit), 0);
    free(cmd);

    /* an initrd that would overlap the decompressing kernel */
    size_t big = 64 * MIB - (PREF_ADDR + INIT_SIZE) + 4096;
    uint8_t *initrd = calloc(1, big);
    assert_int_equal(load(f, initrd, big, NULL, &lay, &culprit), -ENOMEM);
    assert_int_equal(culprit, X86_BOOT_IN_INITRD);
    free(initrd);

    /* initrd_addr_max lower than RAM: the initrd stays below it */
    hdr_of(f)->initrd_addr_max = 40 * MIB - 1;
    uint8_t small[100] = { 1 };
    assert_int_equal(load(f, small, sizeof small, NULL, &lay, &culprit), 0);
    assert_true(lay.initrd_addr + sizeof small <= 40 * MIB);

    /* RAM smaller than what the kernel needs while booting */
    hdr_of(f)->init_size = 60 * MIB;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -ENOMEM);
    assert_int_equal(culprit, X86_BOOT_IN_MEMORY);
}

static void non_relocatable_kernel_goes_to_pref_address(void **state)
{
    struct fixture *f = *state;
    struct x86_boot_layout lay;
    enum x86_boot_input culprit;
    hdr_of(f)->relocatable_kernel = 0;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), 0);
    assert_int_equal(lay.kernel_addr, PREF_ADDR);
    assert_int_equal(lay.entry, PREF_ADDR + 0x200);
    assert_memory_equal(f->vm.host + PREF_ADDR, f->image + 5 * 512, PM_SIZE);
}

static void long_mode_tables_identity_map(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(x86_cpu_write_tables(&f->vm), 0);
    const uint64_t *pml4 = (const uint64_t *)(f->vm.host + X86_CPU_PML4_ADDR);
    uint64_t pdpt_addr = pml4[0] & ~0xfffull;
    const uint64_t *pdpt = (const uint64_t *)(f->vm.host + pdpt_addr);
    /* walk a few addresses: each must map to itself with a 2 MiB page */
    const uint64_t probes[] = { 0, 0x100000, 0x3fe00000, 0x40000000, 0xfee00000, 0xffe00000 };
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        uint64_t va = probes[i];
        uint64_t pdpte = pdpt[(va >> 30) & 511];
        assert_true(pdpte & 1);
        const uint64_t *pd = (const uint64_t *)(f->vm.host + (pdpte & ~0xfffull));
        uint64_t pde = pd[(va >> 21) & 511];
        assert_true(pde & 0x80);
        assert_int_equal(pde & ~0x1fffffull, va & ~0x1fffffull);
    }
    struct kvm_sregs s;
    memset(&s, 0, sizeof s);
    x86_cpu_boot_sregs(&s);
    assert_int_equal(s.cs.selector, 0x10);
    assert_int_equal(s.cs.l, 1);
    assert_int_equal(s.ds.selector, 0x18);
    assert_int_equal(s.cr3, X86_CPU_PML4_ADDR);
    assert_true(s.efer & (1 << 10)); /* LMA */
    const uint64_t *gdt = (const uint64_t *)(f->vm.host + s.gdt.base);
    assert_int_equal(gdt[2], 0x00af9b000000ffffull); /* flat 64-bit code */
    assert_int_equal(gdt[3], 0x00cf93000000ffffull); /* flat data */
}

static void gpa_translation_checks_ranges(void **state)
{
    struct fixture *f = *state;
    assert_ptr_equal(kvm_vm_gpa(&f->vm, 0, 64 * MIB), f->vm.host);
    assert_null(kvm_vm_gpa(&f->vm, 64 * MIB - 1, 2));
    assert_null(kvm_vm_gpa(&f->vm, ~0ull - 1, 4)); /* wraps */
    f->vm.low_size = 32 * MIB;
    f->vm.high_size = 32 * MIB;
    assert_ptr_equal(kvm_vm_gpa(&f->vm, KVM_VM_HIGH_START + 16, 16), f->vm.host + 32 * MIB + 16);
    assert_null(kvm_vm_gpa(&f->vm, KVM_VM_HIGH_START + 32 * MIB - 8, 16));
    assert_null(kvm_vm_gpa(&f->vm, 32 * MIB, 1)); /* the hole */
}

static uint64_t rd(void *o, uint64_t off, unsigned size)
{
    (void)size;
    return *(uint64_t *)o + off;
}

static void wr(void *o, uint64_t off, unsigned size, uint64_t v)
{
    (void)off, (void)size;
    *(uint64_t *)o = v;
}

static void iobus_routes_and_floats_high(void **state)
{
    (void)state;
    struct iobus bus = { .n = 0 };
    uint64_t dev = 0x100;
    assert_int_equal(iobus_add(&bus, 0x3f8, 8, rd, wr, &dev, "a"), 0);
    assert_int_equal(iobus_add(&bus, 0x3ff, 1, rd, wr, &dev, "b"), -EEXIST);
    assert_int_equal(iobus_add(&bus, 0, 0, rd, wr, &dev, "c"), -EINVAL);
    assert_int_equal(iobus_add(&bus, ~0ull, 2, rd, wr, &dev, "d"), -EINVAL);
    uint64_t v;
    assert_true(iobus_read(&bus, 0x3fa, 2, &v));
    assert_int_equal(v, 0x102);
    assert_true(iobus_read(&bus, 0x3fa, 1, &v)); /* truncated to the access size */
    assert_int_equal(v, 0x02);
    assert_false(iobus_read(&bus, 0x3f0, 2, &v));
    assert_int_equal(v, 0xffff);
    assert_false(iobus_read(&bus, 0x3fe, 4, &v)); /* straddles the end */
    assert_int_equal(v, 0xffffffff);
    assert_true(iobus_write(&bus, 0x3f8, 1, 0x1ff)); /* truncated to the access size */
    assert_int_equal(dev, 0xff);
    assert_false(iobus_write(&bus, 0x2f8, 1, 1));
}

static void size_parser(void **state)
{
    (void)state;
    uint64_t b;
    assert_int_equal(cli_parse_size("512M", &b), 0);
    assert_int_equal(b, 512 * MIB);
    assert_int_equal(cli_parse_size("2G", &b), 0);
    assert_int_equal(b, 2048 * MIB);
    assert_int_equal(cli_parse_size("1GiB", &b), 0);
    assert_int_equal(b, 1024 * MIB);
    assert_int_equal(cli_parse_size("256", &b), 0);
    assert_int_equal(b, 256 * MIB);
    assert_int_equal(cli_parse_size("4096k", &b), 0);
    assert_int_equal(b, 4 * MIB);
    assert_int_equal(cli_parse_size("12X", &b), -EINVAL);
    assert_int_equal(cli_parse_size("-1M", &b), -EINVAL);
    assert_int_equal(cli_parse_size("M", &b), -EINVAL);
    assert_int_equal(cli_parse_size("", &b), -EINVAL);
    assert_int_equal(cli_parse_size("1MM", &b), -EINVAL);
    assert_int_equal(cli_parse_size("99999999999T", &b), -ERANGE);
    assert_int_equal(cli_parse_size("99999999999999999999999", &b), -ERANGE);
}

/* ---- multiboot v1 ---- */

#define MB_FILE_LEN  0x6000u
#define MB_HDR_OFF   0x40u      /* the header's offset in the file */
#define MB_LOAD      0x200000u  /* load_addr: file offset 0 */
#define MB_LOAD_END  (MB_LOAD + 0x5000u)
#define MB_BSS_END   (MB_LOAD + 0x9000u)
#define MB_ENTRY     (MB_LOAD + 0x100u)

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* header: magic, flags, checksum, header/load/load_end/bss_end/entry addresses */
static void mb_header(uint8_t *img, uint32_t flags, uint32_t load, uint32_t load_end,
                      uint32_t bss_end, uint32_t entry)
{
    uint8_t *h = img + MB_HDR_OFF;
    wr32(h, 0x1BADB002u);
    wr32(h + 4, flags);
    wr32(h + 8, (uint32_t)-(0x1BADB002u + flags));
    wr32(h + 12, load + MB_HDR_OFF);
    wr32(h + 16, load);
    wr32(h + 20, load_end);
    wr32(h + 24, bss_end);
    wr32(h + 28, entry);
}

static void make_multiboot(struct fixture *f)
{
    free(f->image);
    f->image_len = MB_FILE_LEN;
    f->image = calloc(1, MB_FILE_LEN);
    for (size_t i = 0; i < MB_FILE_LEN; i++)
        f->image[i] = (uint8_t)(i * 13 + 5);
    mb_header(f->image, 0x00010003u, MB_LOAD, MB_LOAD_END, MB_BSS_END, MB_ENTRY);
}

static void loads_multiboot_image_and_info(void **state)
{
    struct fixture *f = *state;
    make_multiboot(f);
    memset(f->vm.host + MB_LOAD_END, 0xee, MB_BSS_END - MB_LOAD_END + 16); /* stale "bss" */
    struct x86_boot_layout lay;
    enum x86_boot_input culprit;
    assert_int_equal(load(f, NULL, 0, "kick.blk-sectors=2048", &lay, &culprit), 0);

    assert_true(lay.multiboot);
    assert_int_equal(lay.entry, MB_ENTRY);
    assert_int_equal(lay.kernel_addr, MB_LOAD);
    assert_int_equal(lay.kernel_end, MB_BSS_END);
    /* load_addr..load_end_addr comes from file offset 0; bss zeroed, nothing past it */
    assert_memory_equal(f->vm.host + MB_LOAD, f->image, MB_LOAD_END - MB_LOAD);
    for (size_t a = MB_LOAD_END; a < MB_BSS_END; a++)
        if (f->vm.host[a])
            fail_msg("bss byte at 0x%zx not zeroed", a);
    assert_int_equal(f->vm.host[MB_BSS_END], 0xee);

    const uint8_t *info = f->vm.host + lay.zero_page;
    uint32_t flags = rd32(info);
    assert_int_equal(flags & 0x245, 0x245); /* mem, cmdline, mmap, loader name */
    assert_int_equal(rd32(info + 4), 639);
    assert_int_equal(rd32(info + 8), (64 * MIB - MIB) / 1024);
    assert_string_equal((const char *)f->vm.host + rd32(info + 16), "kick.blk-sectors=2048");
    assert_string_equal((const char *)f->vm.host + rd32(info + 64), "kick");
    /* the memory map: size-prefixed entries covering low RAM and RAM from 1 MiB */
    uint32_t mlen = rd32(info + 44), maddr = rd32(info + 48);
    assert_true(mlen >= 2 * 24 && mlen % 24 == 0);
    bool low = false, high = false;
    for (uint32_t o = 0; o < mlen; o += 24) {
        const uint8_t *e = f->vm.host + maddr + o;
        uint64_t base, len;
        memcpy(&base, e + 4, 8);
        memcpy(&len, e + 12, 8);
        assert_int_equal(rd32(e), 20);
        if (rd32(e + 20) == 1 && base == 0 && len == 0x9fc00)
            low = true;
        if (rd32(e + 20) == 1 && base == MIB && len == 63 * MIB)
            high = true;
        assert_false(rd32(e + 20) == 1 && base < 0x100000 && base + len > 0xe0000);
    }
    assert_true(low && high);

    /* the 32-bit entry state multiboot describes */
    assert_int_equal(x86_cpu_write_tables(&f->vm), 0);
    struct kvm_sregs sr;
    struct kvm_regs r;
    memset(&sr, 0, sizeof sr);
    x86_cpu_boot32_sregs(&sr);
    x86_cpu_boot32_regs(&r, (uint32_t)lay.entry, (uint32_t)lay.zero_page);
    assert_int_equal(r.rax, 0x2BADB002u);
    assert_int_equal(r.rbx, lay.zero_page);
    assert_int_equal(r.rip, MB_ENTRY);
    assert_int_equal(r.rflags & ((1u << 9) | (1u << 17)), 0); /* IF, VM clear */
    assert_int_equal(sr.cr0 & 0x80000001u, 1);                /* PE on, PG off */
    assert_int_equal(sr.efer, 0);
    assert_int_equal(sr.cr4, 0);
    assert_int_equal(sr.cs.l, 0);
    assert_int_equal(sr.cs.db, 1);
    assert_int_equal(sr.cs.base, 0);
    assert_int_equal(sr.cs.limit, 0xffffffff);
    assert_int_equal(sr.ds.db, 1);
    assert_int_equal(sr.ss.selector, sr.ds.selector);
    const uint64_t *gdt = (const uint64_t *)(f->vm.host + sr.gdt.base);
    assert_true((unsigned)sr.cs.selector + 8 <= (unsigned)sr.gdt.limit + 1);
    assert_int_equal(gdt[sr.cs.selector >> 3], 0x00cf9b000000ffffull); /* flat 32-bit code */
}

/* Each bad image gets one error line naming the problem, and RAM stays untouched. */
static void rejects_bad_multiboot_images(void **state)
{
    struct fixture *f = *state;
    struct x86_boot_layout lay;
    enum x86_boot_input culprit;
    static const struct {
        uint32_t flags, load, load_end, bss_end, entry;
        int err;
        enum x86_boot_input culprit;
        const char *says;
    } bad[] = {
        { 0x00010000u, MB_LOAD, MB_LOAD_END, MB_BSS_END, MB_ENTRY, 0, X86_BOOT_IN_KERNEL, NULL },
        { 0x00000003u, MB_LOAD, MB_LOAD_END, MB_BSS_END, MB_ENTRY, -ENOTSUP, X86_BOOT_IN_KERNEL,
          "address fields" },
        { 0x00010007u, MB_LOAD, MB_LOAD_END, MB_BSS_END, MB_ENTRY, -ENOTSUP, X86_BOOT_IN_KERNEL,
          "video" },
        { 0x00010003u, 0xE0000u, 0xE4000u, 0xE8000u, 0xE0100u, -EINVAL, X86_BOOT_IN_KERNEL,
          "0xE0000-0xFFFFF" },
        { 0x00010003u, 0xFF000u, 0x103000u, 0x104000u, 0x100000u, -EINVAL, X86_BOOT_IN_KERNEL,
          "below 1 MiB" },
        { 0x00010003u, MB_LOAD, MB_LOAD_END, 0x4000000u + 4096, MB_ENTRY, -ENOMEM,
          X86_BOOT_IN_MEMORY, "RAM" },
        { 0x00010003u, MB_LOAD, MB_LOAD_END, MB_BSS_END, MB_LOAD_END, -EINVAL, X86_BOOT_IN_KERNEL,
          "entry_addr" },
        { 0x00010003u, MB_LOAD, MB_LOAD + MB_FILE_LEN + 1, MB_BSS_END + 0x2000, MB_ENTRY,
          -EINVAL, X86_BOOT_IN_KERNEL, "beyond" },
        { 0x00010003u, MB_LOAD, MB_LOAD_END, MB_LOAD_END - 4, MB_ENTRY, -EINVAL,
          X86_BOOT_IN_KERNEL, "bss_end_addr" },
    };
    make_multiboot(f);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mb_header(f->image, bad[i].flags, bad[i].load, bad[i].load_end, bad[i].bss_end,
                  bad[i].entry);
        f->err[0] = 0;
        int r = load(f, NULL, 0, NULL, &lay, &culprit);
        if (!bad[i].says) { /* the control case: a good header loads (then RAM is cleared) */
            assert_int_equal(r, 0);
            memset(f->vm.host, 0, 64 * MIB);
            continue;
        }
        if (r != bad[i].err || culprit != bad[i].culprit || !strstr(f->err, bad[i].says) ||
            strchr(f->err, '\n'))
            fail_msg("case %zu: got %d culprit %d \"%s\", want %d \"...%s...\"", i, r, culprit,
                     f->err, bad[i].err, bad[i].says);
    }
    /* checksum off by one */
    mb_header(f->image, 0x00010003u, MB_LOAD, MB_LOAD_END, MB_BSS_END, MB_ENTRY);
    f->image[MB_HDR_OFF + 8] ^= 1;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -EINVAL);
    assert_non_null(strstr(f->err, "checksum"));
    f->image[MB_HDR_OFF + 8] ^= 1;
    /* modules are not offered: an initrd is refused */
    uint8_t initrd[16] = { 1 };
    assert_int_equal(load(f, initrd, sizeof initrd, NULL, &lay, &culprit), -ENOTSUP);
    assert_int_equal(culprit, X86_BOOT_IN_INITRD);
    /* a header past the first 8 KiB is not looked for */
    uint8_t *big = calloc(1, 0x4000);
    memcpy(big + 0x2000, f->image + MB_HDR_OFF, 32);
    free(f->image);
    f->image = big;
    f->image_len = 0x4000;
    assert_int_equal(load(f, NULL, 0, NULL, &lay, &culprit), -EINVAL);
    assert_non_null(strstr(f->err, "multiboot"));
    for (size_t i = 0; i < 64 * MIB; i++)
        if (f->vm.host[i])
            fail_msg("guest RAM written at 0x%zx by a failed load", i);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(loads_kernel_initrd_and_zero_page),
        T(e820_low_ram_holes_and_above_4g),
        T(rejects_bad_images_without_writing),
        T(truncated_file_is_not_a_bzimage),
        T(limits_cmdline_memory_and_initrd),
        T(non_relocatable_kernel_goes_to_pref_address),
        T(long_mode_tables_identity_map),
        T(gpa_translation_checks_ranges),
        T(loads_multiboot_image_and_info),
        T(rejects_bad_multiboot_images),
        cmocka_unit_test(iobus_routes_and_floats_high),
        cmocka_unit_test(size_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
