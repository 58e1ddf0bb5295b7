/* ACPI tables, the AML emitter, ECAM decoding and the PM1 block. Tables are
 * read back the way an OS finds them (scan for the RSDP, follow pointers) with
 * offsets from the ACPI 6.x text (tests/acpi_check.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "tests/acpi_check.h"
#include "vmm/acpi.h"
#include "vmm/acpi_aml.h"
#include "vmm/ecam.h" /* ecam_size */
#include "vmm/iobus.h"
#include "vmm/pci_host.h"
#include "vmm/pm.h"

#define HDR 36

static uint8_t area[ACPI_AREA_SIZE];

static const uint8_t *at(uint64_t gpa, size_t len)
{
    assert_true(gpa >= ACPI_AREA_GPA);
    assert_true(gpa - ACPI_AREA_GPA + len <= sizeof area);
    return area + (gpa - ACPI_AREA_GPA);
}

/* A table at gpa: checksum, signature, length inside the area. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
    const uint8_t *t = at(gpa, HDR);
    assert_memory_equal(t, sig, 4);
    uint32_t len = rd32(t + 4);
    assert_true(len >= HDR);
    at(gpa, len);
    assert_int_equal(sum8(t, len), 0);
    assert_memory_equal(t + 10, "KICK  ", 6);
    return t;
}

static void build(const struct acpi_config *c)
{
    uint64_t rsdp;
    memset(area, 0xa5, sizeof area); /* acpi_build must not rely on zeroes */
    assert_int_equal(acpi_build(c, area, sizeof area, &rsdp), 0);
    assert_int_equal(rsdp, ACPI_AREA_GPA);
}

static void build_default(unsigned ncpus, uint32_t slots)
{
    struct acpi_config c;
    acpi_config_default(&c, ncpus, 2ull << 30, slots);
    build(&c);
}

/* What Linux does: RSDP on a 16-byte boundary in 0xE0000-0xFFFFF. */
static const uint8_t *find_rsdp(void)
{
    for (size_t off = 0; off + 36 <= sizeof area; off += 16)
        if (memcmp(area + off, "RSD PTR ", 8) == 0 && sum8(area + off, 20) == 0)
            return area + off;
    fail_msg("no RSDP");
    return NULL;
}

static const uint8_t *find_table(const char *sig)
{
    const uint8_t *r = find_rsdp();
    const uint8_t *x = table(rd64(r + 24), "XSDT");
    for (uint32_t off = HDR; off + 8 <= rd32(x + 4); off += 8) {
        const uint8_t *t = at(rd64(x + off), HDR);
        if (memcmp(t, sig, 4) == 0)
            return table(rd64(x + off), sig);
    }
    return NULL;
}

static void test_rsdp_xsdt_chain(void **state)
{
    (void)state;
    build_default(2, 0x6);
    const uint8_t *r = find_rsdp();
    assert_int_equal(r[15], 2);              /* revision: ACPI 2.0+ */
    assert_int_equal(rd32(r + 20), 36);      /* length */
    assert_int_equal(sum8(r, 36), 0);        /* extended checksum */
    const uint8_t *x = table(rd64(r + 24), "XSDT");
    assert_int_equal(rd32(x + 4), HDR + 3 * 8);
    const char *want[] = { "FACP", "APIC", "MCFG" };
    for (unsigned i = 0; i < 3; i++) {
        uint64_t gpa = rd64(x + HDR + 8 * i);
        const uint8_t *t = table(gpa, want[i]);
        /* no two tables overlap the RSDP or each other */
        assert_true(gpa >= ACPI_AREA_GPA + 36);
        for (unsigned j = 0; j < i; j++) {
            uint64_t o = rd64(x + HDR + 8 * j);
            const uint8_t *u = at(o, HDR);
            assert_true(gpa >= o + rd32(u + 4) || o >= gpa + rd32(t + 4));
        }
    }
    const uint8_t *f = find_table("FACP");
    table(rd64(f + 140), "DSDT");
    uint32_t facs = rd32(f + 36);
    assert_int_equal(facs % 64, 0);
    const uint8_t *fs = at(facs, 64);
    assert_memory_equal(fs, "FACS", 4);
    assert_int_equal(rd32(fs + 4), 64);
    assert_int_equal(fs[32], 2);             /* version */
    assert_null(find_table("RSDT"));
}

