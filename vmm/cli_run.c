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
#include <sys/stat.h>
#include <unistd.h>

#include "backends/chardev_socket.h"
#include "backends/net_slirp.h"
#include "vmm/run.h"

#define USAGE_ERROR 2
#define STR_(x) #x
#define STR(x) STR_(x)
#define RUN_MAX_CPUS_STR STR(RUN_MAX_CPUS)
#define RUN_MAX_DISKS_STR STR(RUN_MAX_DISKS)
#define BLK_MAX_QUEUES_STR STR(BLK_MAX_QUEUES)

void cli_run_usage(FILE *out)
{
    fprintf(out,
            "usage: kick run --kernel IMAGE [--initrd FILE] [--cmdline STRING]\n"
            "                [--memory SIZE] [--cpus N] [--rng [rate=N]]\n"
            "                [--disk path=F[,ro=on][,serial=S][,queues=N]]\n"
            "                [--console serial|virtio|virtio,name=N,path=SOCK|file=F]\n"
            "                [--net user[,hostfwd=RULE...]|tap[=IFNAME][,queues=N]]\n"
            "                [--transport modern|legacy|transitional] [--verbose]\n"
            "\n"
            "Boots a Linux bzImage (64-bit entry, boot protocol 2.06 or later) or a multiboot\n"
            "v1 image (header with address fields; no modules) in a KVM virtual machine\n"
            "with a 16550A serial port (COM1, IRQ 4) on kick's stdin/stdout.\n"
            "\n"
            "  --kernel F     the bzImage or multiboot image to boot (required)\n"
            "  --initrd F     initial ramdisk\n"
            "  --cmdline S    kernel command line (default \"%s\")\n"
            "  --memory SIZE  guest RAM, e.g. 512M or 2G; no suffix means MiB (default 512M,\n"
            "                 at least 32M); above 3 GiB the rest is mapped from 4 GiB up\n"
            "  --cpus N       vCPUs, 1 to %u (default 1)\n"
            "  --rng [rate=N] a virtio-rng device (entropy from getrandom), at most N\n"
            "                 bytes per second if given (suffixes K, M: rate=4K)\n"
            "  --disk path=F[,ro=on][,serial=S][,queues=N]\n"
            "                 a virtio-blk device on the raw image or block device F\n"
            "                 (ro=on: read-only; serial: up to 20 bytes; queues: request\n"
            "                 queues, each with its own MSI-X vector and io_uring, 1 to %u,\n"
            "                 default one per vCPU); repeatable, up to %u\n"
            "  --console virtio\n"
            "                 a virtio-console device with port 0 (hvc0) on kick's stdin and\n"
            "                 stdout (boot the guest with console=hvc0); the UART then only\n"
            "                 writes, for early output. Default: serial (the UART has stdin)\n"
            "  --console virtio,name=N,path=SOCK  (or file=F)\n"
            "                 a named port of that device (/dev/virtio-ports/N in Linux) on a\n"
            "                 UNIX socket kick listens on, or appending to file F; repeatable\n"
            "  --net user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT...]\n"
            "                 a virtio-net device on user networking (libslirp: guest\n"
            "                 10.0.2.15 by DHCP, host and gateway 10.0.2.2, DNS 10.0.2.3);\n"
            "                 hostfwd rules forward host ports into the guest\n"
            "  --net tap[=IFNAME][,queues=N]\n"
            "                 a virtio-net device on a tap interface (needs CAP_NET_ADMIN;\n"
            "                 created if missing), with checksum and TSO offloads; queues:\n"
            "                 queue pairs (a multiqueue tap), default one per vCPU\n"
            "  --transport T  virtio-pci layout of every device: modern, legacy or\n"
            "                 transitional (default: both, the driver picks)\n"
            "  --packed       offer packed virtqueues (VIRTIO_F_RING_PACKED) on every device;\n"
            "                 a modern driver then uses them (not with --transport legacy)\n"
            "  --no-ioeventfd every queue kick exits to kick (for comparisons)\n"
            "  --no-irqfd     MSI-X messages by KVM_SIGNAL_MSI ioctls (for comparisons)\n"
            "  --verbose      boot layout, unclaimed port/MMIO accesses and timing on stderr\n"
            "\n"
            "The devices sit on PCI bus 0 (00:01.0, 00:02.0, ...; disks first, then the rng,\n"
            "the console and the NIC), with MSI-X and INTx; an MP table describes the CPUs\n"
            "and the IOAPIC.\n"
            "\n"
            "kick exits when the guest resets (status 0: 'reboot -f', a triple fault),\n"
            "when the guest writes V to port 0x501 or 0xf4 (status (V << 1) | 1, as QEMU's\n"
            "isa-debug-exit), on Ctrl-A x (when stdin is a terminal) or a signal.\n"
            "Linux without ACPI cannot power off, so test guests should end with\n"
            "'reboot -f'; use e.g. --cmdline \"console=ttyS0 reboot=k panic=-1\" so a panic\n"
            "resets at once. A guest that halts with interrupts off hangs kick.\n",
            RUN_DEFAULT_CMDLINE, RUN_MAX_CPUS, BLK_MAX_QUEUES, RUN_MAX_DISKS);
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

/* --console VALUE: serial, virtio, or virtio,name=N,path=P|file=F. */
static int parse_console(const char *val, struct run_config *c)
{
    if (!strcmp(val, "serial"))
        return 0;
    if (!strcmp(val, "virtio")) {
        if (c->console.stdio)
            return usage_error("--console %s given twice%s", val, "");
        c->virtio_console = c->console.stdio = true;
        return 0;
    }
    if (strncmp(val, "virtio,", 7) != 0)
        return usage_error("--console %s: must be serial, virtio or virtio,name=N,path=SOCK%s",
                           val, "");
    if (c->console.nnamed == VSLOT_MAX_CONSOLE_PORTS)
        return usage_error("--console %s: more than %s named ports", val,
                           STR(VSLOT_MAX_CONSOLE_PORTS));
    char err[256];
    struct chardev_socket_opts *o = &c->console.named[c->console.nnamed];
    if (chardev_socket_parse(val + 7, o, err, sizeof err) < 0)
        return usage_error("--console: %s%s", err, "");
    for (unsigned i = 0; i < c->console.nnamed; i++)
        if (!strcmp(c->console.named[i].name, o->name))
            return usage_error("--console %s: port name '%s' given twice", val, o->name);
    c->console.nnamed++;
    c->virtio_console = true;
    return 0;
}

/* --net user[,hostfwd=R...] or tap[=IFNAME][,queues=N]: every rule checked now. */
static int parse_net(const char *val, struct run_config *c)
{
    if (c->net)
        return usage_error("--net %s: only one --net so far%s", val, "");
    char *s = strdup(val);
    if (!s)
        return usage_error("--net %s: out of memory%s", val, "");
    c->net_spec = s;
    c->net_arg = val;
    c->net = true;
    char *save = NULL, *kind = strtok_r(s, ",", &save);
    if (kind && !strncmp(kind, "tap", 3) && (kind[3] == 0 || kind[3] == '=')) {
        c->net_cfg.tap = kind[3] ? kind + 4 : "";
        if (strlen(c->net_cfg.tap) >= IFNAMSIZ)
            return usage_error("--net %s: interface name longer than %s bytes", val,
                               STR(IFNAMSIZ) " - 1");
        for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            if (strncmp(kv, "queues=", 7) != 0)
                return usage_error("--net %s: unknown option '%s' (tap takes queues=N)", val, kv);
            if (c->net_cfg.queues)
                return usage_error("--net %s: %s", val, "queues given twice");
            char *end, why[96];
            errno = 0;
            long n = strtol(kv + 7, &end, 10);
            snprintf(why, sizeof why, "%s is not a number from 1 to %u (queue pairs)", kv,
                     (unsigned)VSLOT_NET_MAX_PAIRS);
            if (!isdigit((unsigned char)kv[7]) || *end || errno || n < 1 ||
                n > VSLOT_NET_MAX_PAIRS)
                return usage_error("--net %s: %s", val, why);
            c->net_cfg.queues = (unsigned)n;
        }
        return 0;
    }
    if (!kind || strcmp(kind, "user") != 0)
        return usage_error("--net %s: must be user[,hostfwd=...] or tap[=IFNAME]%s", val, "");
    for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        if (strncmp(kv, "hostfwd=", 8) != 0)
            return usage_error("--net %s: unknown option '%s' (user takes hostfwd=RULE)", val,
                               kv);
        if (c->net_cfg.nhostfwd == VSLOT_MAX_HOSTFWD)
            return usage_error("--net %s: more than %s hostfwd rules", val,
                               STR(VSLOT_MAX_HOSTFWD));
        struct net_slirp_hostfwd f;
        char err[320];
        if (net_slirp_parse_hostfwd(kv, &f, err, sizeof err) < 0)
            return usage_error("--net: %s%s", err, "");
        c->net_cfg.hostfwd[c->net_cfg.nhostfwd++] = kv;
    }
    return 0;
}

