/* PCI function model: MSI-X capability, table, PBA, masking and delivery. */
#include "pci_fixture.h"

#define MSIX_BAR 4
#define TABLE_OFF 0x2000u
#define PBA_OFF 0x3000u

static int msix_setup(struct pci_func *f, unsigned nvec)
{
    assert_int_equal(pci_bar_set(f, MSIX_BAR, 0x4000, PCI_BAR_MEM64), 0);
    return pci_msix_init(f, nvec, MSIX_BAR, TABLE_OFF, MSIX_BAR, PBA_OFF);
}

static uint64_t tbl_off(unsigned v, unsigned field)
{
    return TABLE_OFF + v * PCI_MSIX_ENTRY_SIZE + field;
}

static void tbl_write(struct pci_func *f, unsigned v, unsigned field, uint64_t val, unsigned len)
{
    pci_bar_write(f, MSIX_BAR, tbl_off(v, field), &val, len);
}

static uint64_t tbl_read(struct pci_func *f, unsigned v, unsigned field, unsigned len)
{
    uint64_t val = 0;
    pci_bar_read(f, MSIX_BAR, tbl_off(v, field), &val, len);
    return val;
}

static uint64_t pba_word(struct pci_func *f, unsigned w)
{
    uint64_t val = 0;
    pci_bar_read(f, MSIX_BAR, PBA_OFF + 8 * w, &val, 8);
    return val;
}

static void ctrl_write(struct pci_func *f, int cap, uint16_t bits)
{
    pci_cfg_write_val(f, (uint32_t)cap + PCI_MSIX_FLAGS, bits, 2);
}

/* Programs vector v with a recognisable message and unmasks it. */
static void program(struct pci_func *f, unsigned v)
{
    tbl_write(f, v, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000ull | ((uint64_t)v << 12), 8);
    tbl_write(f, v, PCI_MSIX_ENTRY_DATA, 0x4000 + v, 4);
    tbl_write(f, v, PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
}

static void test_msix_cap_layout(void **state)
{
    FX;
    int cap = msix_setup(f, 8);
    assert_true(cap >= PCI_STD_HEADER_SIZEOF);
    assert_int_equal(pci_cfg_read_val(f, PCI_CAPABILITY_LIST, 1), cap);
    assert_int_equal(pci_cfg_read_val(f, cap + PCI_CAP_LIST_ID, 1), PCI_CAP_ID_MSIX);
    assert_int_equal(pci_cfg_read_val(f, cap + PCI_MSIX_FLAGS, 2), 7);
    assert_int_equal(pci_cfg_read_val(f, cap + PCI_MSIX_TABLE, 4), TABLE_OFF | MSIX_BAR);
    assert_int_equal(pci_cfg_read_val(f, cap + PCI_MSIX_PBA, 4), PBA_OFF | MSIX_BAR);
    ctrl_write(f, cap, 0xffff);
    assert_int_equal(pci_cfg_read_val(f, cap + PCI_MSIX_FLAGS, 2),
                     PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 7);
    pci_cfg_write_val(f, cap + PCI_MSIX_TABLE, 0xffffffff, 4);
    assert_int_equal(pci_cfg_read_val(f, cap + PCI_MSIX_TABLE, 4), TABLE_OFF | MSIX_BAR);
    assert_true(pci_msix_enabled(f));
}

static void test_msix_init_invalid(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, 0, 0x1000, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_bar_set(f, 1, 0x100, PCI_BAR_IO), 0);
    assert_int_equal(pci_msix_init(f, 0, 0, 0, 0, 0x800), -EINVAL);
    assert_int_equal(pci_msix_init(f, PCI_MSIX_MAX_VECTORS + 1, 0, 0, 0, 0x800), -EINVAL);
    assert_int_equal(pci_msix_init(f, 4, 2, 0, 0, 0x800), -EINVAL);  /* undeclared */
    assert_int_equal(pci_msix_init(f, 4, 1, 0, 1, 0x80), -EINVAL);   /* I/O BAR */
    assert_int_equal(pci_msix_init(f, 4, 0, 0xfc8, 0, 0x800), -EINVAL); /* past the end */
    assert_int_equal(pci_msix_init(f, 4, 0, 0x4, 0, 0x800), -EINVAL);   /* not qword aligned */
    assert_int_equal(pci_msix_init(f, 4, 0, 0, 0, 0x38), -EINVAL);      /* PBA in the table */
    assert_int_equal(pci_msix_init(f, 4, 0, 0, 0, 0x1000), -EINVAL);    /* PBA past the end */
    assert_int_equal(pci_cfg_read_val(f, PCI_CAPABILITY_LIST, 1), 0);   /* nothing added */
    assert_true(pci_msix_init(f, 4, 0, 0, 0, 0x40) > 0);
    assert_int_equal(pci_msix_init(f, 4, 0, 0x100, 0, 0x800), -EBUSY);
}

