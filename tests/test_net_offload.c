/* virtio-net offloads and queue pairs on a backend that carries the vnet
 * header (send_vnet, as the tap does), with a recording fake so every
 * header and frame the device hands on can be compared byte for byte:
 * the offloads are offered only with such a backend, the guest's header
 * reaches the backend intact and the backend's reaches the guest intact,
 * frames go to and come from the right queue pair, and a hostile header
 * at most drops its frame. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>

#include "net_fixture.h"

static struct net_fx fx;

/* A backend that takes the header: records the last frame sent. */
struct vnet_fake {
    struct net_backend nb;
    unsigned frames, plain_frames, pair;
    struct virtio_net_hdr_v1 hdr;
    size_t len;
    uint8_t frame[NET_MAX_FRAME];
    uint64_t features;
    unsigned set_features_calls;
};
static struct vnet_fake vf;

static int vf_send(void *be, const void *frame, size_t len)
{
    (void)frame, (void)len;
    ((struct vnet_fake *)be)->plain_frames++;
    return 0;
}

static int vf_send_vnet(void *be, unsigned pair, const struct iovec *iov, unsigned niov)
{
    struct vnet_fake *f = be;
    if (iov[0].iov_len != sizeof(f->hdr))
        return -EINVAL;
    memcpy(&f->hdr, iov[0].iov_base, sizeof(f->hdr));
    f->len = 0;
    for (unsigned i = 1; i < niov; i++) {
        if (f->len + iov[i].iov_len > sizeof(f->frame))
            return -EMSGSIZE;
        memcpy(f->frame + f->len, iov[i].iov_base, iov[i].iov_len);
        f->len += iov[i].iov_len;
    }
    f->pair = pair;
    f->frames++;
    return 0;
}

static void vf_set_features(void *be, uint64_t features)
{
    struct vnet_fake *f = be;
    f->features = features;
    f->set_features_calls++;
}

static const struct net_backend_ops vf_ops = {
    .send = vf_send, .send_vnet = vf_send_vnet, .set_features = vf_set_features,
};

/* The fixture's device, rebound to the vnet fake with options o, plugged
 * in with `wanted`, rx buffers of buf bytes posted on pair 0. */
static void up_on_vnet(const struct net_opts *o, uint64_t wanted, uint32_t buf, unsigned nbufs)
{
    memset(&vf, 0, sizeof(vf));
    vf.nb = (struct net_backend){ .ops = &vf_ops, .be = &vf };
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    net_dev_destroy(&fx.net);
    assert_int_equal(net_dev_init(&fx.net, &vf.nb, o), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, wanted, 0), 0);
    if (nbufs)
        assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, buf, nbufs), 0);
}

static int teardown(void **state)
{
    (void)state;
    nfx_down(&fx);
    return 0;
}

/* Posts a raw tx chain (hlen header bytes, frame) on queue q and waits for it. */
static int send_raw_hlen(unsigned q, const struct virtio_net_hdr_v1 *h, uint32_t hlen,
                         size_t frame_len)
{
    static char tok;
    memcpy(fx.data, h, hlen);
    struct vdrv_sg sg[2] = { { fx.data_pa, hlen }, { fx.frame_pa, (uint32_t)frame_len } };
    int rc = vdrv_vq_add(&fx.vq[q], sg, 2, 0, &tok);
    if (rc < 0)
        return rc;
    if (vdrv_vq_kick_prepare(&fx.vq[q]))
        vdrv_notify(&fx.fn.drv, q);
    uint32_t used;
    return vdrv_vq_get_used(&fx.vq[q], &used) == &tok ? 0 : -EPROTO;
}

static int send_raw(unsigned q, const struct virtio_net_hdr_v1 *h, size_t frame_len)
{
    return send_raw_hlen(q, h, sizeof(*h), frame_len);
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + seed);
}

/* A TSO header for a TCP/IPv4 frame: headers 54 bytes, MSS 1448. */
static struct virtio_net_hdr_v1 tso4_hdr(void)
{
    return (struct virtio_net_hdr_v1){
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
        .hdr_len = htole16(54), .gso_size = htole16(1448), .csum_start = htole16(34),
        .csum_offset = htole16(16),
    };
}

