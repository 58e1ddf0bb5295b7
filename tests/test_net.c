/* virtio-net over the real libslirp backend, through the loopback: kick's
 * driver sends hand-built frames and slirp (in process, no network needed)
 * answers them: ARP, DHCP, ICMP echo, host port forwarding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_fixture.h"
#include "net_frames.h"

#define WAIT_MS 3000

static struct net_fx fx;
static const struct net_slirp_opts slirp_defaults;

static int teardown(void **state)
{
    (void)state;
    nfx_down(&fx);
    return 0;
}

static int send_frame(struct vdrv_net *drv, const uint8_t *f, size_t len)
{
    memcpy(fx.frame, f, len);
    return vdrv_net_send(drv, fx.frame_pa, (uint32_t)len);
}

/* ARP for the gateway; slirp learns our MAC from the request. */
static void arp_gateway_on(struct vdrv_net *drv)
{
    uint8_t f[64];
    size_t n = arp_request(f, drv->mac, ip_of(GUEST_IP), ip_of(GATEWAY_IP));
    assert_int_equal(send_frame(drv, f, n), 0);
    int len = nfx_wait_frame_on(&fx, drv, is_arp_reply, NULL, WAIT_MS);
    assert_true(len >= 42);
    uint32_t gw = ip_of(GATEWAY_IP);
    assert_memory_equal(fx.rx, drv->mac, 6);       /* to us */
    assert_memory_equal(fx.rx + 14 + 14, &gw, 4);  /* sender: the gateway */
    assert_memory_equal(fx.rx + 14 + 18, drv->mac, 6);
}

static void config_and_features(void **state)
{
    (void)state;
    assert_int_equal(nfx_up(&fx, &slirp_defaults, NULL), 0);
    uint64_t f = fx.fn.drv.features;
    assert_true(f & (1ull << VIRTIO_F_VERSION_1));
    assert_true(f & (1ull << VIRTIO_NET_F_MAC));
    assert_true(f & (1ull << VIRTIO_NET_F_STATUS));
    assert_true(f & (1ull << VIRTIO_NET_F_MTU));
    assert_true(f & (1ull << VIRTIO_NET_F_MRG_RXBUF));
    assert_true(f & (1ull << VIRTIO_NET_F_CTRL_VQ));
    assert_true(f & (1ull << VIRTIO_RING_F_EVENT_IDX));
    /* slirp has no offloads to give */
    assert_false(f & (1ull << VIRTIO_NET_F_CSUM));
    assert_false(f & (1ull << VIRTIO_NET_F_GUEST_CSUM));
    assert_false(f & (1ull << VIRTIO_NET_F_HOST_TSO4));
    assert_false(f & (1ull << VIRTIO_NET_F_MQ));
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    assert_memory_equal(fx.drv.mac, mac, 6);
    assert_false(fx.drv.mac[0] & 1);   /* unicast */
    assert_true(fx.drv.mac[0] & 2);    /* locally administered */
    assert_int_equal(fx.drv.status, VIRTIO_NET_S_LINK_UP);
    assert_int_equal(fx.drv.mtu, 1500);
    assert_int_equal(fx.drv.max_pairs, 1);
    assert_int_equal(fx.drv.hdr_len, 12);
    assert_int_equal(net_dev_hdr_len(&fx.net), 12);
    assert_int_equal(fx.ctrl_q, 2);

    /* Link down: status reads 0 and the driver hears a config interrupt. */
    unsigned cfg_irqs = fx.fn.msi[0];
    net_dev_set_link(&fx.net, false);
    assert_int_equal(fx.fn.msi[0], cfg_irqs + 1);
    vdrv_net_read_config(&fx.drv);
    assert_int_equal(fx.drv.status, 0);
    net_dev_set_link(&fx.net, true);
    vdrv_net_read_config(&fx.drv);
    assert_int_equal(fx.drv.status, VIRTIO_NET_S_LINK_UP);
}

