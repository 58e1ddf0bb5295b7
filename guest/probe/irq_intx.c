/* INTx as a driver without MSI-X sees it: the function's INTx# reaches an
 * IOAPIC input (intx_route_find), whose redirection entry this file points
 * at the local APIC, level-triggered, with the polarity found.
 *
 * Level-triggered handling: the interrupt hook masks the redirection entry
 * and the dispatcher then EOIs the local APIC (whose EOI broadcast clears
 * the entry's Remote IRR). The ISR is read later, by the main line, not in
 * the handler: so the line's state can be observed between the interrupt
 * and the read. Unmasking with the ISR unread must deliver again (the line
 * is still asserted: that is what level-triggered means, and it shows the
 * "no storm" check below can fail); unmasking after the read must not (the
 * read deasserted the line: virtio 1.2, 4.1.4.5 "reading the ISR status
 * ... causes the device to de-assert an interrupt"). Then PCI's Interrupt
 * Disable: set, the function must not assert INTx# but its Interrupt Status
 * bit still reflects the pending interrupt (PCI Local Bus 3.0, 6.2.2 and
 * 6.2.3); cleared, the pending interrupt must come through. */
#include <asm-generic/errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>

#include "guest/probe/drive.h"
#include "guest/probe/intx.h"

#define RNG_BYTES      64
#define SECTOR         512
#define ETH_ALEN       6
#define ETH_MIN_FRAME  60
#define WAIT_TICKS     TSC_SECOND
#define QUIET_TICKS    (TSC_SECOND / 20) /* 50 ms: ample for a device thread */

struct intx_run {
    struct pci_fn *f;
    struct vdrv_dev *d;
    const char *mode;
    struct intx_route rt;
    uint64_t rte;        /* as programmed: unmasked */
    uint64_t rte_before; /* as found; restored, masked, at the end */
    unsigned q;
    struct vdrv_vq vq;
    struct vdrv_sg sg[3];
    unsigned nout, nin;
    uint8_t *status;     /* blk: the request's status byte */
};

/* What the interrupt hook masks (one entry at a time is under test), and
 * what it saw: interrupts that came through the entry unmasked, those that
 * came after it had masked it (sent before, still queued), and those whose
 * vector the local APIC did not hold in service inside the handler. */
static struct {
    uint64_t base;
    unsigned intin;
    uint64_t rte;
} hook_entry;

struct tally {
    unsigned live, late, not_in_service;
};

static volatile struct tally seen;

static void intx_hook(unsigned vector)
{
    uint64_t rte = ioapic_rte_read(hook_entry.base, hook_entry.intin);
    if (rte & IOAPIC_RTE_MASKED)
        seen.late++;
    else
        seen.live++;
    if (!irq_in_service(vector))
        seen.not_in_service++;
    ioapic_rte_write(hook_entry.base, hook_entry.intin, hook_entry.rte | IOAPIC_RTE_MASKED);
}

static struct tally tally_now(void)
{
    return (struct tally){ seen.live, seen.late, seen.not_in_service };
}

static struct tally tally_since(struct tally before)
{
    struct tally t = tally_now();
    return (struct tally){ t.live - before.live, t.late - before.late,
                           t.not_in_service - before.not_in_service };
}

/* Exactly `want` interrupts through the unmasked entry. More that were
 * already queued when the handler masked it are accepted only where the
 * local APIC had the vector out of service inside its handler: a platform
 * that ends the interrupt at delivery lets the IOAPIC send it again at once
 * while the line stays asserted, as a level-triggered line rightly does
 * until the ISR read. */
static bool tally_is(struct tally t, unsigned want)
{
    return t.live == want && (t.late == 0 || t.not_in_service > 0);
}

static void tally_text(char *buf, size_t cap, struct tally t)
{
    if (t.late)
        probe_snprintf(buf, cap, "%u through the unmasked entry, %u more sent before the handler "
                       "masked it, %u with the vector not in service", t.live, t.late,
                       t.not_in_service);
    else
        probe_snprintf(buf, cap, "%u", t.live);
}

static void entry_unmask(struct intx_run *r)
{
    ioapic_rte_write(r->rt.ioapic_base, r->rt.intin, r->rte);
}

static uint16_t pci_status(struct intx_run *r)
{
    return (uint16_t)pci_cfg_read(r->f, PCI_STATUS, 2);
}

static void intx_disable(struct intx_run *r, bool disable)
{
    uint16_t cmd = (uint16_t)pci_cfg_read(r->f, PCI_COMMAND, 2);
    cmd = disable ? cmd | PCI_COMMAND_INTX_DISABLE : cmd & ~PCI_COMMAND_INTX_DISABLE;
    pci_cfg_write(r->f, PCI_COMMAND, cmd, 2);
}