static void offloads_only_with_vnet_backend(void **state)
{
    (void)state;
    /* the plain fake (send only), as slirp */
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    assert_int_equal(fx.net.vdev.host_features & NET_OFFLOAD_FEATURES, 0);
    nfx_down(&fx);

    up_on_vnet(NULL, ~0ull, 2048, 8);
    uint64_t offered = fx.net.vdev.host_features;
    assert_int_equal(offered & NET_OFFLOAD_FEATURES, NET_OFFLOAD_FEATURES);
    /* the ECN and UFO variants are not offered */
    assert_false(offered & (1ull << VIRTIO_NET_F_HOST_ECN));
    assert_false(offered & (1ull << VIRTIO_NET_F_GUEST_UFO));
    assert_int_equal(fx.fn.drv.features & NET_OFFLOAD_FEATURES, NET_OFFLOAD_FEATURES);
    /* DRIVER_OK told the backend what the guest accepted */
    assert_int_equal(vf.features & NET_OFFLOAD_FEATURES, NET_OFFLOAD_FEATURES);
    nfx_down(&fx);

    struct net_opts off = { .no_offloads = true };
    up_on_vnet(&off, ~0ull, 2048, 8);
    assert_int_equal(fx.net.vdev.host_features & NET_OFFLOAD_FEATURES, 0);
    assert_int_equal(vf.features & NET_OFFLOAD_FEATURES, 0);
    nfx_down(&fx);

    /* 5.1.3.1: a TSO without its checksum feature is refused at FEATURES_OK */
    up_on_vnet(NULL, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_CSUM) |
                     (1ull << VIRTIO_NET_F_HOST_TSO4), 2048, 8);
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_NET_F_HOST_TSO4));
    nfx_down(&fx);
    up_on_vnet(NULL, ~0ull, 0, 0);
    struct virtio_dev *d = &fx.net.vdev;
    virtio_dev_reset(d);
    assert_int_equal(vf.features, 0); /* reset takes the offloads back */
    virtio_dev_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    uint64_t bad[] = {
        (1ull << VIRTIO_NET_F_HOST_TSO4),
        (1ull << VIRTIO_NET_F_HOST_TSO6),
        (1ull << VIRTIO_NET_F_GUEST_TSO4),
        (1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_NET_F_CSUM),
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(virtio_dev_set_guest_features(d, bad[i] | (1ull << VIRTIO_F_VERSION_1)),
                         0);
        virtio_dev_set_status(d, d->status | VIRTIO_CONFIG_S_FEATURES_OK);
        assert_false(d->status & VIRTIO_CONFIG_S_FEATURES_OK);
    }
}

