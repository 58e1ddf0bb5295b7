/* virtio-net over the tap backend: the test moves itself into a network
 * namespace of its own (unshare), creates a tap there with 10.9.0.1/24, and
 * kick's driver talks to the real kernel stack through the device: ARP and
 * ICMP echo; a TCP SYN whose checksum the kernel must finish (NEEDS_CSUM
 * passed through the vnet header) answered by a RST; headers the kernel
 * refuses; a multiqueue tap. Skipped (exit 77) where namespaces or tun are
 * not permitted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <unistd.h>

#include "backends/net_tap.h"
#include "net_fixture.h"
#include "net_frames.h"

#define TAP_HOST_IP  "10.9.0.1"
#define TAP_GUEST_IP "10.9.0.2"

static struct net_fx fx;
static struct net_tap tap;

static int setup(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(net_tap_open(&tap, "kicktap0", err, sizeof(err)), 0);
    assert_string_equal(tap.ifname, "kicktap0");
    assert_int_equal(system("ip addr add " TAP_HOST_IP "/24 dev kicktap0 && "
                            "ip link set kicktap0 up"), 0);
    /* the fixture's device, bound to the tap instead of its fake */
    assert_int_equal(nfx_open(&fx, NULL, NULL), 0);
    net_dev_destroy(&fx.net);
    assert_int_equal(net_dev_init(&fx.net, &tap.nb, NULL), 0);
    assert_int_equal(nfx_plug(&fx, VPCI_MODERN, false, ~0ull, 0), 0);
    assert_int_equal(vdrv_net_rx_fill(&fx.drv, fx.pool, fx.pool_pa, 2048, 64), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nfx_down(&fx);
    net_tap_close(&tap);
    return 0;
}

/* What a device thread does: wait for the tap, move frames to the device. */
static int wait_frame(nfx_match_fn *match, int timeout_ms)
{
    int64_t end = nfx_now_ms() + timeout_ms;
    for (;;) {
        uint32_t len = 0;
        int rc = vdrv_net_recv(&fx.drv, fx.rx, sizeof(fx.rx), &len);
        if (rc == 0 && match(fx.rx, len, NULL))
            return (int)len;
        if (rc < 0 && rc != -EAGAIN)
            return rc;
        if (rc == -EAGAIN) {
            if (nfx_now_ms() > end)
                return -ETIMEDOUT;
            struct pollfd p = { .fd = tap.fd, .events = POLLIN };
            if (poll(&p, 1, 20) > 0)
                net_tap_poll(&tap);
        }
    }
}

static void tap_arp_and_ping(void **state)
{
    (void)state;
    uint8_t f[128];
    memcpy(fx.frame, f, arp_request(f, fx.drv.mac, ip_of(TAP_GUEST_IP), ip_of(TAP_HOST_IP)));
    assert_int_equal(vdrv_net_send(&fx.drv, fx.frame_pa, 42), 0);
    assert_int_equal(tap.frames_out, 1);
    int len = wait_frame(is_arp_reply, 3000);
    assert_true(len >= 42);
    uint32_t host = ip_of(TAP_HOST_IP);
    assert_memory_equal(fx.rx + 14 + 14, &host, 4);
    assert_memory_equal(fx.rx, fx.drv.mac, 6);
    uint8_t host_mac[6];
    memcpy(host_mac, fx.rx + 6, 6);

    uint8_t payload[32] = "through the kernel and back";
    size_t n = icmp_echo(f, fx.drv.mac, host_mac, ip_of(TAP_GUEST_IP), host, 5, 1, payload,
                         sizeof(payload));
    memcpy(fx.frame, f, n);
    assert_int_equal(vdrv_net_send(&fx.drv, fx.frame_pa, (uint32_t)n), 0);
    len = wait_frame(is_icmp_reply, 3000);
    assert_true(len > 0);
    uint32_t pl = 0;
    const uint8_t *ic = ip_payload(fx.rx, (uint32_t)len, 1, &pl);
    assert_int_equal(get16(ic + 4), 5);
    assert_memory_equal(ic + 8, payload, sizeof(payload));
    assert_int_equal(fx.net.stats.tx_errors, 0);
}

/* The guest's ARP, so the kernel knows our MAC; returns the tap's. */
static void learn_host_mac(uint8_t *host_mac)
{
    uint8_t f[128];
    memcpy(fx.frame, f, arp_request(f, fx.drv.mac, ip_of(TAP_GUEST_IP), ip_of(TAP_HOST_IP)));
    assert_int_equal(vdrv_net_send(&fx.drv, fx.frame_pa, 42), 0);
    assert_true(wait_frame(is_arp_reply, 3000) >= 42);
    memcpy(host_mac, fx.rx + 6, 6);
}

static bool is_rst_to_us(const uint8_t *f, uint32_t len, const void *arg)
{
    (void)arg;
    uint16_t port = 40000;
    uint32_t pl;
    const uint8_t *t = ip_payload(f, len, 6, &pl);
    return is_tcp_to(f, len, &port) && (t[13] & 0x04);
}

/* A SYN to a closed port whose TCP checksum field holds only the
 * pseudo-header sum: the kernel answers with a RST only if it finished
 * the checksum, which it does only if the header said NEEDS_CSUM. */
