/* vCPU thread (see kvm_vcpu_loop.h). */
#include "vmm/kvm_vcpu_loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

/* Sent to a vCPU thread to interrupt KVM_RUN; the handler does nothing, the
 * point is the EINTR (together with kvm_run.immediate_exit for the race where
 * the signal lands just before KVM_RUN). */
#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
    (void)sig;
}

static const char *where(struct vcpu_loop *l, char *buf, size_t len)
{
    struct kvm_regs regs;
    if (ioctl(l->cpu->fd, KVM_GET_REGS, &regs) < 0)
        snprintf(buf, len, "(registers unreadable)");
    else
        snprintf(buf, len, "at rip 0x%llx", (unsigned long long)regs.rip);
    return buf;
}

static void handle_io(struct vcpu_loop *l, struct kvm_run *run)
{
    unsigned size = run->io.size;
    uint64_t bytes = (uint64_t)run->io.count * size;
    if ((size != 1 && size != 2 && size != 4) || run->io.data_offset > l->cpu->run_size ||
        bytes > l->cpu->run_size - run->io.data_offset) {
        run_stop_request(l->stop, 1, true, "vCPU %u: malformed port I/O exit (port 0x%x)",
                         l->cpu->id, run->io.port);
        return;
    }
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    l->port_exits[run->io.port]++;
    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        uint64_t v = 0;
        bool claimed;
        if (run->io.direction == KVM_EXIT_IO_OUT) {
            memcpy(&v, data, size);
            claimed = iobus_write(l->pio, run->io.port, size, v);
        } else {
            claimed = iobus_read(l->pio, run->io.port, size, &v);
            memcpy(data, &v, size);
        }
        uint16_t p = run->io.port;
        if (!claimed && l->verbose && !(l->port_seen[p / 8] & (1u << (p % 8)))) {
            l->port_seen[p / 8] |= (uint8_t)(1u << (p % 8));
            fprintf(stderr, "kick: unclaimed port %s 0x%x (size %u)%s\n",
                    run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read", p, size,
                    run->io.direction == KVM_EXIT_IO_OUT ? "" : ", reads as all ones");
        }
    }
}

static void handle_mmio(struct vcpu_loop *l, struct kvm_run *run)
{
    unsigned len = run->mmio.len;
    if (len == 0 || len > 8) {
        run_stop_request(l->stop, 1, true, "vCPU %u: malformed MMIO exit (len %u)",
                         l->cpu->id, len);
        return;
    }
    uint64_t v = 0;
    bool claimed;
    if (run->mmio.is_write) {
        memcpy(&v, run->mmio.data, len);
        claimed = iobus_write(l->mmio, run->mmio.phys_addr, len, v);
    } else {
        claimed = iobus_read(l->mmio, run->mmio.phys_addr, len, &v);
        memcpy(run->mmio.data, &v, len);
    }
    if (!claimed && l->verbose && l->mmio_reported < 32) {
        l->mmio_reported++;
        fprintf(stderr, "kick: unclaimed MMIO %s 0x%llx (len %u)\n",
                run->mmio.is_write ? "write" : "read",
                (unsigned long long)run->mmio.phys_addr, len);
    }
}

static void handle_system_event(struct vcpu_loop *l, struct kvm_run *run)
{
    switch (run->system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        run_stop_request(l->stop, 0, false, "guest powered off");
        break;
    case KVM_SYSTEM_EVENT_RESET:
        run_stop_request(l->stop, 0, false, "guest reset");
        break;
    default:
        run_stop_request(l->stop, 1, true, "vCPU %u: system event %u (guest crashed?)",
                         l->cpu->id, run->system_event.type);
        break;
    }
}

/* Handles one exit; returns false once the loop must end. */
static void handle_exit(struct vcpu_loop *l, struct kvm_run *run)
{
    char at[64];
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        l->pio_exits++;
        handle_io(l, run);
        break;
    case KVM_EXIT_MMIO:
        l->mmio_exits++;
        handle_mmio(l, run);
        break;
    case KVM_EXIT_INTR:
        break;
    case KVM_EXIT_HLT:
        /* With the in-kernel irqchip KVM waits for interrupts itself, so
         * this only comes from a vCPU that can never wake. */
        run_stop_request(l->stop, 1, true, "vCPU %u halted for good %s", l->cpu->id,
                         where(l, at, sizeof at));
        break;
    case KVM_EXIT_SHUTDOWN:
        /* A triple fault: Linux's last-resort reboot method (reboot=t). */
        run_stop_request(l->stop, 0, false, "guest reset (triple fault %s)",
                         where(l, at, sizeof at));
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        handle_system_event(l, run);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        run_stop_request(l->stop, 1, true,
                         "vCPU %u: KVM could not enter the guest (hardware reason 0x%llx) %s",
                         l->cpu->id,
                         (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                         where(l, at, sizeof at));
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        run_stop_request(l->stop, 1, true,
                         "vCPU %u: KVM internal error, suberror %u%s %s", l->cpu->id,
                         run->internal.suberror,
                         run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                             ? " (instruction emulation failed)" : "",
                         where(l, at, sizeof at));
        break;
    default:
        run_stop_request(l->stop, 1, true, "vCPU %u: unhandled KVM exit reason %u %s",
                         l->cpu->id, run->exit_reason, where(l, at, sizeof at));
        break;
    }
}

static void *vcpu_thread(void *arg)
{
    struct vcpu_loop *l = arg;
    struct kvm_run *run = l->cpu->run;
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, VCPU_KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

    while (!run_stop_requested(l->stop)) {
        int r = ioctl(l->cpu->fd, KVM_RUN, 0);
        l->exits++;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                run->immediate_exit = 0;
                continue;
            }
            run_stop_request(l->stop, 1, true, "vCPU %u: KVM_RUN: %s", l->cpu->id,
                             strerror(errno));
            break;
        }
        handle_exit(l, run);
    }
    return NULL;
}

int vcpu_loop_start(struct vcpu_loop *l)
{
    struct sigaction sa = { .sa_handler = kick_handler };
    sigemptyset(&sa.sa_mask);
    if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
        return -errno;
    int r = pthread_create(&l->thread, NULL, vcpu_thread, l);
    if (r)
        return -r;
    l->started = true;
    return 0;
}

void vcpu_loop_kick(struct vcpu_loop *l)
{
    if (!l->started)
        return;
    __atomic_store_n(&l->cpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    pthread_kill(l->thread, VCPU_KICK_SIGNAL);
}

void vcpu_loop_join(struct vcpu_loop *l)
{
    if (l->started)
        pthread_join(l->thread, NULL);
    l->started = false;
}

void vcpu_loop_top_ports(const struct vcpu_loop *l, unsigned n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    uint32_t below = UINT32_MAX; /* next pick must have fewer exits than this... */
    int last = -1;               /* ...or as many, at a higher port */
    for (unsigned k = 0; k < n; k++) {
        int best = -1;
        for (int p = 0; p < 65536; p++) {
            uint32_t c = l->port_exits[p];
            if (!c || c > below || (c == below && p <= last))
                continue;
            if (best < 0 || c > l->port_exits[best])
                best = p;
        }
        if (best < 0)
            break;
        int w = snprintf(buf + used, len - used, "%s0x%x:%u", k ? " " : "", (unsigned)best,
                         l->port_exits[best]);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
        below = l->port_exits[best];
        last = best;
    }
}