static void header_passes_through(void **state)
{
    (void)state;
    up_on_vnet(NULL, ~0ull, 2048, 64);
    /* tx: a 64 KiB TSO frame, header and bytes as the guest wrote them */
    struct virtio_net_hdr_v1 h = tso4_hdr();
    size_t len = 65536 + 14;
    pattern(fx.frame, len, 1);
    assert_int_equal(send_raw(1, &h, len), 0);
    assert_int_equal(vf.frames, 1);
    assert_int_equal(vf.plain_frames, 0);
    assert_memory_equal(&vf.hdr, &h, sizeof(h));
    assert_int_equal(vf.len, len);
    assert_memory_equal(vf.frame, fx.frame, len);
    assert_int_equal(fx.net.stats.tx_frames, 1);
    assert_int_equal(fx.net.stats.tx_bytes, len);

    /* a header split over descriptors and a frame in pieces: the same */
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    h.csum_start = htole16(54);
    h.hdr_len = htole16(74);
    memcpy(fx.data, &h, sizeof(h));
    memcpy(fx.data + sizeof(h), fx.frame, 100);
    static char tok;
    struct vdrv_sg sg[3] = { { fx.data_pa, 5 }, { fx.data_pa + 5, sizeof(h) - 5 + 100 },
                             { fx.frame_pa + 100, 900 } };
    assert_int_equal(vdrv_vq_add(&fx.vq[1], sg, 3, 0, &tok), 0);
    if (vdrv_vq_kick_prepare(&fx.vq[1]))
        vdrv_notify(&fx.fn.drv, 1);
    uint32_t used;
    assert_ptr_equal(vdrv_vq_get_used(&fx.vq[1], &used), &tok);
    assert_int_equal(vf.frames, 2);
    assert_memory_equal(&vf.hdr, &h, sizeof(h));
    assert_int_equal(vf.len, 1000);
    assert_memory_equal(vf.frame, fx.frame, 1000);

    /* rx: a 64 KiB TSO frame from the backend, spread over 2 KiB buffers,
     * reaches the guest with the backend's header and num_buffers */
    static uint8_t big[NET_MAX_FRAME];
    pattern(big, NET_MAX_FRAME, 9);
    struct virtio_net_hdr_v1 rh = tso4_hdr();
    rh.num_buffers = htole16(77); /* the backend's is ignored */
    net_dev_receive_vnet(&fx.net, 0, &rh, big, NET_MAX_FRAME);
    uint32_t got = 0;
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), 0);
    assert_int_equal(got, NET_MAX_FRAME);
    assert_memory_equal(fx.rx, big, NET_MAX_FRAME);
    unsigned nb = (NET_MAX_FRAME + 12 + 2047) / 2048;
    assert_int_equal(fx.drv.last_num_buffers, nb);
    rh.num_buffers = htole16((uint16_t)nb);
    assert_memory_equal(fx.drv.last_hdr, &rh, sizeof(rh));
    assert_int_equal(fx.net.stats.rx_frames, 1);

    /* ... also when it has to wait for buffers: 8 posted, 33 needed */
    nfx_down(&fx);
    up_on_vnet(NULL, ~0ull, 2048, 8);
    rh.num_buffers = 0;
    rh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    net_dev_receive_vnet(&fx.net, 0, &rh, big, NET_MAX_FRAME);
    assert_int_equal(fx.net.rxq[0].frames, 1);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), -EAGAIN);
    assert_int_equal(fx.net.rxq[0].nheld, 8);
    pattern(big, NET_MAX_FRAME, 10); /* the backend reuses its buffer */
    /* the driver posts 32 more (same pool, slots 8..39) */
    fx.drv.nbufs = 40;
    for (unsigned i = 8; i < 40; i++) {
        struct vdrv_sg sg = { fx.pool_pa + 2048 * i, 2048 };
        assert_int_equal(vdrv_vq_add(&fx.vq[0], &sg, 0, 1, fx.pool + 2048 * i), 0);
    }
    if (vdrv_vq_kick_prepare(&fx.vq[0]))
        vdrv_notify(&fx.fn.drv, 0);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), 0);
    assert_int_equal(got, NET_MAX_FRAME);
    pattern(big, NET_MAX_FRAME, 9);
    assert_memory_equal(fx.rx, big, NET_MAX_FRAME);
    assert_int_equal(fx.drv.last_hdr[1], VIRTIO_NET_HDR_GSO_TCPV6);
    assert_int_equal(fx.net.stats.rx_dropped, 0);
}

/* A legacy driver without MRG_RXBUF has the 10-byte header: the backend
 * still gets the 12-byte layout, the same fields, and the guest gets 10. */
static void legacy_short_header(void **state)
{
    (void)state;
    memset(&vf, 0, sizeof(vf));
    vf.nb = (struct net_backend){ .ops = &vf_ops, .be = &vf };
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    net_dev_destroy(&fx.net);
    assert_int_equal(net_dev_init(&fx.net, &vf.nb, NULL), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_TRANSITIONAL, true, ~(1ull << VIRTIO_NET_F_MRG_RXBUF), 0),
                     0);
    assert_true(fx.net.vdev.legacy);
    assert_int_equal(net_dev_hdr_len(&fx.net), 10);
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_NET_F_HOST_TSO4));
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 4096, 16), 0);

    struct virtio_net_hdr_v1 h = tso4_hdr();
    h.num_buffers = 0xabab; /* not part of a 10-byte header: never read */
    pattern(fx.frame, 3000, 5);
    assert_int_equal(send_raw_hlen(1, &h, 10, 3000), 0);
    assert_int_equal(vf.frames, 1);
    h.num_buffers = 0;
    assert_memory_equal(&vf.hdr, &h, sizeof(h));
    assert_int_equal(vf.len, 3000);
    assert_memory_equal(vf.frame, fx.frame, 3000);

    struct virtio_net_hdr_v1 rh = tso4_hdr();
    net_dev_receive_vnet(&fx.net, 0, &rh, fx.frame, 3000);
    uint32_t got;
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), 0);
    assert_int_equal(got, 3000);
    assert_int_equal(fx.drv.last_used_len, 10 + 3000);
    assert_memory_equal(fx.drv.last_hdr, &rh, 10);
    assert_memory_equal(fx.rx, fx.frame, 3000);
}