static void tap_partial_checksum(void **state)
{
    (void)state;
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_NET_F_CSUM));
    assert_true(fx.fn.drv.features & (1ull << VIRTIO_NET_F_HOST_TSO4));
    assert_int_equal(tap.offloads & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6),
                     TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
    uint8_t host_mac[6];
    learn_host_mac(host_mac);

    uint8_t *f = fx.frame;
    size_t n = eth_hdr(f, host_mac, fx.drv.mac, ETH_P_IPV4);
    uint32_t src = ip_of(TAP_GUEST_IP), dst = ip_of(TAP_HOST_IP);
    n += ip_hdr(f + n, 6, src, dst, 20);
    uint8_t *t = f + n;
    memset(t, 0, 20);
    put16(t, 40000);
    put16(t + 2, 9);
    t[7] = 1;         /* seq 1 */
    t[12] = 5 << 4;   /* 20-byte header */
    t[13] = 0x02;     /* SYN */
    put16(t + 14, 1024);
    uint8_t pseudo[12];
    memcpy(pseudo, &src, 4);
    memcpy(pseudo + 4, &dst, 4);
    pseudo[8] = 0, pseudo[9] = 6;
    put16(pseudo + 10, 20);
    put16(t + 16, (uint16_t)~inet_csum(pseudo, sizeof(pseudo)));
    n += 20;

    struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                   .csum_start = htole16(34), .csum_offset = htole16(16) };
    memcpy(fx.data, &h, sizeof(h));
    static char tok;
    struct vdrv_sg sg[2] = { { fx.data_pa, sizeof(h) }, { fx.frame_pa, (uint32_t)n } };
    assert_int_equal(vdrv_vq_add(&fx.vq[1], sg, 2, 0, &tok), 0);
    if (vdrv_vq_kick_prepare(&fx.vq[1]))
        vdrv_notify(&fx.fn.drv, 1);
    uint32_t used;
    assert_ptr_equal(vdrv_vq_get_used(&fx.vq[1], &used), &tok);
    assert_int_equal(fx.net.stats.tx_errors, 0);
    assert_true(wait_frame(is_rst_to_us, 3000) > 0);

    /* A header the device lets through but the kernel refuses (a TSO
     * segment size beyond any frame it could cut) costs the frame only. */
    uint64_t out = tap.frames_out, errs = tap.errors;
    struct virtio_net_hdr_v1 bad = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                     .hdr_len = htole16(54), .gso_size = htole16(1),
                                     .csum_start = htole16(34), .csum_offset = htole16(30) };
    struct iovec iov[2] = { { &bad, sizeof(bad) }, { fx.frame, n } };
    int rc = tap.nb.ops->send_vnet(&tap, 0, iov, 2);
    assert_true(rc < 0);
    assert_int_equal(tap.frames_out, out);
    assert_int_equal(tap.errors, errs + 1);
    /* and the tap still works */
    learn_host_mac(fx.rx + 200);
}

static void tap_multiqueue(void **state)
{
    (void)state;
    struct net_tap mq;
    char err[256];
    assert_int_equal(net_tap_open_mq(&mq, "kicktapmq", 3, err, sizeof(err)), 0);
    assert_int_equal(mq.nqueues, 3);
    assert_true(mq.fds[0] >= 0 && mq.fds[1] >= 0 && mq.fds[2] >= 0);
    assert_int_equal(mq.fd, mq.fds[0]);
    assert_int_not_equal(mq.fds[1], mq.fds[2]);
    for (unsigned q = 0; q < 3; q++) {
        struct ifreq ifr = { 0 };
        assert_int_equal(ioctl(mq.fds[q], TUNGETIFF, &ifr), 0);
        assert_string_equal(ifr.ifr_name, "kicktapmq");
        assert_true(ifr.ifr_flags & IFF_MULTI_QUEUE);
        assert_true(ifr.ifr_flags & IFF_VNET_HDR);
    }
    assert_int_equal(net_tap_poll_queue(&mq, 3), -EINVAL);
    assert_int_equal(net_tap_poll(&mq), 0);
    net_tap_close(&mq);
    /* a single-queue tap is not joined by a multi-queue open */
    assert_int_equal(net_tap_open_mq(&mq, "kicktap0", 2, err, sizeof(err)), -EINVAL);
    assert_true(strstr(err, "TUNSETIFF") != NULL);
    assert_int_equal(net_tap_open_mq(&mq, "x", 0, err, sizeof(err)), -EINVAL);
    assert_int_equal(net_tap_open_mq(&mq, "x", NET_TAP_MAX_QUEUES + 1, err, sizeof(err)),
                     -EINVAL);
}

int main(void)
{
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "test_net_tap: skipped: cannot create a network namespace (%s)\n",
                strerror(errno));
        return 77;
    }
    int fd = open("/dev/net/tun", O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "test_net_tap: skipped: /dev/net/tun: %s\n", strerror(errno));
        return 77;
    }
    close(fd);
    if (system("ip link set lo up") != 0) {
        fprintf(stderr, "test_net_tap: skipped: no working `ip` command\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tap_arp_and_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(tap_partial_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(tap_multiqueue, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
