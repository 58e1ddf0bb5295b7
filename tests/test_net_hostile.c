/* virtio-net against a hostile or clumsy driver, with a recording fake
 * backend so every frame the device lets through can be checked byte for
 * byte: malformed tx chains, rx chains without room, a backlog with no
 * buffers, frames spread over held chains, broken control commands and a
 * corrupted ring. The device must drop, count and carry on - or ask for a
 * reset - and never crash. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net_fixture.h"

static struct net_fx fx;

static int teardown(void **state)
{
    (void)state;
    nfx_down(&fx);
    return 0;
}

/* Posts a raw chain on queue q and waits for it. */
static int raw(unsigned q, const struct vdrv_sg *sg, unsigned nout, unsigned nin, uint32_t *used)
{
    static char tok;
    int rc = vdrv_vq_add(&fx.vq[q], sg, nout, nin, &tok);
    if (rc < 0)
        return rc;
    if (vdrv_vq_kick_prepare(&fx.vq[q]))
        vdrv_notify(&fx.fn.drv, q);
    void *t = vdrv_vq_get_used(&fx.vq[q], used);
    return t == &tok ? 0 : -EPROTO;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 31 + seed);
}

static bool needs_reset(void)
{
    return vdrv_get_status(&fx.fn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

static void tx_malformed_chains(void **state)
{
    (void)state;
    assert_int_equal(nfx_up(&fx, NULL, NULL), 0);
    uint8_t *hdr = fx.data;
    uint64_t hdr_pa = fx.data_pa;
    memset(hdr, 0, 12);
    pattern(fx.frame, NET_MAX_FRAME + 1, 1);
    uint32_t used = 99;
    unsigned errs = 0;

    struct vdrv_sg short_hdr = { hdr_pa, 5 };
    assert_int_equal(raw(1, &short_hdr, 1, 0, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(fx.net.stats.tx_errors, ++errs);

    struct vdrv_sg sg[3] = { { hdr_pa, 12 }, { fx.frame_pa, 10 } }; /* below an Ethernet header */
    assert_int_equal(raw(1, sg, 2, 0, &used), 0);
    assert_int_equal(fx.net.stats.tx_errors, ++errs);
    sg[1].len = NET_MAX_FRAME + 1;
    assert_int_equal(raw(1, sg, 2, 0, &used), 0);
    assert_int_equal(fx.net.stats.tx_errors, ++errs);
    hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4; /* never offered */
    sg[1].len = 100;
    assert_int_equal(raw(1, sg, 2, 0, &used), 0);
    assert_int_equal(fx.net.stats.tx_errors, ++errs);
    hdr[1] = 0;
    hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM; /* CSUM not offered */
    assert_int_equal(raw(1, sg, 2, 0, &used), 0);
    assert_int_equal(fx.net.stats.tx_errors, ++errs);
    hdr[0] = 0;
    struct vdrv_sg writable = { fx.frame_pa, 100 }; /* no readable part at all */
    assert_int_equal(raw(1, &writable, 0, 1, &used), 0);
    assert_int_equal(fx.net.stats.tx_errors, ++errs);
    assert_int_equal(fx.fake.frames, 0);
    assert_false(needs_reset());

    /* The largest frame passes whole. */
    sg[1].len = NET_MAX_FRAME;
    assert_int_equal(raw(1, sg, 2, 0, &used), 0);
    assert_int_equal(fx.fake.frames, 1);
    assert_int_equal(fx.fake.last_len, NET_MAX_FRAME);
    assert_memory_equal(fx.fake.last, fx.frame, NET_MAX_FRAME);

    /* Header split across descriptors, frame in two pieces: reassembled. */
    sg[0] = (struct vdrv_sg){ hdr_pa, 4 };
    sg[1] = (struct vdrv_sg){ hdr_pa + 4, 8 + 20 };   /* header tail + 20 frame bytes */
    memcpy(hdr + 12, fx.frame, 20);
    sg[2] = (struct vdrv_sg){ fx.frame_pa + 20, 40 };
    assert_int_equal(raw(1, sg, 3, 0, &used), 0);
    assert_int_equal(fx.fake.frames, 2);
    assert_int_equal(fx.fake.last_len, 60);
    assert_memory_equal(fx.fake.last, fx.frame, 60);
    assert_int_equal(fx.net.stats.tx_errors, errs);

    /* ... and through the driver, still fine. */
    assert_int_equal(vdrv_net_send(&fx.drv, fx.frame_pa, 64), 0);
    assert_int_equal(fx.fake.frames, 3);
    assert_false(needs_reset());
}

static void rx_unusable_chains(void **state)
{
    (void)state;
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    uint8_t frame[60];
    pattern(frame, sizeof(frame), 3);
    uint32_t used = 99;

    /* Too small for a header: returned empty, the frame waits. */
    static char tok_small, tok_ro;
    struct vdrv_sg tiny = { fx.pool_pa, 4 };
    assert_int_equal(vdrv_vq_add(&fx.vq[0], &tiny, 0, 1, &tok_small), 0);
    /* A chain the device may only read is no receive buffer. */
    struct vdrv_sg ro = { fx.pool_pa + 64, 256 };
    assert_int_equal(vdrv_vq_add(&fx.vq[0], &ro, 1, 0, &tok_ro), 0);
    vdrv_vq_kick_prepare(&fx.vq[0]);
    net_dev_receive(&fx.net, frame, sizeof(frame));
    assert_ptr_equal(vdrv_vq_get_used(&fx.vq[0], &used), &tok_small);
    assert_int_equal(used, 0);
    assert_ptr_equal(vdrv_vq_get_used(&fx.vq[0], &used), &tok_ro);
    assert_int_equal(used, 0);
    assert_int_equal(fx.net.stats.rx_errors, 2);
    assert_int_equal(fx.net.stats.rx_frames, 0);

    /* Real buffers: the waiting frame arrives. */
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 2048, 8), 0);
    uint32_t len = 0;
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), 0);
    assert_int_equal(len, sizeof(frame));
    assert_memory_equal(fx.rx, frame, sizeof(frame));
    assert_false(needs_reset());
}

