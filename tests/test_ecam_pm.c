/* ECAM decoding (vmm/ecam.c) and the ACPI PM1a register block (vmm/pm.c),
 * driven through the same iobus a vCPU exit goes through. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "vmm/acpi.h"
#include "vmm/ecam.h"
#include "vmm/iobus.h"
#include "vmm/pm.h"

/* ---- ECAM ---- */

struct cfg_log {
    unsigned reads, writes;
    uint16_t bdf;
    unsigned off, len;
    uint32_t data;
};

static uint32_t log_read(void *opaque, uint16_t bdf, unsigned off, unsigned len)
{
    struct cfg_log *l = opaque;
    l->reads++;
    l->bdf = bdf;
    l->off = off;
    l->len = len;
    return 0xdeadbeef;
}

static void log_write(void *opaque, uint16_t bdf, unsigned off, uint32_t data, unsigned len)
{
    struct cfg_log *l = opaque;
    l->writes++;
    l->bdf = bdf;
    l->off = off;
    l->len = len;
    l->data = data;
}

static void test_ecam_decode(void **state)
{
    (void)state;
    struct ecam e;
    struct cfg_log log = { 0 };
    struct iobus mmio = { 0 };
    assert_int_equal(ecam_init(&e, &mmio, ACPI_ECAM_BASE + 0x1000, 0, 0, log_read, log_write, &log),
                     -EINVAL);
    assert_int_equal(ecam_init(&e, &mmio, ACPI_ECAM_BASE, 0, 0, log_read, log_write, &log), 0);
    uint64_t v = 0;
    /* 00:1f.7, register 0xffc (extended space reaches the function) */
    assert_true(iobus_read(&mmio, ACPI_ECAM_BASE + (31 << 15 | 7 << 12 | 0xffc), 4, &v));
    assert_int_equal(v, 0xdeadbeef);
    assert_int_equal(log.bdf, 31 << 3 | 7);
    assert_int_equal(log.off, 0xffc);
    assert_int_equal(log.len, 4);
    assert_true(iobus_read(&mmio, ACPI_ECAM_BASE + (1 << 15 | (0x100 + 2)), 2, &v));
    assert_int_equal(v, 0xbeef); /* width-masked */
    assert_int_equal(log.bdf, 1 << 3);
    assert_int_equal(log.off, 0x102);
    assert_true(iobus_write(&mmio, ACPI_ECAM_BASE + (2 << 15 | 1 << 12 | 0x13), 1, 0x1ab));
    assert_int_equal(log.writes, 1);
    assert_int_equal(log.bdf, 2 << 3 | 1);
    assert_int_equal(log.off, 0x13);
    assert_int_equal(log.data, 0xab);
    /* refused: misaligned, 8 bytes, 3 bytes; nothing reaches the function */
    unsigned reads = log.reads;
    assert_int_equal(ecam_mmio_read(&e, 0x1001, 2), 0xffff);
    assert_int_equal(ecam_mmio_read(&e, 0x1002, 4), 0xffffffff);
    assert_int_equal(ecam_mmio_read(&e, 0x1000, 8), ~0ull);
    assert_int_equal(ecam_mmio_read(&e, 0x1000, 3), 0xffffff);
    ecam_mmio_write(&e, 0x1003, 2, 0);
    ecam_mmio_write(&e, ecam_size(0, 0), 4, 0); /* past the last bus */
    assert_int_equal(ecam_mmio_read(&e, ecam_size(0, 0) + 4, 4), 0xffffffff);
    assert_int_equal(log.reads, reads);
    assert_int_equal(log.writes, 1);
    assert_int_equal(e.bad_accesses, 7);
    /* outside the window the bus is not claimed at all */
    assert_false(iobus_read(&mmio, ACPI_ECAM_BASE + ecam_size(0, 0), 4, &v));

    /* a window for buses 2-3: offsets count from bus 2 */
    struct ecam e2;
    assert_int_equal(ecam_init(&e2, NULL, 0xE0200000u, 2, 3, log_read, log_write, &log), 0);
    struct ecam_addr ad = { 0 };
    assert_true(ecam_decode(&e2, (1 << 20) | (5 << 15) | (3 << 12) | 0x40, 4, &ad));
    assert_int_equal(ad.bdf, 3 << 8 | 5 << 3 | 3);
    assert_int_equal(ad.off, 0x40);
    assert_false(ecam_decode(&e2, 2 << 20, 4, &ad));
}

/* ---- PM1 ---- */

static unsigned power_offs;

static void on_power_off(void *opaque)
{
    assert_ptr_equal(opaque, &power_offs);
    power_offs++;
}

static void test_pm_registers(void **state)
{
    (void)state;
    struct iobus pio = { 0 };
    struct pm pm;
    power_offs = 0;
    assert_int_equal(pm_init(&pm, &pio, ACPI_PM1_BASE, ACPI_S5_SLP_TYP, on_power_off,
                             &power_offs), 0);
    uint64_t v = 0;
    const uint16_t cnt = ACPI_PM1_BASE + 4;
    assert_true(iobus_read(&pio, cnt, 2, &v));
    assert_int_equal(v & PM1_CNT_SCI_EN, PM1_CNT_SCI_EN);   /* ACPI mode, always */
    /* enable bits stick, reserved ones do not; status is write-1-to-clear */
    assert_true(iobus_write(&pio, ACPI_PM1_BASE + 2, 2, 0xffff));
    assert_true(iobus_read(&pio, ACPI_PM1_BASE + 2, 2, &v));
    assert_int_equal(v, 0x4721);
    assert_true(iobus_read(&pio, ACPI_PM1_BASE, 4, &v));     /* STS and EN at once */
    assert_int_equal(v, 0x4721u << 16);
    assert_true(iobus_write(&pio, ACPI_PM1_BASE + 3, 1, 0));
    assert_true(iobus_read(&pio, ACPI_PM1_BASE + 2, 2, &v));
    assert_int_equal(v, 0x0021);
    /* SLP_TYP alone does nothing; SLP_EN reads back as 0 */
    assert_true(iobus_write(&pio, cnt, 2, ACPI_S5_SLP_TYP << 10));
    assert_int_equal(power_offs, 0);
    assert_true(iobus_read(&pio, cnt, 2, &v));
    assert_int_equal(v, ACPI_S5_SLP_TYP << 10 | PM1_CNT_SCI_EN);
    /* another sleep type with SLP_EN: counted, no power-off */
    assert_true(iobus_write(&pio, cnt, 2, 3 << 10 | PM1_CNT_SLP_EN));
    assert_int_equal(power_offs, 0);
    assert_int_equal(pm.sleep_requests, 1);
    assert_true(iobus_read(&pio, cnt, 2, &v));
    assert_int_equal(v & PM1_CNT_SLP_EN, 0);
    /* S5 by a byte write of the high half (SLP_TYP 12:10, SLP_EN 13) */
    assert_true(iobus_write(&pio, cnt + 1, 1, (ACPI_S5_SLP_TYP << 2) | 0x20));
    assert_int_equal(power_offs, 1);
    /* the port range is exactly six bytes */
    assert_false(iobus_read(&pio, ACPI_PM1_BASE + 6, 1, &v));
    assert_int_equal(pm_init(&pm, &pio, ACPI_PM1_BASE + 4, 5, on_power_off, NULL), -EEXIST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecam_decode),
        cmocka_unit_test(test_pm_registers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
