/* virtio-blk error paths: a hostile driver's malformed requests, read-only
 * refusals, and real backend failures, each answered per the spec while
 * the device keeps working. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>

#include "blk_fixture.h"

#define IMG_SIZE (4u << 20)
#define IMG_SECT (IMG_SIZE / 512)

static struct blk_fx fx;

static int teardown(void **state)
{
    (void)state;
    fx_down(&fx);
    return 0;
}

static bool needs_reset(void)
{
    return vdrv_get_status(&fx.fn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* The device still serves a normal write+read after whatever came before. */
static void still_works(void)
{
    fx_pattern(fx.buf, 4096, 1234);
    assert_int_equal(vdrv_blk_write(&fx.drv, 8, fx.buf_pa, 4096), 0);
    memset(fx.buf2, 0, 4096);
    assert_int_equal(vdrv_blk_read(&fx.drv, 8, fx.buf2_pa, 4096), 0);
    assert_memory_equal(fx.buf, fx.buf2, 4096);
    assert_false(needs_reset());
}

static void out_of_range_is_ioerr(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    assert_int_equal(vdrv_blk_read(&fx.drv, IMG_SECT, fx.buf_pa, 512), -EIO);
    assert_int_equal(vdrv_blk_read(&fx.drv, IMG_SECT - 1, fx.buf_pa, 1024), -EIO);
    assert_int_equal(vdrv_blk_write(&fx.drv, IMG_SECT - 1, fx.buf_pa, 1024), -EIO);
    /* sector * 512 and sector + n would wrap: must not pass the check */
    assert_int_equal(vdrv_blk_read(&fx.drv, UINT64_MAX, fx.buf_pa, 512), -EIO);
    assert_int_equal(vdrv_blk_read(&fx.drv, (UINT64_MAX >> 9) + 1, fx.buf_pa, 512), -EIO);
    assert_int_equal(vdrv_blk_read(&fx.drv, IMG_SECT - 1, fx.buf_pa, 512), 0); /* the last one */
    /* data not a multiple of 512 */
    assert_int_equal(vdrv_blk_read(&fx.drv, 0, fx.buf_pa, 100), -EIO);
    assert_int_equal(vdrv_blk_write(&fx.drv, 0, fx.buf_pa, 513), -EIO);
    assert_int_equal(fx.blk.stats.errors, 7);
    still_works();
}

static void unsupported_types(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    static const uint32_t types[] = { 2 /* SCSI */, 3, 5, 14 /* secure erase */, 0x80000001u, 77 };
    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct vdrv_sg sg = { fx.buf_pa, 512 };
        assert_int_equal(vdrv_blk_request(&fx.drv, types[i], 0, &sg, 1, true), -EOPNOTSUPP);
        assert_int_equal(fx.scratch[32], VIRTIO_BLK_S_UNSUPP);
    }
    still_works();
}

/* A header shorter than 16 bytes is a driver error with a status to report
 * it in; a header split across descriptors is fine. */
static void short_and_split_headers(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN, .sector = 8 };
    memcpy(fx.buf2, &h, sizeof(h));
    uint8_t *st = fx.buf2 + 100;
    *st = 0xff;
    uint32_t used = 0;
    struct vdrv_sg shorthdr[3] = { { fx.buf2_pa, 12 }, { fx.buf_pa, 512 }, { fx.buf2_pa + 100, 1 } };
    assert_int_equal(fx_raw(&fx, shorthdr, 1, 2, &used), 0);
    assert_int_equal(*st, VIRTIO_BLK_S_IOERR);
    /* no readable part at all */
    *st = 0xff;
    assert_int_equal(fx_raw(&fx, shorthdr + 1, 0, 2, &used), 0);
    assert_int_equal(*st, VIRTIO_BLK_S_IOERR);
    assert_false(needs_reset());

    fx_pattern(fx.buf, 4096, 5);
    assert_int_equal(vdrv_blk_write(&fx.drv, 8, fx.buf_pa, 512), 0);
    *st = 0xff;
    memset(fx.buf + 1024, 0, 512);
    struct vdrv_sg split[5] = { { fx.buf2_pa, 3 }, { fx.buf2_pa + 3, 9 }, { fx.buf2_pa + 12, 4 },
                                { fx.buf_pa + 1024, 512 }, { fx.buf2_pa + 100, 1 } };
    assert_int_equal(fx_raw(&fx, split, 3, 2, &used), 0);
    assert_int_equal(*st, VIRTIO_BLK_S_OK);
    assert_int_equal(used, 513);
    assert_memory_equal(fx.buf + 1024, fx.buf, 512);
}