static void test_fadt_fields(void **state)
{
    (void)state;
    build_default(1, 0x2);
    const uint8_t *f = find_table("FACP");
    assert_int_equal(rd32(f + 4), 276);
    assert_int_equal(f[8], 6);                       /* revision */
    assert_int_equal(rd32(f + 40), rd64(f + 140));   /* DSDT == X_DSDT */
    assert_int_not_equal(rd32(f + 36), 0);           /* FIRMWARE_CTRL ... */
    assert_int_equal(rd64(f + 132), 0);              /* ... so X_FIRMWARE_CTRL is 0 */
    assert_int_equal(rd16(f + 46), 9);               /* SCI_INT */
    assert_int_equal(rd32(f + 48), 0);               /* SMI_CMD: no mode switch */
    assert_int_equal(rd32(f + 56), ACPI_PM1_BASE);   /* PM1a_EVT_BLK */
    assert_int_equal(rd32(f + 64), ACPI_PM1_BASE + 4); /* PM1a_CNT_BLK */
    assert_int_equal(rd32(f + 60) | rd32(f + 68), 0); /* no PM1b */
    assert_int_equal(f[88], 4);                      /* PM1_EVT_LEN */
    assert_int_equal(f[89], 2);                      /* PM1_CNT_LEN */
    assert_true(rd16(f + 96) > 100 && rd16(f + 98) > 1000); /* no C2/C3 */
    assert_int_equal(f[108], 0x32);                  /* CENTURY */
    uint16_t boot = rd16(f + 109);
    assert_int_equal(boot & 0x2, 0);                 /* no 8042 */
    assert_int_equal(boot & 0x20, 0);                /* CMOS RTC present */
    uint32_t flags = rd32(f + 112);
    assert_int_equal(flags & (1u << 20), 0);         /* not HW_REDUCED_ACPI */
    assert_true(flags & (1u << 10));                 /* RESET_REG_SUP */
    assert_int_equal(f[116], 1);                     /* reset register in I/O */
    assert_int_equal(rd64(f + 120), 0x64);
    assert_int_equal(f[128], 0xfe);
    /* X_PM1a_EVT_BLK / X_PM1a_CNT_BLK agree with the 32-bit fields */
    assert_int_equal(f[148], 1);
    assert_int_equal(f[149], 32);
    assert_int_equal(rd64(f + 152), ACPI_PM1_BASE);
    assert_int_equal(f[172], 1);
    assert_int_equal(f[173], 16);
    assert_int_equal(rd64(f + 176), ACPI_PM1_BASE + 4);
    assert_int_equal(f[160] | f[184] | rd64(f + 212), 0); /* no PM1b, no PM timer */
}

static void check_madt(unsigned n)
{
    build_default(n, 0x2);
    const uint8_t *m = find_table("APIC");
    uint32_t len = rd32(m + 4);
    assert_int_equal(len, 44 + 8 * n + 12 + 10 + 6);
    assert_int_equal(rd32(m + 36), 0xFEE00000u);
    assert_int_equal(rd32(m + 40) & 1, 1);           /* PCAT_COMPAT */
    unsigned cpus = 0, ioapics = 0, isos = 0, nmis = 0;
    for (uint32_t off = 44; off < len;) {
        const uint8_t *e = m + off;
        assert_true(e[1] >= 2 && off + e[1] <= len);
        switch (e[0]) {
        case 0:
            assert_int_equal(e[1], 8);
            assert_int_equal(e[2], cpus);            /* processor UID */
            assert_int_equal(e[3], cpus);            /* APIC ID */
            assert_int_equal(rd32(e + 4) & 1, 1);    /* enabled */
            cpus++;
            break;
        case 1:
            assert_int_equal(e[1], 12);
            assert_int_equal(e[2], n);               /* the ID after the CPUs, as the MP table */
            assert_int_equal(rd32(e + 4), 0xFEC00000u);
            assert_int_equal(rd32(e + 8), 0);        /* GSI base */
            ioapics++;
            break;
        case 2:
            assert_int_equal(e[1], 10);
            /* KVM routes ISA IRQ n to pin n: only the SCI is overridden */
            assert_int_equal(e[3], 9);
            assert_int_equal(rd32(e + 4), 9);
            assert_int_equal(rd16(e + 8), 0xd);      /* level, active high */
            isos++;
            break;
        case 4:
            assert_int_equal(e[1], 6);
            assert_int_equal(e[2], 0xff);
            assert_int_equal(e[5], 1);               /* LINT1 */
            nmis++;
            break;
        default:
            fail_msg("unexpected MADT entry type %u", e[0]);
        }
        off += e[1];
    }
    assert_int_equal(cpus, n);
    assert_int_equal(ioapics, 1);
    assert_int_equal(isos, 1);
    assert_int_equal(nmis, 1);
}

