/* MP table writer: the bytes a Linux MP-table parser reads (MP spec 1.4). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vmm/mptable.h"

#define GPA 0xF0000u

static uint8_t buf[65536];

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

struct parsed {
    unsigned cpus, bps, buses, ioapics, ioints, lints;
    int pci_bus, isa_bus, ioapic_id;
    uint8_t cpu_ids[256];
    uint8_t pci_irq[32 * 4]; /* pin+1 per (slot<<2|pin), 0: none */
    uint16_t pci_flags;
    uint8_t isa_pin[16];     /* pin + 1 */
    uint8_t lint_type[2];
};

/* Walks the table the way an OS does, checking lengths and checksums. */
static void parse(long len, struct parsed *p)
{
    memset(p, 0, sizeof *p);
    p->pci_bus = p->isa_bus = p->ioapic_id = -1;
    assert_true(len > 16 + 44);
    assert_memory_equal(buf, "_MP_", 4);
    assert_int_equal(buf[8], 1);
    assert_int_equal(buf[9], 4);
    assert_int_equal(sum(buf, 16), 0);
    uint32_t cfg = le32(buf + 4);
    assert_true(cfg >= GPA && cfg - GPA < (uint32_t)len);
    const uint8_t *h = buf + (cfg - GPA);
    assert_memory_equal(h, "PCMP", 4);
    uint16_t tlen = le16(h + 4);
    assert_int_equal((long)(cfg - GPA) + tlen, len);
    assert_int_equal(h[6], 4);
    assert_int_equal(sum(h, tlen), 0);
    assert_int_equal(le32(h + 36), 0xFEE00000u);
    unsigned count = le16(h + 34);
    const uint8_t *e = h + 44, *end = h + tlen;
    for (unsigned i = 0; i < count; i++) {
        assert_true(e < end);
        switch (e[0]) {
        case 0:
            assert_true(e + 20 <= end);
            p->cpu_ids[p->cpus++] = e[1];
            assert_true(e[3] & 1);
            p->bps += (e[3] & 2) != 0;
            e += 20;
            continue;
        case 1:
            if (!memcmp(e + 2, "PCI   ", 6))
                p->pci_bus = e[1];
            else if (!memcmp(e + 2, "ISA   ", 6))
                p->isa_bus = e[1];
            p->buses++;
            break;
        case 2:
            p->ioapics++;
            p->ioapic_id = e[1];
            assert_int_equal(e[3] & 1, 1);
            assert_int_equal(le32(e + 4), 0xFEC00000u);
            break;
        case 3:
            p->ioints++;
            assert_int_equal(e[6], p->ioapic_id);
            if (e[4] == p->pci_bus) {
                p->pci_irq[e[5] & 0x7f] = (uint8_t)(e[7] + 1);
                p->pci_flags = le16(e + 2);
            } else if (e[4] == p->isa_bus && e[5] < 16) {
                p->isa_pin[e[5]] = (uint8_t)(e[7] + 1);
            } else {
                fail_msg("I/O interrupt entry from unknown bus %u", e[4]);
            }
            break;
        case 4:
            assert_true(e[7] < 2);
            p->lint_type[e[7]] = (uint8_t)(e[1] + 1);
            p->lints++;
            break;
        default:
            fail_msg("unknown entry type %u", e[0]);
        }
        e += 8;
    }
    assert_ptr_equal(e, end);
}

static void test_smp_table(void **state)
{
    (void)state;
    const struct mptable_pci_irq pci[] = { { 1, 1, 17 }, { 2, 1, 18 }, { 9, 2, 18 } };
    struct mptable_config c = { .cpus = 4, .pci = pci, .npci = 3 };
    size_t size = mptable_size(&c);
    memset(buf, 0xaa, sizeof buf);
    long n = mptable_write(&c, GPA, buf, sizeof buf);
    assert_int_equal(n, (long)size);
    assert_int_equal(buf[size], 0xaa); /* nothing written past the end */
    struct parsed p;
    parse(n, &p);
    assert_int_equal(p.cpus, 4);
    assert_int_equal(p.bps, 1);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(p.cpu_ids[i], i);
    assert_int_equal(p.ioapics, 1);
    assert_true(p.ioapic_id >= 4); /* distinct from every APIC ID */
    assert_int_equal(p.buses, 2);
    assert_int_equal(p.pci_bus, 0); /* the MP bus number is the PCI bus number */
    assert_int_equal(p.pci_irq[1 << 2 | 0], 17 + 1);
    assert_int_equal(p.pci_irq[2 << 2 | 0], 18 + 1);
    assert_int_equal(p.pci_irq[9 << 2 | 1], 18 + 1);
    assert_int_equal(p.pci_flags, 0x0f); /* level, active low */
    for (unsigned irq = 0; irq < 16; irq++)
        assert_int_equal(p.isa_pin[irq], irq == 2 ? 0 : irq + 1);
    assert_int_equal(p.lints, 2);
    assert_int_equal(p.lint_type[0], 3 + 1); /* LINT0 ExtINT */
    assert_int_equal(p.lint_type[1], 1 + 1); /* LINT1 NMI */
}

static void test_one_cpu_no_pci(void **state)
{
    (void)state;
    struct mptable_config c = { .cpus = 1 };
    long n = mptable_write(&c, GPA, buf, sizeof buf);
    assert_int_equal(n, (long)mptable_size(&c));
    struct parsed p;
    parse(n, &p);
    assert_int_equal(p.cpus, 1);
    assert_int_equal(p.bps, 1);
    assert_int_equal(p.ioints, 15);
}

static void test_bad_input(void **state)
{
    (void)state;
    const struct mptable_pci_irq bad_pin[] = { { 1, 0, 16 } };
    const struct mptable_pci_irq bad_gsi[] = { { 1, 1, 24 } };
    const struct mptable_pci_irq bad_slot[] = { { 32, 1, 16 } };
    struct mptable_config c = { .cpus = 0 };
    assert_int_equal(mptable_write(&c, GPA, buf, sizeof buf), -EINVAL);
    c.cpus = MPTABLE_MAX_CPUS + 1;
    assert_int_equal(mptable_write(&c, GPA, buf, sizeof buf), -EINVAL);
    c.cpus = 2;
    c.pci = bad_pin, c.npci = 1;
    assert_int_equal(mptable_write(&c, GPA, buf, sizeof buf), -EINVAL);
    c.pci = bad_gsi;
    assert_int_equal(mptable_write(&c, GPA, buf, sizeof buf), -EINVAL);
    c.pci = bad_slot;
    assert_int_equal(mptable_write(&c, GPA, buf, sizeof buf), -EINVAL);
    c.npci = 0;
    assert_int_equal(mptable_write(&c, GPA, buf, mptable_size(&c) - 1), -ENOSPC);
    assert_int_equal(mptable_write(&c, 0xFFFFFFF8ull, buf, sizeof buf), -EINVAL);
}

static void test_max_cpus_fit(void **state)
{
    (void)state;
    struct mptable_config c = { .cpus = MPTABLE_MAX_CPUS };
    long n = mptable_write(&c, GPA, buf, sizeof buf);
    assert_true(n > 0 && n <= 0x10000);
    struct parsed p;
    parse(n, &p);
    assert_int_equal(p.cpus, MPTABLE_MAX_CPUS);
    assert_true(p.ioapic_id < 255);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smp_table),
        cmocka_unit_test(test_one_cpu_no_pci),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_max_cpus_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