/* No writable byte: the request cannot be answered. The chain is returned
 * (len 0) and the device asks for a reset; after one it works again. */
static void missing_status_needs_reset(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 0 };
    memcpy(fx.buf2, &h, sizeof(h));
    fx_pattern(fx.buf, 512, 8);
    struct vdrv_sg sg[2] = { { fx.buf2_pa, 16 }, { fx.buf_pa, 512 } };
    uint32_t used = 99;
    assert_int_equal(fx_raw(&fx, sg, 2, 0, &used), 0);
    assert_int_equal(used, 0);
    assert_true(needs_reset());
    uint8_t host[512], zero[512] = { 0 };
    assert_int_equal(pread(fx.host_fd, host, 512, 0), 512);
    assert_memory_equal(host, zero, 512); /* nothing was written */

    /* a zero-length writable descriptor is no status byte either */
    fx_down(&fx);
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    memcpy(fx.buf2, &h, sizeof(h));
    struct vdrv_sg sg0[3] = { { fx.buf2_pa, 16 }, { fx.buf_pa, 512 }, { fx.buf2_pa + 64, 0 } };
    assert_int_equal(fx_raw(&fx, sg0, 2, 1, &used), 0);
    assert_true(needs_reset());

    /* reset and bring-up again: the device serves requests */
    fx_down(&fx);
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    still_works();
}

static void read_only_refuses_writes(void **state)
{
    (void)state;
    struct blk_opts bo = { .read_only = true };
    assert_int_equal(fx_open(&fx, IMG_SIZE, NULL, &bo), 0);
    uint8_t orig[8192];
    fx_pattern(orig, sizeof(orig), 99);
    assert_int_equal(pwrite(fx.host_fd, orig, sizeof(orig), 0), (ssize_t)sizeof(orig));
    assert_int_equal(fx_plug(&fx, VPCI_MODERN, false, ~0ull, 1), 0);
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_BLK_F_RO));
    assert_true(fx.drv.read_only);

    memset(fx.buf, 0x5a, 8192);
    assert_int_equal(vdrv_blk_write(&fx.drv, 0, fx.buf_pa, 4096), -EIO);
    assert_int_equal(vdrv_blk_discard(&fx.drv, 0, 8), -EIO);
    assert_int_equal(vdrv_blk_write_zeroes(&fx.drv, 0, 8, false), -EIO);
    assert_int_equal(vdrv_blk_write_zeroes(&fx.drv, 0, 8, true), -EIO);
    uint8_t now[8192];
    assert_int_equal(pread(fx.host_fd, now, sizeof(now), 0), (ssize_t)sizeof(now));
    assert_memory_equal(now, orig, sizeof(now));
    /* reads and flush still work */
    assert_int_equal(vdrv_blk_read(&fx.drv, 0, fx.buf2_pa, 8192), 0);
    assert_memory_equal(fx.buf2, orig, 8192);
    assert_int_equal(vdrv_blk_flush(&fx.drv), 0);
}

