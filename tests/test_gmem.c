/* Guest memory map: regions, ordering, overlap and wrap refusal, and range
 * lookups at every boundary. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "virtio/gmem.h"

static uint8_t low[0x1000], high[0x2000], extra[0x100];

static void test_empty_map_refuses_everything(void **state)
{
    (void)state;
    struct gmem m;
    gmem_init(&m);
    assert_int_equal(m.nr, 0);
    assert_null(gmem_ptr(&m, 0, 0));
    assert_null(gmem_ptr(&m, 0, 1));
    assert_null(gmem_ptr(&m, UINT64_MAX, 1));
    assert_null(gmem_ptr_slow(&m, 0x1000, 16));
}

static void test_add_refuses_bad_regions(void **state)
{
    (void)state;
    struct gmem m;
    gmem_init(&m);
    assert_int_equal(gmem_add(&m, 0x1000, 0, low), -EINVAL);
    assert_int_equal(gmem_add(&m, 0x1000, 0x1000, NULL), -EINVAL);
    /* [2^64 - 0x800, +0x1000) wraps past the top of the address space. */
    assert_int_equal(gmem_add(&m, UINT64_MAX - 0x7ff, 0x1000, low), -EINVAL);
    assert_int_equal(m.nr, 0);
    /* Ending exactly at 2^64 does not wrap. */
    assert_int_equal(gmem_add(&m, UINT64_MAX - 0xfff, 0x1000, low), 0);
    assert_ptr_equal(gmem_ptr(&m, UINT64_MAX, 1), low + 0xfff);
    assert_null(gmem_ptr(&m, UINT64_MAX, 2));
}

static void test_add_refuses_overlap(void **state)
{
    (void)state;
    struct gmem m;
    gmem_init(&m);
    assert_int_equal(gmem_add(&m, 0x10000, 0x1000, low), 0);
    assert_int_equal(gmem_add(&m, 0x10000, 0x1000, high), -EINVAL);  /* same */
    assert_int_equal(gmem_add(&m, 0x10fff, 0x10, high), -EINVAL);    /* tail */
    assert_int_equal(gmem_add(&m, 0xfff1, 0x10, high), -EINVAL);     /* head */
    assert_int_equal(gmem_add(&m, 0x8000, 0x10000, high), -EINVAL);  /* covers */
    assert_int_equal(gmem_add(&m, 0x10800, 0x10, high), -EINVAL);    /* inside */
    assert_int_equal(m.nr, 1);
    /* Touching on either side is fine. */
    assert_int_equal(gmem_add(&m, 0x11000, 0x100, extra), 0);
    assert_int_equal(gmem_add(&m, 0xf000, 0x1000, high), 0);
    assert_int_equal(m.nr, 3);
}

static void test_regions_kept_sorted(void **state)
{
    (void)state;
    struct gmem m;
    gmem_init(&m);
    assert_int_equal(gmem_add(&m, 0x100000, sizeof(high), high), 0);
    assert_int_equal(gmem_add(&m, 0x200000, sizeof(extra), extra), 0);
    assert_int_equal(gmem_add(&m, 0, sizeof(low), low), 0);
    assert_int_equal(m.nr, 3);
    assert_int_equal(m.r[0].gpa, 0);
    assert_ptr_equal(m.r[0].hva, low);
    assert_int_equal(m.r[1].gpa, 0x100000);
    assert_int_equal(m.r[2].gpa, 0x200000);
    /* The fast path serves region 0, the slow path the others. */
    assert_ptr_equal(gmem_ptr(&m, 0x10, 4), low + 0x10);
    assert_ptr_equal(gmem_ptr(&m, 0x100010, 4), high + 0x10);
    assert_ptr_equal(gmem_ptr(&m, 0x2000ff, 1), extra + 0xff);
}

static void test_map_full(void **state)
{
    (void)state;
    static uint8_t pages[GMEM_MAX_REGIONS + 1][16];
    struct gmem m;
    gmem_init(&m);
    for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
        assert_int_equal(gmem_add(&m, 0x1000 * (uint64_t)(GMEM_MAX_REGIONS - i), 16, pages[i]), 0);
    assert_int_equal(gmem_add(&m, 0x100000, 16, pages[GMEM_MAX_REGIONS]), -ENOSPC);
    for (unsigned i = 1; i < m.nr; i++)
        assert_true(m.r[i - 1].gpa < m.r[i].gpa);
    for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
        assert_ptr_equal(gmem_ptr(&m, 0x1000 * (uint64_t)(GMEM_MAX_REGIONS - i) + 15, 1),
                         &pages[i][15]);
}

static void test_range_boundaries(void **state)
{
    (void)state;
    struct gmem m;
    gmem_init(&m);
    assert_int_equal(gmem_add(&m, 0x1000, sizeof(low), low), 0);
    assert_ptr_equal(gmem_ptr(&m, 0x1000, sizeof(low)), low);      /* whole */
    assert_ptr_equal(gmem_ptr(&m, 0x1fff, 1), low + 0xfff);         /* last byte */
    assert_null(gmem_ptr(&m, 0x1fff, 2));                           /* one past */
    assert_null(gmem_ptr(&m, 0x2000, 1));                           /* just after */
    assert_null(gmem_ptr(&m, 0xfff, 1));                            /* just before */
    assert_null(gmem_ptr(&m, 0xfff, 2));                            /* straddles start */
    assert_null(gmem_ptr(&m, 0x1000, sizeof(low) + 1));
    /* Zero length still needs an address inside a region. */
    assert_ptr_equal(gmem_ptr(&m, 0x1fff, 0), low + 0xfff);
    assert_null(gmem_ptr(&m, 0x2000, 0));
}

static void test_range_wrap_refused(void **state)
{
    (void)state;
    struct gmem m;
    gmem_init(&m);
    assert_int_equal(gmem_add(&m, 0x1000, sizeof(low), low), 0);
    /* gpa + len overflows to land inside the region. */
    assert_null(gmem_ptr(&m, UINT64_MAX - 0xf, 0x1020));
    assert_null(gmem_ptr(&m, 0x1800, UINT64_MAX));
    assert_null(gmem_ptr(&m, 0x1800, UINT64_MAX - 0x7ff));
    assert_null(gmem_ptr_slow(&m, UINT64_MAX, 0x1002));
}

static void test_range_across_regions_refused(void **state)
{
    (void)state;
    struct gmem m;
    gmem_init(&m);
    /* Adjacent in guest-physical space, unrelated on the host. */
    assert_int_equal(gmem_add(&m, 0x0, sizeof(low), low), 0);
    assert_int_equal(gmem_add(&m, 0x1000, sizeof(high), high), 0);
    assert_ptr_equal(gmem_ptr(&m, 0xff0, 0x10), low + 0xff0);
    assert_ptr_equal(gmem_ptr(&m, 0x1000, 0x10), high);
    assert_null(gmem_ptr(&m, 0xff0, 0x20));
    assert_null(gmem_ptr_slow(&m, 0xff0, 0x20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_map_refuses_everything),
        cmocka_unit_test(test_add_refuses_bad_regions),
        cmocka_unit_test(test_add_refuses_overlap),
        cmocka_unit_test(test_regions_kept_sorted),
        cmocka_unit_test(test_map_full),
        cmocka_unit_test(test_range_boundaries),
        cmocka_unit_test(test_range_wrap_refused),
        cmocka_unit_test(test_range_across_regions_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
