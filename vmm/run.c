/* `kick run` machine assembly and main loop (see run.h). */
#include "vmm/run.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/acpi.h"
#include "vmm/console_stdio.h"
#include "vmm/ecam.h"
#include "vmm/pm.h"
#include "vmm/iobus.h"
#include "vmm/kvm_vcpu.h"
#include "vmm/kvm_vcpu_loop.h"
#include "vmm/kvm_vm.h"
#include "vmm/mptable.h"
#include "vmm/pci_host.h"
#include "vmm/run_stop.h"
#include "vmm/serial.h"
#include "vmm/x86_boot.h"
#include "vmm/x86_cpu.h"
#include "vmm/virtio_slot.h"
#include "vmm/x86_legacy.h"

#define ERR_LEN 320
#define RUN_MMAP_THRESHOLD (64 * 1024)
#define RUN_TOP_PAD (128 * 1024) /* glibc's DEFAULT_TOP_PAD */
#define RUN_MAX_SLOTS (RUN_MAX_DISKS + 3) /* disks, rng, console, net */
#define MAX_IMAGE_SIZE (2ull << 30) /* the boot protocol's sizes are 32-bit */

struct machine {
    const struct run_config *cfg;
    struct kvm_vm vm;
    struct run_stop stop;
    struct iobus pio, mmio;
    struct serial8250 com1;
    struct x86_legacy legacy;
    struct console_stdio console;
    struct kvm_vcpu *cpu;      /* cfg->cpus of each */
    struct vcpu_loop *loop;
    unsigned ncpu;             /* created so far */
    struct gmem mem;
    struct pci_host bus;
    struct pm pm;
    struct ecam ecam;
    struct vslot_env env;
    struct irq_routes routes;
    bool routes_ready;
    struct virtio_slot *slot;  /* RUN_MAX_SLOTS */
    unsigned nslot;
    bool com1_ready;
    uint8_t *kernel, *initrd;
    size_t kernel_len, initrd_len;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a whole regular file. On error prints the one error line naming the
 * option and returns -errno. */
static int read_image(const char *opt, const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "kick run: %s %s: %s\n", opt, path, strerror(errno));
        return -errno;
    }
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        fprintf(stderr, "kick run: %s %s: %s\n", opt, path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        fprintf(stderr, "kick run: %s %s: not a regular file\n", opt, path);
    } else if ((uint64_t)st.st_size > MAX_IMAGE_SIZE) {
        r = -EFBIG;
        fprintf(stderr, "kick run: %s %s: %lld bytes is more than kick loads (2 GiB)\n", opt,
                path, (long long)st.st_size);
    } else if (st.st_size == 0) {
        r = -EINVAL;
        fprintf(stderr, "kick run: %s %s: file is empty\n", opt, path);
    }
    if (r < 0) {
        close(fd);
        return r;
    }
    *len = (size_t)st.st_size;
    *data = malloc(*len);
    if (!*data) {
        close(fd);
        fprintf(stderr, "kick run: %s %s: out of memory reading it\n", opt, path);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < *len) {
        ssize_t n = read(fd, *data + got, *len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            fprintf(stderr, "kick run: %s %s: %s\n", opt, path,
                    n < 0 ? strerror(errno) : "file shrank while being read");
            free(*data);
            *data = NULL;
            close(fd);
            return r;
        }
        got += (size_t)n;
    }
    close(fd);
    return 0;
}

static void com1_irq(void *opaque, bool level)
{
    struct machine *m = opaque;
    int r = kvm_vm_irq_line(&m->vm, SERIAL_COM1_IRQ, level);
    if (r < 0)
        run_stop_request(&m->stop, 1, true, "KVM_IRQ_LINE %d: %s", SERIAL_COM1_IRQ, strerror(-r));
}

static void com1_tx(void *opaque, uint8_t byte)
{
    struct machine *m = opaque;
    console_stdio_tx(&m->console, byte);
}

static const struct serial_ops com1_ops = { .tx = com1_tx, .irq = com1_irq };