static void rx_backlog_bounded(void **state)
{
    (void)state;
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    uint8_t frame[100];
    pattern(frame, sizeof(frame), 5);
    /* Before anything is posted, frames wait - up to the bound. */
    for (unsigned i = 0; i < 100; i++) {
        frame[20] = (uint8_t)i;
        net_dev_receive(&fx.net, frame, sizeof(frame));
    }
    assert_int_equal(fx.net.rxq[0].frames, NET_RX_BACKLOG);
    assert_int_equal(fx.net.stats.rx_dropped, 100 - NET_RX_BACKLOG);
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 2048, 128), 0);
    for (unsigned i = 0; i < NET_RX_BACKLOG; i++) {
        uint32_t len = 0;
        assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), 0);
        assert_int_equal(len, sizeof(frame));
        assert_int_equal(fx.rx[20], i); /* oldest first */
    }
    uint32_t len;
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), -EAGAIN);
    /* Out-of-range frames from a backend are refused outright. */
    uint64_t dropped = fx.net.stats.rx_dropped;
    net_dev_receive(&fx.net, fx.pool, NET_MAX_FRAME + 1);
    net_dev_receive(&fx.net, frame, NET_MIN_FRAME - 1);
    assert_int_equal(fx.net.stats.rx_dropped, dropped + 2);
    /* The largest frame spreads over 2 KiB buffers. */
    static uint8_t big[NET_MAX_FRAME];
    pattern(big, sizeof(big), 9);
    nfx_down(&fx);
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 2048, 200), 0);
    net_dev_receive(&fx.net, big, sizeof(big));
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), 0);
    assert_int_equal(len, sizeof(big));
    assert_memory_equal(fx.rx, big, sizeof(big));
    assert_int_equal(fx.drv.last_num_buffers, (sizeof(big) + 12 + 2047) / 2048);
}

static void mrg_held_until_more_buffers(void **state)
{
    (void)state;
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 16), 0);
    assert_int_equal(fx.vq[0].size, 16);
    /* 4 buffers of 64 bytes: a 700-byte frame needs 12 */
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 64, 4), 0);
    uint8_t frame[700];
    pattern(frame, sizeof(frame), 11);
    net_dev_receive(&fx.net, frame, sizeof(frame));
    uint32_t len;
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), -EAGAIN);
    assert_int_equal(fx.net.rxq[0].nheld, 4);
    /* the driver posts 12 more (same pool, slots 4..15) */
    fx.drv.nbufs = 16;
    for (unsigned i = 4; i < 16; i++) {
        struct vdrv_sg sg = { fx.pool_pa + 64 * i, 64 };
        assert_int_equal(vdrv_vq_add(&fx.vq[0], &sg, 0, 1, fx.pool + 64 * i), 0);
    }
    if (vdrv_vq_kick_prepare(&fx.vq[0]))
        vdrv_notify(&fx.fn.drv, 0);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), 0);
    assert_int_equal(len, sizeof(frame));
    assert_memory_equal(fx.rx, frame, sizeof(frame));
    assert_int_equal(fx.drv.last_num_buffers, (700 + 12 + 63) / 64);

    /* A frame a whole ring cannot hold: dropped, its chains come back empty. */
    uint8_t big[1500];
    pattern(big, sizeof(big), 12);
    uint64_t errs = fx.net.stats.rx_errors;
    net_dev_receive(&fx.net, big, sizeof(big)); /* 16 x 64 < 1512 */
    assert_int_equal(fx.net.stats.rx_dropped, 1);
    assert_int_equal(fx.net.stats.rx_errors, errs + 1);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), -EPROTO);
    while (vdrv_vq_get_used(&fx.vq[0], &len))
        assert_int_equal(len, 0);
    assert_false(needs_reset());
}

