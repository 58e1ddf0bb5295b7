/* MSI-X through irqfds and GSI routing (see irq_route.h). */
#include "vmm/irq_route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

void irq_routes_init(struct irq_routes *r, const struct kvm_vm *vm, bool enabled)
{
    memset(r, 0, sizeof *r);
    r->vm = vm;
    r->disabled = !enabled;
}

void irq_routes_destroy(struct irq_routes *r)
{
    for (unsigned i = 0; i < r->nmsi; i++) {
        struct irq_msi *m = &r->msi[i];
        if (m->fd < 0)
            continue;
        struct kvm_irqfd irqfd = { .fd = (uint32_t)m->fd, .gsi = m->gsi,
                                   .flags = KVM_IRQFD_FLAG_DEASSIGN };
        ioctl(r->vm->vm_fd, KVM_IRQFD, &irqfd);
        close(m->fd);
    }
    free(r->msi);
    r->msi = NULL;
    r->nmsi = r->cap = 0;
}

int irq_routes_alloc(struct irq_routes *r, unsigned n)
{
    if (r->disabled)
        return -ENOTSUP;
    if (n == 0 || n > IRQ_ROUTE_MAX_MSI - r->nmsi)
        return -ENOSPC;
    if (r->nmsi + n > r->cap) {
        unsigned cap = r->cap ? r->cap : 16;
        while (cap < r->nmsi + n)
            cap *= 2;
        struct irq_msi *m = realloc(r->msi, cap * sizeof *m);
        if (!m)
            return -ENOMEM;
        r->msi = m;
        r->cap = cap;
    }
    unsigned first = r->nmsi;
    for (unsigned i = 0; i < n; i++) {
        struct irq_msi *m = &r->msi[r->nmsi];
        *m = (struct irq_msi){ .gsi = IRQ_ROUTE_IRQCHIP_GSIS + r->nmsi, .fd = -1 };
        r->nmsi++;
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            continue; /* this vector uses KVM_SIGNAL_MSI */
        /* No route yet: KVM accepts the irqfd and ignores writes until one
         * exists (we never write it before). */
        struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = m->gsi };
        if (ioctl(r->vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
            close(fd);
        else
            m->fd = fd;
    }
    return (int)first;
}

void irq_routes_set(struct irq_routes *r, unsigned idx, bool want, uint64_t addr, uint32_t data)
{
    if (idx >= r->nmsi)
        return;
    struct irq_msi *m = &r->msi[idx];
    if (!want) {
        addr = 0;
        data = 0;
    }
    if (m->want == want && m->addr == addr && m->data == data)
        return;
    m->want = want;
    m->addr = addr;
    m->data = data;
    r->dirty = true;
}

/* KVM's own default for GSI 0-23 (what it installs when the irqchip is
 * created): every GSI to the IOAPIC pin of the same number, 0-15 also to the
 * PIC. A table we set replaces it entirely, so it is repeated here. */
static unsigned add_irqchip_routes(struct kvm_irq_routing_entry *e)
{
    unsigned n = 0;
    for (unsigned gsi = 0; gsi < IRQ_ROUTE_IRQCHIP_GSIS; gsi++) {
        e[n++] = (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
        };
        if (gsi < 16)
            e[n++] = (struct kvm_irq_routing_entry){
                .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
                .u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                               .pin = gsi % 8 },
            };
    }
    return n;
}

int irq_routes_commit(struct irq_routes *r)
{
    if (r->disabled || !r->dirty)
        return 0;
    size_t max = IRQ_ROUTE_IRQCHIP_GSIS + 16 + r->nmsi;
    struct kvm_irq_routing *table =
        calloc(1, sizeof *table + max * sizeof(struct kvm_irq_routing_entry));
    if (!table)
        return -ENOMEM;
    unsigned n = add_irqchip_routes(table->entries);
    for (unsigned i = 0; i < r->nmsi; i++) {
        const struct irq_msi *m = &r->msi[i];
        if (!m->want || m->fd < 0)
            continue;
        table->entries[n++] = (struct kvm_irq_routing_entry){
            .gsi = m->gsi, .type = KVM_IRQ_ROUTING_MSI,
            .u.msi = { .address_lo = (uint32_t)m->addr, .address_hi = (uint32_t)(m->addr >> 32),
                       .data = m->data },
        };
    }
    table->nr = n;
    int rc = ioctl(r->vm->vm_fd, KVM_SET_GSI_ROUTING, table) < 0 ? -errno : 0;
    free(table);
    r->commits++;
    for (unsigned i = 0; i < r->nmsi; i++)
        r->msi[i].installed = rc == 0 && r->msi[i].want && r->msi[i].fd >= 0;
    if (rc < 0) {
        /* KVM keeps the old table; we stop trusting any of it */
        r->commit_errors++;
        return rc;
    }
    r->dirty = false;
    return 0;
}

int irq_routes_deliver(struct irq_routes *r, int first, unsigned n, uint64_t addr, uint32_t data)
{
    if (first >= 0 && !r->dirty) {
        for (unsigned i = 0; i < n && (unsigned)first + i < r->nmsi; i++) {
            const struct irq_msi *m = &r->msi[(unsigned)first + i];
            /* Two vectors with one message are the same interrupt: either
             * irqfd will do. */
            if (!m->installed || m->addr != addr || m->data != data)
                continue;
            uint64_t one = 1;
            ssize_t w;
            while ((w = write(m->fd, &one, sizeof one)) < 0 && errno == EINTR)
                ;
            if (w == sizeof one) {
                r->irqfd_writes++;
                return 0;
            }
            break;
        }
    }
    struct kvm_msi msi = {
        .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data,
    };
    r->signal_msis++;
    /* 0 means the guest's APIC refused it (a bad address the guest wrote):
     * its own business, not an error of kick's. */
    return ioctl(r->vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}