/* The PCI bus and kick's virtio devices on it, their BARs placed. */
static int build_pci(struct machine *m)
{
    const struct run_config *cfg = m->cfg;
    char err[ERR_LEN];
    int r;
    gmem_init(&m->mem);
    if ((r = gmem_add(&m->mem, 0, m->vm.low_size, m->vm.host)) < 0 ||
        (m->vm.high_size &&
         (r = gmem_add(&m->mem, KVM_VM_HIGH_START, m->vm.high_size,
                       m->vm.host + m->vm.low_size)) < 0)) {
        fprintf(stderr, "kick run: guest memory map: %s\n", strerror(-r));
        return r;
    }
    uint64_t ram_end = m->vm.high_size ? KVM_VM_HIGH_START + m->vm.high_size : m->vm.low_size;
    if ((r = pci_host_init(&m->bus, &m->pio, &m->mmio, ram_end)) < 0) {
        fprintf(stderr, "kick run: cannot set up the PCI host bridge: %s\n", strerror(-r));
        return r;
    }
    irq_routes_init(&m->routes, &m->vm, !cfg->no_irqfd);
    m->routes_ready = true;
    m->env = (struct vslot_env){
        .vm = &m->vm, .bus = &m->bus, .mem = &m->mem, .stop = &m->stop,
        .mode = cfg->transport, .ioeventfd = !cfg->no_ioeventfd, .routes = &m->routes,
        .packed = cfg->packed,
    };
    m->slot = calloc(RUN_MAX_SLOTS, sizeof *m->slot);
    if (!m->slot) {
        fprintf(stderr, "kick run: out of memory\n");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        const struct run_disk *d = &cfg->disks[i];
        struct vslot_disk disk = { .path = d->path, .serial = d->serial, .read_only = d->read_only,
                                   .queues = d->queues };
        r = vslot_create(&m->slot[m->nslot], &m->env, VSLOT_BLK, &disk, err, sizeof err);
        m->nslot++;
        if (r < 0) {
            fprintf(stderr, "kick run: --disk path=%s: %s\n", d->path, err);
            return r;
        }
    }
    if (cfg->rng) {
        r = vslot_create(&m->slot[m->nslot], &m->env, VSLOT_RNG, &cfg->rng_rate, err, sizeof err);
        m->nslot++;
        if (r < 0) {
            fprintf(stderr, "kick run: --rng: %s\n", err);
            return r;
        }
    }
    if (cfg->virtio_console) {
        r = vslot_create(&m->slot[m->nslot], &m->env, VSLOT_CONSOLE, &cfg->console, err,
                         sizeof err);
        m->nslot++;
        if (r < 0) {
            fprintf(stderr, "kick run: --console: %s\n", err);
            return r;
        }
    }
    if (cfg->net) {
        r = vslot_create(&m->slot[m->nslot], &m->env, VSLOT_NET, &cfg->net_cfg, err, sizeof err);
        m->nslot++;
        if (r < 0) {
            fprintf(stderr, "kick run: --net %s: %s\n", cfg->net_arg, err);
            return r;
        }
    }
    if ((r = pci_host_place_bars(&m->bus)) < 0) {
        fprintf(stderr, "kick run: PCI BARs do not fit their windows: %s\n", strerror(-r));
        return r;
    }
    return 0;
}

/* The MP table: CPUs, the IOAPIC and the INTx wiring of every PCI slot. */
static int build_mptable(struct machine *m)
{
    struct mptable_pci_irq irqs[PCI_HOST_SLOTS];
    unsigned n = 0;
    for (unsigned s = 1; s < m->bus.nslots; s++) {
        unsigned pin = pci_cfg_read_val(m->bus.slot[s], PCI_INTERRUPT_PIN, 1);
        if (pin >= 1 && pin <= 4)
            irqs[n++] = (struct mptable_pci_irq){ (uint8_t)s, (uint8_t)pin,
                                                  (uint8_t)pci_host_intx_gsi(s, pin) };
    }
    struct mptable_config mc = { .cpus = m->cfg->cpus, .pci = irqs, .npci = n };
    size_t size = mptable_size(&mc);
    void *at = kvm_vm_gpa(&m->vm, MPTABLE_ADDR, size);
    long r = at ? mptable_write(&mc, MPTABLE_ADDR, at, size) : -ENOSPC;
    if (r < 0) {
        fprintf(stderr, "kick run: cannot write the MP table: %s\n", strerror((int)-r));
        return (int)r;
    }
    return 0;
}

