/* `kick run --disk`'s queues= suboption: every bad value is one usage line
 * (exit 2) naming the value, and a good one gets past parsing (the run then
 * stops at the missing kernel, exit 1, which is checked only after every
 * option parsed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/cli_run.h"

#define NO_KERNEL "/nonexistent/kick-test-kernel"

/* Status of `kick run ARGS...` and what it wrote on stderr. */
static int run_cli(const char *const *args, char *out, size_t len)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)"run";
    while (*args && argc < 15)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    char path[] = "/tmp/kick-test-cli-disk-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    dup2(fd, 2);
    int r = cli_run_main(argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, len - 1, 0);
    out[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    return r;
}

static int one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl && nl[1] == 0;
}

static void test_bad_queues_are_usage_errors(void **state)
{
    (void)state;
    static const struct {
        const char *disk, *says;
    } cases[] = {
        { "path=d.img,queues=0", "queues=0 is not a number from 1 to 16" },
        { "path=d.img,queues=17", "queues=17 is not a number from 1 to 16" },
        { "path=d.img,queues=-1", "queues=-1 is not a number" },
        { "path=d.img,queues=two", "queues=two is not a number" },
        { "path=d.img,queues=", "queues= is not a number" },
        { "path=d.img,queues=2x", "queues=2x is not a number" },
        { "path=d.img,queues= 2", "is not a number" },
        { "path=d.img,queues=99999999999999999999", "is not a number" },
        { "path=d.img,queues=2,queues=2", "queues given twice" },
        { "queues=2", "no path=FILE" },
        { "path=d.img,queue=2", "unknown key 'queue' (keys: path, ro, serial, queues)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[512];
        const char *args[] = { "--kernel", NO_KERNEL, "--disk", cases[i].disk, NULL };
        int r = run_cli(args, out, sizeof out);
        if (r != 2 || !strstr(out, cases[i].says) || !one_line(out))
            fail_msg("--disk %s: exit %d, said '%s'; want exit 2 and '%s'", cases[i].disk, r,
                     out, cases[i].says);
    }
}

/* Accepted values reach the checks after parsing: exit 1 on the kernel. */
static void test_good_queues_pass_parsing(void **state)
{
    (void)state;
    static const char *const disks[] = { "path=d.img,queues=1", "path=d.img,queues=16",
                                         "queues=4,path=d.img,ro=on", "path=d.img" };
    for (size_t i = 0; i < sizeof disks / sizeof disks[0]; i++) {
        char out[512];
        const char *args[] = { "--disk", disks[i], "--cpus", "64", "--kernel", NO_KERNEL, NULL };
        int r = run_cli(args, out, sizeof out);
        if (r != 1 || !strstr(out, "--kernel " NO_KERNEL) || !one_line(out))
            fail_msg("--disk %s: exit %d, said '%s'; want exit 1 on the kernel", disks[i], r,
                     out);
    }
}

static void test_usage_names_queues(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cli_run_usage(f);
    fclose(f);
    assert_non_null(strstr(text, "queues=N"));
    assert_non_null(strstr(text, "1 to 16"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_queues_are_usage_errors),
        cmocka_unit_test(test_good_queues_pass_parsing),
        cmocka_unit_test(test_usage_names_queues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
