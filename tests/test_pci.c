/* PCI function model: config header, BARs, capabilities, hooks, INTx. */
#include "pci_fixture.h"

/* ---- header ---- */

static void test_ids_read_only(void **state)
{
    FX;
    assert_int_equal(rd(f, PCI_VENDOR_ID, 2), 0x1af4);
    assert_int_equal(rd(f, PCI_DEVICE_ID, 2), 0x1041);
    assert_int_equal(rd(f, PCI_REVISION_ID, 1), 0x01);
    assert_int_equal(rd(f, PCI_CLASS_REVISION, 4), 0x02000001);
    assert_int_equal(rd(f, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
    assert_int_equal(rd(f, PCI_SUBSYSTEM_ID, 2), 0x0001);
    wr(f, PCI_VENDOR_ID, 0xffffffff, 4);
    wr(f, PCI_CLASS_REVISION, 0xffffffff, 4);
    wr(f, PCI_SUBSYSTEM_VENDOR_ID, 0xffffffff, 4);
    wr(f, PCI_CACHE_LINE_SIZE + 2, 0xffff, 2); /* header type and BIST */
    assert_int_equal(rd(f, PCI_VENDOR_ID, 4), 0x10411af4);
    assert_int_equal(rd(f, PCI_CLASS_REVISION, 4), 0x02000001);
    assert_int_equal(rd(f, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00011af4);
    assert_int_equal(rd(f, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
    assert_int_equal(rd(f, PCI_BIST, 1), 0);
}

static void test_defaults_and_unimplemented(void **state)
{
    FX;
    assert_int_equal(rd(f, PCI_CAPABILITY_LIST, 1), 0);
    assert_int_equal(rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
    wr(f, PCI_ROM_ADDRESS, 0xfffff800, 4);
    assert_int_equal(rd(f, PCI_ROM_ADDRESS, 4), 0);
    wr(f, PCI_BASE_ADDRESS_2, 0xffffffff, 4); /* undeclared BAR */
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_2, 4), 0);
    wr(f, 0x100, 0xffffffff, 4);
    assert_int_equal(rd(f, 0x100, 4), 0);
    assert_int_equal(rd(f, PCI_CFG_SIZE - 4, 4), 0);
}

static void test_command_wmask(void **state)
{
    FX;
    wr(f, PCI_COMMAND, 0xffff, 2);
    assert_int_equal(rd(f, PCI_COMMAND, 2),
                     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                         PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    wr(f, PCI_COMMAND, 0, 2);
    assert_int_equal(rd(f, PCI_COMMAND, 2), 0);
}

static void test_status_rw1c(void **state)
{
    FX;
    uint16_t errs = PCI_STATUS_DETECTED_PARITY | PCI_STATUS_SIG_SYSTEM_ERROR |
                    PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_PARITY;
    f->cfg[PCI_STATUS] |= (uint8_t)errs;
    f->cfg[PCI_STATUS + 1] |= (uint8_t)(errs >> 8);
    pci_intx_set(f, true);
    wr(f, PCI_STATUS, 0, 2); /* writing 0 clears nothing */
    assert_int_equal(rd(f, PCI_STATUS, 2), errs | PCI_STATUS_INTERRUPT);
    wr(f, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT, 2);
    assert_int_equal(rd(f, PCI_STATUS, 2), (errs & ~PCI_STATUS_REC_MASTER_ABORT) | PCI_STATUS_INTERRUPT);
    wr(f, PCI_STATUS, 0xffff, 2); /* read-only bits survive a write of ones */
    assert_int_equal(rd(f, PCI_STATUS, 2), PCI_STATUS_INTERRUPT);
}

static void test_interrupt_line_and_pin(void **state)
{
    FX;
    wr(f, PCI_INTERRUPT_LINE, 0xffff, 2);
    assert_int_equal(rd(f, PCI_INTERRUPT_LINE, 1), 0xff);
    assert_int_equal(rd(f, PCI_INTERRUPT_PIN, 1), 1);
    wr(f, PCI_INTERRUPT_LINE, 11, 1);
    assert_int_equal(rd(f, PCI_INTERRUPT_LINE, 2), 0x010b);
}

static void test_cfg_misaligned_and_out_of_range(void **state)
{
    FX;
    uint8_t buf[8];
    assert_int_equal(rd(f, PCI_VENDOR_ID + 2, 4), 0xffffffff);
    assert_int_equal(rd(f, PCI_VENDOR_ID + 1, 2), 0xffff);
    assert_int_equal(rd(f, PCI_VENDOR_ID, 3), 0xffffff);
    assert_int_equal(rd(f, PCI_CFG_SIZE, 4), 0xffffffff);
    assert_int_equal(rd(f, 0xffffffff, 1), 0xff);
    memset(buf, 0, sizeof buf);
    pci_cfg_read(f, 0, buf, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf[i], 0xff);
    wr(f, PCI_INTERRUPT_LINE + 2, 0xffffffff, 4); /* misaligned: dropped */
    wr(f, PCI_COMMAND + 1, 0xffff, 2);
    wr(f, PCI_CFG_SIZE, 0xffffffff, 4);
    assert_int_equal(rd(f, PCI_INTERRUPT_LINE, 1), 0);
    assert_int_equal(rd(f, PCI_COMMAND, 2), 0);
}

/* ---- BARs ---- */

static void test_bar_sizing_io(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, 0, 32, PCI_BAR_IO), 0);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_0, 4), PCI_BASE_ADDRESS_SPACE_IO);
    wr(f, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_0, 4), 0xffffffe1);
    wr(f, PCI_BASE_ADDRESS_0, 0xc042, 4); /* low two bits are not the guest's */
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_0, 4), 0xc041);
    assert_int_equal(pci_bar_addr(f, 0), 0xc040);
}