static void test_madt_per_cpu_count(void **state)
{
    (void)state;
    const unsigned counts[] = { 1, 2, 3, 8, 64, ACPI_MAX_CPUS };
    for (unsigned i = 0; i < sizeof counts / sizeof counts[0]; i++)
        check_madt(counts[i]);
}

static void test_mcfg(void **state)
{
    (void)state;
    build_default(2, 0x2);
    const uint8_t *m = find_table("MCFG");
    assert_int_equal(rd32(m + 4), 44 + 16);
    uint64_t base = rd64(m + 44);
    assert_int_equal(base, ACPI_ECAM_BASE);
    assert_int_equal(rd16(m + 52), 0);
    assert_int_equal(m[54], 0);
    assert_int_equal(m[55], 0);
    /* outside RAM below the hole, the BAR window, the IOAPIC and the LAPIC */
    uint64_t end = base + ecam_size(0, 0);
    assert_true(base >= 0xC0000000ull && end <= 0x100000000ull);
    assert_true(end <= PCI_HOST_MEM32_BASE || base >= PCI_HOST_MEM32_END);
    assert_true(end <= 0xFEC00000ull || base >= 0xFEC01000ull);
    assert_true(end <= 0xFEE00000ull || base >= 0xFEF00000ull); /* LAPIC + MSI range */
    assert_true(end <= 0xFFFBC000ull);                           /* KVM's TSS pages */

    struct acpi_config c;
    acpi_config_default(&c, 2, 2ull << 30, 0x2);
    c.ecam_base = 0xE0000000u;
    c.ecam_bus_end = 3;
    c.mem32_end = 0xE0000000u;
    build(&c);
    m = find_table("MCFG");
    assert_int_equal(rd64(m + 44), 0xE0000000u);
    assert_int_equal(m[55], 3);
}

static struct chk_ns ns;

static void parse_dsdt(void)
{
    const uint8_t *f = find_table("FACP");
    const uint8_t *d = table(rd64(f + 140), "DSDT");
    assert_int_equal(d[8], 2); /* 64-bit integers */
    ns.n = 0;
    assert_true(chk_terms(d + HDR, d + rd32(d + 4), "\\", &ns, false, 0));
}

static uint64_t name_int(const char *path)
{
    const struct chk_obj *o = chk_find(&ns, path);
    assert_non_null(o);
    assert_int_equal(o->kind, 'N');
    const uint8_t *p = o->data;
    uint64_t v = 0;
    assert_true(chk_int(&p, o->end, &v));
    return v;
}

static void name_resources(const char *path, struct chk_res *r, unsigned max, unsigned *n)
{
    const struct chk_obj *o = chk_find(&ns, path);
    assert_non_null(o);
    const uint8_t *p = o->data, *b = NULL;
    size_t len = 0;
    assert_int_equal(*p, 0x11);
    assert_true(chk_buffer(&p, o->end, &b, &len));
    assert_true(chk_resources(b, len, r, max, n));
}

