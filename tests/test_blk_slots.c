/* virtio-blk request slots: allocated on demand, never handed to a second
 * request while a backend io of the first is outstanding, never lost.
 *
 * A backend of the test's own holds every io it is given until the test
 * releases it, in a scrambled order, a few at a time: completions arrive
 * late and out of order, as io_uring's may. Chains go through indirect
 * tables so that more requests than the device has slots can be posted at
 * once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>

#include <linux/virtio_ring.h>

#include "blk_fixture.h"

#define HELD_MAX (BLK_INFLIGHT * BLK_DWZ_SEG_MAX)
#define NCHAIN   200 /* more than BLK_INFLIGHT, fewer than the ring's 256 */
#define DWZ_SEGS 3

/* What the test's backend holds: each io and a copy of it as submitted. */
struct held_backend {
    struct blk_io *io[HELD_MAX];
    struct blk_io copy[HELD_MAX];
    unsigned n;
    unsigned release;   /* ios the next reap may complete */
    unsigned reused;    /* an io submitted again while still held */
    unsigned changed;   /* a held io rewritten before its completion */
    unsigned submitted, max_held;
    uint32_t rng;
};

static struct blk_fx fx;
static struct held_backend held;
static struct blk_backend held_be;

static uint32_t held_rand(void)
{
    held.rng = held.rng * 1103515245u + 12345u;
    return held.rng >> 8;
}

static int held_submit(void *be, unsigned ch, struct blk_io *io)
{
    (void)be;
    (void)ch;
    for (unsigned i = 0; i < held.n; i++)
        if (held.io[i] == io)
            held.reused++;
    if (held.n == HELD_MAX)
        return -EAGAIN;
    held.io[held.n] = io;
    held.copy[held.n] = *io;
    held.n++;
    held.submitted++;
    if (held.n > held.max_held)
        held.max_held = held.n;
    return 0;
}

static void held_commit(void *be, unsigned ch)
{
    (void)be;
    (void)ch;
}

/* Completes up to `release` held ios (all of them when the device must wait,
 * as its reset and destroy do), each chosen at random among those held. */
static unsigned held_reap(void *be, unsigned ch, bool wait, blk_io_done_fn *done, void *ctx)
{
    (void)be;
    (void)ch;
    unsigned k = wait && held.release == 0 ? held.n : held.release;
    unsigned got = 0;
    while (got < k && held.n) {
        unsigned i = held_rand() % held.n;
        struct blk_io *io = held.io[i];
        struct blk_io want = held.copy[i];
        if (io->op != want.op || io->offset != want.offset || io->len != want.len ||
            io->iov != want.iov || io->iovcnt != want.iovcnt)
            held.changed++;
        held.n--;
        held.io[i] = held.io[held.n];
        held.copy[i] = held.copy[held.n];
        done(ctx, io, 0);
        got++;
    }
    held.release -= got < held.release ? got : held.release;
    return got;
}

static const struct blk_backend_ops held_ops = {
    .submit = held_submit, .commit = held_commit, .reap = held_reap,
};

static int slots_up(void)
{
    memset(&fx, 0, sizeof(fx));
    memset(&held, 0, sizeof(held));
    held.rng = 7;
    fx.host_fd = -1;
    if (loopback_init(&fx.lb, 16 << 20) < 0)
        return -ENOMEM;
    fx.buf = loopback_alloc(&fx.lb, FX_BUF_SIZE, 4096, &fx.buf_pa);
    fx.scratch = loopback_alloc(&fx.lb, VDRV_BLK_SCRATCH, 64, &fx.scratch_pa);
    if (!fx.buf || !fx.scratch)
        return -ENOMEM;
    held_be = (struct blk_backend){ .ops = &held_ops, .be = &held, .size = 64 << 20,
                                    .channels = 1 };
    int rc = blk_dev_init(&fx.blk, &held_be, NULL);
    if (rc < 0)
        return rc;
    fx.blk_up = true;
    return fx_plug(&fx, VPCI_MODERN, false, ~0ull, 1);
}

static int teardown(void **state)
{
    (void)state;
    fx_down(&fx);
    return 0;
}

/* Guest memory for NCHAIN chains: indirect tables, headers, discard
 * segments, status bytes. */
struct chains {
    struct vring_desc *table;
    uint64_t table_pa;
    struct virtio_blk_outhdr *hdr;
    uint64_t hdr_pa;
    struct virtio_blk_discard_write_zeroes *seg;
    uint64_t seg_pa;
    uint8_t *st;
    uint64_t st_pa;
    uint32_t type[NCHAIN];
    char tok[NCHAIN];
};

