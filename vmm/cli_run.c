/* `kick run` argument parsing (see cli_run.h). Every problem is reported as
 * one line naming the argument, and nothing runs unless all arguments are
 * good. */
#include "vmm/cli_run.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/run.h"

#define USAGE_ERROR 2

void cli_run_usage(FILE *out)
{
    fprintf(out,
            "usage: kick run --kernel BZIMAGE [--initrd FILE] [--cmdline STRING]\n"
            "                [--memory SIZE] [--cpus N] [--verbose]\n"
            "\n"
            "Boots a Linux bzImage (64-bit entry, boot protocol 2.06 or later) in a KVM\n"
            "virtual machine with a 16550A serial port (COM1, IRQ 4) on kick's stdin/stdout.\n"
            "\n"
            "  --kernel F     the bzImage to boot (required)\n"
            "  --initrd F     initial ramdisk\n"
            "  --cmdline S    kernel command line (default \"%s\")\n"
            "  --memory SIZE  guest RAM, e.g. 512M or 2G; no suffix means MiB (default 512M,\n"
            "                 at least 32M); above 3 GiB the rest is mapped from 4 GiB up\n"
            "  --cpus N       vCPUs (only 1 so far)\n"
            "  --verbose      boot layout, unclaimed port/MMIO accesses and timing on stderr\n"
            "\n"
            "Not yet supported: --disk, --net, --rng, --console virtio, --transport.\n"
            "\n"
            "kick exits when the guest resets (status 0: 'reboot -f', a triple fault),\n"
            "when the guest writes V to port 0x501 (status (V << 1) | 1, as QEMU's\n"
            "isa-debug-exit), on Ctrl-A x (when stdin is a terminal) or a signal.\n"
            "Linux without ACPI cannot power off, so test guests should end with\n"
            "'reboot -f'; use e.g. --cmdline \"console=ttyS0 reboot=k panic=-1\" so a panic\n"
            "resets at once. A guest that halts with interrupts off hangs kick.\n",
            RUN_DEFAULT_CMDLINE);
}

int cli_parse_size(const char *s, uint64_t *bytes)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    unsigned shift = 20; /* bare number: MiB */
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'B': shift = 0; break;
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default: return -EINVAL;
        }
        end++;
        if (shift && (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "ib")))
            end += strlen(end);
        if (*end)
            return -EINVAL;
    }
    if (shift && v > (ULLONG_MAX >> shift))
        return -ERANGE;
    *bytes = (uint64_t)v << shift;
    return 0;
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fputs("kick run: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputs(" (try 'kick run --help')\n", stderr);
    return USAGE_ERROR;
}

/* Options that the issue names but that need devices kick does not plug yet. */
static bool not_yet(const char *name)
{
    static const char *const later[] = { "--disk", "--net", "--rng", "--transport" };
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
        if (!strcmp(name, later[i]))
            return true;
    return false;
}

static int check_file(const char *opt, const char *path)
{
    if (!*path)
        return usage_error("%s: empty file name%s", opt, "");
    if (access(path, R_OK) < 0) {
        fprintf(stderr, "kick run: %s %s: %s\n", opt, path, strerror(errno));
        return 1;
    }
    return 0;
}

int cli_run_main(int argc, char **argv)
{
    struct run_config cfg = { .memory = RUN_DEFAULT_MEMORY, .memory_arg = "512M", .cpus = 1 };
    bool seen_memory = false, seen_cpus = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            cli_run_usage(stdout);
            return 0;
        }
        if (!strcmp(arg, "--verbose") || !strcmp(arg, "-v")) {
            cfg.verbose = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return usage_error("unexpected argument '%s'%s", arg, "");
        /* --name=value or --name value */
        char name[32];
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name)
            return usage_error("unknown option '%s'%s", arg, "");
        memcpy(name, arg, nlen);
        name[nlen] = 0;
        const char *val;
        bool known = !strcmp(name, "--kernel") || !strcmp(name, "--initrd") ||
                     !strcmp(name, "--cmdline") || !strcmp(name, "--memory") ||
                     !strcmp(name, "--cpus") || !strcmp(name, "--console") || not_yet(name);
        if (!known)
            return usage_error("unknown option '%s'%s", name, "");
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return usage_error("%s needs a value%s", name, "");

        if (not_yet(name))
            return usage_error("%s is not yet supported (no virtio devices in kick run "
                               "so far)%s", name, "");
        const char **slot = NULL;
        if (!strcmp(name, "--kernel"))
            slot = &cfg.kernel;
        else if (!strcmp(name, "--initrd"))
            slot = &cfg.initrd;
        else if (!strcmp(name, "--cmdline"))
            slot = &cfg.cmdline;
        if (slot) {
            if (*slot)
                return usage_error("%s given twice%s", name, "");
            *slot = val;
        } else if (!strcmp(name, "--memory")) {
            if (seen_memory)
                return usage_error("%s given twice%s", name, "");
            seen_memory = true;
            uint64_t bytes;
            int r = cli_parse_size(val, &bytes);
            if (r == -ERANGE || (r == 0 && bytes > RUN_MAX_MEMORY))
                return usage_error("--memory %s: too large (at most 1T)%s", val, "");
            if (r < 0)
                return usage_error("--memory %s: not a size (examples: 512M, 2G)%s", val, "");
            if (bytes < RUN_MIN_MEMORY)
                return usage_error("--memory %s: too small (at least 32M)%s", val, "");
            if (bytes % 4096)
                return usage_error("--memory %s: not a multiple of 4K%s", val, "");
            cfg.memory = bytes;
            cfg.memory_arg = val;
        } else if (!strcmp(name, "--cpus")) {
            if (seen_cpus)
                return usage_error("%s given twice%s", name, "");
            seen_cpus = true;
            char *end;
            errno = 0;
            long n = strtol(val, &end, 10);
            if (!isdigit((unsigned char)*val) || *end || errno || n < 1 || n > 255)
                return usage_error("--cpus %s: not a number from 1 to 255%s", val, "");
            if (n != 1)
                return usage_error("--cpus %s: only 1 vCPU is supported so far%s", val, "");
            cfg.cpus = (unsigned)n;
        } else if (!strcmp(name, "--console")) {
            if (!strcmp(val, "virtio"))
                return usage_error("--console virtio is not yet supported (no virtio "
                                   "devices in kick run so far)%s%s", "", "");
            if (strcmp(val, "serial") != 0)
                return usage_error("--console %s: must be 'serial' or 'virtio'%s", val, "");
        }
    }
    if (!cfg.kernel)
        return usage_error("--kernel is required%s%s", "", "");
    int r;
    if ((r = check_file("--kernel", cfg.kernel)) != 0)
        return r;
    if (cfg.initrd && (r = check_file("--initrd", cfg.initrd)) != 0)
        return r;
    return run_vm(&cfg);
}