/* path=F[,ro=on|off][,serial=S][,queues=N]: one error line per problem. */
static int parse_disk(const char *val, struct run_disk *d)
{
    /* path and serial point into this copy, freed after the run */
    char *s = strdup(val);
    if (!s)
        return usage_error("--disk %s: out of memory%s", val, "");
    *d = (struct run_disk){ .spec = s };
    bool seen_ro = false;
    for (char *save = NULL, *kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return usage_error("--disk %s: '%s' is not key=value "
                               "(keys: path, ro, serial, queues)", val, kv);
        *eq = 0;
        const char *v = eq + 1;
        if (!strcmp(kv, "path")) {
            if (d->path || !*v)
                return usage_error("--disk %s: %s", val,
                                   d->path ? "path given twice" : "empty path");
            d->path = v;
        } else if (!strcmp(kv, "ro")) {
            if (seen_ro)
                return usage_error("--disk %s: %s", val, "ro given twice");
            seen_ro = true;
            if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
                d->read_only = true;
            else if (strcmp(v, "off") && strcmp(v, "false") && strcmp(v, "0"))
                return usage_error("--disk %s: ro=%s is not on or off", val, v);
        } else if (!strcmp(kv, "serial")) {
            if (d->serial)
                return usage_error("--disk %s: %s", val, "serial given twice");
            if (strlen(v) > 20)
                return usage_error("--disk %s: serial '%s' is longer than 20 bytes", val, v);
            d->serial = v;
        } else if (!strcmp(kv, "queues")) {
            if (d->queues)
                return usage_error("--disk %s: %s", val, "queues given twice");
            char *end;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (!isdigit((unsigned char)*v) || *end || errno || n < 1 || n > BLK_MAX_QUEUES)
                return usage_error("--disk %s: queues=%s is not a number from 1 to "
                                   BLK_MAX_QUEUES_STR, val, v);
            d->queues = (unsigned)n;
        } else {
            return usage_error("--disk %s: unknown key '%s' "
                               "(keys: path, ro, serial, queues)", val, kv);
        }
    }
    if (!d->path)
        return usage_error("--disk %s: %s", val, "no path=FILE");
    return 0;
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

/* rate=BYTES per second, with the size suffixes of --memory (a bare number
 * is bytes here). */
static int parse_rng(const char *opt, struct run_config *c)
{
    const char *v = strncmp(opt, "rate=", 5) ? NULL : opt + 5;
    uint64_t rate = 0;
    int r = -EINVAL;
    if (v && *v) {
        char buf[40];
        size_t n = strlen(v);
        /* a bare number is bytes, not --memory's MiB */
        bool bare = n < sizeof buf - 1 && isdigit((unsigned char)v[n - 1]);
        if (bare) {
            memcpy(buf, v, n);
            memcpy(buf + n, "B", 2);
        }
        r = cli_parse_size(bare ? buf : v, &rate);
    }
    if (r < 0 || rate == 0 || rate > (1ull << 30))
        return usage_error("--rng %s: must be rate=BYTES per second, 1 to 1G (e.g. rate=4K)%s",
                           opt, "");
    c->rng_rate = rate;
    return 0;
}

static int parse_and_run(int argc, char **argv, struct run_config *out)
{
    struct run_config *c = out;
    *c = (struct run_config){ .memory = RUN_DEFAULT_MEMORY, .memory_arg = "512M", .cpus = 1,
                              .transport = VPCI_TRANSITIONAL };
    bool seen_memory = false, seen_cpus = false, seen_transport = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            cli_run_usage(stdout);
            return 0;
        }
        if (!strcmp(arg, "--verbose") || !strcmp(arg, "-v")) {
            c->verbose = true;
            continue;
        }
        if (!strcmp(arg, "--rng") || !strncmp(arg, "--rng=", 6)) {
            if (c->rng)
                return usage_error("%s given twice%s", "--rng", "");
            c->rng = true;
            /* --rng, --rng rate=N or --rng=rate=N */
            const char *opt = arg[5] == '=' ? arg + 6
                              : i + 1 < argc && !strncmp(argv[i + 1], "rate=", 5) ? argv[++i]
                                                                                  : NULL;
            if (opt) {
                int r = parse_rng(opt, c);
                if (r)
                    return r;
            }
            continue;
        }
        if (!strcmp(arg, "--no-ioeventfd")) {
            c->no_ioeventfd = true;
            continue;
        }
        if (!strcmp(arg, "--no-irqfd")) {
            c->no_irqfd = true;
            continue;
        }
        if (!strcmp(arg, "--packed")) {
            c->packed = true;
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
                     !strcmp(name, "--cpus") || !strcmp(name, "--console") ||
                     !strcmp(name, "--disk") || !strcmp(name, "--transport") ||
                     !strcmp(name, "--net");
        if (eq && (!strcmp(name, "--rng") || !strcmp(name, "--no-ioeventfd") ||
                   !strcmp(name, "--no-irqfd") || !strcmp(name, "--packed")))
            return usage_error("%s takes no value%s", name, "");
        if (!known)
            return usage_error("unknown option '%s'%s", name, "");
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return usage_error("%s needs a value%s", name, "");

        const char **slot = NULL;
        if (!strcmp(name, "--kernel"))
            slot = &c->kernel;
        else if (!strcmp(name, "--initrd"))
            slot = &c->initrd;
        else if (!strcmp(name, "--cmdline"))
            slot = &c->cmdline;
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
            c->memory = bytes;
            c->memory_arg = val;
        } else if (!strcmp(name, "--cpus")) {
            if (seen_cpus)
                return usage_error("%s given twice%s", name, "");
            seen_cpus = true;
            char *end;
            errno = 0;
            long n = strtol(val, &end, 10);
            if (!isdigit((unsigned char)*val) || *end || errno || n < 1 || n > RUN_MAX_CPUS)
                return usage_error("--cpus %s: not a number from 1 to " RUN_MAX_CPUS_STR "%s",
                                   val, "");
            c->cpus = (unsigned)n;
        } else if (!strcmp(name, "--disk")) {
            if (c->ndisks == RUN_MAX_DISKS)
                return usage_error("--disk %s: more than " RUN_MAX_DISKS_STR " disks%s", val, "");
            int r = parse_disk(val, &c->disks[c->ndisks]);
            if (r)
                return r;
            c->ndisks++;
        } else if (!strcmp(name, "--transport")) {
            if (seen_transport)
                return usage_error("%s given twice%s", name, "");
            seen_transport = true;
            if (!strcmp(val, "modern"))
                c->transport = VPCI_MODERN;
            else if (!strcmp(val, "legacy"))
                c->transport = VPCI_LEGACY;
            else if (!strcmp(val, "transitional"))
                c->transport = VPCI_TRANSITIONAL;
            else
                return usage_error("--transport %s: must be modern, legacy or transitional%s", val,
                                   "");
        } else if (!strcmp(name, "--console")) {
            int r = parse_console(val, c);
            if (r)
                return r;
        } else if (!strcmp(name, "--net")) {
            int r = parse_net(val, c);
            if (r)
                return r;
        }
    }
    if (!c->kernel)
        return usage_error("--kernel is required%s%s", "", "");
    /* Linux maps one hardware queue to each CPU it can: more queues than
     * vCPUs would sit idle, fewer make vCPUs share one. */
    for (unsigned i = 0; i < c->ndisks; i++)
        if (!c->disks[i].queues)
            c->disks[i].queues = c->cpus < BLK_MAX_QUEUES ? c->cpus : BLK_MAX_QUEUES;
    /* a queue pair per vCPU, as Linux uses them (tap only: slirp has one) */
    if (c->net_cfg.tap && !c->net_cfg.queues)
        c->net_cfg.queues = c->cpus < VSLOT_NET_MAX_PAIRS ? c->cpus : VSLOT_NET_MAX_PAIRS;
    if (c->packed && c->transport == VPCI_LEGACY)
        return usage_error("--packed needs the modern interface; not with --transport %s%s",
                           "legacy", "");
    int r;
    if ((r = check_file("--kernel", c->kernel)) != 0)
        return r;
    if (c->initrd && (r = check_file("--initrd", c->initrd)) != 0)
        return r;
    for (unsigned i = 0; i < c->ndisks; i++) {
        const struct run_disk *d = &c->disks[i];
        struct stat st;
        if (access(d->path, d->read_only ? R_OK : R_OK | W_OK) < 0 || stat(d->path, &st) < 0) {
            fprintf(stderr, "kick run: --disk path=%s: %s%s\n", d->path, strerror(errno),
                    d->read_only || errno != EACCES ? "" : " (ro=on for read-only use)");
            return 1;
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
            fprintf(stderr, "kick run: --disk path=%s: not a regular file or block device\n",
                    d->path);
            return 1;
        }
    }
    return run_vm(c);
}

int cli_run_main(int argc, char **argv)
{
    struct run_config cfg;
    int r = parse_and_run(argc, argv, &cfg);
    for (unsigned i = 0; i < cfg.ndisks + (cfg.ndisks < RUN_MAX_DISKS); i++)
        free(cfg.disks[i].spec);
    free(cfg.net_spec);
    return r;
}
