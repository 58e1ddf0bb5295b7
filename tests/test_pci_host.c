/* kick run's PCI bus: mechanism #1 config access, firmware BAR placement,
 * and routing of port I/O / MMIO to the BAR that decodes it, following BAR
 * moves and decode changes. Functions are virtio-pci rng devices. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <linux/virtio_pci.h>

#include "backends/entropy.h"
#include "devices/rng.h"
#include "virtio/vpci.h"
#include "vmm/iobus.h"
#include "vmm/pci_host.h"

struct bus {
    struct iobus pio, mmio;
    struct pci_host h;
    struct rng_dev rng[2];
    struct vpci t[2];
    int maps;
};

static void host_bar_map(struct vpci *t, int bar, uint64_t addr, bool enabled)
{
    (void)bar, (void)addr, (void)enabled;
    struct bus *b = t->host;
    b->maps++;
}

static const struct vpci_host_ops ops = { .bar_map = host_bar_map };

static int setup(void **state)
{
    static struct bus b;
    memset(&b, 0, sizeof b);
    assert_int_equal(pci_host_init(&b.h, &b.pio, &b.mmio, 0x140000000ull), 0);
    for (int i = 0; i < 2; i++) {
        rng_dev_init(&b.rng[i], entropy_getrandom, NULL);
        assert_int_equal(vpci_init(&b.t[i], &b.rng[i].vdev, VPCI_TRANSITIONAL, 2, &ops, &b), 0);
        assert_int_equal(pci_host_add(&b.h, vpci_func(&b.t[i])), i + 1);
    }
    assert_int_equal(pci_host_place_bars(&b.h), 0);
    *state = &b;
    return 0;
}

static int teardown(void **state)
{
    struct bus *b = *state;
    for (int i = 0; i < 2; i++)
        vpci_destroy(&b->t[i]);
    pci_host_destroy(&b->h);
    return 0;
}

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
    return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static uint64_t pio_rd(struct bus *b, uint16_t port, unsigned size)
{
    uint64_t v;
    iobus_read(&b->pio, port, size, &v);
    return v;
}

static void pio_wr(struct bus *b, uint16_t port, unsigned size, uint64_t v)
{
    iobus_write(&b->pio, port, size, v);
}

static uint32_t cfg_rd(struct bus *b, unsigned dev, unsigned reg, unsigned size)
{
    pio_wr(b, 0xcf8, 4, cfg_addr(0, dev, 0, reg));
    return (uint32_t)pio_rd(b, (uint16_t)(0xcfc + (reg & 3)), size);
}

static void cfg_wr(struct bus *b, unsigned dev, unsigned reg, unsigned size, uint32_t v)
{
    pio_wr(b, 0xcf8, 4, cfg_addr(0, dev, 0, reg));
    pio_wr(b, (uint16_t)(0xcfc + (reg & 3)), size, v);
}

static void test_config_mechanism(void **state)
{
    struct bus *b = *state;
    /* the address register reads back what was written (Linux's probe) */
    pio_wr(b, 0xcf8, 4, 0x80000000u);
    assert_int_equal(pio_rd(b, 0xcf8, 4), 0x80000000u);
    assert_int_equal(cfg_rd(b, 0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
    assert_int_equal(cfg_rd(b, 0, PCI_VENDOR_ID, 2), 0x1b36);
    assert_int_equal(cfg_rd(b, 1, PCI_VENDOR_ID, 2), VPCI_VENDOR);
    assert_int_equal(cfg_rd(b, 2, PCI_VENDOR_ID, 4),
                     VPCI_VENDOR | (uint32_t)pci_cfg_read_val(vpci_func(&b->t[1]),
                                                              PCI_DEVICE_ID, 2) << 16);
    /* byte and word lanes of the data window */
    uint32_t id = cfg_rd(b, 1, 0, 4);
    assert_int_equal(cfg_rd(b, 1, 2, 2), id >> 16);
    assert_int_equal(cfg_rd(b, 1, 3, 1), id >> 24);
    assert_int_equal(cfg_rd(b, 1, 1, 1), (id >> 8) & 0xff);
    /* empty slot, other function, other bus, enable bit off: all ones */
    assert_int_equal(cfg_rd(b, 3, 0, 4), 0xffffffffu);
    assert_int_equal(cfg_rd(b, 31, 0, 2), 0xffff);
    pio_wr(b, 0xcf8, 4, cfg_addr(0, 1, 1, 0));
    assert_int_equal(pio_rd(b, 0xcfc, 4), 0xffffffffu);
    pio_wr(b, 0xcf8, 4, cfg_addr(1, 1, 0, 0));
    assert_int_equal(pio_rd(b, 0xcfc, 4), 0xffffffffu);
    pio_wr(b, 0xcf8, 4, cfg_addr(0, 1, 0, 0) & ~0x80000000u);
    assert_int_equal(pio_rd(b, 0xcfc, 4), 0xffffffffu);
    /* writes go through: the interrupt line register */
    cfg_wr(b, 1, PCI_INTERRUPT_LINE, 1, 0x5a);
    assert_int_equal(cfg_rd(b, 1, PCI_INTERRUPT_LINE, 1), 0x5a);
    /* a write to an empty slot does nothing and does not crash */
    cfg_wr(b, 7, PCI_COMMAND, 2, 0xffff);
}

static void test_firmware_placement(void **state)
{
    struct bus *b = *state;
    uint64_t prev_mem_end = 0;
    for (int i = 0; i < 2; i++) {
        struct pci_func *f = vpci_func(&b->t[i]);
        assert_true(pci_bar_enabled(f, VPCI_LEGACY_BAR));
        uint64_t io = pci_bar_addr(f, VPCI_LEGACY_BAR);
        assert_true(io >= PCI_HOST_IO_BASE && io + f->bar[0].size <= PCI_HOST_IO_END);
        assert_int_equal(io % f->bar[0].size, 0);
        uint64_t m32 = pci_bar_addr(f, VPCI_MSIX_BAR);
        assert_true(m32 >= PCI_HOST_MEM32_BASE && m32 < PCI_HOST_MEM32_END);
        assert_true(m32 >= prev_mem_end); /* no overlap between functions */
        prev_mem_end = m32 + f->bar[VPCI_MSIX_BAR].size;
        uint64_t m64 = pci_bar_addr(f, VPCI_MODERN_BAR);
        assert_true(m64 >= 0x140000000ull); /* above all RAM */
        assert_int_equal(m64 % VPCI_MODERN_BAR_SIZE, 0);
        uint16_t cmd = (uint16_t)pci_cfg_read_val(f, PCI_COMMAND, 2);
        assert_true(cmd & PCI_COMMAND_IO);
        assert_true(cmd & PCI_COMMAND_MEMORY);
        assert_true(cmd & PCI_COMMAND_MASTER);
        assert_int_equal(pci_cfg_read_val(f, PCI_INTERRUPT_LINE, 1),
                         pci_host_intx_gsi((unsigned)i + 1, 1));
    }
    assert_true(pci_host_intx_gsi(1, 1) != pci_host_intx_gsi(2, 1));
    assert_true(b->maps >= 6); /* every BAR reported to the host */
}

static void test_routing_follows_bars(void **state)
{
    struct bus *b = *state;
    struct pci_func *f = vpci_func(&b->t[1]);
    uint64_t m64 = pci_bar_addr(f, VPCI_MODERN_BAR);
    uint64_t v = 0;
    /* modern common cfg: num_queues of the rng is 1 */
    assert_true(iobus_read(&b->mmio, m64 + VIRTIO_PCI_COMMON_NUMQ, 2, &v));
    assert_int_equal(v, 1);
    uint64_t io = pci_bar_addr(f, VPCI_LEGACY_BAR);
    assert_true(iobus_read(&b->pio, io + VIRTIO_PCI_QUEUE_NUM, 2, &v));
    assert_true(v > 0 && v <= 32768);
    /* an access straddling the BAR end is not claimed */
    assert_false(iobus_read(&b->mmio, m64 + VPCI_MODERN_BAR_SIZE - 2, 4, &v));
    assert_int_equal(v, 0xffffffffu);

    /* the guest moves the 64-bit BAR: old address dead, new one live */
    uint64_t moved = 0x200000000ull;
    unsigned reg = PCI_BASE_ADDRESS_0 + 4 * VPCI_MODERN_BAR;
    int maps = b->maps;
    cfg_wr(b, 2, reg, 4, (uint32_t)moved | (uint32_t)(f->cfg[reg] & 0xf));
    cfg_wr(b, 2, reg + 4, 4, (uint32_t)(moved >> 32));
    assert_true(b->maps > maps);
    assert_false(iobus_read(&b->mmio, m64 + VIRTIO_PCI_COMMON_NUMQ, 2, &v));
    assert_true(iobus_read(&b->mmio, moved + VIRTIO_PCI_COMMON_NUMQ, 2, &v));
    assert_int_equal(v, 1);

    /* memory decode off: nothing claimed; the I/O BAR still is */
    cfg_wr(b, 2, PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_false(iobus_read(&b->mmio, moved + VIRTIO_PCI_COMMON_NUMQ, 2, &v));
    assert_true(iobus_read(&b->pio, io + VIRTIO_PCI_QUEUE_NUM, 2, &v));
    /* sizing: all ones written, BAR not decoded until restored */
    cfg_wr(b, 2, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    cfg_wr(b, 2, PCI_BASE_ADDRESS_0, 4, 0xffffffffu);
    assert_false(iobus_read(&b->pio, io + VIRTIO_PCI_QUEUE_NUM, 2, &v));
    cfg_wr(b, 2, PCI_BASE_ADDRESS_0, 4, (uint32_t)io);
    assert_true(iobus_read(&b->pio, io + VIRTIO_PCI_QUEUE_NUM, 2, &v));
    /* the other function is untouched */
    struct pci_func *f0 = vpci_func(&b->t[0]);
    assert_true(iobus_read(&b->mmio, pci_bar_addr(f0, VPCI_MODERN_BAR) + VIRTIO_PCI_COMMON_NUMQ,
                           2, &v));
    assert_true(b->h.bar_exits[1] > 0 && b->h.bar_exits[2] > 0);
}

static void test_unclaimed(void **state)
{
    struct bus *b = *state;
    uint64_t v = 0;
    assert_false(iobus_read(&b->pio, 0x80, 1, &v));
    assert_int_equal(v, 0xff);
    assert_false(iobus_write(&b->mmio, 0xd0000000ull, 4, 1));
    /* non-dword accesses to the address register do not change it */
    pio_wr(b, 0xcf8, 4, cfg_addr(0, 1, 0, 0));
    pio_wr(b, 0xcfb, 1, 0x00);
    pio_wr(b, 0xcf8, 2, 0x1234);
    assert_int_equal(pio_rd(b, 0xcf8, 4), cfg_addr(0, 1, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_mechanism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_firmware_placement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing_follows_bars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclaimed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
