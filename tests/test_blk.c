/* virtio-blk over the io_uring file backend, through the loopback: kick's
 * driver writes and reads a real temporary image file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>

#include "blk_fixture.h"

#define IMG_SIZE (8u << 20)
#define IMG_SECT (IMG_SIZE / 512)

static struct blk_fx fx;

static int teardown(void **state)
{
    (void)state;
    fx_down(&fx);
    return 0;
}

/* What the host file holds at [off, off+len). */
static void host_read(uint64_t off, void *buf, size_t len)
{
    assert_int_equal(pread(fx.host_fd, buf, len, (off_t)off), (ssize_t)len);
}

static void config_and_features(void **state)
{
    (void)state;
    struct blk_opts bo = { .serial = "kick-serial-0001", .blk_size = 4096 };
    assert_int_equal(fx_up(&fx, IMG_SIZE, &bo), 0);
    uint64_t f = fx.fn.drv.features;
    assert_true(f & (1ull << VIRTIO_F_VERSION_1));
    assert_true(f & (1ull << VIRTIO_BLK_F_FLUSH));
    assert_true(f & (1ull << VIRTIO_BLK_F_SEG_MAX));
    assert_true(f & (1ull << VIRTIO_BLK_F_SIZE_MAX));
    assert_true(f & (1ull << VIRTIO_BLK_F_DISCARD));
    assert_true(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
    assert_true(f & (1ull << VIRTIO_RING_F_EVENT_IDX));
    assert_true(f & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
    assert_false(f & (1ull << VIRTIO_BLK_F_RO));
    assert_false(f & (1ull << VIRTIO_BLK_F_MQ));
    assert_int_equal(fx.drv.capacity, IMG_SECT);
    assert_int_equal(fx.drv.blk_size, 4096);
    struct virtio_blk_config c;
    vdrv_config_read(&fx.fn.drv, 0, &c, sizeof(c));
    assert_int_equal(c.seg_max, BLK_SEG_MAX);
    assert_int_equal(c.max_discard_seg, BLK_DWZ_SEG_MAX);
    assert_int_equal(c.discard_sector_alignment, 8);
    assert_int_equal(c.write_zeroes_may_unmap, 1);

    /* GET_ID: the serial, NUL-padded to 20 bytes. */
    memset(fx.buf, 0xee, 32);
    assert_int_equal(vdrv_blk_get_id(&fx.drv, fx.buf_pa), 0);
    assert_memory_equal(fx.buf, "kick-serial-0001\0\0\0\0", 20);
    assert_int_equal(fx.buf[20], 0xee); /* nothing past the 20 bytes */
    assert_int_equal(fx.drv.last_used_len, 21);
    /* FLUSH completes OK */
    assert_int_equal(vdrv_blk_flush(&fx.drv), 0);
    assert_int_equal(fx.blk.stats.flushes, 1);
}

/* Bad options are refused. */
static void bad_options_refused(void **state)
{
    (void)state;
    struct blk_opts bo = { .blk_size = 1000 };
    assert_int_equal(fx_open(&fx, IMG_SIZE, NULL, &bo), -EINVAL);
    fx_down(&fx);
    struct blk_opts many = { .num_queues = FX_MAX_Q + 1 }; /* more than the backend's rings */
    assert_int_equal(fx_open(&fx, IMG_SIZE, NULL, &many), -EINVAL);
}

static void rw_sizes_and_sectors(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    static const uint32_t sizes[] = { 512, 1024, 4096, 65536, 1u << 20 };
    uint8_t *host = malloc(1u << 20);
    assert_non_null(host);
    uint32_t seed = 1;
    for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint32_t len = sizes[s];
        uint64_t sectors[] = { 0, 1, 7, 1000, IMG_SECT - len / 512 };
        for (unsigned k = 0; k < 5; k++, seed++) {
            fx_pattern(fx.buf, len, seed);
            assert_int_equal(vdrv_blk_write(&fx.drv, sectors[k], fx.buf_pa, len), 0);
            assert_int_equal(fx.drv.last_used_len, 1);
            memset(fx.buf2, 0, len);
            assert_int_equal(vdrv_blk_read(&fx.drv, sectors[k], fx.buf2_pa, len), 0);
            assert_int_equal(fx.drv.last_used_len, len + 1);
            assert_memory_equal(fx.buf, fx.buf2, len);
            host_read(sectors[k] * 512, host, len);
            assert_memory_equal(fx.buf, host, len);
        }
    }
    free(host);
    assert_int_equal(fx.blk.stats.errors, 0);
    assert_int_equal(blk_inflight(&fx.blk), 0);
}

/* Data split across many descriptors, at odd boundaries (only the total
 * must be a multiple of 512), written one way and read back another. */
static void multi_segment_chains(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    const uint32_t total = 3 * 4096;
    fx_pattern(fx.buf, total, 77);
    struct vdrv_sg wr[5] = {
        { fx.buf_pa, 100 }, { fx.buf_pa + 100, 412 }, { fx.buf_pa + 512, 3000 },
        { fx.buf_pa + 3512, 1 }, { fx.buf_pa + 3513, total - 3513 },
    };
    assert_int_equal(vdrv_blk_rw(&fx.drv, true, 40, wr, 5), 0);
    memset(fx.buf2, 0, total);
    struct vdrv_sg rd[64];
    for (unsigned i = 0; i < 64; i++) /* 64 segments of 192 bytes */
        rd[i] = (struct vdrv_sg){ fx.buf2_pa + i * 192, 192 };
    assert_int_equal(vdrv_blk_rw(&fx.drv, false, 40, rd, 64), 0);
    assert_int_equal(fx.drv.last_used_len, total + 1);
    assert_memory_equal(fx.buf, fx.buf2, total);
    uint8_t host[3 * 4096];
    host_read(40 * 512, host, total);
    assert_memory_equal(fx.buf, host, total);
}

/* A chain where header and status share descriptors with data (any layout):
 * header in the same readable buffer as the data, status at the end of the
 * one writable buffer that also holds read data. */
static void any_layout_chains(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    uint8_t *req = fx.buf;
    struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 9 };
    memcpy(req, &h, sizeof(h));
    fx_pattern(req + 16, 1024, 5);
    uint8_t *st = fx.buf + 4096;
    *st = 0xff;
    struct vdrv_sg w[2] = { { fx.buf_pa, 16 + 1024 }, { fx.buf_pa + 4096, 1 } };
    uint32_t used = 0;
    assert_int_equal(fx_raw(&fx, w, 1, 1, &used), 0);
    assert_int_equal(*st, VIRTIO_BLK_S_OK);

    h.type = VIRTIO_BLK_T_IN;
    memcpy(fx.buf2, &h, sizeof(h));
    uint8_t *in = fx.buf2 + 4096;
    memset(in, 0xaa, 1025);
    struct vdrv_sg r[2] = { { fx.buf2_pa, 16 }, { fx.buf2_pa + 4096, 1025 } };
    assert_int_equal(fx_raw(&fx, r, 1, 1, &used), 0);
    assert_int_equal(used, 1025);
    assert_int_equal(in[1024], VIRTIO_BLK_S_OK);
    assert_memory_equal(in, req + 16, 1024);
}