/* ---- the device: one queue, one kind of request ---- */

static bool request_init(struct intx_run *r)
{
    switch (r->d->virtio_type) {
    case VIRTIO_ID_RNG: {
        uint8_t *buf = probe_alloc(RNG_BYTES, 64);
        r->sg[0] = (struct vdrv_sg){ (uintptr_t)buf, RNG_BYTES };
        r->nin = 1;
        return true;
    }
    case VIRTIO_ID_BLOCK: {
        struct virtio_blk_outhdr *hdr = probe_alloc(sizeof(*hdr), 16);
        hdr->type = VIRTIO_BLK_T_IN; /* sector 0, read: leaves the disk as it is */
        r->status = probe_alloc(1, 1);
        r->sg[0] = (struct vdrv_sg){ (uintptr_t)hdr, sizeof(*hdr) };
        r->sg[1] = (struct vdrv_sg){ (uintptr_t)probe_alloc(SECTOR, SECTOR), SECTOR };
        r->sg[2] = (struct vdrv_sg){ (uintptr_t)r->status, 1 };
        r->nout = 1;
        r->nin = 2;
        return true;
    }
    case VIRTIO_ID_CONSOLE: {
        /* transmitq of port 0 (no MULTIPORT): queue 1 */
        char *line = probe_alloc(64, 64);
        probe_snprintf(line, 64, "kick-probe intx %s\n", r->mode);
        uint32_t n = 0;
        while (line[n])
            n++;
        r->q = 1;
        r->sg[0] = (struct vdrv_sg){ (uintptr_t)line, n };
        r->nout = 1;
        return true;
    }
    case VIRTIO_ID_NET: {
        /* transmitq 1: one broadcast frame from a locally administered MAC */
        uint8_t *hdr = probe_alloc(sizeof(struct virtio_net_hdr_v1), 16);
        uint8_t *frame = probe_alloc(ETH_MIN_FRAME, 64);
        memset(frame, 0xff, ETH_ALEN);
        static const uint8_t src[ETH_ALEN] = { 0x02, 0x6b, 0x69, 0x63, 0x6b, 0x01 };
        memcpy(frame + ETH_ALEN, src, ETH_ALEN);
        frame[12] = 0x88; /* IEEE local experimental ethertype 0x88b5 */
        frame[13] = 0xb5;
        probe_snprintf((char *)frame + 14, ETH_MIN_FRAME - 14, "kick-probe intx %s", r->mode);
        size_t hdr_len = r->d->modern ? sizeof(struct virtio_net_hdr_v1)
                                      : sizeof(struct virtio_net_hdr);
        r->q = 1;
        r->sg[0] = (struct vdrv_sg){ (uintptr_t)hdr, (uint32_t)hdr_len };
        r->sg[1] = (struct vdrv_sg){ (uintptr_t)frame, ETH_MIN_FRAME };
        r->nout = 2;
        return true;
    }
    default:
        return false;
    }
}

static int start(struct intx_run *r)
{
    int rc = irq_dev_begin(r->d);
    return rc ? rc : irq_queue_start(r->d, r->q, &r->vq, VIRTIO_MSI_NO_VECTOR);
}

static void submit(struct intx_run *r)
{
    irq_submit(r->d, r->q, &r->vq, r->sg, r->nout, r->nin, r->status);
}

static bool wait_used(struct intx_run *r)
{
    return irq_wait_used(&r->vq, true, WAIT_TICKS);
}

static bool reap(struct intx_run *r)
{
    return irq_reap_ok(&r->vq, r->status);
}

/* Polls the Interrupt Status bit (a config read: it leaves the ISR alone). */
static bool wait_status_pending(struct intx_run *r)
{
    uint64_t deadline = rdtsc() + WAIT_TICKS;
    while (!(pci_status(r) & PCI_STATUS_INTERRUPT) && rdtsc() < deadline)
        cpu_relax();
    return pci_status(r) & PCI_STATUS_INTERRUPT;
}

/* ---- the checks ---- */

static bool route(struct intx_run *r)
{
    bool found = intx_route_find(r->f, &r->rt);
    unsigned max = found ? ioapic_max_entry(r->rt.ioapic_base) : 0;
    char where[32] = "";
    if (r->rt.ioapic_id != 0xff)
        probe_snprintf(where, sizeof(where), " id %u", r->rt.ioapic_id);
    if (!check(found && r->rt.intin <= max,
               "INTx: INT%c# reaches IOAPIC%s at 0x%llx pin %u (of 0-%u), %s-triggered, active %s, "
               "found by the %s", found ? 'A' + r->rt.int_pin - 1 : '?', where,
               (unsigned long long)r->rt.ioapic_base, r->rt.intin, max,
               r->rt.level ? "level" : "edge", r->rt.active_low ? "low" : "high", r->rt.how))
        return false;
    if (r->rt.from_mptable)
        note("INTx: Interrupt Line register %u, MP table pin %u", r->rt.line, r->rt.intin);
    /* PCI INTx# is level-triggered and shareable; an edge entry would lose
     * every interrupt after the first that the line never drops between. */
    return check(r->rt.level, "INTx: the route is level-triggered, as INTx# is");
}