/* ACPI: tables in the BIOS area, the PM1a block (S5 ends the run), ECAM. */
static void acpi_power_off(void *opaque)
{
    struct machine *m = opaque;
    run_stop_request(&m->stop, 0, false, "guest powered off (ACPI S5)");
}

static int build_acpi(struct machine *m)
{
    uint32_t slots = 0;
    for (unsigned s = 1; s < m->bus.nslots; s++) {
        unsigned pin = pci_cfg_read_val(m->bus.slot[s], PCI_INTERRUPT_PIN, 1);
        if (pin >= 1 && pin <= 4)
            slots |= 1u << s;
    }
    uint64_t ram_end = m->vm.high_size ? KVM_VM_HIGH_START + m->vm.high_size : m->vm.low_size;
    struct acpi_config c;
    acpi_config_default(&c, m->cfg->cpus, ram_end, slots);
    c.mem64_base = m->bus.mem64_base;
    void *at = kvm_vm_gpa(&m->vm, ACPI_AREA_GPA, ACPI_AREA_SIZE);
    uint64_t rsdp;
    int r = at ? acpi_build(&c, at, ACPI_AREA_SIZE, &rsdp) : -ENOSPC;
    if (r == 0)
        r = pm_init(&m->pm, &m->pio, c.pm1_base, ACPI_S5_SLP_TYP, acpi_power_off, m);
    if (r == 0)
        r = ecam_init(&m->ecam, &m->mmio, c.ecam_base, c.ecam_bus_start, c.ecam_bus_end,
                      pci_host_ecam_read, pci_host_ecam_write, &m->bus);
    if (r < 0)
        fprintf(stderr, "kick run: cannot set up ACPI: %s\n", strerror(-r));
    return r;
}