static void options(void **state)
{
    (void)state;
    static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
    struct net_opts o = { .mac = mac, .mtu = 9000, .no_mrg_rxbuf = true };
    assert_int_equal(nfx_up(&fx, NULL, &o), 0);
    assert_memory_equal(fx.drv.mac, mac, 6);
    assert_int_equal(fx.drv.mtu, 9000);
    assert_false(fx.fn.drv.features & (1ull << VIRTIO_NET_F_MRG_RXBUF));
    assert_int_equal(fx.drv.hdr_len, 12); /* modern: always with num_buffers */
    nfx_down(&fx);

    static const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
    struct net_opts bad_mac = { .mac = mcast };
    assert_int_equal(nfx_open(&fx, NULL, &bad_mac), -EINVAL);
    nfx_down(&fx);
    struct net_opts many = { .max_pairs = NET_MAX_PAIRS + 1 };
    assert_int_equal(nfx_open(&fx, NULL, &many), -EINVAL);
    nfx_down(&fx);
    struct net_opts mq_no_ctrl = { .max_pairs = 2, .no_ctrl_vq = true };
    assert_int_equal(nfx_open(&fx, NULL, &mq_no_ctrl), -EINVAL);
}

static void arp_gateway(void **state)
{
    (void)state;
    assert_int_equal(nfx_up(&fx, &slirp_defaults, NULL), 0);
    arp_gateway_on(&fx.drv);
    assert_int_equal(fx.net.stats.tx_frames, 1);
    assert_true(fx.net.stats.rx_frames >= 1);
    assert_int_equal(fx.drv.last_num_buffers, 1);
}

static bool is_dhcp_offer(const uint8_t *f, uint32_t len, const void *xidp)
{
    uint16_t port = 68;
    if (!is_udp_to(f, len, &port))
        return false;
    uint32_t pl = 0;
    const uint8_t *b = ip_payload(f, len, 17, &pl) + 8;
    uint32_t xid = *(const uint32_t *)xidp;
    return pl >= 8 + 240 + 3 && b[0] == 2 &&
           (uint32_t)(b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7]) == xid;
}

static void dhcp_offer(void **state)
{
    (void)state;
    assert_int_equal(nfx_up(&fx, &slirp_defaults, NULL), 0);
    uint8_t f[600];
    uint32_t xid = 0x4b49434b;
    size_t n = dhcp_discover(f, fx.drv.mac, xid);
    assert_int_equal(send_frame(&fx.drv, f, n), 0);
    int len = nfx_wait_frame(&fx, is_dhcp_offer, &xid, WAIT_MS);
    assert_true(len > 0);
    uint32_t pl = 0;
    const uint8_t *b = ip_payload(fx.rx, (uint32_t)len, 17, &pl) + 8;
    uint32_t offered = ip_of(GUEST_IP);
    assert_memory_equal(b + 16, &offered, 4);        /* yiaddr */
    assert_memory_equal(b + 28, fx.drv.mac, 6);      /* chaddr */
    /* the options say OFFER (53 = 2) */
    bool offer = false;
    for (uint32_t i = 240; i + 2 < pl - 8 && b[i] != 255; i += (b[i] ? 2u + b[i + 1] : 1u))
        if (b[i] == 53 && b[i + 1] == 1 && b[i + 2] == 2)
            offer = true;
    assert_true(offer);
}