static void test_bar_sizing_mem32_prefetch(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, 1, 4096, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_bar_set(f, 2, 1 << 20, PCI_BAR_MEM32 | PCI_BAR_PREFETCH), 0);
    wr(f, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
    wr(f, PCI_BASE_ADDRESS_2, 0xffffffff, 4);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_1, 4), 0xfffff000);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_2, 4), 0xfff00000 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    wr(f, PCI_BASE_ADDRESS_1, 0xfebf1234, 4);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_1, 4), 0xfebf1000);
}

static void test_bar_sizing_mem64(void **state)
{
    FX;
    uint32_t lo_flags = PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH;
    assert_int_equal(pci_bar_set(f, 2, 16384, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
    assert_int_equal(pci_bar_set(f, 4, 8ull << 30, PCI_BAR_MEM64), 0);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_2, 4), lo_flags);
    wr(f, PCI_BASE_ADDRESS_2, 0xffffffff, 4);
    wr(f, PCI_BASE_ADDRESS_3, 0xffffffff, 4);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_2, 4), 0xffffc000 | lo_flags);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
    /* 8 GiB: every low address bit is a size bit, the upper dword sizes too. */
    wr(f, PCI_BASE_ADDRESS_4, 0xffffffff, 4);
    wr(f, PCI_BASE_ADDRESS_5, 0xffffffff, 4);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_4, 4), PCI_BASE_ADDRESS_MEM_TYPE_64);
    assert_int_equal(rd(f, PCI_BASE_ADDRESS_5, 4), 0xfffffffe);
    wr(f, PCI_BASE_ADDRESS_2, 0x00004000, 4);
    wr(f, PCI_BASE_ADDRESS_3, 0x00000080, 4);
    assert_int_equal(pci_bar_addr(f, 2), 0x8000004000ull);
}