static void chains_alloc(struct chains *c)
{
    c->table = loopback_alloc(&fx.lb, NCHAIN * 3 * sizeof(*c->table), 16, &c->table_pa);
    c->hdr = loopback_alloc(&fx.lb, NCHAIN * sizeof(*c->hdr), 16, &c->hdr_pa);
    c->seg = loopback_alloc(&fx.lb, NCHAIN * DWZ_SEGS * sizeof(*c->seg), 16, &c->seg_pa);
    c->st = loopback_alloc(&fx.lb, NCHAIN, 1, &c->st_pa);
    assert_non_null(c->table);
    assert_non_null(c->hdr);
    assert_non_null(c->seg);
    assert_non_null(c->st);
}

/* Chain i of `type`: header, then 512 bytes of data (OUT), DWZ_SEGS discard
 * segments (DISCARD) or nothing (FLUSH, or a type the device refuses), then
 * the status byte; all through one indirect descriptor. */
static void chain_post(struct chains *c, unsigned i, uint32_t type)
{
    struct vring_desc *t = c->table + i * 3;
    c->type[i] = type;
    c->hdr[i] = (struct virtio_blk_outhdr){ .type = htole32(type), .sector = htole64(i * 8) };
    c->st[i] = 0xee;
    unsigned n = 0;
    t[n] = (struct vring_desc){ c->hdr_pa + i * sizeof(*c->hdr), sizeof(*c->hdr),
                                VRING_DESC_F_NEXT, (uint16_t)(n + 1) };
    n++;
    if (type == VIRTIO_BLK_T_OUT) {
        t[n] = (struct vring_desc){ fx.buf_pa + i * 512, 512, VRING_DESC_F_NEXT,
                                    (uint16_t)(n + 1) };
        n++;
    } else if (type == VIRTIO_BLK_T_DISCARD) {
        for (unsigned s = 0; s < DWZ_SEGS; s++)
            c->seg[i * DWZ_SEGS + s] = (struct virtio_blk_discard_write_zeroes){
                .sector = htole64(4096 + i * 64 + s * 16), .num_sectors = htole32(8) };
        t[n] = (struct vring_desc){ c->seg_pa + i * DWZ_SEGS * sizeof(*c->seg),
                                    DWZ_SEGS * sizeof(*c->seg), VRING_DESC_F_NEXT,
                                    (uint16_t)(n + 1) };
        n++;
    }
    t[n] = (struct vring_desc){ c->st_pa + i, 1, VRING_DESC_F_WRITE, 0 };
    n++;
    uint16_t head = fx.fn.vq.free_head;
    struct vdrv_sg sg = { c->table_pa + i * 3 * sizeof(*t), n * sizeof(*t) };
    assert_int_equal(vdrv_vq_add(&fx.fn.vq, &sg, 1, 0, &c->tok[i]), 0);
    fx.fn.vq.desc[head].flags = VRING_DESC_F_INDIRECT;
}

static bool type_refused(uint32_t type)
{
    return type != VIRTIO_BLK_T_OUT && type != VIRTIO_BLK_T_FLUSH &&
           type != VIRTIO_BLK_T_DISCARD;
}

/* One round: n chains of mixed types posted at once, then completed a few
 * ios at a time. At every step the device must keep exactly as many
 * requests in flight as it has work for, up to its BLK_INFLIGHT slots. */