static void icmp_echo_gateway(void **state)
{
    (void)state;
    assert_int_equal(nfx_up(&fx, &slirp_defaults, NULL), 0);
    arp_gateway_on(&fx.drv);
    uint8_t gw_mac[6];
    memcpy(gw_mac, fx.rx + 6, 6);
    uint8_t payload[56], f[128];
    for (unsigned i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    size_t n = icmp_echo(f, fx.drv.mac, gw_mac, ip_of(GUEST_IP), ip_of(GATEWAY_IP), 0x77, 3,
                         payload, sizeof(payload));
    assert_int_equal(send_frame(&fx.drv, f, n), 0);
    int len = nfx_wait_frame(&fx, is_icmp_reply, NULL, WAIT_MS);
    assert_true(len > 0);
    uint32_t pl = 0;
    const uint8_t *ic = ip_payload(fx.rx, (uint32_t)len, 1, &pl);
    assert_int_equal(pl, 8 + sizeof(payload));
    assert_int_equal(get16(ic + 4), 0x77);
    assert_int_equal(get16(ic + 6), 3);
    assert_memory_equal(ic + 8, payload, sizeof(payload));
    assert_int_equal(inet_csum(ic, pl), 0);
}

static uint16_t free_port(int type)
{
    int s = socket(AF_INET, type, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    return ntohs(a.sin_port);
}

static void hostfwd_tcp_and_udp(void **state)
{
    (void)state;
    uint16_t tport = free_port(SOCK_STREAM), uport = free_port(SOCK_DGRAM);
    char rule_t[64], rule_u[64];
    snprintf(rule_t, sizeof(rule_t), "hostfwd=tcp:127.0.0.1:%u-:2222", tport);
    snprintf(rule_u, sizeof(rule_u), "udp::%u-10.0.2.15:5353", uport);
    const char *rules[] = { rule_t, rule_u };
    struct net_slirp_opts so = { .hostfwd = rules, .nhostfwd = 2 };
    assert_int_equal(nfx_up(&fx, &so, NULL), 0);
    arp_gateway_on(&fx.drv); /* slirp now knows where 10.0.2.15 is */

    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(tport),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_true(c >= 0);
    int rc = connect(c, (struct sockaddr *)&a, sizeof(a));
    assert_true(rc == 0 || errno == EINPROGRESS);
    uint16_t gport = 2222;
    int len = nfx_wait_frame(&fx, is_tcp_to, &gport, WAIT_MS);
    close(c);
    assert_true(len > 0);
    uint32_t pl = 0;
    const uint8_t *t = ip_payload(fx.rx, (uint32_t)len, 6, &pl);
    assert_int_equal(t[13] & 0x12, 0x02); /* SYN, not ACK */
    uint32_t guest = ip_of(GUEST_IP);
    assert_memory_equal(fx.rx + 14 + 16, &guest, 4);
    assert_memory_equal(fx.rx, fx.drv.mac, 6);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    a.sin_port = htons(uport);
    assert_int_equal(sendto(u, "kick-udp", 8, 0, (struct sockaddr *)&a, sizeof(a)), 8);
    close(u);
    gport = 5353;
    len = nfx_wait_frame(&fx, is_udp_to, &gport, WAIT_MS);
    assert_true(len > 0);
    const uint8_t *ud = ip_payload(fx.rx, (uint32_t)len, 17, &pl);
    assert_int_equal(pl, 8 + 8);
    assert_memory_equal(ud + 8, "kick-udp", 8);
}

static void hostfwd_rules_parsed(void **state)
{
    (void)state;
    struct net_slirp_hostfwd h;
    char err[256];
    assert_int_equal(net_slirp_parse_hostfwd("tcp::8022-:22", &h, err, sizeof(err)), 0);
    assert_false(h.udp);
    assert_int_equal(h.host_port, 8022);
    assert_int_equal(h.guest_port, 22);
    assert_int_equal(h.host_addr.s_addr, htonl(INADDR_ANY));
    assert_int_equal(h.guest_addr.s_addr, ip_of(GUEST_IP));
    assert_int_equal(net_slirp_parse_hostfwd("hostfwd=udp:127.0.0.1:53-10.0.2.20:5353", &h, err,
                                             sizeof(err)), 0);
    assert_true(h.udp);
    assert_int_equal(h.host_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_equal(h.guest_addr.s_addr, ip_of("10.0.2.20"));
    const char *bad[] = { "sctp::1-:2", "tcp::8022", "tcp::-:22", "tcp::70000-:22",
                          "tcp::0-:22", "tcp::80x-:22", "tcp:1.2.3:80-:22", "tcp::80-:",
                          "tcp80-22", "" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(net_slirp_parse_hostfwd(bad[i], &h, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "hostfwd '"));
        assert_null(strchr(err, '\n')); /* one line */
    }
    /* A bad rule fails the whole backend, with the same message. */
    const char *rules[] = { "tcp::1-:99999" };
    struct net_slirp_opts so = { .hostfwd = rules, .nhostfwd = 1 };
    struct net_slirp s;
    assert_int_equal(net_slirp_open(&s, &so, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "port above 65535"));
}

static void mrg_rxbuf_splits_large_frame(void **state)
{
    (void)state;
    assert_int_equal(nfx_open(&fx, &slirp_defaults, NULL), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    /* 128-byte buffers: a 1042-byte echo reply needs 9 of them */
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 128, 200), 0);
    arp_gateway_on(&fx.drv);
    uint8_t gw_mac[6];
    memcpy(gw_mac, fx.rx + 6, 6);
    static uint8_t payload[1000], f[1100];
    for (unsigned i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i ^ 0x5a);
    size_t n = icmp_echo(f, fx.drv.mac, gw_mac, ip_of(GUEST_IP), ip_of(GATEWAY_IP), 1, 1,
                         payload, sizeof(payload));
    assert_int_equal(send_frame(&fx.drv, f, n), 0);
    int len = nfx_wait_frame(&fx, is_icmp_reply, NULL, WAIT_MS);
    assert_int_equal(len, (int)n);
    assert_int_equal(fx.drv.last_num_buffers, (n + 12 + 127) / 128);
    assert_int_equal(fx.drv.last_used_len, 128);
    uint32_t pl = 0;
    const uint8_t *ic = ip_payload(fx.rx, (uint32_t)len, 1, &pl);
    assert_memory_equal(ic + 8, payload, sizeof(payload));
}

static void legacy_header(void **state)
{
    (void)state;
    /* Legacy without MRG_RXBUF: the 10-byte header. */
    assert_int_equal(nfx_open(&fx, &slirp_defaults, NULL), 0);
    uint64_t wanted = ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
    assert_int_equal(nfx_plug(&fx, VPCI_TRANSITIONAL, true, wanted, 0), 0);
    assert_false(fx.fn.drv.modern);
    assert_true(fx.net.vdev.legacy);
    assert_int_equal(fx.drv.hdr_len, 10);
    assert_int_equal(net_dev_hdr_len(&fx.net), 10);
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 1536, 32), 0);
    arp_gateway_on(&fx.drv);
    assert_int_equal(fx.net.stats.tx_errors, 0);
    /* the ARP reply's used length was header + frame, with a 10-byte header */
    assert_true(fx.drv.last_used_len >= 10 + 42 && fx.drv.last_used_len <= 10 + 64);
    nfx_down(&fx);

    /* Legacy with MRG_RXBUF: 12 bytes, num_buffers used. */
    assert_int_equal(nfx_open(&fx, &slirp_defaults, NULL), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_TRANSITIONAL, true, ~0ull, 0), 0);
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_NET_F_MRG_RXBUF));
    assert_int_equal(fx.drv.hdr_len, 12);
    assert_int_equal(net_dev_hdr_len(&fx.net), 12);
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 1536, 32), 0);
    arp_gateway_on(&fx.drv);
    assert_int_equal(fx.drv.last_num_buffers, 1);
}