static void discard_punches_hole(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    const uint32_t len = 1u << 20;
    fx_pattern(fx.buf, len, 3);
    assert_int_equal(vdrv_blk_write(&fx.drv, 2048, fx.buf_pa, len), 0);
    assert_int_equal(vdrv_blk_flush(&fx.drv), 0);
    struct stat before, after;
    assert_int_equal(fstat(fx.host_fd, &before), 0);
    assert_true(before.st_blocks >= len / 512);
    assert_int_equal(vdrv_blk_discard(&fx.drv, 2048, len / 512), 0);
    assert_int_equal(fstat(fx.host_fd, &after), 0);
    assert_true(after.st_blocks + len / 512 <= before.st_blocks);
    assert_int_equal(after.st_size, IMG_SIZE); /* the disk did not shrink */
    memset(fx.buf2, 0xcc, len);
    assert_int_equal(vdrv_blk_read(&fx.drv, 2048, fx.buf2_pa, len), 0);
    for (uint32_t i = 0; i < len; i++)
        if (fx.buf2[i])
            fail_msg("byte %u not zero after discard", i);
}

static void write_zeroes_both_ways(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    const uint32_t len = 256 * 1024;
    for (int unmap = 0; unmap < 2; unmap++) {
        uint64_t sector = 4096 + (uint64_t)unmap * 1024;
        fx_pattern(fx.buf, len, 11);
        assert_int_equal(vdrv_blk_write(&fx.drv, sector, fx.buf_pa, len), 0);
        /* zero the middle half only: the edges keep their data */
        assert_int_equal(vdrv_blk_write_zeroes(&fx.drv, sector + 128, 256, unmap), 0);
        memset(fx.buf2, 0xcc, len);
        assert_int_equal(vdrv_blk_read(&fx.drv, sector, fx.buf2_pa, len), 0);
        assert_memory_equal(fx.buf2, fx.buf, 128 * 512);
        for (uint32_t i = 128 * 512; i < 384 * 512; i++)
            if (fx.buf2[i])
                fail_msg("byte %u not zero (unmap %d)", i, unmap);
        assert_memory_equal(fx.buf2 + 384 * 512, fx.buf + 384 * 512, len - 384 * 512);
        uint8_t host[512];
        host_read((sector + 200) * 512, host, 512);
        for (unsigned i = 0; i < 512; i++)
            assert_int_equal(host[i], 0);
    }
}