static void no_mrg_frame_must_fit(void **state)
{
    (void)state;
    struct net_opts o = { .no_mrg_rxbuf = true };
    assert_int_equal(nfx_open(&fx, NULL, &o), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 256, 1), 0);
    uint8_t frame[1000];
    pattern(frame, sizeof(frame), 13);
    net_dev_receive(&fx.net, frame, sizeof(frame));
    assert_int_equal(fx.net.stats.rx_dropped, 1);
    uint32_t len;
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), -EAGAIN);
    /* the buffer was left for the next frame, which fits */
    net_dev_receive(&fx.net, frame, 200);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), 0);
    assert_int_equal(len, 200);
    assert_int_equal(fx.drv.last_num_buffers, 1); /* modern: always 1 */
    assert_memory_equal(fx.rx, frame, 200);
}

static void rx_only_when_running_and_up(void **state)
{
    (void)state;
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    uint8_t frame[64] = { 0 };
    net_dev_receive(&fx.net, frame, sizeof(frame)); /* no driver yet */
    assert_int_equal(fx.net.stats.rx_dropped, 1);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 2048, 8), 0);
    net_dev_set_link(&fx.net, false);
    net_dev_receive(&fx.net, frame, sizeof(frame));
    assert_int_equal(fx.net.stats.rx_dropped, 2);
    assert_int_equal(vdrv_net_send(&fx.drv, fx.frame_pa, 64), 0); /* dropped: link down */
    assert_int_equal(fx.fake.frames, 0);
    net_dev_set_link(&fx.net, true);
    net_dev_receive(&fx.net, frame, sizeof(frame));
    uint32_t len;
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), 0);
}

static void ctrl_hostile(void **state)
{
    (void)state;
    assert_int_equal(nfx_up(&fx, NULL, NULL), 0);
    uint32_t used;
    uint8_t *ack = fx.data + 8000;
    struct vdrv_sg sg[2] = { { fx.data_pa, 1 }, { fx.data_pa + 8000, 1 } };
    *ack = 0xff;
    assert_int_equal(raw(2, sg, 1, 1, &used), 0); /* 1-byte command */
    assert_int_equal(*ack, VIRTIO_NET_ERR);
    sg[0].len = NET_CTRL_MAX + 1;                 /* too long */
    fx.data[0] = VIRTIO_NET_CTRL_RX;
    *ack = 0xff;
    assert_int_equal(raw(2, sg, 1, 1, &used), 0);
    assert_int_equal(*ack, VIRTIO_NET_ERR);
    assert_int_equal(fx.net.stats.ctrl_err, 2);
    assert_false(needs_reset());
    /* No ack byte: the command cannot be answered, the device needs a reset. */
    sg[0].len = 3;
    assert_int_equal(raw(2, sg, 1, 0, &used), 0);
    assert_true(needs_reset());
    /* ... and a reset and new bring-up bring it back. */
    loopback_fn_detach(&fx.fn);
    fx.attached = false;
    memset(fx.vq, 0, sizeof(fx.vq));
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    assert_false(needs_reset());
    fx.data[0] = 1;
    assert_int_equal(vdrv_net_ctrl(&fx.drv, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
                                   fx.data_pa, 1), VIRTIO_NET_OK);
}

static void corrupted_ring_needs_reset(void **state)
{
    (void)state;
    assert_int_equal(nfx_up(&fx, NULL, NULL), 0);
    /* The driver claims 1000 more chains than the ring has. */
    fx.vq[1].avail->idx = (uint16_t)(fx.vq[1].avail->idx + 1000);
    vdrv_notify(&fx.fn.drv, 1);
    assert_true(needs_reset());
    assert_int_equal(fx.fake.frames, 0);
    /* a backend frame now is dropped, not delivered into a broken device */
    uint8_t frame[64] = { 0 };
    net_dev_receive(&fx.net, frame, sizeof(frame));
    assert_int_equal(fx.net.stats.rx_frames, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(tx_malformed_chains, teardown),
        cmocka_unit_test_teardown(rx_unusable_chains, teardown),
        cmocka_unit_test_teardown(rx_backlog_bounded, teardown),
        cmocka_unit_test_teardown(mrg_held_until_more_buffers, teardown),
        cmocka_unit_test_teardown(no_mrg_frame_must_fit, teardown),
        cmocka_unit_test_teardown(rx_only_when_running_and_up, teardown),
        cmocka_unit_test_teardown(ctrl_hostile, teardown),
        cmocka_unit_test_teardown(corrupted_ring_needs_reset, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
