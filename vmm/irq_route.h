/* MSI-X delivery through irqfds: one GSI and one eventfd (registered with
 * KVM_IRQFD) per MSI-X vector of every device, and the VM's GSI routing table
 * (KVM_SET_GSI_ROUTING), which holds KVM's default irqchip routes for GSI
 * 0-23 followed by an MSI route for every vector that can fire now (MSI-X on,
 * neither the function nor the vector masked).
 *
 * Masking stays with the PCI model (pci_msix_notify records a masked vector
 * as pending and delivers it on unmask through the msi host op), so an irqfd
 * is only ever written from that op, for a message that is installed in
 * KVM's table right now: writing it injects exactly what KVM_SIGNAL_MSI would
 * have. A masked vector has no route at all, so nothing can fire it behind
 * the model's back. Anything that does not match an installed route (routing
 * unavailable, a table update that failed) falls back to KVM_SIGNAL_MSI.
 *
 * Not thread-safe: kick calls it under the pci_host lock (the msix_changed
 * and msi host ops run with it held). */
#ifndef KICK_IRQ_ROUTE_H
#define KICK_IRQ_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/kvm_vm.h"

#define IRQ_ROUTE_IRQCHIP_GSIS 24  /* KVM's default routes: GSI 0-23 */
#define IRQ_ROUTE_MAX_MSI      1024

struct irq_msi {
    unsigned gsi;
    int fd;             /* irqfd; -1 if KVM_IRQFD failed for it */
    bool want;          /* should be routed (enabled, unmasked) */
    uint64_t addr;
    uint32_t data;
    bool installed;     /* in KVM's table with exactly addr/data */
};

struct irq_routes {
    const struct kvm_vm *vm;
    struct irq_msi *msi;
    unsigned nmsi, cap;
    bool dirty;         /* want/addr/data changed since the last commit */
    bool disabled;      /* routing refused once: KVM_SIGNAL_MSI from then on */
    /* statistics */
    uint64_t commits, commit_errors, irqfd_writes, signal_msis;
};

void irq_routes_init(struct irq_routes *r, const struct kvm_vm *vm, bool enabled);
void irq_routes_destroy(struct irq_routes *r);

/* Reserves n consecutive vectors (GSIs from 24 on, an irqfd each); returns
 * the index of the first, or -errno (then the caller uses KVM_SIGNAL_MSI). */
int irq_routes_alloc(struct irq_routes *r, unsigned n);
/* What vector idx should route to now; takes effect at the next commit. */
void irq_routes_set(struct irq_routes *r, unsigned idx, bool want, uint64_t addr, uint32_t data);
/* Installs the whole table with one KVM_SET_GSI_ROUTING if anything changed.
 * 0 or -errno (every route is then treated as not installed). */
int irq_routes_commit(struct irq_routes *r);
/* Delivers the message addr/data of one of vectors [first, first + n):
 * through its irqfd if it is installed with that message, else with
 * KVM_SIGNAL_MSI. 0 or -errno. */
int irq_routes_deliver(struct irq_routes *r, int first, unsigned n, uint64_t addr,
                       uint32_t data);

#endif