static void round_of(struct chains *c, unsigned n, unsigned seed)
{
    static const uint32_t types[] = { VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
                                      VIRTIO_BLK_T_DISCARD, 0x7f /* refused */ };
    unsigned good = 0;
    for (unsigned i = 0; i < n; i++) {
        chain_post(c, i, types[(i * 7 + seed) % 4]);
        good += !type_refused(c->type[i]);
    }
    if (vdrv_vq_kick_prepare(&fx.fn.vq))
        vdrv_notify(&fx.fn.drv, 0);

    bool seen[NCHAIN] = { false };
    unsigned used = 0, good_done = 0;
    for (int step = 0; used < n && step < 10000; step++) {
        uint32_t len;
        char *t;
        while ((t = vdrv_vq_get_used(&fx.fn.vq, &len))) {
            unsigned i = (unsigned)(t - c->tok);
            assert_true(i < n);
            assert_false(seen[i]);
            seen[i] = true;
            used++;
            if (type_refused(c->type[i])) {
                assert_int_equal(c->st[i], VIRTIO_BLK_S_UNSUPP);
            } else {
                assert_int_equal(c->st[i], VIRTIO_BLK_S_OK);
                good_done++;
            }
        }
        /* every request that came back is counted before this check */
        unsigned want = good - good_done < BLK_INFLIGHT ? good - good_done : BLK_INFLIGHT;
        assert_int_equal(blk_inflight(&fx.blk), want);
        assert_int_equal(held.reused, 0);
        assert_int_equal(held.changed, 0);
        assert_true(fx.blk.q[0].nslots <= BLK_INFLIGHT);
        held.release = 1 + held_rand() % 40;
        blk_poll(&fx.blk, false);
    }
    assert_int_equal(used, n);
    assert_int_equal(blk_inflight(&fx.blk), 0);
    assert_int_equal(held.n, 0);
}

/* A guest with one request at a time costs one slot, however many it sends. */
static void slots_allocated_on_demand(void **state)
{
    (void)state;
    assert_int_equal(slots_up(), 0);
    assert_int_equal(fx.blk.q[0].nslots, 0);
    for (unsigned i = 0; i < 50; i++) {
        fx_pattern(fx.buf, 4096, i);
        held.release = 1;
        assert_int_equal(vdrv_blk_write(&fx.drv, i * 8, fx.buf_pa, 4096), 0);
    }
    assert_int_equal(held.submitted, 50);
    assert_int_equal(fx.blk.q[0].nslots, 1);
    assert_int_equal(blk_inflight(&fx.blk), 0);
}

/* Floods of more chains than slots, completed late and out of order, with
 * multi-io discards and refused requests mixed in: a slot that leaked would
 * leave fewer requests in flight than expected in a later round; a slot
 * handed out while its ios were held would show as a resubmitted or
 * rewritten io. */
static void slots_neither_leak_nor_reused_in_flight(void **state)
{
    (void)state;
    assert_int_equal(slots_up(), 0);
    struct chains c;
    chains_alloc(&c);
    for (unsigned r = 0; r < 6; r++) {
        round_of(&c, r % 2 ? NCHAIN : 61 + r, r);
        assert_true(held.max_held > 0);
    }
    assert_int_equal(fx.blk.q[0].nslots, BLK_INFLIGHT);
    assert_true(held.max_held > BLK_INFLIGHT); /* discards held several ios per slot */
    assert_int_equal(held.reused, 0);
    assert_int_equal(held.changed, 0);
}

/* A reset with requests held by the backend drains them (the device waits)
 * and the slots serve again afterwards. */
static void reset_drains_then_slots_serve_again(void **state)
{
    (void)state;
    assert_int_equal(slots_up(), 0);
    struct chains c;
    chains_alloc(&c);
    for (unsigned i = 0; i < NCHAIN; i++)
        chain_post(&c, i, VIRTIO_BLK_T_FLUSH);
    if (vdrv_vq_kick_prepare(&fx.fn.vq))
        vdrv_notify(&fx.fn.drv, 0);
    assert_int_equal(blk_inflight(&fx.blk), BLK_INFLIGHT);
    assert_int_equal(held.n, BLK_INFLIGHT);
    vdrv_reset(&fx.fn.drv);
    assert_int_equal(blk_inflight(&fx.blk), 0);
    assert_int_equal(held.n, 0);
    for (unsigned i = 0; i < NCHAIN; i++)
        assert_int_equal(c.st[i], 0xee); /* nothing completed to the old ring */
    assert_int_equal(fx.blk.q[0].nslots, BLK_INFLIGHT);
    /* the driver brings the device up again and uses it */
    loopback_fn_detach(&fx.fn);
    fx.attached = false;
    assert_int_equal(fx_plug(&fx, VPCI_MODERN, false, ~0ull, 1), 0);
    held.release = 1;
    assert_int_equal(vdrv_blk_write(&fx.drv, 0, fx.buf_pa, 512), 0);
    assert_int_equal(fx.blk.q[0].nslots, BLK_INFLIGHT);
    assert_int_equal(held.reused, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(slots_allocated_on_demand, teardown),
        cmocka_unit_test_teardown(slots_neither_leak_nor_reused_in_flight, teardown),
        cmocka_unit_test_teardown(reset_drains_then_slots_serve_again, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