/* 64 writes posted before the device reaps any: all are in flight at once,
 * then all complete, each with its own data. */
static void many_in_flight(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    enum { N = 64, LEN = 8192 };
    uint64_t hdr_pa;
    struct virtio_blk_outhdr *hdrs = loopback_alloc(&fx.lb, N * sizeof(*hdrs), 16, &hdr_pa);
    uint64_t st_pa;
    uint8_t *st = loopback_alloc(&fx.lb, N, 1, &st_pa);
    assert_non_null(hdrs);
    assert_non_null(st);
    static char tok[N];
    for (unsigned i = 0; i < N; i++) {
        hdrs[i] = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_OUT, .sector = i * 32 };
        fx_pattern(fx.buf + i * LEN, LEN, 1000 + i);
        st[i] = 0xff;
        struct vdrv_sg sg[3] = { { hdr_pa + i * sizeof(*hdrs), 16 },
                                 { fx.buf_pa + i * LEN, LEN },
                                 { st_pa + i, 1 } };
        assert_int_equal(vdrv_vq_add(&fx.fn.vq, sg, 2, 1, &tok[i]), 0);
    }
    vdrv_vq_kick_prepare(&fx.fn.vq);
    vdrv_notify(&fx.fn.drv, 0);
    assert_int_equal(blk_inflight(&fx.blk), N);
    unsigned got = 0;
    bool seen[N] = { false };
    for (int spins = 0; got < N && spins < 10000; spins++) {
        uint32_t len;
        char *t;
        while ((t = vdrv_vq_get_used(&fx.fn.vq, &len))) {
            unsigned i = (unsigned)(t - tok);
            assert_true(i < N);
            assert_false(seen[i]);
            seen[i] = true;
            assert_int_equal(len, 1);
            got++;
        }
        if (got < N)
            blk_poll(&fx.blk, true);
    }
    assert_int_equal(got, N);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(st[i], VIRTIO_BLK_S_OK);
    assert_true(fx.fn.msi[1] >= 1); /* queue 0's vector fired */
    uint8_t *host = malloc(N * LEN);
    assert_non_null(host);
    for (unsigned i = 0; i < N; i++)
        host_read((uint64_t)i * 32 * 512, host + i * LEN, LEN);
    assert_memory_equal(host, fx.buf, N * LEN);
    free(host);
}

/* The backend's eventfd says when there is something to reap: the hook a
 * VMM device thread waits on. */
static void eventfd_signals_completion(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    int efd = file_uring_event_fd(&fx.fu, 0);
    assert_true(efd >= 0);
    assert_int_equal(file_uring_event_fd(&fx.fu, 99), -1);
    struct virtio_blk_outhdr *h = (void *)fx.buf2;
    *h = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 0 };
    fx.buf2[64] = 0xff;
    struct vdrv_sg sg[3] = { { fx.buf2_pa, 16 }, { fx.buf_pa, 4096 }, { fx.buf2_pa + 64, 1 } };
    static char tok;
    assert_int_equal(vdrv_vq_add(&fx.fn.vq, sg, 1, 2, &tok), 0);
    vdrv_vq_kick_prepare(&fx.fn.vq);
    vdrv_notify(&fx.fn.drv, 0);
    assert_false(vdrv_vq_has_used(&fx.fn.vq)); /* not completed within the kick */
    struct pollfd p = { .fd = efd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 5000), 1);
    uint64_t cnt;
    assert_int_equal(read(efd, &cnt, sizeof(cnt)), (ssize_t)sizeof(cnt));
    assert_int_equal(blk_poll(&fx.blk, false), 1);
    uint32_t len;
    assert_ptr_equal(vdrv_vq_get_used(&fx.fn.vq, &len), &tok);
    assert_int_equal(fx.buf2[64], VIRTIO_BLK_S_OK);
}

