/* virtio-console multiport through the loopback: the control handshake, a
 * named port on a real UNIX socket in a temporary directory, a file port,
 * RESIZE, hostile control messages, the legacy interface, and the socket
 * backend's option parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "console_fixture.h"

static struct con_fx fx;
static struct chardev_socket sock, filep;
static char dir[64], sock_path[96], log_path[96];

/* Port 0: stdio; port 1: org.kick.test on a socket; port 2: org.kick.log
 * into a file. */
static int setup(void **state)
{
    (void)state;
    sock.fd = sock.listen_fd = filep.fd = filep.listen_fd = -1;
    snprintf(dir, sizeof(dir), "/tmp/kick-console-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock_path, sizeof(sock_path), "%s/port.sock", dir);
    snprintf(log_path, sizeof(log_path), "%s/port.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_down(&fx);
    chardev_socket_close(&sock);
    chardev_socket_close(&filep);
    unlink(sock_path);
    unlink(log_path);
    rmdir(dir);
    return 0;
}

static void open_ports(void)
{
    char spec[256], err[256];
    static struct chardev_socket_opts so, fo; /* names are read at fx_start */
    assert_int_equal(fx_open(&fx, true), 0);
    snprintf(spec, sizeof(spec), "name=org.kick.test,path=%s", sock_path);
    assert_int_equal(chardev_socket_parse(spec, &so, err, sizeof(err)), 0);
    assert_int_equal(chardev_socket_open(&sock, &so, err, sizeof(err)), 0);
    fx.opts.port[1] = (struct console_port_opts){ .be = &sock.be, .name = so.name };
    snprintf(spec, sizeof(spec), "file=%s,name=org.kick.log", log_path);
    assert_int_equal(chardev_socket_parse(spec, &fo, err, sizeof(err)), 0);
    assert_int_equal(chardev_socket_open(&filep, &fo, err, sizeof(err)), 0);
    fx.opts.port[2] = (struct console_port_opts){ .be = &filep.be, .name = fo.name };
    fx.opts.nports = 3;
    fx.opts.size = true;
    fx.opts.cols = 80;
    fx.opts.rows = 24;
}

static int connect_peer(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void handshake_checks(void)
{
    struct vdrv_console *d = &fx.drv;
    assert_true(d->multiport);
    assert_int_equal(d->max_nr_ports, 3);
    assert_int_equal(fx.nq, 8);
    assert_int_equal(vdrv_console_handshake(d), 3);
    /* DEVICE_READY -> PORT_ADD for every port, before anything else. */
    assert_true(d->nlog >= 3);
    for (unsigned p = 0; p < 3; p++) {
        assert_int_equal(d->log[p].event, VIRTIO_CONSOLE_PORT_ADD);
        assert_int_equal(d->log[p].id, p);
        assert_true(fx.con.port[p].added);
        assert_true(fx.con.port[p].ready); /* the driver's PORT_READY arrived */
    }
    /* PORT_READY 0 -> CONSOLE_PORT, then PORT_OPEN (stdio is connected). */
    int cons = fx_find_event(d, 3, VIRTIO_CONSOLE_CONSOLE_PORT, 0);
    assert_true(cons >= 3);
    assert_true(fx_find_event(d, (unsigned)cons, VIRTIO_CONSOLE_PORT_OPEN, 0) > cons);
    assert_true(d->port[0].console && d->port[0].host_open);
    assert_true(fx.con.port[0].guest_open); /* the driver answered PORT_OPEN 1 */
    /* PORT_READY 1 -> PORT_NAME with the name after the header; no peer yet,
     * so no PORT_OPEN. */
    int name = fx_find_event(d, 3, VIRTIO_CONSOLE_PORT_NAME, 1);
    assert_true(name >= 3);
    assert_int_equal(d->log[name].len, 8 + strlen("org.kick.test"));
    assert_string_equal(d->port[1].name, "org.kick.test");
    assert_int_equal(fx_find_event(d, 3, VIRTIO_CONSOLE_PORT_OPEN, 1), -1);
    assert_false(d->port[1].console);
    /* Port 2: named, and a file is always open. */
    assert_string_equal(d->port[2].name, "org.kick.log");
    assert_true(d->port[2].host_open);
    assert_int_equal(fx_find_event(d, 3, VIRTIO_CONSOLE_CONSOLE_PORT, 2), -1);
    assert_int_equal(d->bad_msgs, 0);
    assert_int_equal(fx.con.stats.ctrl_ignored, 0);
}

static void multiport_handshake(void **state)
{
    (void)state;
    open_ports();
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    handshake_checks();
    /* Port 0 still carries the console. */
    memcpy(fx.buf, "port0", 5);
    assert_int_equal(vdrv_console_write(&fx.drv, 0, fx.buf_pa, 5), 0);
    char got[8] = { 0 };
    assert_int_equal(fx_read_fd(&fx, fx.host_out[0], got, 5), 5);
    assert_string_equal(got, "port0");
}

static void named_port_over_socket(void **state)
{
    (void)state;
    open_ports();
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    handshake_checks();
    struct pollfd pfd[8];
    unsigned n = console_pollfds(&fx.con, pfd, 8);
    bool listens = false;
    for (unsigned i = 0; i < n; i++)
        listens |= pfd[i].fd == sock.listen_fd && (pfd[i].events & POLLIN);
    assert_true(listens);

    /* A peer connects: the device tells the guest PORT_OPEN 1. */
    int peer = connect_peer();
    console_poll(&fx.con);
    vdrv_console_ctrl_process(&fx.drv);
    assert_true(fx.drv.port[1].host_open);

    memcpy(fx.buf, "ping", 4);
    assert_int_equal(vdrv_console_write(&fx.drv, 1, fx.buf_pa, 4), 0);
    char got[16] = { 0 };
    assert_int_equal(fx_read_fd(&fx, peer, got, 4), 4);
    assert_string_equal(got, "ping");

    /* The peer's bytes wait in the socket until the guest opens the port. */
    assert_int_equal(write(peer, "pong", 4), 4);
    static char tok;
    assert_int_equal(vdrv_console_rx_post(&fx.drv, 1, fx.buf2_pa, 64, &tok), 0);
    console_poll(&fx.con);
    uint32_t len;
    assert_null(vdrv_console_rx_get(&fx.drv, 1, &len));
    assert_int_equal(fx_unread(sock.fd), 4);
    assert_int_equal(vdrv_console_open_port(&fx.drv, 1, true), 0);
    assert_true(fx.con.port[1].guest_open);
    assert_ptr_equal(vdrv_console_rx_get(&fx.drv, 1, &len), &tok);
    assert_int_equal(len, 4);
    assert_memory_equal(fx.buf2, "pong", 4);

    /* The peer leaves: PORT_OPEN 0; output now has nowhere to go and is
     * counted as dropped, but the guest's buffer still comes back. */
    close(peer);
    console_poll(&fx.con);
    vdrv_console_ctrl_process(&fx.drv);
    assert_false(fx.drv.port[1].host_open);
    assert_false(sock.be.connected);
    assert_int_equal(vdrv_console_write(&fx.drv, 1, fx.buf_pa, 4), 0);
    assert_int_equal(fx.con.port[1].tx_dropped, 4);
    assert_non_null(strstr(fx.last_log, "port 1"));

    /* The next peer is accepted and announced again. */
    peer = connect_peer();
    console_poll(&fx.con);
    vdrv_console_ctrl_process(&fx.drv);
    assert_true(fx.drv.port[1].host_open);
    memcpy(fx.buf, "again", 5);
    assert_int_equal(vdrv_console_write(&fx.drv, 1, fx.buf_pa, 5), 0);
    memset(got, 0, sizeof(got));
    assert_int_equal(fx_read_fd(&fx, peer, got, 5), 5);
    assert_string_equal(got, "again");
    close(peer);

    /* Port 2 appends to its file. */
    memcpy(fx.buf, "to the log\n", 11);
    assert_int_equal(vdrv_console_write(&fx.drv, 2, fx.buf_pa, 11), 0);
    int lf = open(log_path, O_RDONLY);
    assert_true(lf >= 0);
    memset(got, 0, sizeof(got));
    assert_int_equal(read(lf, got, sizeof(got)), 11);
    assert_string_equal(got, "to the log\n");
    close(lf);
}

static void multiport_resize(void **state)
{
    (void)state;
    open_ports();
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    handshake_checks();
    unsigned cfg_irqs = fx.fn.msi[0];
    console_set_size(&fx.con, 200, 50);
    vdrv_console_ctrl_process(&fx.drv);
    assert_int_equal(fx.drv.resizes, 1);
    int i = fx_find_event(&fx.drv, 0, VIRTIO_CONSOLE_RESIZE, 0);
    assert_true(i >= 0);
    assert_int_equal(fx.drv.log[i].len, 8 + 4);
    assert_int_equal(fx.drv.cols, 200);
    assert_int_equal(fx.drv.rows, 50);
    assert_int_equal(fx.fn.msi[0], cfg_irqs + 1); /* config changed too */
    uint16_t rows = 0;
    vdrv_config_read(&fx.fn.drv, offsetof(struct virtio_console_config, rows), &rows, 2);
    assert_int_equal(rows, 50);
}

/* Posts a raw message of len bytes on the control transmitq. */
static void raw_ctrl(const void *msg, uint32_t len)
{
    static char tok;
    memcpy(fx.buf, msg, len);
    struct vdrv_sg sg = { fx.buf_pa, len };
    assert_int_equal(vdrv_vq_add(&fx.vq[3], &sg, 1, 0, &tok), 0);
    vdrv_vq_kick_prepare(&fx.vq[3]);
    vdrv_notify(&fx.fn.drv, 3);
    uint32_t used;
    assert_ptr_equal(vdrv_vq_get_used(&fx.vq[3], &used), &tok);
}

static void hostile_control_messages(void **state)
{
    (void)state;
    open_ports();
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    struct vdrv_console *d = &fx.drv;
    struct virtio_console_control m;
    unsigned ignored = 0;

    /* Before DEVICE_READY no port exists. */
    assert_int_equal(vdrv_console_ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_READY, 1), 0);
    assert_int_equal(vdrv_console_ctrl_send(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1), 0);
    ignored += 2;
    raw_ctrl("\0\0\0", 3); /* short */
    ignored++;
    assert_int_equal(fx.con.stats.ctrl_ignored, ignored);
    assert_int_equal(vdrv_console_ctrl_process(d), 0); /* nothing was answered */

    d->auto_reply = false;
    assert_int_equal(vdrv_console_ctrl_send(d, 0, VIRTIO_CONSOLE_DEVICE_READY, 1), 0);
    assert_int_equal(vdrv_console_ctrl_process(d), 3);
    static const struct { uint32_t id; uint16_t event, value; } bad[] = {
        { 0, VIRTIO_CONSOLE_DEVICE_READY, 1 },       /* repeated */
        { 99, VIRTIO_CONSOLE_PORT_READY, 1 },        /* no such port */
        { 0xffffffffu, VIRTIO_CONSOLE_PORT_READY, 1 },
        { 1000, VIRTIO_CONSOLE_PORT_OPEN, 1 },
        { 1, VIRTIO_CONSOLE_PORT_OPEN, 1 },          /* port not ready yet */
        { 0, VIRTIO_CONSOLE_PORT_ADD, 0 },           /* device-only events */
        { 0, VIRTIO_CONSOLE_PORT_REMOVE, 0 },
        { 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1 },
        { 0, VIRTIO_CONSOLE_RESIZE, 0 },
        { 0, VIRTIO_CONSOLE_PORT_NAME, 0 },
        { 0, 42, 0 },                                /* unknown */
        { 0, 0xffff, 0xffff },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(vdrv_console_ctrl_send(d, bad[i].id, bad[i].event, bad[i].value), 0);
    ignored += sizeof(bad) / sizeof(bad[0]);
    assert_int_equal(fx.con.stats.ctrl_ignored, ignored);
    assert_int_equal(vdrv_console_ctrl_process(d), 0);
    assert_non_null(strstr(fx.last_log, "unknown event"));

    /* Good PORT_READY, then a repeat and a PORT_OPEN with a bad value. */
    assert_int_equal(vdrv_console_ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_READY, 1), 0);
    assert_int_equal(vdrv_console_ctrl_process(d), 1); /* PORT_NAME */
    assert_int_equal(vdrv_console_ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_READY, 1), 0);
    assert_int_equal(vdrv_console_ctrl_send(d, 1, VIRTIO_CONSOLE_PORT_OPEN, 7), 0);
    ignored += 2;
    assert_int_equal(fx.con.stats.ctrl_ignored, ignored);
    assert_false(fx.con.port[1].guest_open);
    /* Longer than a header is fine: the header counts. */
    m = (struct virtio_console_control){ .id = 1, .event = VIRTIO_CONSOLE_PORT_OPEN, .value = 1 };
    uint8_t longer[32] = { 0 };
    memcpy(longer, &m, sizeof(m));
    raw_ctrl(longer, sizeof(longer));
    assert_true(fx.con.port[1].guest_open);
    assert_int_equal(fx.con.stats.ctrl_ignored, ignored);
    assert_false(vdrv_get_status(&fx.fn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET);

    /* A device-writable buffer in the control transmitq breaks the rules. */
    static char tok;
    struct vdrv_sg sg = { fx.buf_pa, 8 };
    assert_int_equal(vdrv_vq_add(&fx.vq[3], &sg, 0, 1, &tok), 0);
    vdrv_vq_kick_prepare(&fx.vq[3]);
    vdrv_notify(&fx.fn.drv, 3);
    assert_true(vdrv_get_status(&fx.fn.drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* The reset forgets the handshake; a new driver gets it all again. */
static void reset_and_handshake_again(void **state)
{
    (void)state;
    open_ports();
    assert_int_equal(fx_up(&fx, VPCI_MODERN, false), 0);
    handshake_checks();
    loopback_fn_detach(&fx.fn);
    fx.attached = false;
    memset(fx.vq, 0, sizeof(fx.vq));
    assert_int_equal(fx_plug(&fx, VPCI_MODERN, false, ~0ull), 0);
    assert_false(fx.con.port[0].ready);
    handshake_checks();
}

static void legacy_multiport(void **state)
{
    (void)state;
    open_ports();
    assert_int_equal(fx_up(&fx, VPCI_TRANSITIONAL, true), 0);
    assert_false(fx.fn.drv.modern);
    handshake_checks();
    int peer = connect_peer();
    console_poll(&fx.con);
    vdrv_console_ctrl_process(&fx.drv);
    assert_true(fx.drv.port[1].host_open);
    assert_int_equal(vdrv_console_open_port(&fx.drv, 1, true), 0);
    assert_int_equal(write(peer, "legacy", 6), 6);
    assert_int_equal(vdrv_console_read(&fx.drv, 1, fx.buf2_pa, 64), 6);
    assert_memory_equal(fx.buf2, "legacy", 6);
    close(peer);
}

static void option_parsing(void **state)
{
    (void)state;
    struct chardev_socket_opts o;
    char err[256];
    assert_int_equal(chardev_socket_parse("name=org.kick.test,path=/tmp/x.sock", &o, err,
                                          sizeof(err)), 0);
    assert_string_equal(o.name, "org.kick.test");
    assert_string_equal(o.path, "/tmp/x.sock");
    assert_false(o.file);
    assert_int_equal(chardev_socket_parse("file=/tmp/y.log,name=a_b-c.9", &o, err, sizeof(err)), 0);
    assert_true(o.file);
    assert_string_equal(o.path, "/tmp/y.log");

    char longpath[300] = "name=n,path=/";
    memset(longpath + strlen(longpath), 'p', 200);
    const struct { const char *spec, *says; } bad[] = {
        { "", "empty" },
        { "path=/tmp/x.sock", "missing name" },
        { "name=foo", "missing path" },
        { "name=foo,path=/a,file=/b", "one path= or file=" },
        { "name=foo,name=bar,path=/a", "twice" },
        { "name=foo,color=red,path=/a", "'color'" },
        { "name=foo,path", "key=value" },
        { "name=,path=/a", "empty value" },
        { "name=foo bar,path=/a", "' '" },
        { "name=a/b,path=/a", "'/'" },
        { "name=foo,path=/a,", "trailing comma" },
        { longpath, "too long" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(chardev_socket_parse(bad[i].spec, &o, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i].says))
            fail_msg("'%s': error '%s' does not say '%s'", bad[i].spec, err, bad[i].says);
        assert_null(strchr(err, '\n'));
        assert_true(strncmp(err, "console '", 9) == 0);
    }
}

/* A stale socket file is replaced; a live one, or a non-socket, is not. */
static void socket_path_rules(void **state)
{
    (void)state;
    struct chardev_socket_opts o = { .name = "n" };
    char err[256];
    snprintf(o.path, sizeof(o.path), "%s", sock_path);
    assert_int_equal(chardev_socket_open(&sock, &o, err, sizeof(err)), 0);
    struct chardev_socket other;
    assert_int_equal(chardev_socket_open(&other, &o, err, sizeof(err)), -EADDRINUSE);
    assert_non_null(strstr(err, "in use"));
    /* Leave the file behind as a crashed run would. */
    close(sock.listen_fd);
    sock.listen_fd = -1;
    sock.bound = false;
    assert_int_equal(chardev_socket_open(&sock, &o, err, sizeof(err)), 0);
    chardev_socket_close(&sock);
    struct stat st;
    assert_int_equal(stat(sock_path, &st), -1); /* close removed it */

    int f = open(log_path, O_CREAT | O_WRONLY, 0600);
    close(f);
    snprintf(o.path, sizeof(o.path), "%s", log_path);
    assert_int_equal(chardev_socket_open(&other, &o, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, "not a socket"));
    assert_int_equal(stat(log_path, &st), 0); /* left alone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(multiport_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(named_port_over_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(multiport_resize, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_control_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_and_handshake_again, setup, teardown),
        cmocka_unit_test_setup_teardown(legacy_multiport, setup, teardown),
        cmocka_unit_test(option_parsing),
        cmocka_unit_test_setup_teardown(socket_path_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
