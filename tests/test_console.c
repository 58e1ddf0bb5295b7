/* virtio-console port 0 over the stdio backend on real pipes, through the
 * loopback: output, input, size, emergency write, a full backend, ring
 * misuse, the legacy interface, and the terminal handling of the backend. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <termios.h>

#include "console_fixture.h"

static struct con_fx fx;

static int teardown(void **state)
{
    (void)state;
    fx_down(&fx);
    return 0;
}

static void guest_write_reaches_backend(void **state)
{
    (void)state;
    assert_int_equal(fx_open(&fx, true), 0);
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    assert_false(fx.drv.multiport);
    assert_int_equal(fx.nq, 2);

    static const char *parts[] = { "hello, ", "console", "\r\n" };
    size_t total = 0;
    for (unsigned i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        memcpy(fx.buf + total, parts[i], n);
        assert_int_equal(vdrv_console_write(&fx.drv, 0, fx.buf_pa + total, (uint32_t)n), 0);
        total += n;
    }
    char got[64] = { 0 };
    assert_int_equal(fx_read_fd(&fx, fx.host_out[0], got, total), total);
    assert_string_equal(got, "hello, console\r\n");
    assert_int_equal(fx.con.port[0].tx_bytes, total);
    assert_int_equal(fx.con.port[0].tx_dropped, 0);
    /* A chain of several buffers comes out as one run, in order. */
    struct vdrv_sg sg[3] = { { fx.buf_pa, 5 }, { fx.buf_pa + 7, 7 }, { fx.buf_pa + 14, 2 } };
    static char tok;
    assert_int_equal(vdrv_vq_add(&fx.vq[1], sg, 3, 0, &tok), 0);
    if (vdrv_vq_kick_prepare(&fx.vq[1]))
        vdrv_notify(&fx.fn.drv, 1);
    uint32_t used = 99;
    assert_ptr_equal(vdrv_vq_get_used(&fx.vq[1], &used), &tok);
    assert_int_equal(used, 0); /* the device wrote nothing into a tx chain */
    memset(got, 0, sizeof(got));
    assert_int_equal(fx_read_fd(&fx, fx.host_out[0], got, 14), 14);
    assert_string_equal(got, "helloconsole\r\n");
}

static void backend_bytes_reach_guest(void **state)
{
    (void)state;
    assert_int_equal(fx_open(&fx, true), 0);
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);

    /* Typed before the guest posted a buffer: left in the pipe, not read
     * into a host buffer. */
    assert_int_equal(write(fx.host_in[1], "typed", 5), 5);
    console_poll(&fx.con);
    assert_int_equal(fx_unread(fx.host_in[0]), 5);

    unsigned irqs = fx.fn.msi[1]; /* receiveq 0 is on vector 1 */
    memset(fx.buf, 0, 64);
    assert_int_equal(vdrv_console_read(&fx.drv, 0, fx.buf_pa, 64), 5);
    assert_memory_equal(fx.buf, "typed", 5);
    assert_int_equal(fx_unread(fx.host_in[0]), 0);
    assert_true(fx.fn.msi[1] > irqs);

    /* A posted buffer waits for input; the device's poll delivers it. */
    static char tok;
    assert_int_equal(vdrv_console_rx_post(&fx.drv, 0, fx.buf_pa, 3, &tok), 0);
    console_poll(&fx.con);
    uint32_t len;
    assert_null(vdrv_console_rx_get(&fx.drv, 0, &len));
    struct pollfd pfd[4];
    unsigned n = console_pollfds(&fx.con, pfd, 4);
    assert_int_equal(n, 1);
    assert_int_equal(pfd[0].fd, fx.host_in[0]);
    assert_true(pfd[0].events & POLLIN);
    assert_int_equal(write(fx.host_in[1], "abcdefg", 7), 7);
    console_poll(&fx.con);
    assert_ptr_equal(vdrv_console_rx_get(&fx.drv, 0, &len), &tok);
    assert_int_equal(len, 3); /* filled to the buffer's size, no further */
    assert_memory_equal(fx.buf, "abc", 3);
    assert_int_equal(vdrv_console_read(&fx.drv, 0, fx.buf_pa, 64), 4);
    assert_memory_equal(fx.buf, "defg", 4);
    assert_int_equal(fx.con.port[0].rx_bytes, 12);
}

