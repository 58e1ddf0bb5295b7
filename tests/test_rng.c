/* virtio-rng device model through the loopback: backend errors and chains
 * with several writable buffers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "backends/entropy.h"
#include "devices/rng.h"
#include "vmm/loopback.h"

static struct loopback lb;
static struct rng_dev rng;
static struct loopback_fn fn;

static int setup(void **state)
{
    (void)state;
    return loopback_init(&lb, 4 << 20);
}

static int teardown(void **state)
{
    (void)state;
    loopback_fn_detach(&fn);
    loopback_destroy(&lb);
    return 0;
}

static ssize_t failing_fill(void *opaque, void *buf, size_t len)
{
    (void)opaque; (void)buf; (void)len;
    return -EIO;
}

static uint32_t post_and_wait(const struct vdrv_sg *sg, unsigned nin)
{
    static char tok;
    uint32_t got = 0xffffffff;
    assert_int_equal(vdrv_vq_add(&fn.vq, sg, 0, nin, &tok), 0);
    if (vdrv_vq_kick_prepare(&fn.vq))
        vdrv_notify(&fn.drv, 0);
    assert_ptr_equal(vdrv_vq_get_used(&fn.vq, &got), &tok);
    return got;
}

/* A failing entropy source completes the request with 0 bytes; the device
 * stays usable (no NEEDS_RESET). */
static void backend_failure_returns_zero_bytes(void **state)
{
    (void)state;
    rng_dev_init(&rng, failing_fill, NULL);
    assert_int_equal(loopback_fn_attach(&fn, &lb, &rng.vdev, VPCI_MODERN, 2), 0);
    assert_int_equal(loopback_fn_driver_up(&fn, false, true, ~0ull, 16), 0);
    uint64_t pa;
    assert_non_null(loopback_alloc(&lb, 32, 8, &pa));
    struct vdrv_sg sg = { pa, 32 };
    assert_int_equal(post_and_wait(&sg, 1), 0);
    assert_false(vdrv_get_status(&fn.drv) & 0x40);
}

/* Several writable buffers in one chain are all filled. */
static void multi_buffer_chain_filled(void **state)
{
    (void)state;
    rng_dev_init(&rng, entropy_getrandom, NULL);
    assert_int_equal(loopback_fn_attach(&fn, &lb, &rng.vdev, VPCI_MODERN, 2), 0);
    assert_int_equal(loopback_fn_driver_up(&fn, false, true, ~0ull, 16), 0);
    uint64_t pa;
    uint8_t *b = loopback_alloc(&lb, 3 * 4096, 4096, &pa);
    assert_non_null(b);
    struct vdrv_sg sg[3] = { { pa, 4096 }, { pa + 4096, 1000 }, { pa + 8192, 7 } };
    assert_int_equal(post_and_wait(sg, 3), 4096 + 1000 + 7);
    /* 4096 random bytes are all zero with negligible probability */
    unsigned nz = 0;
    for (unsigned i = 0; i < 4096; i++)
        nz += b[i] != 0;
    assert_true(nz > 3000);
    assert_int_equal(rng.bytes, 4096 + 1000 + 7);
}

/* Out-only chains (nothing to fill) complete with 0 bytes. */
static void readable_only_chain_gets_zero(void **state)
{
    (void)state;
    rng_dev_init(&rng, entropy_getrandom, NULL);
    assert_int_equal(loopback_fn_attach(&fn, &lb, &rng.vdev, VPCI_MODERN, 2), 0);
    assert_int_equal(loopback_fn_driver_up(&fn, false, true, ~0ull, 16), 0);
    uint64_t pa;
    assert_non_null(loopback_alloc(&lb, 64, 8, &pa));
    static char tok;
    struct vdrv_sg sg = { pa, 64 };
    assert_int_equal(vdrv_vq_add(&fn.vq, &sg, 1, 0, &tok), 0);
    vdrv_vq_kick_prepare(&fn.vq);
    vdrv_notify(&fn.drv, 0);
    uint32_t got = 99;
    assert_ptr_equal(vdrv_vq_get_used(&fn.vq, &got), &tok);
    assert_int_equal(got, 0);
}

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

/* Rate limit: one second's worth at once, then nothing until time passes;
 * a waiting request stays in the ring and rng_poll serves it later. */
static void rate_limit_holds_requests_until_refill(void **state)
{
    (void)state;
    rng_dev_init(&rng, entropy_getrandom, NULL);
    rng.now_ns = fake_clock;
    fake_now = 5000000000ull;
    rng_dev_set_rate(&rng, 1000);
    assert_int_equal(loopback_fn_attach(&fn, &lb, &rng.vdev, VPCI_MODERN, 2), 0);
    assert_int_equal(loopback_fn_driver_up(&fn, false, true, ~0ull, 16), 0);
    uint64_t pa;
    assert_non_null(loopback_alloc(&lb, 4096, 8, &pa));
    struct vdrv_sg sg = { pa, 4096 };
    assert_int_equal(post_and_wait(&sg, 1), 1000); /* the full bucket, not 4096 */

    static char tok;
    assert_int_equal(vdrv_vq_add(&fn.vq, &sg, 0, 1, &tok), 0);
    if (vdrv_vq_kick_prepare(&fn.vq))
        vdrv_notify(&fn.drv, 0);
    uint32_t got;
    assert_null(vdrv_vq_get_used(&fn.vq, &got)); /* bucket empty: held */
    uint64_t wait = rng_poll(&rng);
    assert_true(wait > 0 && wait <= 1000000000ull);
    assert_null(vdrv_vq_get_used(&fn.vq, &got));

    fake_now += 250000000ull; /* a quarter second: 250 bytes */
    assert_int_equal(rng_poll(&rng), 0);
    assert_ptr_equal(vdrv_vq_get_used(&fn.vq, &got), &tok);
    assert_int_equal(got, 250);
    assert_int_equal(rng.bytes, 1250);

    /* lifting the limit serves whole buffers again */
    rng_dev_set_rate(&rng, 0);
    assert_int_equal(post_and_wait(&sg, 1), 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(backend_failure_returns_zero_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(multi_buffer_chain_filled, setup, teardown),
        cmocka_unit_test_setup_teardown(readable_only_chain_gets_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(rate_limit_holds_requests_until_refill, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
