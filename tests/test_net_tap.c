/* virtio-net over the tap backend: the test moves itself into a network
 * namespace of its own (unshare), creates a tap there with 10.9.0.1/24, and
 * kick's driver talks to the real kernel stack through the device: ARP and
 * ICMP echo. Skipped (exit 77) where namespaces or tun are not permitted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