static void size_and_config_change(void **state)
{
    (void)state;
    assert_int_equal(fx_open(&fx, true), 0);
    fx.opts.size = true;
    fx.opts.cols = 80;
    fx.opts.rows = 25;
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    assert_true(fx.drv.has_size);
    assert_int_equal(fx.drv.cols, 80);
    assert_int_equal(fx.drv.rows, 25);

    uint8_t gen0 = fx.con.vdev.config_generation;
    unsigned cfg_irqs = fx.fn.msi[0];
    console_set_size(&fx.con, 132, 43);
    assert_int_equal(fx.fn.msi[0], cfg_irqs + 1);
    assert_int_not_equal(fx.con.vdev.config_generation, gen0);
    vdrv_console_read_size(&fx.drv);
    assert_int_equal(fx.drv.cols, 132);
    assert_int_equal(fx.drv.rows, 43);
    fx_down(&fx);

    /* Not offered: no size, no interrupt. */
    assert_int_equal(fx_open(&fx, true), 0);
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    assert_false(fx.drv.has_size);
    cfg_irqs = fx.fn.msi[0];
    console_set_size(&fx.con, 100, 30);
    assert_int_equal(fx.fn.msi[0], cfg_irqs);
    uint16_t cols = 7;
    vdrv_config_read(&fx.fn.drv, offsetof(struct virtio_console_config, cols), &cols, 2);
    assert_int_equal(cols, 0);
}

static void emergency_write(void **state)
{
    (void)state;
    assert_int_equal(fx_open(&fx, true), 0);
    fx.opts.emerg_write = true;
    assert_int_equal(fx_start(&fx), 0);
    /* Before any negotiation: the spec allows it on an unconfigured device. */
    assert_int_equal(fx_attach(&fx, VPCI_MODERN, false), 0);
    uint32_t v = 0xabcd00 | 'Z'; /* only the low byte is the character */
    vdrv_config_write(&fx.fn.drv, offsetof(struct virtio_console_config, emerg_wr), &v, 4);
    char got[4] = { 0 };
    assert_int_equal(fx_read_fd(&fx, fx.host_out[0], got, 1), 1);
    assert_int_equal(got[0], 'Z');
    /* Bytes that do not hold the low byte, and other fields, write nothing. */
    uint8_t b = 'Q';
    vdrv_config_write(&fx.fn.drv, offsetof(struct virtio_console_config, emerg_wr) + 1, &b, 1);
    uint16_t w = 'R';
    vdrv_config_write(&fx.fn.drv, offsetof(struct virtio_console_config, cols), &w, 2);
    assert_int_equal(fx_unread(fx.host_out[0]), 0);
    loopback_fn_detach(&fx.fn);
    fx.attached = false;

    assert_int_equal(fx_plug(&fx, VPCI_MODERN, false, ~0ull), 0);
    assert_true(fx.drv.emerg_write);
    vdrv_console_emerg_write(&fx.drv, '!');
    vdrv_console_emerg_write(&fx.drv, '\n');
    assert_int_equal(fx_read_fd(&fx, fx.host_out[0], got, 2), 2);
    assert_memory_equal(got, "!\n", 2);
    assert_int_equal(fx.con.stats.emerg_bytes, 3);
    fx_down(&fx);

    /* Not offered: the register is inert. */
    assert_int_equal(fx_open(&fx, true), 0);
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    vdrv_console_emerg_write(&fx.drv, 'X');
    console_poll(&fx.con);
    assert_int_equal(fx_unread(fx.host_out[0]), 0);
}

/* The pipe to the host is small and nobody reads it: the device keeps the
 * chain it could not finish and the rest stay in the ring; once the host
 * reads, everything arrives in order and every chain comes back. */