static void discard_and_zeroes_checks(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    struct virtio_blk_discard_write_zeroes *seg = (void *)fx.buf2;
    struct vdrv_sg sg = { fx.buf2_pa, sizeof(*seg) };
    *seg = (struct virtio_blk_discard_write_zeroes){ .sector = 0, .num_sectors = 8, .flags = 1 };
    assert_int_equal(vdrv_blk_request(&fx.drv, VIRTIO_BLK_T_DISCARD, 0, &sg, 1, false),
                     -EOPNOTSUPP); /* unmap is not a discard flag */
    seg->flags = 2;
    assert_int_equal(vdrv_blk_request(&fx.drv, VIRTIO_BLK_T_WRITE_ZEROES, 0, &sg, 1, false),
                     -EOPNOTSUPP); /* unknown flag */
    assert_int_equal(vdrv_blk_discard(&fx.drv, IMG_SECT - 4, 8), -EIO);
    assert_int_equal(vdrv_blk_write_zeroes(&fx.drv, UINT64_MAX - 2, 8, false), -EIO);
    assert_int_equal(vdrv_blk_discard(&fx.drv, 0, BLK_DWZ_SECT_MAX + 1), -EIO);
    /* too many segments, and a length that is not whole segments */
    memset(fx.buf2, 0, (BLK_DWZ_SEG_MAX + 1) * sizeof(*seg));
    sg.len = (BLK_DWZ_SEG_MAX + 1) * sizeof(*seg);
    assert_int_equal(vdrv_blk_request(&fx.drv, VIRTIO_BLK_T_DISCARD, 0, &sg, 1, false), -EIO);
    sg.len = 20;
    assert_int_equal(vdrv_blk_request(&fx.drv, VIRTIO_BLK_T_DISCARD, 0, &sg, 1, false), -EIO);

    /* a refused multi-segment request touches nothing, even its valid
     * segments; an accepted one zeroes every segment */
    fx_pattern(fx.buf, 8192, 4);
    assert_int_equal(vdrv_blk_write(&fx.drv, 0, fx.buf_pa, 8192), 0);
    seg[0] = (struct virtio_blk_discard_write_zeroes){ .sector = 0, .num_sectors = 2 };
    seg[1] = (struct virtio_blk_discard_write_zeroes){ .sector = 8, .num_sectors = 2, .flags = 4 };
    sg.len = 2 * sizeof(*seg);
    assert_int_equal(vdrv_blk_request(&fx.drv, VIRTIO_BLK_T_WRITE_ZEROES, 0, &sg, 1, false),
                     -EOPNOTSUPP);
    assert_int_equal(vdrv_blk_read(&fx.drv, 0, fx.buf2_pa + 4096, 8192), 0);
    assert_memory_equal(fx.buf2 + 4096, fx.buf, 8192);
    seg[1].flags = 0;
    assert_int_equal(vdrv_blk_request(&fx.drv, VIRTIO_BLK_T_WRITE_ZEROES, 0, &sg, 1, false), 0);
    assert_int_equal(vdrv_blk_read(&fx.drv, 0, fx.buf2_pa + 4096, 8192), 0);
    uint8_t zero[1024] = { 0 };
    assert_memory_equal(fx.buf2 + 4096, zero, 1024);
    assert_memory_equal(fx.buf2 + 4096 + 1024, fx.buf + 1024, 3072);
    assert_memory_equal(fx.buf2 + 4096 + 4096, zero, 1024);
    assert_memory_equal(fx.buf2 + 4096 + 5120, fx.buf + 5120, 3072);

    /* not offered: UNSUPP */
    fx_down(&fx);
    struct blk_opts bo = { .no_discard = true };
    assert_int_equal(fx_up(&fx, IMG_SIZE, &bo), 0);
    assert_false(fx.fn.drv.features & (1ull << VIRTIO_BLK_F_DISCARD));
    assert_int_equal(vdrv_blk_discard(&fx.drv, 0, 8), -EOPNOTSUPP);
    assert_int_equal(vdrv_blk_write_zeroes(&fx.drv, 0, 8, false), -EOPNOTSUPP);
}

/* A real backend failure: the image is open read-only at the OS level while
 * the device believes it writable. Writes get EBADF from the kernel, the
 * guest sees IOERR, and reads carry on. */