static void test_bar_set_invalid(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, -1, 4096, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_bar_set(f, PCI_NUM_BARS, 4096, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_bar_set(f, 0, 3000, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_bar_set(f, 0, 0, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_bar_set(f, 0, 8, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_bar_set(f, 0, 2, PCI_BAR_IO), -EINVAL);
    assert_int_equal(pci_bar_set(f, 0, 32, PCI_BAR_IO | PCI_BAR_PREFETCH), -EINVAL);
    assert_int_equal(pci_bar_set(f, 0, 1ull << 32, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_bar_set(f, 5, 4096, PCI_BAR_MEM64), -EINVAL);
    assert_int_equal(pci_bar_set(f, 0, 4096, 0x40), -EINVAL);
    assert_int_equal(pci_bar_set(f, 0, 4096, PCI_BAR_MEM64), 0);
    assert_int_equal(pci_bar_set(f, 0, 4096, PCI_BAR_MEM32), -EINVAL); /* taken */
    assert_int_equal(pci_bar_set(f, 1, 4096, PCI_BAR_MEM32), -EINVAL); /* upper half */
    assert_int_equal(pci_bar_set(f, 2, 4096, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_bar_set(f, 1, 4096, PCI_BAR_MEM64), -EINVAL);
    assert_int_equal(pci_bar_set(f, 4, 4096, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_bar_set(f, 3, 4096, PCI_BAR_MEM64), -EINVAL); /* would take 4 */
    assert_int_equal(pci_cfg_read_val(f, PCI_BASE_ADDRESS_3, 4), 0);
}

static void test_bar_map_follows_decode(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, 1, 4096, PCI_BAR_MEM32), 0);
    wr(f, PCI_BASE_ADDRESS_1, 0xfebf0000, 4);
    assert_int_equal(r->nmap, 0); /* decode off: nothing routed */
    assert_false(pci_bar_enabled(f, 1));
    wr(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    assert_int_equal(r->nmap, 1);
    assert_int_equal(r->map[0].bar, 1);
    assert_int_equal(r->map[0].addr, 0xfebf0000);
    assert_true(r->map[0].en);
    wr(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    assert_int_equal(r->nmap, 1); /* no change, no callback */
    wr(f, PCI_COMMAND, 0, 2);
    assert_int_equal(r->nmap, 2);
    assert_false(r->map[1].en);
    assert_int_equal(r->map[1].addr, 0xfebf0000);
    assert_false(pci_bar_enabled(f, 1));
}

static void test_bar_map_move_and_size_while_enabled(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, 0, 4096, PCI_BAR_MEM32), 0);
    wr(f, PCI_BASE_ADDRESS_0, 0xfe000000, 4);
    wr(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    assert_int_equal(r->nmap, 1);
    wr(f, PCI_BASE_ADDRESS_0, 0xfe000000, 4);
    assert_int_equal(r->nmap, 1); /* same placement */
    wr(f, PCI_BASE_ADDRESS_0, 0xfd000000, 4);
    assert_int_equal(r->nmap, 2);
    assert_int_equal(r->map[1].addr, 0xfd000000);
    assert_true(r->map[1].en);
    wr(f, PCI_BASE_ADDRESS_0, 0xffffffff, 4); /* sizing with decode on */
    assert_int_equal(r->nmap, 3);
    assert_false(r->map[2].en);
    assert_false(pci_bar_enabled(f, 0));
    wr(f, PCI_BASE_ADDRESS_0, 0xfd000000, 4);
    assert_int_equal(r->nmap, 4);
    assert_true(r->map[3].en);
    assert_int_equal(r->map[3].addr, 0xfd000000);
}

static void test_bar_map_mem64(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, 2, 1 << 20, PCI_BAR_MEM64), 0);
    wr(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    assert_int_equal(r->nmap, 0); /* address 0 is not a placement */
    wr(f, PCI_BASE_ADDRESS_2, 0x00100000, 4);
    wr(f, PCI_BASE_ADDRESS_3, 0x00000010, 4);
    assert_true(pci_bar_enabled(f, 2));
    assert_int_equal(r->map[r->nmap - 1].addr, 0x1000100000ull);
    assert_true(r->map[r->nmap - 1].en);
    int before = r->nmap;
    wr(f, PCI_BASE_ADDRESS_3, 0xffffffff, 4); /* upper dword sizing */
    assert_int_equal(r->nmap, before + 1);
    assert_false(r->map[before].en);
    assert_false(pci_bar_enabled(f, 2));
    assert_false(pci_bar_enabled(f, 3));
}

static void test_io_bar_decode(void **state)
{
    FX;
    assert_int_equal(pci_bar_set(f, 0, 64, PCI_BAR_IO), 0);
    wr(f, PCI_BASE_ADDRESS_0, 0xc000, 4);
    wr(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    assert_int_equal(r->nmap, 0); /* memory decode does not route I/O */
    wr(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
    assert_int_equal(r->nmap, 1);
    assert_true(r->map[0].en);
    assert_int_equal(r->map[0].addr, 0xc000);
    wr(f, PCI_BASE_ADDRESS_0, 0x10000, 4); /* beyond the 64 KiB port space */
    assert_int_equal(r->nmap, 2);
    assert_false(r->map[1].en);
}

static void test_bar_access_bounds(void **state)
{
    FX;
    uint64_t v = 0;
    assert_int_equal(pci_bar_set(f, 0, 64, PCI_BAR_MEM64), 0);
    pci_bar_read(f, 0, 60, &v, 4);
    assert_int_equal(r->nbar_read, 1);
    assert_int_equal(r->last_off, 60);
    assert_int_equal(r->last_len, 4);
    assert_int_equal(v, 0xa5a5a5a5);
    pci_bar_read(f, 0, 60, &v, 8);         /* crosses the end */
    assert_int_equal(v, UINT64_MAX);
    v = 0;
    pci_bar_read(f, 0, UINT64_MAX - 3, &v, 8); /* wraps */
    assert_int_equal(v, UINT64_MAX);
    v = 0;
    pci_bar_read(f, 1, 0, &v, 4);          /* upper half of the 64-bit BAR */
    assert_int_equal(v, 0xffffffff);
    v = 0;
    pci_bar_read(f, 3, 0, &v, 4);          /* undeclared */
    assert_int_equal(v, 0xffffffff);
    v = 0;
    pci_bar_read(f, 0, 0, &v, 3);          /* bad width */
    assert_int_equal(v, 0xffffff);
    assert_int_equal(r->nbar_read, 1);
    pci_bar_write(f, 0, 64, &v, 1);
    pci_bar_write(f, 7, 0, &v, 1);
    pci_bar_write(f, 0, 0, &v, 16);
    assert_int_equal(r->nbar_write, 0);
    v = 0x1122334455667788ull;
    pci_bar_write(f, 0, 56, &v, 8);
    assert_int_equal(r->nbar_write, 1);
    assert_int_equal(r->last_val, 0x1122334455667788ull);
}

static void test_bar_read_without_owner_reads_zero(void **state)
{
    (void)state;
    struct pci_func g;
    uint32_t v = 0x12345678;
    pci_func_init(&g, &test_id, NULL, NULL);
    assert_int_equal(pci_bar_set(&g, 0, 4096, PCI_BAR_MEM32), 0);
    pci_bar_read(&g, 0, 0, &v, 4);
    assert_int_equal(v, 0);
    pci_bar_write(&g, 0, 0, &v, 4);
    pci_cfg_write_val(&g, PCI_BASE_ADDRESS_0, 0xfe000000, 4);
    pci_cfg_write_val(&g, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    assert_true(pci_bar_enabled(&g, 0));
    pci_intx_set(&g, true);
    assert_true(pci_cfg_read_val(&g, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    pci_func_destroy(&g);
}


/* ---- capabilities ---- */

static void test_cap_list_walk(void **state)
{
    FX;
    const uint8_t a[3] = { 0x09, 0xee, 0x33 };
    const uint8_t b[14] = { 0x09, 0, 14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    const uint8_t c[5] = { 0x01, 0, 0xaa, 0xbb, 0xcc };
    const uint8_t *bodies[3] = { a, b, c };
    const unsigned lens[3] = { sizeof a, sizeof b, sizeof c };
    int offs[3];
    for (int i = 0; i < 3; i++) {
        offs[i] = pci_cap_add(f, bodies[i], lens[i]);
        assert_true(offs[i] >= PCI_STD_HEADER_SIZEOF);
        assert_int_equal(offs[i] % 4, 0);
        if (i)
            assert_true(offs[i] >= offs[i - 1] + (int)lens[i - 1]);
    }
    assert_true(rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    uint32_t at = rd(f, PCI_CAPABILITY_LIST, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(at, offs[i]);
        assert_int_equal(rd(f, at + PCI_CAP_LIST_ID, 1), bodies[i][0]);
        for (unsigned k = 2; k < lens[i]; k++)
            assert_int_equal(rd(f, at + k, 1), bodies[i][k]);
        at = rd(f, at + PCI_CAP_LIST_NEXT, 1);
    }
    assert_int_equal(at, 0);
    wr(f, offs[1], 0xffffffff, 4); /* read-only unless the owner says */
    assert_int_equal(rd(f, offs[1], 4), 0x010e0009u | ((uint32_t)offs[2] << 8));
}

static void test_cap_overflow(void **state)
{
    FX;
    uint8_t body[16] = { 0x09 };
    int off, last = 0, n = 0;
    assert_int_equal(pci_cap_add(f, body, 1), -EINVAL);
    assert_int_equal(pci_cap_add(f, NULL, 4), -EINVAL);
    assert_int_equal(pci_cap_add(f, body, PCI_CFG_STD_SIZE), -ENOSPC);
    while ((off = pci_cap_add(f, body, sizeof body)) >= 0) {
        assert_true(off + (int)sizeof body <= PCI_CFG_STD_SIZE);
        last = off;
        n++;
    }
    assert_int_equal(off, -ENOSPC);
    assert_int_equal(n, (PCI_CFG_STD_SIZE - PCI_STD_HEADER_SIZEOF) / 16);
    assert_int_equal(last, PCI_CFG_STD_SIZE - 16);
    assert_int_equal(pci_cap_add(f, body, 2), -ENOSPC);
    assert_int_equal(rd(f, last + PCI_CAP_LIST_NEXT, 1), 0);
}

static void test_cap_fills_to_the_end(void **state)
{
    FX;
    uint8_t body[PCI_CFG_STD_SIZE - PCI_STD_HEADER_SIZEOF] = { 0x09 };
    assert_int_equal(pci_cap_add(f, body, sizeof body - 3), PCI_STD_HEADER_SIZEOF);
    /* 3 bytes left, rounded up to a dword: nothing fits. */
    assert_int_equal(pci_cap_add(f, body, 2), -ENOSPC);
}

static void test_cfg_set_wmask(void **state)
{
    FX;
    uint8_t body[8] = { 0x09, 0, 8 };
    int off = pci_cap_add(f, body, sizeof body);
    assert_true(off > 0);
    pci_cfg_set_wmask(f, off + 4, 2, 0x0f);
    wr(f, off + 4, 0xffffffff, 4);
    assert_int_equal(rd(f, off + 4, 4), 0x00000f0f);
    pci_cfg_set_wmask(f, PCI_CFG_SIZE - 1, 2, 0xff); /* past the end: ignored */
    wr(f, PCI_CFG_SIZE - 1, 0xff, 1);
    assert_int_equal(rd(f, PCI_CFG_SIZE - 1, 1), 0);
}

/* ---- hook ---- */

static void hook_fn(struct pci_func *f, uint32_t off, void *data, unsigned len, bool is_write)
{
    struct rec *r = f->owner;
    r->nhook++;
    r->hook_off = off;
    r->hook_len = len;
    r->hook_write = is_write;
    memcpy(r->hook_seen, data, len);
    if (!is_write)
        memset(data, 0x5a, len);
}

static void test_hook_read_write(void **state)
{
    FX;
    uint8_t body[24] = { 0x09, 0, 24 };
    int off = pci_cap_add(f, body, sizeof body);
    assert_true(off > 0);
    pci_cfg_set_wmask(f, off + 16, 4, 0x0f);
    pci_cfg_hook(f, off + 16, 4, hook_fn);

    assert_int_equal(rd(f, off + 12, 4), 0);
    assert_int_equal(r->nhook, 0); /* outside the range */
    wr(f, off + 16, 0xabcdef12, 4);
    assert_int_equal(r->nhook, 1);
    assert_true(r->hook_write);
    assert_int_equal(r->hook_off, off + 16);
    assert_int_equal(r->hook_len, 4);
    uint8_t raw[4] = { 0x12, 0xef, 0xcd, 0xab };
    assert_memory_equal(r->hook_seen, raw, 4); /* the guest's value... */
    assert_int_equal(f->cfg[off + 16], 0x02);  /* ...stored through the mask */
    assert_int_equal(f->cfg[off + 19], 0x0b);

    assert_int_equal(rd(f, off + 18, 2), 0x5a5a); /* hook overwrites the read */
    assert_int_equal(r->nhook, 2);
    assert_false(r->hook_write);
    assert_int_equal(r->hook_off, off + 18);
    const uint8_t stored[2] = { 0x0d, 0x0b };
    assert_memory_equal(r->hook_seen, stored, 2); /* it saw the stored bytes first */
}

static void test_hook_clipped_to_range(void **state)
{
    FX;
    uint8_t body[16] = { 0x09, 0, 16, 0x77 };
    int off = pci_cap_add(f, body, sizeof body);
    pci_cfg_hook(f, off + 2, 1, hook_fn);
    uint32_t v = rd(f, off, 4);
    assert_int_equal(r->nhook, 1);
    assert_int_equal(r->hook_off, off + 2);
    assert_int_equal(r->hook_len, 1);
    assert_int_equal(v, 0x775a0009u);
}

/* ---- INTx ---- */

static void test_intx_disable_gating(void **state)
{
    FX;
    pci_intx_set(f, true);
    assert_int_equal(r->nintx, 1);
    assert_true(r->intx[0]);
    assert_true(rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    pci_intx_set(f, true);
    assert_int_equal(r->nintx, 1); /* level unchanged */
    wr(f, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
    assert_int_equal(r->nintx, 2);
    assert_false(r->intx[1]);
    assert_true(rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT); /* request still seen */
    pci_intx_set(f, false);
    pci_intx_set(f, true);
    assert_int_equal(r->nintx, 2); /* gated: the line never moved */
    wr(f, PCI_COMMAND, 0, 2);
    assert_int_equal(r->nintx, 3);
    assert_true(r->intx[2]); /* still requested: re-asserted */
    pci_intx_set(f, false);
    assert_int_equal(r->nintx, 4);
    assert_false(r->intx[3]);
    assert_false(rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
}

static void test_intx_without_pin(void **state)
{
    FX;
    struct pci_id id = test_id;
    id.intx_pin = 0;
    pci_func_init(f, &id, &ops, r);
    pci_intx_set(f, true);
    assert_int_equal(r->nintx, 0);
    assert_int_equal(rd(f, PCI_INTERRUPT_PIN, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_unimplemented, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_wmask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_rw1c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_line_and_pin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_misaligned_and_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing_mem32_prefetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing_mem64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_set_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_map_follows_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_map_move_and_size_while_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_map_mem64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_bar_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_access_bounds, setup, teardown),
        cmocka_unit_test(test_bar_read_without_owner_reads_zero),
        cmocka_unit_test_setup_teardown(test_cap_list_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_fills_to_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_set_wmask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_read_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_clipped_to_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intx_disable_gating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intx_without_pin, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