static void ctrl_commands(void **state)
{
    (void)state;
    assert_int_equal(nfx_up(&fx, &slirp_defaults, NULL), 0);
    struct vdrv_net *d = &fx.drv;
    fx.data[0] = 1;
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, fx.data_pa, 1),
                     VIRTIO_NET_OK);
    fx.data[0] = 0;
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, fx.data_pa, 1),
                     VIRTIO_NET_OK);
    assert_false(fx.net.promisc);
    fx.data[0] = 1;
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, fx.data_pa,
                                   1), VIRTIO_NET_OK);
    assert_true(fx.net.allmulti);
    /* wrong data length, bad value, a command needing CTRL_RX_EXTRA, no data */
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, fx.data_pa, 2),
                     VIRTIO_NET_ERR);
    fx.data[0] = 7;
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, fx.data_pa, 1),
                     VIRTIO_NET_ERR);
    fx.data[0] = 1;
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, fx.data_pa, 1),
                     VIRTIO_NET_ERR);
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0, 0),
                     VIRTIO_NET_ERR);
    assert_int_equal(vdrv_net_ctrl(d, 99, 0, 0, 0), VIRTIO_NET_ERR);
    /* MQ was not negotiated */
    fx.data[0] = 1, fx.data[1] = 0;
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                                   fx.data_pa, 2), VIRTIO_NET_ERR);

    /* MAC_ADDR_SET: the config follows; a short or multicast address fails */
    static const uint8_t mac[6] = { 0x06, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
    memcpy(fx.data, mac, 6);
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
                                   fx.data_pa, 6), VIRTIO_NET_OK);
    vdrv_net_read_config(d);
    assert_memory_equal(d->mac, mac, 6);
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
                                   fx.data_pa, 5), VIRTIO_NET_ERR);
    fx.data[0] = 0x01;
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
                                   fx.data_pa, 6), VIRTIO_NET_ERR);

    /* MAC_TABLE_SET: one unicast entry, two multicast; exact lengths only */
    uint8_t *t = fx.data;
    memset(t, 0, 64);
    t[0] = 1;            /* entries, le32 */
    t[4 + 6] = 2;        /* second table's entries */
    uint32_t tlen = 4 + 6 + 4 + 12;
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
                                   fx.data_pa, tlen), VIRTIO_NET_OK);
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
                                   fx.data_pa, tlen - 1), VIRTIO_NET_ERR);
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
                                   fx.data_pa, tlen + 1), VIRTIO_NET_ERR);
    t[0] = 0xff, t[1] = 0xff, t[2] = 0xff, t[3] = 0xff; /* 4G entries */
    assert_int_equal(vdrv_net_ctrl(d, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
                                   fx.data_pa, tlen), VIRTIO_NET_ERR);
    assert_int_equal(fx.net.stats.ctrl_ok, 5);

    /* A reset forgets the MAC the driver set. */
    vdrv_reset(&fx.fn.drv);
    assert_memory_equal(fx.net.cfg.mac, fx.net.mac, 6);
    assert_true(fx.net.promisc);
}