static int build(struct machine *m)
{
    const struct run_config *cfg = m->cfg;
    char err[ERR_LEN];
    int r;

    if ((r = read_image("--kernel", cfg->kernel, &m->kernel, &m->kernel_len)) < 0)
        return r;
    if (cfg->initrd &&
        (r = read_image("--initrd", cfg->initrd, &m->initrd, &m->initrd_len)) < 0)
        return r;
    if ((r = kvm_vm_create(&m->vm, cfg->memory, err, sizeof err)) < 0) {
        fprintf(stderr, "kick run: %s\n", err);
        return r;
    }

    struct x86_boot_images img = {
        .kernel = m->kernel, .kernel_len = m->kernel_len,
        .initrd = m->initrd, .initrd_len = m->initrd_len,
        .cmdline = cfg->cmdline ? cfg->cmdline : RUN_DEFAULT_CMDLINE,
    };
    struct x86_boot_layout lay;
    enum x86_boot_input culprit;
    if ((r = x86_boot_load(&m->vm, &img, &lay, &culprit, err, sizeof err)) < 0) {
        switch (culprit) {
        case X86_BOOT_IN_KERNEL:
            fprintf(stderr, "kick run: --kernel %s: %s\n", cfg->kernel, err);
            break;
        case X86_BOOT_IN_INITRD:
            fprintf(stderr, "kick run: --initrd %s: %s\n", cfg->initrd, err);
            break;
        case X86_BOOT_IN_CMDLINE:
            fprintf(stderr, "kick run: --cmdline: %s\n", err);
            break;
        case X86_BOOT_IN_MEMORY:
            fprintf(stderr, "kick run: --memory %s: %s\n", cfg->memory_arg, err);
            break;
        }
        return r;
    }
    /* the images now live in guest RAM */
    free(m->kernel);
    free(m->initrd);
    m->kernel = m->initrd = NULL;
    if ((r = x86_cpu_write_tables(&m->vm)) < 0) {
        fprintf(stderr, "kick run: --memory %s: too small for the boot page tables\n",
                cfg->memory_arg);
        return r;
    }
    if (cfg->verbose && lay.multiboot)
        fprintf(stderr, "kick: multiboot image at 0x%llx-0x%llx, entry 0x%llx, info at 0x%llx\n",
                (unsigned long long)lay.kernel_addr, (unsigned long long)lay.kernel_end,
                (unsigned long long)lay.entry, (unsigned long long)lay.zero_page);
    else if (cfg->verbose)
        fprintf(stderr,
                "kick: boot protocol %u.%02u, kernel at 0x%llx (entry 0x%llx, needs up to "
                "0x%llx), initrd at 0x%llx (%llu bytes), %u e820 entries\n",
                lay.protocol >> 8, lay.protocol & 0xff, (unsigned long long)lay.kernel_addr,
                (unsigned long long)lay.entry, (unsigned long long)lay.kernel_end,
                (unsigned long long)lay.initrd_addr, (unsigned long long)lay.initrd_size,
                lay.e820_entries);

    serial_init(&m->com1, &com1_ops, m);
    m->com1_ready = true;
    if ((r = iobus_add(&m->pio, SERIAL_COM1_BASE, SERIAL_NREGS, serial_pio_read,
                       serial_pio_write, &m->com1, "com1")) < 0 ||
        (r = x86_legacy_init(&m->legacy, &m->pio, &m->stop)) < 0) {
        fprintf(stderr, "kick run: cannot set up port I/O: %s\n", strerror(-r));
        return r;
    }
    if ((r = build_pci(m)) < 0 || (r = build_mptable(m)) < 0 || (r = build_acpi(m)) < 0)
        return r;
    m->cpu = calloc(cfg->cpus, sizeof *m->cpu);
    m->loop = calloc(cfg->cpus, sizeof *m->loop);
    if (!m->cpu || !m->loop) {
        fprintf(stderr, "kick run: out of memory\n");
        return -ENOMEM;
    }
    /* The APs wait for INIT/SIPI in KVM's local APIC; the MP table tells
     * Linux they are there. */
    for (; m->ncpu < cfg->cpus; m->ncpu++) {
        if ((r = kvm_vcpu_create(&m->cpu[m->ncpu], &m->vm, m->ncpu, cfg->cpus, lay.entry,
                                 lay.zero_page, err, sizeof err)) < 0) {
            fprintf(stderr, "kick run: --cpus %u: %s\n", cfg->cpus, err);
            return r;
        }
        if (m->ncpu == 0 && lay.multiboot &&
            (r = kvm_vcpu_boot32(&m->cpu[0], (uint32_t)lay.entry, (uint32_t)lay.zero_page, err,
                                 sizeof err)) < 0) {
            fprintf(stderr, "kick run: multiboot entry: %s\n", err);
            return r;
        }
        /* Field by field: the loop is mostly per-port counters, zero from
         * calloc, resident only where a port is used; assigning a whole
         * struct would write (and make resident) all 264 KiB of it. */
        struct vcpu_loop *l = &m->loop[m->ncpu];
        l->cpu = &m->cpu[m->ncpu];
        l->pio = &m->pio;
        l->mmio = &m->mmio;
        l->stop = &m->stop;
        l->verbose = cfg->verbose;
    }
    return 0;
}

