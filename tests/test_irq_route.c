/* irqfd MSI routing against the real /dev/kvm (skipped where there is none or
 * it lacks GSI routing), and `kick run`'s --net/--console argument errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/cli_run.h"
#include "vmm/irq_route.h"
#include "vmm/kvm_vm.h"

#define MSG_ADDR 0xfee00000ull

struct fixture {
    struct kvm_vm vm;
    struct irq_routes r;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!f)
        return -1;
    f->vm = (struct kvm_vm){ .kvm_fd = -1, .vm_fd = -1, .mem_fd = -1 };
    if (kvm_vm_create(&f->vm, 32ull << 20, err, sizeof err) < 0) {
        free(f);
        *state = NULL;
        return 0;
    }
    irq_routes_init(&f->r, &f->vm, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        irq_routes_destroy(&f->r);
        kvm_vm_destroy(&f->vm);
        free(f);
    }
    return 0;
}

/* Counter value left in an irqfd: KVM consumes what it injects. */
static bool irqfd_consumed(int fd)
{
    uint64_t v;
    return read(fd, &v, sizeof v) < 0 && errno == EAGAIN;
}

static void test_routed_vector_fires_by_irqfd(void **state)
{
    struct fixture *f = *state;
    if (!f)
        skip();
    int first = irq_routes_alloc(&f->r, 3);
    if (first == -ENOTSUP || (first >= 0 && f->r.msi[first].fd < 0))
        skip(); /* no KVM_IRQFD here */
    assert_int_equal(first, 0);
    assert_int_equal(f->r.msi[0].gsi, IRQ_ROUTE_IRQCHIP_GSIS);
    assert_int_equal(f->r.msi[2].gsi, IRQ_ROUTE_IRQCHIP_GSIS + 2);
    irq_routes_set(&f->r, 1, true, MSG_ADDR, 0x41);
    if (irq_routes_commit(&f->r) < 0)
        skip(); /* no KVM_SET_GSI_ROUTING here */
    assert_true(f->r.msi[1].installed);
    assert_false(f->r.msi[0].installed);
    assert_int_equal(irq_routes_deliver(&f->r, first, 3, MSG_ADDR, 0x41), 0);
    assert_int_equal(f->r.irqfd_writes, 1);
    assert_int_equal(f->r.signal_msis, 0);
    assert_true(irqfd_consumed(f->r.msi[1].fd));
    /* a message no installed route carries goes by ioctl */
    irq_routes_deliver(&f->r, first, 3, MSG_ADDR, 0x42);
    assert_int_equal(f->r.irqfd_writes, 1);
    assert_int_equal(f->r.signal_msis, 1);
}

static void test_masked_vector_loses_its_route(void **state)
{
    struct fixture *f = *state;
    if (!f)
        skip();
    int first = irq_routes_alloc(&f->r, 2);
    if (first < 0 || f->r.msi[first].fd < 0)
        skip();
    irq_routes_set(&f->r, 0, true, MSG_ADDR, 0x51);
    if (irq_routes_commit(&f->r) < 0)
        skip();
    uint64_t commits = f->r.commits;
    /* nothing changed: no table update */
    irq_routes_set(&f->r, 0, true, MSG_ADDR, 0x51);
    assert_int_equal(irq_routes_commit(&f->r), 0);
    assert_int_equal(f->r.commits, commits);
    /* masked: out of the table, never fired through the irqfd */
    irq_routes_set(&f->r, 0, false, MSG_ADDR, 0x51);
    assert_int_equal(irq_routes_commit(&f->r), 0);
    assert_int_equal(f->r.commits, commits + 1);
    assert_false(f->r.msi[0].installed);
    irq_routes_deliver(&f->r, first, 2, MSG_ADDR, 0x51);
    assert_int_equal(f->r.irqfd_writes, 0);
    /* a change not yet committed is not trusted either */
    irq_routes_set(&f->r, 0, true, MSG_ADDR, 0x51);
    irq_routes_deliver(&f->r, first, 2, MSG_ADDR, 0x51);
    assert_int_equal(f->r.irqfd_writes, 0);
    assert_int_equal(irq_routes_commit(&f->r), 0);
    irq_routes_deliver(&f->r, first, 2, MSG_ADDR, 0x51);
    assert_int_equal(f->r.irqfd_writes, 1);
}

static void test_disabled_routes_allocate_nothing(void **state)
{
    (void)state;
    struct irq_routes r;
    struct kvm_vm vm = { .vm_fd = -1 };
    irq_routes_init(&r, &vm, false);
    assert_int_equal(irq_routes_alloc(&r, 2), -ENOTSUP);
    assert_int_equal(irq_routes_commit(&r), 0);
    irq_routes_destroy(&r);
}

/* cli_run_main's status and first stderr line for argv. */
static int run_cli(const char *const *args, char *line, size_t len)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)"run";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    char path[] = "/tmp/kick-test-cli-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int r = cli_run_main(argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, line, len - 1, 0);
    line[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    return r;
}

static void test_cli_rejects_bad_net_and_console(void **state)
{
    (void)state;
    char line[512];
    static const struct {
        const char *arg[4];
        const char *says;
    } cases[] = {
        { { "--kernel", "/dev/null", "--net", "user,hostfwd=tcp::70000-:22" }, "port above" },
        { { "--kernel", "/dev/null", "--net", "user,hostfwd=tcp:5555" }, "hostfwd" },
        { { "--kernel", "/dev/null", "--net", "bridge" }, "must be user" },
        { { "--kernel", "/dev/null", "--net", "user,dns=1" }, "unknown option 'dns=1'" },
        { { "--kernel", "/dev/null", "--console", "virtio,name=a" }, "path=" },
        { { "--kernel", "/dev/null", "--console", "hvc" }, "must be serial" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[5] = { cases[i].arg[0], cases[i].arg[1], cases[i].arg[2],
                                cases[i].arg[3], NULL };
        assert_int_equal(run_cli(args, line, sizeof line), 2);
        assert_non_null(strstr(line, cases[i].says));
        /* one line */
        assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routed_vector_fires_by_irqfd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_masked_vector_loses_its_route, setup, teardown),
        cmocka_unit_test(test_disabled_routes_allocate_nothing),
        cmocka_unit_test(test_cli_rejects_bad_net_and_console),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