/* Several queues, each its own ring and backend channel. */
static void multiqueue(void **state)
{
    (void)state;
    struct blk_opts bo = { .num_queues = 3 };
    assert_int_equal(fx_open(&fx, IMG_SIZE, NULL, &bo), 0);
    assert_int_equal(fx_plug(&fx, VPCI_MODERN, false, ~0ull, 3), 0);
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_BLK_F_MQ));
    uint16_t nq = 0;
    vdrv_config_read(&fx.fn.drv, offsetof(struct virtio_blk_config, num_queues), &nq, 2);
    assert_int_equal(nq, 3);
    assert_int_equal(vdrv_queue_max(&fx.fn.drv, 3), -ENOENT); /* no fourth queue */

    for (unsigned q = 0; q < 3; q++) {
        struct vdrv_blk d;
        vdrv_blk_init(&d, &fx.fn.drv, q ? &fx.vq[q] : &fx.fn.vq, q, fx.scratch, fx.scratch_pa,
                      fx_idle, &fx.blk);
        fx_pattern(fx.buf + q * 4096, 4096, 300 + q);
        assert_int_equal(vdrv_blk_write(&d, 100 + q * 8, fx.buf_pa + q * 4096, 4096), 0);
    }
    unsigned before = fx.fn.msi[1] + fx.fn.msi[2] + fx.fn.msi[3];
    for (unsigned q = 0; q < 3; q++) {
        /* read each queue's write back through a different queue */
        unsigned rq = (q + 1) % 3;
        struct vdrv_blk d;
        vdrv_blk_init(&d, &fx.fn.drv, rq ? &fx.vq[rq] : &fx.fn.vq, rq, fx.scratch,
                      fx.scratch_pa, fx_idle, &fx.blk);
        assert_int_equal(vdrv_blk_read(&d, 100 + q * 8, fx.buf2_pa, 4096), 0);
        assert_memory_equal(fx.buf2, fx.buf + q * 4096, 4096);
    }
    assert_true(fx.fn.msi[1] >= 1 && fx.fn.msi[2] >= 1 && fx.fn.msi[3] >= 1);
    assert_true(fx.fn.msi[1] + fx.fn.msi[2] + fx.fn.msi[3] > before);
}

/* Transitional device: the legacy interface (native-endian fields, PFN
 * rings, no VERSION_1) and the modern one both work. */
static void transitional_legacy_and_modern(void **state)
{
    (void)state;
    for (int legacy = 1; legacy >= 0; legacy--) {
        struct blk_opts bo = { .serial = "legacy-or-not" };
        assert_int_equal(fx_open(&fx, IMG_SIZE, NULL, &bo), 0);
        assert_int_equal(fx_plug(&fx, VPCI_TRANSITIONAL, legacy, ~0ull, 1), 0);
        assert_int_equal(fx.fn.drv.modern, !legacy);
        assert_int_equal(fx.blk.vdev.legacy, legacy);
        assert_int_equal(fx.drv.capacity, IMG_SECT);
        fx_pattern(fx.buf, 8192, 42 + legacy);
        assert_int_equal(vdrv_blk_write(&fx.drv, 16, fx.buf_pa, 8192), 0);
        assert_int_equal(vdrv_blk_read(&fx.drv, 16, fx.buf2_pa, 8192), 0);
        assert_memory_equal(fx.buf, fx.buf2, 8192);
        assert_int_equal(vdrv_blk_get_id(&fx.drv, fx.buf2_pa), 0);
        assert_string_equal((char *)fx.buf2, "legacy-or-not");
        assert_int_equal(vdrv_blk_flush(&fx.drv), 0);
        fx_down(&fx);
    }
}

/* O_DIRECT where the file system allows it: aligned requests go direct,
 * misaligned ones (guest buffers at odd addresses) fall back to buffered,
 * and both see the same data. */