/* Main thread: feeds the console and waits for a stop request or a signal. */
static void wait_for_stop(struct machine *m, int sig_fd)
{
    for (;;) {
        struct pollfd pfd[3] = {
            { .fd = run_stop_fd(&m->stop), .events = POLLIN },
            { .fd = sig_fd, .events = POLLIN },
            { .fd = console_stdio_poll_fd(&m->console), .events = POLLIN },
        };
        /* bytes waiting for FIFO room are retried every few milliseconds */
        int timeout = console_stdio_has_pending(&m->console) ? 5 : -1;
        int n = poll(pfd, 3, timeout);
        if (n < 0 && errno != EINTR) {
            run_stop_request(&m->stop, 1, true, "poll: %s", strerror(errno));
            return;
        }
        if (run_stop_requested(&m->stop))
            return;
        if (n > 0 && (pfd[1].revents & POLLIN)) {
            struct signalfd_siginfo si = { 0 };
            if (read(sig_fd, &si, sizeof si) != sizeof si)
                si.ssi_signo = 0;
            if (si.ssi_signo == SIGWINCH) {
                uint16_t cols, rows;
                for (unsigned i = 0; i < m->nslot; i++)
                    if (vslot_console_resized(&m->slot[i], &cols, &rows) && m->cfg->verbose)
                        fprintf(stderr, "kick: console: terminal resized to %ux%u\n", cols, rows);
            } else if (si.ssi_signo) {
                run_stop_request(&m->stop, 128 + (int)si.ssi_signo, false,
                                 "terminated by signal %u", si.ssi_signo);
                return;
            }
        }
        bool readable = n > 0 && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR));
        if (console_stdio_pump(&m->console, &m->com1, readable)) {
            run_stop_request(&m->stop, 0, false, "quit from the console (Ctrl-A x)");
            return;
        }
    }
}

/* kB of "Key:" in a /proc/self status-like file, summed over mappings whose
 * header line contains `only` (NULL: every line). */
static unsigned long proc_kb(const char *file, const char *key, const char *only)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return 0;
    char line[512];
    unsigned long total = 0, kb;
    bool in = only == NULL;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (only && strchr(line, '-') && strchr(line, ' ') > strchr(line, '-'))
            in = strstr(line, only) != NULL; /* a mapping's header line */
        if (in && !strncmp(line, key, klen) && sscanf(line + klen, "%lu", &kb) == 1)
            total += kb;
    }
    fclose(f);
    return total;
}

static const char *slot_name(const struct virtio_slot *s)
{
    static const char *const names[] = {
        [VSLOT_RNG] = "virtio-rng", [VSLOT_BLK] = "virtio-blk",
        [VSLOT_CONSOLE] = "virtio-console", [VSLOT_NET] = "virtio-net",
    };
    return names[s->kind];
}