static void test_msix_vectors_start_masked(void **state)
{
    FX;
    int cap = msix_setup(f, 8);
    for (unsigned v = 0; v < 8; v++)
        assert_int_equal(tbl_read(f, v, PCI_MSIX_ENTRY_VECTOR_CTRL, 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    assert_true(pci_msix_notify(f, 3));
    assert_int_equal(r->nmsi, 0);
    assert_int_equal(pba_word(f, 0), 1u << 3);
}

static void test_msix_deliver(void **state)
{
    FX;
    int cap = msix_setup(f, 8);
    program(f, 2);
    program(f, 5);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    assert_true(pci_msix_notify(f, 5));
    assert_true(pci_msix_notify(f, 2));
    assert_true(pci_msix_notify(f, 2));
    assert_int_equal(r->nmsi, 3);
    assert_int_equal(r->msi[0].addr, 0xfee05000);
    assert_int_equal(r->msi[0].data, 0x4005);
    assert_int_equal(r->msi[1].addr, 0xfee02000);
    assert_int_equal(r->msi[2].data, 0x4002);
    assert_int_equal(pba_word(f, 0), 0);
}

static void test_msix_notify_refused(void **state)
{
    FX;
    int cap = msix_setup(f, 8);
    program(f, 0);
    assert_false(pci_msix_notify(f, 0)); /* MSI-X not enabled */
    assert_int_equal(pba_word(f, 0), 0);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    assert_false(pci_msix_notify(f, 8));
    assert_false(pci_msix_notify(f, UINT32_MAX));
    assert_int_equal(r->nmsi, 0);
    assert_int_equal(pba_word(f, 0), 0);
}

static void test_msix_vector_unmask_delivers_pending(void **state)
{
    FX;
    int cap = msix_setup(f, 8);
    tbl_write(f, 6, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee01000, 4);
    tbl_write(f, 6, PCI_MSIX_ENTRY_DATA, 0x41, 4);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    assert_true(pci_msix_notify(f, 6));
    assert_true(pci_msix_notify(f, 6)); /* still one pending bit */
    assert_int_equal(pba_word(f, 0), 1u << 6);
    assert_int_equal(r->nmsi, 0);
    r->nchanged = 0;
    tbl_write(f, 6, PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
    assert_int_equal(r->nmsi, 1);
    assert_int_equal(r->msi[0].addr, 0xfee01000);
    assert_int_equal(r->msi[0].data, 0x41);
    assert_int_equal(pba_word(f, 0), 0);
    assert_int_equal(r->nchanged, 1);
    assert_int_equal(r->changed[0], 6);
    tbl_write(f, 6, PCI_MSIX_ENTRY_VECTOR_CTRL, 1, 4); /* re-mask: nothing pending */
    tbl_write(f, 6, PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
    assert_int_equal(r->nmsi, 1);
}

static void test_msix_function_mask(void **state)
{
    FX;
    int cap = msix_setup(f, 70);
    program(f, 1);
    program(f, 65);
    r->nchanged = 0;
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    assert_int_equal(r->nchanged, 1);
    assert_int_equal(r->changed[0], -1);
    bool masked = false;
    assert_int_equal(pci_msix_message(f, 1, NULL, NULL, &masked), 0);
    assert_true(masked);
    assert_true(pci_msix_notify(f, 1));
    assert_true(pci_msix_notify(f, 65));
    assert_int_equal(r->nmsi, 0);
    assert_int_equal(pba_word(f, 0), 1u << 1);
    assert_int_equal(pba_word(f, 1), 1u << 1);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(r->nchanged, 2);
    assert_int_equal(r->nmsi, 2);
    assert_int_equal(r->msi[0].data, 0x4001);
    assert_int_equal(r->msi[1].data, 0x4000 + 65);
    assert_int_equal(pba_word(f, 0), 0);
    assert_int_equal(pba_word(f, 1), 0);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE); /* no change, no callback */
    assert_int_equal(r->nchanged, 2);
}

static void test_msix_table_access_widths(void **state)
{
    FX;
    msix_setup(f, 4);
    tbl_write(f, 1, PCI_MSIX_ENTRY_LOWER_ADDR, 0x00000001fee0300cull, 8);
    assert_int_equal(tbl_read(f, 1, PCI_MSIX_ENTRY_LOWER_ADDR, 4), 0xfee0300c);
    assert_int_equal(tbl_read(f, 1, PCI_MSIX_ENTRY_UPPER_ADDR, 4), 1);
    assert_int_equal(tbl_read(f, 1, PCI_MSIX_ENTRY_LOWER_ADDR + 2, 2), 0xfee0);
    assert_int_equal(tbl_read(f, 1, PCI_MSIX_ENTRY_LOWER_ADDR + 1, 1), 0x30);
    tbl_write(f, 1, PCI_MSIX_ENTRY_DATA, 0xbeef, 2);
    tbl_write(f, 1, PCI_MSIX_ENTRY_DATA + 2, 0x12, 1);
    assert_int_equal(tbl_read(f, 1, PCI_MSIX_ENTRY_DATA, 8), 0x000000010012beefull);
    uint64_t addr = 0;
    uint32_t data = 0;
    bool masked = false;
    assert_int_equal(pci_msix_message(f, 1, &addr, &data, &masked), 0);
    assert_int_equal(addr, 0x1fee0300cull);
    assert_int_equal(data, 0x12beef);
    assert_true(masked);
    assert_int_equal(r->nbar_read + r->nbar_write, 0); /* never reached the owner */
}

static void test_msix_vector_ctrl_only_mask_writable(void **state)
{
    FX;
    msix_setup(f, 4);
    tbl_write(f, 0, PCI_MSIX_ENTRY_VECTOR_CTRL, 0xfffffffe, 4);
    assert_int_equal(tbl_read(f, 0, PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 0);
    tbl_write(f, 0, PCI_MSIX_ENTRY_DATA, UINT64_MAX, 8);
    assert_int_equal(tbl_read(f, 0, PCI_MSIX_ENTRY_DATA, 8), 0x00000001ffffffffull);
    tbl_write(f, 0, PCI_MSIX_ENTRY_VECTOR_CTRL + 1, 0xff, 1);
    assert_int_equal(tbl_read(f, 0, PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
}

static void test_msix_pba_read_only(void **state)
{
    FX;
    int cap = msix_setup(f, 70);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    assert_true(pci_msix_notify(f, 69));
    uint64_t ones = UINT64_MAX, zero = 0;
    pci_bar_write(f, MSIX_BAR, PBA_OFF, &ones, 8);
    pci_bar_write(f, MSIX_BAR, PBA_OFF + 8, &zero, 8);
    assert_int_equal(pba_word(f, 0), 0);
    assert_int_equal(pba_word(f, 1), 1u << 5);
    uint64_t b = 0;
    pci_bar_read(f, MSIX_BAR, PBA_OFF + 8, &b, 1);
    assert_int_equal(b, 1u << 5);
    pci_bar_read(f, MSIX_BAR, PBA_OFF + 8, &b, 4);
    assert_int_equal(b, 1u << 5);
    assert_int_equal(r->nbar_read + r->nbar_write, 0);
}

static void test_msix_other_offsets_go_to_owner(void **state)
{
    FX;
    msix_setup(f, 4); /* table 0x2000..0x203f, PBA 0x3000..0x3007 */
    uint64_t v = 0;
    pci_bar_read(f, MSIX_BAR, 0x40, &v, 4);
    assert_int_equal(r->nbar_read, 1);
    assert_int_equal(r->last_off, 0x40);
    pci_bar_read(f, MSIX_BAR, TABLE_OFF + 4 * PCI_MSIX_ENTRY_SIZE, &v, 8);
    assert_int_equal(r->nbar_read, 2);
    pci_bar_write(f, MSIX_BAR, PBA_OFF + 8, &v, 4);
    assert_int_equal(r->nbar_write, 1);
    assert_int_equal(r->last_off, PBA_OFF + 8);
    /* Straddling the table's edge is neither the table's nor the owner's. */
    v = 0;
    pci_bar_read(f, MSIX_BAR, TABLE_OFF - 4, &v, 8);
    assert_int_equal(v, UINT64_MAX);
    v = 0;
    pci_bar_read(f, MSIX_BAR, TABLE_OFF + 4 * PCI_MSIX_ENTRY_SIZE - 4, &v, 8);
    assert_int_equal(v, UINT64_MAX);
    v = 0;
    pci_bar_write(f, MSIX_BAR, TABLE_OFF + 4 * PCI_MSIX_ENTRY_SIZE - 4, &v, 8);
    assert_int_equal(r->nbar_read, 2);
    assert_int_equal(r->nbar_write, 1);
    assert_int_equal(tbl_read(f, 3, PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
}

static void test_msix_separate_bars(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, 0, 0x1000, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_bar_set(f, 2, 0x1000, PCI_BAR_MEM32), 0);
    int cap = pci_msix_init(f, 2, 0, 0, 2, 0);
    assert_true(cap > 0);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    assert_true(pci_msix_notify(f, 1));
    uint64_t v = 0;
    pci_bar_read(f, 2, 0, &v, 8);
    assert_int_equal(v, 2);
    pci_bar_read(f, 0, 1 * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, &v, 4);
    assert_int_equal(v, 1);
    pci_bar_read(f, 2, 0x20, &v, 4); /* beyond the PBA: the owner's */
    assert_int_equal(r->nbar_read, 1);
}

static void test_msix_message_query(void **state)
{
    FX;
    int cap = msix_setup(f, 4);
    program(f, 3);
    uint64_t addr = 0;
    uint32_t data = 0;
    bool masked = true;
    assert_int_equal(pci_msix_message(f, 3, &addr, &data, &masked), 0);
    assert_int_equal(addr, 0xfee03000);
    assert_int_equal(data, 0x4003);
    assert_false(masked);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_MASKALL);
    assert_int_equal(pci_msix_message(f, 3, NULL, NULL, &masked), 0);
    assert_true(masked);
    assert_int_equal(pci_msix_message(f, 4, &addr, &data, &masked), -EINVAL);
}

static void test_msix_suppresses_intx(void **state)
{
    FX;
    int cap = msix_setup(f, 4);
    pci_intx_set(f, true);
    assert_int_equal(r->nintx, 1);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(r->nintx, 2);
    assert_false(r->intx[1]);
    pci_intx_set(f, false);
    pci_intx_set(f, true);
    assert_int_equal(r->nintx, 2);
    assert_true(pci_cfg_read_val(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    ctrl_write(f, cap, 0);
    assert_int_equal(r->nintx, 3);
    assert_true(r->intx[2]);
}

static void test_msix_changed_only_on_change(void **state)
{
    FX;
    msix_setup(f, 4);
    r->nchanged = 0;
    tbl_write(f, 2, PCI_MSIX_ENTRY_DATA, 0x55, 4);
    assert_int_equal(r->nchanged, 1);
    assert_int_equal(r->changed[0], 2);
    tbl_write(f, 2, PCI_MSIX_ENTRY_DATA, 0x55, 4);
    tbl_write(f, 2, PCI_MSIX_ENTRY_VECTOR_CTRL, 0xfffffff1, 4); /* mask already set */
    assert_int_equal(r->nchanged, 1);
}

static void test_msix_destroy(void **state)
{
    FX;
    int cap = msix_setup(f, 4);
    ctrl_write(f, cap, PCI_MSIX_FLAGS_ENABLE);
    pci_func_destroy(f);
    assert_null(f->msix.table);
    assert_false(pci_msix_notify(f, 0));
    assert_int_equal(pci_msix_message(f, 0, NULL, NULL, NULL), -EINVAL);
    uint64_t v = 0;
    pci_bar_read(f, MSIX_BAR, TABLE_OFF, &v, 8); /* falls to the owner now */
    assert_int_equal(r->nbar_read, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_msix_cap_layout),
        T(test_msix_init_invalid),
        T(test_msix_vectors_start_masked),
        T(test_msix_deliver),
        T(test_msix_notify_refused),
        T(test_msix_vector_unmask_delivers_pending),
        T(test_msix_function_mask),
        T(test_msix_table_access_widths),
        T(test_msix_vector_ctrl_only_mask_writable),
        T(test_msix_pba_read_only),
        T(test_msix_other_offsets_go_to_owner),
        T(test_msix_separate_bars),
        T(test_msix_message_query),
        T(test_msix_suppresses_intx),
        T(test_msix_changed_only_on_change),
        T(test_msix_destroy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
