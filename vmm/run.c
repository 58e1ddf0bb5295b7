/* `kick run` machine assembly and main loop (see run.h). */
#include "vmm/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/console_stdio.h"
#include "vmm/iobus.h"
#include "vmm/kvm_vcpu.h"
#include "vmm/kvm_vcpu_loop.h"
#include "vmm/kvm_vm.h"
#include "vmm/run_stop.h"
#include "vmm/serial.h"
#include "vmm/x86_boot.h"
#include "vmm/x86_cpu.h"
#include "vmm/x86_legacy.h"

#define ERR_LEN 320
#define MAX_IMAGE_SIZE (2ull << 30) /* the boot protocol's sizes are 32-bit */

struct machine {
    const struct run_config *cfg;
    struct kvm_vm vm;
    struct run_stop stop;
    struct iobus pio, mmio;
    struct serial8250 com1;
    struct x86_legacy legacy;
    struct console_stdio console;
    struct kvm_vcpu cpu;
    struct vcpu_loop loop;
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
    if (cfg->verbose)
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
    if ((r = kvm_vcpu_create(&m->cpu, &m->vm, 0, cfg->cpus, lay.entry, lay.zero_page, err,
                             sizeof err)) < 0) {
        fprintf(stderr, "kick run: %s\n", err);
        return r;
    }
    m->loop = (struct vcpu_loop){
        .cpu = &m->cpu, .pio = &m->pio, .mmio = &m->mmio, .stop = &m->stop,
        .verbose = cfg->verbose,
    };
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
            struct signalfd_siginfo si;
            if (read(sig_fd, &si, sizeof si) == sizeof si) {
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

int run_vm(const struct run_config *cfg)
{
    double t0 = now_s();
    struct machine *m = calloc(1, sizeof *m);
    if (!m) {
        fprintf(stderr, "kick run: out of memory\n");
        return 1;
    }
    m->cfg = cfg;
    m->vm = (struct kvm_vm){ .kvm_fd = -1, .vm_fd = -1, .mem_fd = -1 };
    m->cpu.fd = -1;
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
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0) {
        fprintf(stderr, "kick run: signalfd: %s\n", strerror(errno));
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    console_stdio_open(&m->console, STDIN_FILENO, STDOUT_FILENO);
    double t_start = now_s();
    int r = vcpu_loop_start(&m->loop);
    if (r < 0) {
        console_stdio_close(&m->console);
        fprintf(stderr, "kick run: cannot start the vCPU thread: %s\n", strerror(-r));
        close(sig_fd);
        goto out;
    }
    wait_for_stop(m, sig_fd);
    vcpu_loop_kick(&m->loop);
    vcpu_loop_join(&m->loop);
    console_stdio_close(&m->console);
    close(sig_fd);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);

    status = m->stop.status;
    if (m->stop.error)
        fprintf(stderr, "kick run: %s\n", m->stop.why);
    else if (cfg->verbose)
        fprintf(stderr, "kick: %s, exit status %d\n", m->stop.why, status);
    if (cfg->verbose) {
        double t1 = now_s();
        fprintf(stderr,
                "kick: setup %.3f s, guest ran %.3f s, %llu vCPU exits (%llu port I/O, "
                "%llu MMIO)\n",
                t_start - t0, t1 - t_start, (unsigned long long)m->loop.exits,
                (unsigned long long)m->loop.pio_exits, (unsigned long long)m->loop.mmio_exits);
        char top[160];
        vcpu_loop_top_ports(&m->loop, 6, top, sizeof top);
        fprintf(stderr, "kick: port I/O exits by port: %s\n", top[0] ? top : "none");
    }
out:
    kvm_vcpu_destroy(&m->cpu);
    kvm_vm_destroy(&m->vm);
    if (m->com1_ready)
        serial_destroy(&m->com1);
    run_stop_destroy(&m->stop);
out_free:
    free(m->kernel);
    free(m->initrd);
    free(m);
    return status;
}