/* --verbose statistics: exits (all vCPUs), per-device traffic. */
static void report(struct machine *m, double setup_s, double ran_s)
{
    uint64_t exits = 0, pio = 0, mmio = 0;
    for (unsigned i = 0; i < m->ncpu; i++) {
        exits += m->loop[i].exits;
        pio += m->loop[i].pio_exits;
        mmio += m->loop[i].mmio_exits;
        for (unsigned p = 0; i && p < 65536; p++)
            if (m->loop[i].port_exits[p]) /* untouched counters stay unresident */
                m->loop[0].port_exits[p] += m->loop[i].port_exits[p];
    }
    fprintf(stderr,
            "kick: setup %.3f s, guest ran %.3f s, %u vCPU(s), %llu vCPU exits (%llu port I/O, "
            "%llu MMIO)\n",
            setup_s, ran_s, m->ncpu, (unsigned long long)exits, (unsigned long long)pio,
            (unsigned long long)mmio);
    char top[160];
    vcpu_loop_top_ports(&m->loop[0], 6, top, sizeof top);
    fprintf(stderr, "kick: port I/O exits by port: %s\n", top[0] ? top : "none");
    /* what kick itself holds, guest RAM apart (the guest touched that) */
    unsigned long rss = proc_kb("/proc/self/status", "VmRSS:", NULL);
    unsigned long hwm = proc_kb("/proc/self/status", "VmHWM:", NULL);
    unsigned long ram = proc_kb("/proc/self/smaps", "Rss:", "kick-guest-ram");
    /* Libraries' pages are page cache shared with every process that maps
     * them; what kick alone costs is its anonymous memory. */
    unsigned long anon = proc_kb("/proc/self/status", "RssAnon:", NULL);
    unsigned long beyond = rss > ram ? rss - ram : 0;
    /* PSS charges each shared page to its mappers in equal parts: what kick
     * adds to the machine, libraries' pages counted once across processes. */
    unsigned long pss = proc_kb("/proc/self/smaps_rollup", "Pss:", NULL);
    unsigned long ram_pss = proc_kb("/proc/self/smaps", "Pss:", "kick-guest-ram");
    fprintf(stderr, "kick: memory: VmRSS %lu kB (peak %lu kB), guest RAM resident %lu kB, "
            "kick beyond guest RAM %lu kB (%lu kB private, %lu kB shared: libraries, rings; "
            "PSS %lu kB)\n",
            rss, hwm, ram, beyond, anon, beyond > anon ? beyond - anon : 0,
            pss > ram_pss ? pss - ram_pss : 0);
    for (unsigned i = 0; i < m->nslot; i++) {
        struct virtio_slot *s = &m->slot[i];
        fprintf(stderr,
                "kick: 00:%02x.0 %s: %llu BAR exits, %llu queue kicks by ioeventfd, %llu MSIs, "
                "%llu INTx raises, %llu ioeventfd errors",
                s->slot, slot_name(s), (unsigned long long)m->bus.bar_exits[s->slot],
                (unsigned long long)s->fd_kicks, (unsigned long long)s->msis,
                (unsigned long long)s->intx_raises, (unsigned long long)s->ioeventfd_errors);
        if (s->kind == VSLOT_BLK)
            fprintf(stderr, ", %llu requests (%llu bytes read, %llu written)",
                    (unsigned long long)s->blk->stats.requests,
                    (unsigned long long)s->blk->stats.read_bytes,
                    (unsigned long long)s->blk->stats.write_bytes);
        else if (s->kind == VSLOT_CONSOLE)
            fprintf(stderr, ", port 0: %llu bytes out, %llu in, %llu dropped",
                    (unsigned long long)s->con->port[0].tx_bytes,
                    (unsigned long long)s->con->port[0].rx_bytes,
                    (unsigned long long)s->con->port[0].tx_dropped);
        else if (s->kind == VSLOT_NET)
            fprintf(stderr, ", %llu frames out (%llu bytes, %llu errors), %llu in (%llu bytes, "
                    "%llu dropped)",
                    (unsigned long long)s->net->stats.tx_frames,
                    (unsigned long long)s->net->stats.tx_bytes,
                    (unsigned long long)s->net->stats.tx_errors,
                    (unsigned long long)s->net->stats.rx_frames,
                    (unsigned long long)s->net->stats.rx_bytes,
                    (unsigned long long)s->net->stats.rx_dropped);
        else
            fprintf(stderr, ", %llu requests, %llu bytes", (unsigned long long)s->rng.requests,
                    (unsigned long long)s->rng.bytes);
        fputc('\n', stderr);
    }
    const struct irq_routes *r = &m->routes;
    fprintf(stderr, "kick: MSIs: %llu by irqfd, %llu by KVM_SIGNAL_MSI; %u irqfd vectors, "
            "%llu routing updates (%llu failed)%s\n",
            (unsigned long long)r->irqfd_writes, (unsigned long long)r->signal_msis, r->nmsi,
            (unsigned long long)r->commits, (unsigned long long)r->commit_errors,
            r->disabled ? " (irqfd off)" : "");
}