static void mq_pair_selection(void **state)
{
    (void)state;
    struct net_opts o = { .max_pairs = 2 };
    up_on_vnet(&o, ~0ull, 2048, 32);
    static struct vdrv_net d1;
    uint64_t s1pa;
    void *s1 = loopback_alloc(&fx.lb, VDRV_NET_SCRATCH, 64, &s1pa);
    assert_non_null(s1);
    vdrv_net_init(&d1, &fx.fn.drv, &fx.vq[2], 2, &fx.vq[3], 3, s1, s1pa, nfx_idle, &fx);
    assert_int_equal(vdrv_net_rx_fill(&d1, fx.pool + 32 * 2048, fx.pool_pa + 32 * 2048, 2048, 32),
                     0);
    uint8_t f[64];
    pattern(f, sizeof(f), 4);
    uint32_t got;
    struct virtio_net_hdr_v1 plain = { 0 };

    /* one pair in use: everything on pair 0, whatever the backend's queue */
    net_dev_receive_vnet(&fx.net, 1, &plain, f, sizeof(f));
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), 0);
    assert_int_equal(vdrv_net_recv(&d1, fx.rx, sizeof(fx.rx), &got), -EAGAIN);

    fx.data[0] = 2, fx.data[1] = 0;
    assert_int_equal(vdrv_net_ctrl(&fx.drv, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                                   fx.data_pa, 2), VIRTIO_NET_OK);
    /* rx: the backend's queue picks the pair */
    f[20] = 1;
    net_dev_receive_vnet(&fx.net, 1, &plain, f, sizeof(f));
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), -EAGAIN);
    assert_int_equal(vdrv_net_recv(&d1, fx.rx, sizeof(fx.rx), &got), 0);
    assert_memory_equal(fx.rx, f, sizeof(f));
    f[20] = 0;
    net_dev_receive_vnet(&fx.net, 0, &plain, f, sizeof(f));
    assert_int_equal(vdrv_net_recv(&d1, fx.rx, sizeof(fx.rx), &got), -EAGAIN);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), 0);
    assert_memory_equal(fx.rx, f, sizeof(f));
    /* a queue beyond the pairs: pair 0, not out of bounds */
    net_dev_receive_vnet(&fx.net, 7, &plain, f, sizeof(f));
    net_dev_receive_vnet(&fx.net, ~0u, &plain, f, sizeof(f));
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), 0);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), 0);
    assert_int_equal(net_dev_rx_backlog(&fx.net, 7), 0);

    /* tx: the backend hears which pair sent */
    memcpy(fx.frame, f, sizeof(f));
    assert_int_equal(vdrv_net_send(&d1, fx.frame_pa, sizeof(f)), 0);
    assert_int_equal(vf.pair, 1);
    assert_int_equal(vdrv_net_send(&fx.drv, fx.frame_pa, sizeof(f)), 0);
    assert_int_equal(vf.pair, 0);
    assert_int_equal(vf.frames, 2);

    /* backlog per pair: pair 1 without buffers holds frames, pair 0 not */
    for (unsigned i = 0; i < 32; i++)
        net_dev_receive_vnet(&fx.net, 1, &plain, f, sizeof(f));
    net_dev_receive_vnet(&fx.net, 1, &plain, f, sizeof(f));
    assert_int_equal(net_dev_rx_backlog(&fx.net, 1), 1);
    assert_int_equal(net_dev_rx_backlog(&fx.net, 0), 0);
}