static void full_backend_holds_output(bool out_nonblock)
{
    enum { CHAINS = 16, CHUNK = 4096 };
    assert_int_equal(fx_open(&fx, out_nonblock), 0);
    assert_true(fcntl(fx.host_out[1], F_SETPIPE_SZ, 4096) >= 4096);
    int pipe_size = fcntl(fx.host_out[1], F_GETPIPE_SZ);
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    fx_pattern(fx.buf, CHAINS * CHUNK, 42);
    static char tok[CHAINS];
    for (unsigned i = 0; i < CHAINS; i++) {
        struct vdrv_sg sg = { fx.buf_pa + i * CHUNK, CHUNK };
        assert_int_equal(vdrv_vq_add(&fx.vq[1], &sg, 1, 0, &tok[i]), 0);
    }
    if (vdrv_vq_kick_prepare(&fx.vq[1]))
        vdrv_notify(&fx.fn.drv, 1);
    console_poll(&fx.con);

    unsigned back = 0;
    uint32_t len;
    while (vdrv_vq_get_used(&fx.vq[1], &len))
        back++;
    assert_true(back < CHAINS);
    assert_true(fx.con.port[0].tx_held);
    assert_int_equal(fx_unread(fx.host_out[0]), pipe_size);
    struct pollfd pfd[4];
    unsigned n = console_pollfds(&fx.con, pfd, 4);
    bool wants_out = false;
    for (unsigned i = 0; i < n; i++)
        wants_out |= pfd[i].fd == fx.host_out[1] && (pfd[i].events & POLLOUT);
    assert_true(wants_out);

    uint8_t *host = malloc(CHAINS * CHUNK);
    assert_non_null(host);
    assert_int_equal(fx_read_fd(&fx, fx.host_out[0], host, CHAINS * CHUNK), CHAINS * CHUNK);
    assert_memory_equal(host, fx.buf, CHAINS * CHUNK);
    free(host);
    while (vdrv_vq_get_used(&fx.vq[1], &len))
        back++;
    assert_int_equal(back, CHAINS);
    assert_false(fx.con.port[0].tx_held);
    assert_int_equal(fx.con.port[0].tx_dropped, 0);
    assert_int_equal(fx.con.port[0].tx_bytes, CHAINS * CHUNK);
}

static void full_backend_nonblocking_fd(void **state)
{
    (void)state;
    full_backend_holds_output(true);
}

static void full_backend_blocking_fd(void **state)
{
    (void)state;
    full_backend_holds_output(false);
}