static void test_dsdt_names(void **state)
{
    (void)state;
    const unsigned ncpus = 3;
    const uint32_t slots = 0x0000001e; /* 1-4 */
    build_default(ncpus, slots);
    parse_dsdt();

    /* \_S5: SLP_TYP for PM1a */
    const struct chk_obj *s5 = chk_find(&ns, "\\_S5_");
    assert_non_null(s5);
    const uint8_t *p = s5->data;
    unsigned nel;
    assert_true(chk_package(&p, s5->end, 0, &nel));
    assert_true(nel >= 2);
    p = s5->data + 3; /* PackageOp, 1-byte PkgLength, NumElements */
    uint64_t typ = 0;
    assert_true(chk_int(&p, s5->end, &typ));
    assert_int_equal(typ, ACPI_S5_SLP_TYP);

    for (unsigned i = 0; i < ncpus; i++) {
        char path[CHK_PATH];
        snprintf(path, sizeof path, "\\_SB_.C%03X._UID", i);
        assert_int_equal(name_int(path), i);
    }
    assert_null(chk_find(&ns, "\\_SB_.C003"));

    assert_int_equal(name_int("\\_SB_.PCI0._HID"), 0x080AD041); /* EisaId("PNP0A08") */
    assert_int_equal(name_int("\\_SB_.PCI0._CID"), 0x030AD041); /* EisaId("PNP0A03") */
    assert_int_equal(name_int("\\_SB_.PCI0._SEG"), 0);
    assert_int_equal(name_int("\\_SB_.PCI0._BBN"), 0);
    assert_non_null(chk_find(&ns, "\\_SB_.PCI0._STA"));
    assert_null(chk_find(&ns, "\\_SB_.PCI0._OSC"));

    struct chk_res r[16];
    unsigned n;
    name_resources("\\_SB_.PCI0._CRS", r, 16, &n);
    assert_int_equal(n, 7);
    assert_int_equal(r[0].tag, 0x88);
    assert_int_equal(r[0].space, 2);                     /* bus numbers 0-0 */
    assert_int_equal(r[0].min, 0);
    assert_int_equal(r[0].max, 0);
    assert_int_equal(r[1].tag, 0x47);                    /* 0xCF8-0xCFF */
    assert_int_equal(r[1].min, 0xcf8);
    assert_int_equal(r[1].len, 8);
    assert_int_equal(r[2].space, 1);
    assert_int_equal(r[2].min, 0);
    assert_int_equal(r[2].max, 0xcf7);
    assert_int_equal(r[2].len, 0xcf8);
    assert_int_equal(r[3].min, 0xd00);
    assert_int_equal(r[3].max, 0xffff);
    assert_true(r[3].min <= PCI_HOST_IO_BASE);           /* pci_host's I/O BARs fit */
    assert_int_equal(r[4].tag, 0x87);
    assert_int_equal(r[4].min, PCI_HOST_MEM32_BASE);
    assert_int_equal(r[4].max, PCI_HOST_MEM32_END - 1);
    assert_int_equal(r[4].len, PCI_HOST_MEM32_END - PCI_HOST_MEM32_BASE);
    assert_int_equal(r[5].tag, 0x8A);
    assert_int_equal(r[5].min, 4ull << 30);              /* pci_host's mem64_base */
    assert_int_equal(r[5].len, r[5].max - r[5].min + 1);
    for (unsigned i = 0; i < 6; i++) {
        if (i == 1)
            continue;
        assert_int_equal(r[i].gflags & 1, 0);            /* windows are produced */
        assert_int_equal(r[i].gflags & 0xc, 0xc);        /* min and max fixed */
    }
    assert_int_not_equal(r[4].tflags & 6, 6);            /* not prefetchable */
    assert_int_equal(r[6].tag, 0x79);                    /* End Tag */

    /* MRES reserves the ECAM window (Linux rejects MCFG otherwise) and PM1 */
    assert_int_equal(name_int("\\_SB_.MRES._HID"), 0x020CD041); /* EisaId("PNP0C02") */
    name_resources("\\_SB_.MRES._CRS", r, 16, &n);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].tag, 0x86);
    assert_int_equal(r[0].min, ACPI_ECAM_BASE);
    assert_int_equal(r[0].len, 1u << 20);
    assert_int_equal(r[1].min, ACPI_PM1_BASE);
    assert_int_equal(r[1].len, 6);
}

static void test_dsdt_prt_matches_pci_host(void **state)
{
    (void)state;
    const uint32_t masks[] = { 0x2, 0x0000001e, 0xfffffffe };
    for (unsigned k = 0; k < 3; k++) {
        build_default(1, masks[k]);
        parse_dsdt();
        const struct chk_obj *prt = chk_find(&ns, "\\_SB_.PCI0._PRT");
        assert_non_null(prt);
        const uint8_t *p = prt->data, *end = NULL;
        unsigned nel;
        assert_true(chk_package(&p, prt->end, 0, &nel));
        assert_int_equal(nel, 4 * (unsigned)__builtin_popcount(masks[k]));
        p = prt->data + 1;
        assert_true(chk_pkglen(&p, prt->end, &end));
        p++; /* NumElements */
        bool seen[32][4] = { { false } };
        for (unsigned i = 0; i < nel; i++) {
            const uint8_t *e = p, *eend = NULL;
            assert_int_equal(*e, 0x12);
            e++;
            assert_true(chk_pkglen(&e, end, &eend));
            assert_int_equal(*e++, 4);
            uint64_t adr = 0, pin = 0, src = 0, gsi = 0;
            assert_true(chk_int(&e, eend, &adr) && chk_int(&e, eend, &pin) &&
                        chk_int(&e, eend, &src) && chk_int(&e, eend, &gsi));
            assert_int_equal(adr & 0xffff, 0xffff);
            unsigned slot = (unsigned)(adr >> 16);
            assert_true(slot < 32 && (masks[k] >> slot & 1) && pin < 4);
            assert_false(seen[slot][pin]);
            seen[slot][pin] = true;
            assert_int_equal(src, 0);
            /* the wiring pci_host programs and the MP table describes */
            assert_int_equal(gsi, pci_host_intx_gsi(slot, (unsigned)pin + 1));
            p = eend;
        }
        assert_ptr_equal(p, end);
    }
}