static void backend_write_error_is_ioerr(void **state)
{
    (void)state;
    assert_int_equal(fx_open(&fx, IMG_SIZE, NULL, NULL), 0);
    blk_dev_destroy(&fx.blk);
    file_uring_close(&fx.fu);
    int fd = open(fx.path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct file_uring_opts fo = { .channels = 1 };
    assert_int_equal(file_uring_open_fd(&fx.fu, fd, &fo), 0);
    assert_int_equal(blk_dev_init(&fx.blk, &fx.fu.blk, NULL), 0);
    assert_int_equal(fx_plug(&fx, VPCI_MODERN, false, ~0ull, 1), 0);
    assert_false(fx.fn.drv.features & (1ull << VIRTIO_BLK_F_RO));

    fx_pattern(fx.buf, 4096, 6);
    assert_int_equal(pwrite(fx.host_fd, fx.buf, 4096, 0), 4096);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(vdrv_blk_write(&fx.drv, 0, fx.buf2_pa, 4096), -EIO);
        assert_int_equal(vdrv_blk_write_zeroes(&fx.drv, 0, 8, false), -EIO);
        assert_int_equal(vdrv_blk_read(&fx.drv, 0, fx.buf2_pa, 4096), 0);
        assert_memory_equal(fx.buf2, fx.buf, 4096);
    }
    assert_int_equal(fx.blk.stats.errors, 6);
    assert_false(needs_reset());
}

/* The medium shrinks under the device (truncated behind its back): reads
 * past the new end come back short, which is IOERR; the rest still works. */
static void short_read_is_ioerr(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    assert_int_equal(ftruncate(fx.host_fd, IMG_SIZE / 2), 0);
    assert_int_equal(fx.drv.capacity, IMG_SECT); /* the device still says 4 MiB */
    assert_int_equal(vdrv_blk_read(&fx.drv, IMG_SECT / 2, fx.buf_pa, 4096), -EIO);
    assert_int_equal(vdrv_blk_read(&fx.drv, IMG_SECT / 2 - 4, fx.buf_pa, 4096), -EIO);
    assert_int_equal(vdrv_blk_read(&fx.drv, 0, fx.buf_pa, 4096), 0);
    still_works();
}

/* Reset while requests are in flight: the device waits them out, completes
 * nothing to the old rings, and a new bring-up works. */
static void reset_with_requests_in_flight(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    enum { N = 32 };
    uint64_t hdr_pa, st_pa;
    struct virtio_blk_outhdr *hdrs = loopback_alloc(&fx.lb, N * 16, 16, &hdr_pa);
    uint8_t *st = loopback_alloc(&fx.lb, N, 1, &st_pa);
    assert_non_null(hdrs);
    assert_non_null(st);
    static char tok[N];
    for (unsigned i = 0; i < N; i++) {
        hdrs[i] = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = i * 8 };
        st[i] = 0xff;
        struct vdrv_sg sg[3] = { { hdr_pa + i * 16, 16 }, { fx.buf_pa + i * 4096, 4096 },
                                 { st_pa + i, 1 } };
        assert_int_equal(vdrv_vq_add(&fx.fn.vq, sg, 1, 2, &tok[i]), 0);
    }
    vdrv_vq_kick_prepare(&fx.fn.vq);
    vdrv_notify(&fx.fn.drv, 0);
    assert_int_equal(blk_inflight(&fx.blk), N);
    vdrv_reset(&fx.fn.drv);
    assert_int_equal(vdrv_get_status(&fx.fn.drv), 0);
    assert_int_equal(blk_inflight(&fx.blk), 0);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(st[i], 0xff); /* nothing completed to the old ring */

    loopback_fn_detach(&fx.fn);
    fx.attached = false;
    assert_int_equal(fx_plug(&fx, VPCI_MODERN, false, ~0ull, 1), 0);
    still_works();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(out_of_range_is_ioerr, teardown),
        cmocka_unit_test_teardown(unsupported_types, teardown),
        cmocka_unit_test_teardown(short_and_split_headers, teardown),
        cmocka_unit_test_teardown(missing_status_needs_reset, teardown),
        cmocka_unit_test_teardown(read_only_refuses_writes, teardown),
        cmocka_unit_test_teardown(discard_and_zeroes_checks, teardown),
        cmocka_unit_test_teardown(backend_write_error_is_ioerr, teardown),
        cmocka_unit_test_teardown(short_read_is_ioerr, teardown),
        cmocka_unit_test_teardown(reset_with_requests_in_flight, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