static void hostile_headers(void **state)
{
    (void)state;
    up_on_vnet(NULL, ~0ull, 2048, 16);
    size_t len = 2000;
    pattern(fx.frame, len, 3);
    unsigned errs = 0;
    struct virtio_net_hdr_v1 bad[10];
    for (unsigned i = 0; i < 10; i++)
        bad[i] = tso4_hdr();
    bad[0].gso_type = 5;                                  /* no such type */
    bad[1].gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN; /* HOST_ECN not offered */
    bad[2].gso_type = VIRTIO_NET_HDR_GSO_UDP;             /* HOST_UFO not offered */
    bad[3].gso_size = 0;                                  /* segments of nothing */
    bad[4].flags = 0;                                     /* TSO without the checksum */
    bad[5].csum_start = htole16(1999);                    /* checksum field past the end */
    bad[6].csum_start = htole16(0xffff);                  /* u16 sums must not wrap */
    bad[6].csum_offset = htole16(0xffff);
    bad[7].gso_type = 0xff;
    bad[8].csum_offset = htole16((uint16_t)(len - 34 - 1));
    bad[9].gso_type = VIRTIO_NET_HDR_GSO_NONE;
    bad[9].flags = 0xff & ~VIRTIO_NET_HDR_F_NEEDS_CSUM;   /* fixed, not dropped: see below */
    for (unsigned i = 0; i < 9; i++) {
        assert_int_equal(send_raw(1, &bad[i], len), 0);
        assert_int_equal(fx.net.stats.tx_errors, ++errs);
    }
    assert_int_equal(vf.frames, 0);
    /* rx-only flags and a num_buffers from the guest are cleared; an hdr_len
     * beyond the frame is not trusted */
    bad[9].num_buffers = htole16(5);
    bad[9].hdr_len = htole16(60000);
    assert_int_equal(send_raw(1, &bad[9], len), 0);
    assert_int_equal(vf.frames, 1);
    assert_int_equal(vf.hdr.flags, 0);
    assert_int_equal(vf.hdr.num_buffers, 0);
    assert_int_equal(vf.hdr.hdr_len, 0);
    assert_int_equal(fx.net.stats.tx_errors, errs);
    /* the checksum field ending exactly at the end of the frame is fine */
    struct virtio_net_hdr_v1 edge = tso4_hdr();
    edge.csum_offset = htole16((uint16_t)(len - 34 - 2));
    assert_int_equal(send_raw(1, &edge, len), 0);
    assert_int_equal(vf.frames, 2);
    assert_false(vdrv_get_status(&fx.fn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET);

    /* rx: what the backend hands over must suit this driver */
    struct virtio_net_hdr_v1 rbad = tso4_hdr();
    rbad.gso_type = 9;
    uint32_t got;
    net_dev_receive_vnet(&fx.net, 0, &rbad, fx.frame, len);
    assert_int_equal(fx.net.stats.rx_dropped, 1);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), -EAGAIN);
    nfx_down(&fx);

    /* a driver without offloads: offloaded frames both ways are dropped */
    up_on_vnet(NULL, ~NET_OFFLOAD_FEATURES, 2048, 16);
    assert_int_equal(vf.features & NET_OFFLOAD_FEATURES, 0);
    struct virtio_net_hdr_v1 csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                      .csum_start = htole16(34), .csum_offset = htole16(16) };
    struct virtio_net_hdr_v1 tso = tso4_hdr();
    assert_int_equal(send_raw(1, &csum, len), 0);
    assert_int_equal(send_raw(1, &tso, len), 0);
    assert_int_equal(fx.net.stats.tx_errors, 2);
    assert_int_equal(vf.frames, 0);
    net_dev_receive_vnet(&fx.net, 0, &csum, fx.frame, len);
    net_dev_receive_vnet(&fx.net, 0, &tso, fx.frame, len);
    assert_int_equal(fx.net.stats.rx_dropped, 2);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), -EAGAIN);
    /* DATA_VALID is cleared for it (flags must be 0 without GUEST_CSUM) */
    struct virtio_net_hdr_v1 valid = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
    net_dev_receive_vnet(&fx.net, 0, &valid, fx.frame, len);
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &got), 0);
    assert_int_equal(got, len);
    assert_int_equal(fx.drv.last_hdr[0], 0);
    assert_false(vdrv_get_status(&fx.fn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(offloads_only_with_vnet_backend, teardown),
        cmocka_unit_test_teardown(header_passes_through, teardown),
        cmocka_unit_test_teardown(legacy_short_header, teardown),
        cmocka_unit_test_teardown(mq_pair_selection, teardown),
        cmocka_unit_test_teardown(hostile_headers, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