static void test_build_rejects(void **state)
{
    (void)state;
    struct acpi_config c;
    uint64_t rsdp = 0;
    acpi_config_default(&c, 0, 1ull << 30, 2);
    assert_int_equal(acpi_build(&c, area, sizeof area, &rsdp), -EINVAL);
    acpi_config_default(&c, ACPI_MAX_CPUS + 1, 1ull << 30, 2);
    assert_int_equal(acpi_build(&c, area, sizeof area, &rsdp), -EINVAL);
    acpi_config_default(&c, 4, 1ull << 30, 2);
    c.ioapic_id = 3; /* a CPU's APIC ID */
    assert_int_equal(acpi_build(&c, area, sizeof area, &rsdp), -EINVAL);
    acpi_config_default(&c, 4, 1ull << 30, 2);
    c.ecam_base = 0xD0000000u; /* inside the BAR window */
    assert_int_equal(acpi_build(&c, area, sizeof area, &rsdp), -EINVAL);
    acpi_config_default(&c, 4, 1ull << 30, 2);
    c.ecam_base += 0x1000; /* not 1 MiB aligned */
    assert_int_equal(acpi_build(&c, area, sizeof area, &rsdp), -EINVAL);
    acpi_config_default(&c, 4, 1ull << 30, 2);
    c.ecam_base = 0xFEE00000u; /* over the LAPIC */
    assert_int_equal(acpi_build(&c, area, sizeof area, &rsdp), -EINVAL);
    acpi_config_default(&c, 4, 1ull << 30, 2);
    assert_int_equal(acpi_build(&c, area, sizeof area + 1, &rsdp), -EINVAL);
    assert_int_equal(acpi_build(&c, area, 512, &rsdp), -ENOSPC);
    /* the biggest configuration fits in the area */
    acpi_config_default(&c, ACPI_MAX_CPUS, 1ull << 30, 0xffffffff);
    assert_int_equal(acpi_build(&c, area, sizeof area, &rsdp), 0);
}

/* ---- AML emitter ---- */

static void test_aml_pkglength(void **state)
{
    (void)state;
    static uint8_t buf[0x12000], filler[0x11000];
    const size_t bodies[] = { 0, 61, 62, 63, 64, 0xffd, 0xffe, 0x1000, 0x10ffe };
    const unsigned want[] = { 1, 1, 1, 2, 2, 2, 3, 3, 3 };
    for (unsigned i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct aml a;
        aml_init(&a, buf, sizeof buf);
        aml_u8(&a, 0x10);
        size_t mark = a.len;
        memset(filler, (int)i, bodies[i]);
        aml_raw(&a, filler, bodies[i]);
        aml_close(&a, mark);
        assert_false(a.overflow);
        assert_int_equal(a.len, 1 + want[i] + bodies[i]);
        const uint8_t *p = buf + 1, *end = NULL;
        assert_true(chk_pkglen(&p, buf + a.len, &end));
        assert_int_equal((size_t)(p - (buf + 1)), want[i]);
        assert_ptr_equal(end, buf + a.len);
        if (bodies[i])                      /* the body moved intact */
            assert_int_equal(p[bodies[i] - 1], (uint8_t)i);
    }
    /* nested objects: inner closes first, outer length still adds up */
    struct aml a;
    aml_init(&a, buf, sizeof buf);
    size_t outer = aml_device(&a, "\\_SB.DEV0");
    for (int i = 0; i < 20; i++) {
        size_t m = aml_method(&a, "M000", 1, true);
        aml_return(&a);
        aml_int(&a, 0x12345678u);
        aml_close(&a, m);
    }
    aml_close(&a, outer);
    assert_false(a.overflow);
    ns.n = 0;
    assert_false(chk_terms(buf, buf + a.len, "\\", &ns, false, 0)); /* M000 defined twice */
    aml_init(&a, buf, 8);
    aml_string(&a, "too long for eight bytes");
    assert_true(a.overflow);
}