int run_vm(const struct run_config *cfg)
{
    double t0 = now_s();
    /* A fixed threshold keeps glibc from raising it to the size of the freed
     * kernel image: the big, mostly idle tables (request slots, per-port
     * counters, the slot array) then get their own mappings, resident only
     * where touched, instead of heap that is never given back. */
    mallopt(M_MMAP_THRESHOLD, RUN_MMAP_THRESHOLD);
    /* The threshold only applies when the heap must grow: a large calloc
     * that fits in the heap's free top is carved from it and cleared, all of
     * it made resident. Without top padding, and with the slack that start-up
     * left given back, the heap has no such room during setup. */
    mallopt(M_TOP_PAD, 0);
    malloc_trim(0);
    struct machine *m = calloc(1, sizeof *m);
    if (!m) {
        fprintf(stderr, "kick run: out of memory\n");
        return 1;
    }
    m->cfg = cfg;
    m->vm = (struct kvm_vm){ .kvm_fd = -1, .vm_fd = -1, .mem_fd = -1 };
    int status = 1;
    if (run_stop_init(&m->stop) < 0) {
        fprintf(stderr, "kick run: eventfd: %s\n", strerror(errno));
        goto out_free;
    }
    if (build(m) < 0)
        goto out;

    /* Signals end the run through the main loop (so the terminal is
     * restored); blocked before the vCPU thread exists so it inherits that. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGWINCH); /* a terminal resize, for the console */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0) {
        fprintf(stderr, "kick run: signalfd: %s\n", strerror(errno));
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    /* With hvc0 on stdin, the UART only writes (early boot output). */
    console_stdio_open(&m->console, cfg->console.stdio ? -1 : STDIN_FILENO, STDOUT_FILENO);
    /* setup's transient allocations (ACPI and MP tables, parsing) */
    malloc_trim(0);
    /* glibc's default again: the run's small allocations grow the heap in
     * steps rather than a page at a time (untouched padding is not resident) */
    mallopt(M_TOP_PAD, RUN_TOP_PAD);
    double t_start = now_s();
    int r = 0;
    for (unsigned i = 0; i < m->nslot && r == 0; i++)
        if ((r = vslot_start(&m->slot[i])) < 0)
            fprintf(stderr, "kick run: cannot start a device thread: %s\n", strerror(-r));
    for (unsigned i = 0; i < m->ncpu && r == 0; i++)
        if ((r = vcpu_loop_start(&m->loop[i])) < 0)
            fprintf(stderr, "kick run: cannot start vCPU thread %u: %s\n", i, strerror(-r));
    if (r < 0)
        run_stop_request(&m->stop, 1, false, "start failed");
    else
        wait_for_stop(m, sig_fd);
    for (unsigned i = 0; i < m->ncpu; i++)
        vcpu_loop_kick(&m->loop[i]);
    for (unsigned i = 0; i < m->ncpu; i++)
        vcpu_loop_join(&m->loop[i]);
    /* no vCPU runs now: the devices can stop without a kick arriving */
    for (unsigned i = 0; i < m->nslot; i++)
        vslot_stop(&m->slot[i]);
    console_stdio_close(&m->console);
    for (unsigned i = 0; i < m->nslot; i++)
        vslot_release_terminal(&m->slot[i]);
    close(sig_fd);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);

    status = m->stop.status;
    if (m->stop.error)
        fprintf(stderr, "kick run: %s\n", m->stop.why);
    else if (cfg->verbose)
        fprintf(stderr, "kick: %s, exit status %d\n", m->stop.why, status);
    if (cfg->verbose)
        report(m, t_start - t0, now_s() - t_start);
out:
    for (unsigned i = 0; m->slot && i < m->nslot; i++)
        vslot_destroy(&m->slot[i]);
    for (unsigned i = 0; i < m->ncpu; i++)
        kvm_vcpu_destroy(&m->cpu[i]);
    pci_host_destroy(&m->bus);
    if (m->routes_ready)
        irq_routes_destroy(&m->routes);
    kvm_vm_destroy(&m->vm);
    if (m->com1_ready)
        serial_destroy(&m->com1);
    run_stop_destroy(&m->stop);
out_free:
    free(m->kernel);
    free(m->initrd);
    free(m->slot);
    free(m->cpu);
    free(m->loop);
    free(m);
    return status;
}