static void mq_pairs(void **state)
{
    (void)state;
    struct net_opts o = { .max_pairs = 2 };
    assert_int_equal(nfx_open(&fx, &slirp_defaults, &o), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_NET_F_MQ));
    assert_int_equal(fx.drv.max_pairs, 2);
    assert_int_equal(fx.ctrl_q, 4);
    assert_int_equal(net_ctrl_queue(&fx.net), 4);
    assert_int_equal(fx.net.curr_pairs, 1);
    uint8_t *v = fx.data;
    v[0] = 2, v[1] = 0;
    assert_int_equal(vdrv_net_ctrl(&fx.drv, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                                   fx.data_pa, 2), VIRTIO_NET_OK);
    assert_int_equal(fx.net.curr_pairs, 2);
    v[0] = 3;
    assert_int_equal(vdrv_net_ctrl(&fx.drv, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                                   fx.data_pa, 2), VIRTIO_NET_ERR);
    v[0] = 0;
    assert_int_equal(vdrv_net_ctrl(&fx.drv, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                                   fx.data_pa, 2), VIRTIO_NET_ERR);
    assert_int_equal(fx.net.curr_pairs, 2);

    /* Pair 1 as a second driver: a ping it sends is answered on rx1. */
    static struct vdrv_net d1;
    uint64_t s1pa;
    void *s1 = loopback_alloc(&fx.lb, VDRV_NET_SCRATCH, 64, &s1pa);
    assert_non_null(s1);
    vdrv_net_init(&d1, &fx.fn.drv, &fx.vq[2], 2, &fx.vq[3], 3, s1, s1pa, nfx_idle, &fx);
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 2048, 32), 0);
    assert_int_equal(vdrv_net_rx_fill(&d1, fx.pool + 32 * 2048, fx.pool_pa + 32 * 2048, 2048, 32),
                     0);
    arp_gateway_on(&fx.drv); /* non-IP: pair 0 */
    uint8_t gw_mac[6], f[128], payload[16] = "pair-one-ping!!";
    memcpy(gw_mac, fx.rx + 6, 6);
    size_t n = icmp_echo(f, d1.mac, gw_mac, ip_of(GUEST_IP), ip_of(GATEWAY_IP), 9, 9, payload,
                         sizeof(payload));
    assert_int_equal(send_frame(&d1, f, n), 0);
    assert_true(nfx_wait_frame_on(&fx, &d1, is_icmp_reply, NULL, WAIT_MS) > 0);
    uint32_t len;
    assert_int_equal(vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len), -EAGAIN);
    nfx_down(&fx);

    /* MQ offered but not taken: one pair, the control queue is queue 2. */
    assert_int_equal(nfx_open(&fx, &slirp_defaults, &o), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~(1ull << VIRTIO_NET_F_MQ), 0), 0);
    assert_int_equal(fx.ctrl_q, 2);
    assert_int_equal(net_ctrl_queue(&fx.net), 2);
    fx.data[0] = 1;
    assert_int_equal(vdrv_net_ctrl(&fx.drv, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
                                   fx.data_pa, 1), VIRTIO_NET_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(config_and_features, teardown),
        cmocka_unit_test_teardown(options, teardown),
        cmocka_unit_test_teardown(arp_gateway, teardown),
        cmocka_unit_test_teardown(dhcp_offer, teardown),
        cmocka_unit_test_teardown(icmp_echo_gateway, teardown),
        cmocka_unit_test_teardown(hostfwd_tcp_and_udp, teardown),
        cmocka_unit_test_teardown(hostfwd_rules_parsed, teardown),
        cmocka_unit_test_teardown(mrg_rxbuf_splits_large_frame, teardown),
        cmocka_unit_test_teardown(legacy_header, teardown),
        cmocka_unit_test_teardown(ctrl_commands, teardown),
        cmocka_unit_test_teardown(mq_pairs, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