/* Waits (interrupts on) until `want` interrupts came through the unmasked
 * entry, then lets a quiet spell pass so any more are seen too. */
static struct tally wait_live(struct tally base, unsigned want)
{
    uint64_t deadline = rdtsc() + WAIT_TICKS;
    __asm__ volatile("sti" ::: "memory");
    while (seen.live - base.live < want && rdtsc() < deadline)
        cpu_relax();
    __asm__ volatile("cli" ::: "memory");
    irq_window(QUIET_TICKS);
    return tally_since(base);
}

/* One used buffer: exactly one interrupt; the line stays asserted until the
 * ISR read, which deasserts it. Returns whether the request came back. */
static bool check_delivery(struct intx_run *r)
{
    char text[128];
    struct tally base = tally_now();
    submit(r);
    bool used = wait_used(r);
    struct tally t = wait_live(base, 1);
    tally_text(text, sizeof(text), t);
    check(used && tally_is(t, 1),
          "INTx: one used buffer raises exactly one interrupt on vector 0x%x through IOAPIC pin %u "
          "(%s; used %s)", IRQ_INTX_VECTOR, r->rt.intin, text, used ? "yes" : "no");
    if (!t.live)
        return used;
    uint64_t rte = ioapic_rte_read(r->rt.ioapic_base, r->rt.intin);
    check(!(rte & IOAPIC_RTE_REMOTE_IRR),
          "INTx: the local APIC's EOI cleared the entry's Remote IRR (entry 0x%llx)",
          (unsigned long long)rte);
    uint16_t st = pci_status(r);
    check(st & PCI_STATUS_INTERRUPT,
          "INTx: Interrupt Status set while the line is asserted, ISR unread (status 0x%04x)", st);

    /* Level-triggered: still asserted, so unmasking delivers once more. */
    base = tally_now();
    entry_unmask(r);
    t = wait_live(base, 1);
    tally_text(text, sizeof(text), t);
    check(tally_is(t, 1),
          "INTx: level-triggered: unmasking with the ISR unread delivers again, once (%s)", text);

    uint8_t isr = vdrv_read_isr(r->d);
    st = pci_status(r);
    check(isr & ISR_QUEUE_INTERRUPT, "INTx: ISR read returns the queue bit (0x%02x)", isr);
    check(!(st & PCI_STATUS_INTERRUPT), "INTx: Interrupt Status clear after the ISR read "
                                        "(status 0x%04x)", st);
    base = tally_now();
    entry_unmask(r);
    irq_window(QUIET_TICKS);
    t = tally_since(base);
    uint8_t isr2 = vdrv_read_isr(r->d);
    check(t.live + t.late == 0, "INTx: no storm: after the ISR read deasserted the line, unmask + "
                                "EOI bring no further interrupt (%u more; ISR now 0x%02x)",
          t.live + t.late, isr2);
    return used;
}

/* Interrupt Disable: nothing delivered, the Interrupt Status bit pending;
 * clearing it lets the pending interrupt through. */
static bool check_disable(struct intx_run *r)
{
    char text[128];
    entry_unmask(r);
    intx_disable(r, true);
    struct tally base = tally_now();
    submit(r);
    bool used = wait_used(r);
    bool pend = wait_status_pending(r);
    irq_window(QUIET_TICKS);
    struct tally t = tally_since(base);
    uint16_t st = pci_status(r);
    check(used && t.live + t.late == 0, "INTx: with Interrupt Disable set a used buffer raises no "
                                        "interrupt (%u seen, used %s)", t.live + t.late,
          used ? "yes" : "no");
    check(pend && (st & PCI_STATUS_INTERRUPT),
          "INTx: Interrupt Status set with Interrupt Disable: the interrupt shows pending "
          "(status 0x%04x)", st);

    base = tally_now();
    intx_disable(r, false);
    t = wait_live(base, 1);
    tally_text(text, sizeof(text), t);
    check(tally_is(t, 1), "INTx: clearing Interrupt Disable delivers the pending interrupt once "
                          "(%s)", text);
    uint8_t isr = vdrv_read_isr(r->d);
    st = pci_status(r);
    base = tally_now();
    entry_unmask(r);
    irq_window(QUIET_TICKS);
    t = tally_since(base);
    check((isr & ISR_QUEUE_INTERRUPT) && !(st & PCI_STATUS_INTERRUPT) && t.live + t.late == 0,
          "INTx: then the ISR read returns the queue bit and deasserts the line (ISR 0x%02x, "
          "status 0x%04x, %u more)", isr, st, t.live + t.late);
    return used;
}