static void test_aml_encodings(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct aml a;
    aml_init(&a, buf, sizeof buf);
    aml_namestring(&a, "\\_SB.PCI0");
    const uint8_t dual[] = { 0x5C, 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0' };
    assert_int_equal(a.len, sizeof dual);
    assert_memory_equal(buf, dual, sizeof dual);
    aml_init(&a, buf, sizeof buf);
    aml_namestring(&a, "A.B.C");
    const uint8_t multi[] = { 0x2F, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_' };
    assert_int_equal(a.len, sizeof multi);
    assert_memory_equal(buf, multi, sizeof multi);
    aml_init(&a, buf, sizeof buf);
    aml_int(&a, 0);
    aml_int(&a, 1);
    aml_int(&a, 0xff);
    aml_int(&a, 0x100);
    aml_int(&a, 0x10000);
    aml_int(&a, 0x100000000ull);
    const uint8_t ints[] = { 0x00, 0x01, 0x0A, 0xff, 0x0B, 0x00, 0x01, 0x0C, 0, 0, 1, 0,
                             0x0E, 0, 0, 0, 0, 1, 0, 0, 0 };
    assert_int_equal(a.len, sizeof ints);
    assert_memory_equal(buf, ints, sizeof ints);
    aml_init(&a, buf, sizeof buf);
    aml_eisaid(&a, "PNP0501");
    const uint8_t uart[] = { 0x0C, 0x41, 0xD0, 0x05, 0x01 };
    assert_memory_equal(buf, uart, sizeof uart);
}

static unsigned power_offs;

static void on_power_off(void *opaque)
{
    assert_ptr_equal(opaque, &power_offs);
    power_offs++;
}

/* The whole path an OS takes: \_S5 from the DSDT, PM1a_CNT from the FADT,
 * ACPICA's write sequence (clear status, then SLP_TYP, then SLP_TYP|SLP_EN). */
static void test_pm_poweroff_from_tables(void **state)
{
    (void)state;
    build_default(2, 0x6);
    parse_dsdt();
    const struct chk_obj *s5 = chk_find(&ns, "\\_S5_");
    assert_non_null(s5);
    const uint8_t *p = s5->data + 3;
    uint64_t typ = 0;
    assert_true(chk_int(&p, s5->end, &typ));
    const uint8_t *f = find_table("FACP");
    uint16_t evt = (uint16_t)rd64(f + 152), cnt = (uint16_t)rd64(f + 176);

    struct iobus pio = { 0 };
    struct pm pm;
    power_offs = 0;
    assert_int_equal(pm_init(&pm, &pio, ACPI_PM1_BASE, ACPI_S5_SLP_TYP, on_power_off,
                             &power_offs), 0);
    assert_true(iobus_write(&pio, evt, 2, 0xffff));
    assert_true(iobus_write(&pio, evt + 2, 2, 0));
    uint64_t v = 0;
    assert_true(iobus_read(&pio, cnt, 2, &v));
    v = (v & ~(uint64_t)(PM1_CNT_SLP_TYP_MASK | PM1_CNT_SLP_EN)) | typ << 10;
    assert_true(iobus_write(&pio, cnt, 2, v));
    assert_int_equal(power_offs, 0);
    assert_true(iobus_write(&pio, cnt, 2, v | PM1_CNT_SLP_EN));
    assert_int_equal(power_offs, 1);
    pm_destroy(&pm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsdp_xsdt_chain),
        cmocka_unit_test(test_fadt_fields),
        cmocka_unit_test(test_madt_per_cpu_count),
        cmocka_unit_test(test_mcfg),
        cmocka_unit_test(test_dsdt_names),
        cmocka_unit_test(test_dsdt_prt_matches_pci_host),
        cmocka_unit_test(test_build_rejects),
        cmocka_unit_test(test_aml_pkglength),
        cmocka_unit_test(test_aml_encodings),
        cmocka_unit_test(test_pm_poweroff_from_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