static void ring_misuse_needs_reset(void **state)
{
    (void)state;
    for (int which = 0; which < 2; which++) {
        assert_int_equal(fx_open(&fx, true), 0);
        assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
        assert_int_equal(write(fx.host_in[1], "x", 1), 1);
        static char tok;
        struct vdrv_sg sg = { fx.buf_pa, 16 };
        unsigned q = which ? 1 : 0;
        /* which 0: a device-readable buffer in the receiveq; which 1: a
         * device-writable one in the transmitq. */
        assert_int_equal(vdrv_vq_add(&fx.vq[q], &sg, which ? 0 : 1, which ? 1 : 0, &tok), 0);
        unsigned cfg_irqs = fx.fn.msi[0];
        vdrv_vq_kick_prepare(&fx.vq[q]);
        vdrv_notify(&fx.fn.drv, q);
        assert_true(vdrv_get_status(&fx.fn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
        assert_true(fx.fn.msi[0] > cfg_irqs);
        assert_true(fx.nlogs > 0);
        uint32_t len = 1;
        assert_ptr_equal(vdrv_vq_get_used(&fx.vq[q], &len), &tok); /* returned, not lost */
        assert_int_equal(len, 0);
        assert_int_equal(fx.buf[0], 0); /* nothing written into it */
        fx_down(&fx);
    }
}

static void legacy_interface(void **state)
{
    (void)state;
    assert_int_equal(fx_open(&fx, true), 0);
    fx.opts.size = true;
    fx.opts.cols = 100;
    fx.opts.rows = 40;
    assert_int_equal(fx_up(&fx, VPCI_TRANSITIONAL, true), 0);
    assert_false(fx.fn.drv.modern);
    assert_true(fx.con.vdev.legacy);
    assert_int_equal(fx.drv.cols, 100);
    assert_int_equal(fx.drv.rows, 40);
    memcpy(fx.buf, "legacy out", 10);
    assert_int_equal(vdrv_console_write(&fx.drv, 0, fx.buf_pa, 10), 0);
    char got[16] = { 0 };
    assert_int_equal(fx_read_fd(&fx, fx.host_out[0], got, 10), 10);
    assert_string_equal(got, "legacy out");
    assert_int_equal(write(fx.host_in[1], "legacy in", 9), 9);
    assert_int_equal(vdrv_console_read(&fx.drv, 0, fx.buf2_pa, 32), 9);
    assert_memory_equal(fx.buf2, "legacy in", 9);
    console_set_size(&fx.con, 90, 30);
    vdrv_console_read_size(&fx.drv);
    assert_int_equal(fx.drv.cols, 90);
    assert_int_equal(fx.drv.rows, 30);
}

/* A pseudo-terminal as stdin: raw mode while open, restored after; Ctrl-A x
 * asks to quit, Ctrl-A Ctrl-A is one Ctrl-A; the window size is read. */
static void stdio_terminal(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    struct termios before, during, after;
    assert_int_equal(tcgetattr(slave, &before), 0);
    assert_true(before.c_lflag & ICANON);
    struct winsize ws = { .ws_col = 123, .ws_row = 45 };
    assert_int_equal(ioctl(master, TIOCSWINSZ, &ws), 0);

    struct chardev_stdio s;
    chardev_stdio_open(&s, slave, slave);
    assert_true(s.tty);
    assert_int_equal(tcgetattr(slave, &during), 0);
    assert_false(during.c_lflag & (ICANON | ECHO));
    uint16_t cols = 0, rows = 0;
    assert_int_equal(chardev_stdio_winsize(&s, &cols, &rows), 0);
    assert_int_equal(cols, 123);
    assert_int_equal(rows, 45);

    assert_int_equal(write(master, "a\x01\x01" "b\x01q", 6), 6);
    char got[16];
    ssize_t n = 0;
    for (int i = 0; i < 1000 && n == 0; i++) {
        n = s.be.ops->read(&s.be, got, sizeof(got));
        if (n == 0)
            usleep(1000);
    }
    assert_int_equal(n, 3);
    assert_memory_equal(got, "a\x01" "b", 3); /* Ctrl-A q: unknown, dropped */
    assert_false(s.quit);
    assert_int_equal(write(master, "\x01x", 2), 2);
    for (int i = 0; i < 1000 && !s.quit; i++) {
        s.be.ops->read(&s.be, got, sizeof(got));
        usleep(1000);
    }
    assert_true(s.quit);
    assert_int_equal(s.be.ops->write(&s.be, "out", 3), 3);

    chardev_stdio_close(&s);
    assert_int_equal(tcgetattr(slave, &after), 0);
    assert_int_equal(after.c_lflag, before.c_lflag);
    assert_int_equal(after.c_iflag, before.c_iflag);
    close(slave);
    close(master);
}

static void bad_device_options(void **state)
{
    (void)state;
    struct console_dev c;
    struct console_opts o = { .nports = CONSOLE_MAX_PORTS + 1 };
    assert_int_equal(console_dev_init(&c, &o), -EINVAL);
    char longname[CONSOLE_NAME_MAX + 2];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    struct console_opts o2 = { .nports = 2, .port[1].name = longname };
    assert_int_equal(console_dev_init(&c, &o2), -EINVAL);
    struct console_opts o3 = { .nports = 2, .port[1].name = "" };
    assert_int_equal(console_dev_init(&c, &o3), -EINVAL);
    struct console_opts ok = { .nports = 0 };
    assert_int_equal(console_dev_init(&c, &ok), 0);
    assert_int_equal(c.vdev.num_queues, 2);
    assert_false((c.vdev.host_features >> VIRTIO_CONSOLE_F_MULTIPORT) & 1);
    console_dev_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(guest_write_reaches_backend, teardown),
        cmocka_unit_test_teardown(backend_bytes_reach_guest, teardown),
        cmocka_unit_test_teardown(size_and_config_change, teardown),
        cmocka_unit_test_teardown(emergency_write, teardown),
        cmocka_unit_test_teardown(full_backend_nonblocking_fd, teardown),
        cmocka_unit_test_teardown(full_backend_blocking_fd, teardown),
        cmocka_unit_test_teardown(ring_misuse_needs_reset, teardown),
        cmocka_unit_test_teardown(legacy_interface, teardown),
        cmocka_unit_test(stdio_terminal),
        cmocka_unit_test(bad_device_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