static void run(struct intx_run *r)
{
    int rc = start(r);
    uint32_t msix_ctrl = r->d->msix_cap ? pci_cfg_read(r->f, r->d->msix_cap + PCI_MSIX_FLAGS, 2) : 0;
    bool msix_off = !(msix_ctrl & PCI_MSIX_FLAGS_ENABLE);
    intx_disable(r, false);
    uint16_t cmd = (uint16_t)pci_cfg_read(r->f, PCI_COMMAND, 2);
    if (!check(rc == 0 && msix_off && !(cmd & PCI_COMMAND_INTX_DISABLE),
               "INTx: device started on queue %u with MSI-X off, Interrupt Disable clear (rc %d, "
               "command 0x%04x)", r->q, rc, cmd))
        return;
    /* A device may still be finishing start-up work of its own (QEMU's
     * virtio-serial answers the driver's control messages from its main
     * loop, late on a loaded host): wait until the ISR stays clear. */
    isr_drain(r->d);
    for (unsigned i = 0; i < 50 && isr_after(r->d, QUIET_TICKS); i++)
        ;

    hook_entry.base = r->rt.ioapic_base;
    hook_entry.intin = r->rt.intin;
    hook_entry.rte = r->rte;
    irq_set_hook(IRQ_INTX_VECTOR, intx_hook);
    struct tally first = tally_now();
    entry_unmask(r);
    irq_window(QUIET_TICKS);
    struct tally quiet = tally_since(first);
    unsigned n = quiet.live + quiet.late;
    uint64_t rte = ioapic_rte_read(r->rt.ioapic_base, r->rt.intin);
    bool programmed = (rte & ~(IOAPIC_RTE_PENDING | IOAPIC_RTE_REMOTE_IRR)) == r->rte;
    bool ok = check(programmed && n == 0,
                    "INTx: entry 0x%llx programmed (vector 0x%x, fixed, physical APIC %u) and the "
                    "line quiet before any request (%u interrupt(s))", (unsigned long long)rte,
                    IRQ_INTX_VECTOR, irq_apic_id(), n);
    if (ok && check_delivery(r))
        ok = check(reap(r), "INTx: the request came back%s", r->status ? " with status OK" : "");
    if (ok && check_disable(r))
        check(reap(r), "INTx: the request under Interrupt Disable came back%s",
              r->status ? " with status OK" : "");
    irq_set_hook(IRQ_INTX_VECTOR, NULL);
    struct tally all = tally_since(first);
    if (all.not_in_service)
        note("INTx: the local APIC had vector 0x%x out of service (ISR bit clear) inside %u of "
             "its %u handler(s): the platform ends the interrupt at delivery, not at the "
             "handler's EOI (the Intel SDM's \"Interrupt Acceptance for Fixed Interrupts\"); "
             "%u interrupt(s) the IOAPIC re-sent meanwhile for the still-asserted line were "
             "counted apart", IRQ_INTX_VECTOR, all.not_in_service, all.live + all.late, all.late);
}

void drive_intx(struct pci_fn *f, struct vdrv_dev *d)
{
    struct intx_run r = { .f = f, .d = d, .mode = d->modern ? "modern" : "legacy" };
    if (!request_init(&r))
        return;
    if (!irq_ready()) {
        note("no local APIC: INTx interrupt checks skipped");
        return;
    }
    if (!route(&r))
        return;
    r.rte_before = ioapic_rte_read(r.rt.ioapic_base, r.rt.intin);
    r.rte = IRQ_INTX_VECTOR | IOAPIC_RTE_LEVEL | (r.rt.active_low ? IOAPIC_RTE_ACTIVE_LOW : 0) |
            (uint64_t)irq_apic_id() << IOAPIC_RTE_DEST_SHIFT;
    /* Programmed masked; the checks unmask it. */
    ioapic_rte_write(r.rt.ioapic_base, r.rt.intin, r.rte | IOAPIC_RTE_MASKED);
    run(&r);
    vdrv_reset(d);
    intx_disable(&r, false);
    uint64_t keep = IOAPIC_RTE_PENDING | IOAPIC_RTE_REMOTE_IRR;
    ioapic_rte_write(r.rt.ioapic_base, r.rt.intin, (r.rte_before & ~keep) | IOAPIC_RTE_MASKED);
}