static void direct_io_with_fallback(void **state)
{
    (void)state;
    struct file_uring_opts fo = { .direct = true, .channels = 1 };
    int rc = fx_open(&fx, IMG_SIZE, &fo, NULL);
    if (rc == -EINVAL) {
        skip(); /* file system without O_DIRECT */
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(fx_plug(&fx, VPCI_MODERN, false, ~0ull, 1), 0);
    fx_pattern(fx.buf, 65536, 9);
    assert_int_equal(vdrv_blk_write(&fx.drv, 64, fx.buf_pa, 65536), 0);
    assert_true(fx.fu.direct_ios >= 1);
    uint64_t buffered = fx.fu.buffered_ios;
    assert_int_equal(vdrv_blk_read(&fx.drv, 64, fx.buf2_pa + 3, 65536), 0); /* misaligned */
    assert_true(fx.fu.buffered_ios > buffered);
    assert_memory_equal(fx.buf, fx.buf2 + 3, 65536);
    fx_pattern(fx.buf2 + 5, 4096, 10);
    assert_int_equal(vdrv_blk_write(&fx.drv, 72, fx.buf2_pa + 5, 4096), 0); /* buffered */
    assert_int_equal(vdrv_blk_read(&fx.drv, 72, fx.buf_pa, 4096), 0);        /* direct */
    assert_memory_equal(fx.buf, fx.buf2 + 5, 4096);
}

/* A request in an indirect table (VIRTIO_RING_F_INDIRECT_DESC): kick's
 * driver library posts direct chains only, so the test turns a one-buffer
 * chain into an indirect descriptor before publishing it. */
static void indirect_descriptors(void **state)
{
    (void)state;
    assert_int_equal(fx_up(&fx, IMG_SIZE, NULL), 0);
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
    fx_pattern(fx.buf, 2048, 21);
    assert_int_equal(vdrv_blk_write(&fx.drv, 30, fx.buf_pa, 2048), 0);

    uint64_t tpa;
    struct vring_desc *t = loopback_alloc(&fx.lb, 6 * sizeof(*t), 16, &tpa);
    assert_non_null(t);
    struct virtio_blk_outhdr *h = (void *)fx.scratch;
    *h = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 30 };
    uint8_t *st = fx.scratch + 32;
    *st = 0xff;
    memset(fx.buf2, 0, 2048);
    /* header, four 512-byte pieces, status */
    t[0] = (struct vring_desc){ fx.scratch_pa, 16, VRING_DESC_F_NEXT, 1 };
    for (unsigned i = 0; i < 4; i++)
        t[1 + i] = (struct vring_desc){ fx.buf2_pa + i * 512, 512,
                                        VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, (uint16_t)(2 + i) };
    t[5] = (struct vring_desc){ fx.scratch_pa + 32, 1, VRING_DESC_F_WRITE, 0 };

    uint16_t head = fx.fn.vq.free_head;
    struct vdrv_sg sg = { tpa, 6 * sizeof(*t) };
    static char tok;
    assert_int_equal(vdrv_vq_add(&fx.fn.vq, &sg, 1, 0, &tok), 0);
    fx.fn.vq.desc[head].flags = VRING_DESC_F_INDIRECT;
    if (vdrv_vq_kick_prepare(&fx.fn.vq))
        vdrv_notify(&fx.fn.drv, 0);
    uint32_t len = 0;
    void *got = NULL;
    for (int i = 0; i < 1000 && !got; i++)
        if (!(got = vdrv_vq_get_used(&fx.fn.vq, &len)))
            blk_poll(&fx.blk, true);
    assert_ptr_equal(got, &tok);
    assert_int_equal(*st, VIRTIO_BLK_S_OK);
    assert_int_equal(len, 2049);
    assert_memory_equal(fx.buf2, fx.buf, 2048);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(config_and_features, teardown),
        cmocka_unit_test_teardown(bad_options_refused, teardown),
        cmocka_unit_test_teardown(rw_sizes_and_sectors, teardown),
        cmocka_unit_test_teardown(multi_segment_chains, teardown),
        cmocka_unit_test_teardown(any_layout_chains, teardown),
        cmocka_unit_test_teardown(discard_punches_hole, teardown),
        cmocka_unit_test_teardown(write_zeroes_both_ways, teardown),
        cmocka_unit_test_teardown(many_in_flight, teardown),
        cmocka_unit_test_teardown(eventfd_signals_completion, teardown),
        cmocka_unit_test_teardown(multiqueue, teardown),
        cmocka_unit_test_teardown(transitional_legacy_and_modern, teardown),
        cmocka_unit_test_teardown(direct_io_with_fallback, teardown),
        cmocka_unit_test_teardown(indirect_descriptors, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
