/* MSI-X as a driver sees it, on rng and blk: table entry 0 carries the
 * configuration vector and entry 1 queue 0's, each aimed at this CPU's local
 * APIC with IDT vector IRQ_DEVICE_BASE + entry. A completion must raise
 * exactly the queue's vector; with that entry masked it must raise nothing
 * and leave its Pending Bit set, and unmasking must deliver it (PCI Local
 * Bus 3.0, 6.8.3.4: "pending messages" are sent once the vector is
 * unmasked). Then round trips are timed, polling and by interrupt. */
#include <asm-generic/errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "guest/probe/irq.h"

#define CONFIG_ENTRY     0
#define QUEUE_ENTRY      1
#define QUEUE_VECTOR     (IRQ_DEVICE_BASE + QUEUE_ENTRY)
#define RNG_BYTES        64
#define BLK_BYTES        4096
#define LATENCY_ROUNDS   200
#define QUIET_TICKS      (TSC_SECOND / 50) /* 20 ms: ample for a device thread */
#define WAIT_TICKS       TSC_SECOND

struct msix_run {
    struct vdrv_dev *d;
    struct vdrv_vq vq;
    struct vdrv_sg sg[3];
    unsigned nout, nin;
    uint8_t *status; /* blk: the request's status byte */
    int table_bar, pba_bar;
    uint64_t table_off, pba_off;
};

static int start(struct msix_run *r, uint16_t queue_vector)
{
    struct vdrv_dev *d = r->d;
    int rc = irq_dev_begin(d);
    if (rc)
        return rc;
    uint64_t addr = LAPIC_BASE | (uint64_t)irq_apic_id() << 12;
    if ((rc = vdrv_msix_enable(d, addr, IRQ_DEVICE_BASE)))
        return rc;
    if ((rc = vdrv_set_config_vector(d, CONFIG_ENTRY)))
        return rc;
    return irq_queue_start(d, 0, &r->vq, queue_vector);
}

static void stop(struct msix_run *r)
{
    struct vdrv_dev *d = r->d;
    vdrv_reset(d);
    uint16_t ctrl = (uint16_t)d->io->cfg_read(d->io->ctx, d->msix_cap + PCI_MSIX_FLAGS, 2);
    d->io->cfg_write(d->io->ctx, d->msix_cap + PCI_MSIX_FLAGS, ctrl & ~PCI_MSIX_FLAGS_ENABLE, 2);
    d->msix_enabled = false;
    if (!d->modern)
        d->devcfg.off = VIRTIO_PCI_CONFIG_OFF(false);
}

static void submit(struct msix_run *r)
{
    irq_submit(r->d, 0, &r->vq, r->sg, r->nout, r->nin, r->status);
}

static bool wait_used(struct msix_run *r, bool irqs_on)
{
    return irq_wait_used(&r->vq, irqs_on, WAIT_TICKS);
}

static bool reap(struct msix_run *r)
{
    return irq_reap_ok(&r->vq, r->status);
}

static void snapshot(unsigned out[IRQ_DEVICE_COUNT + 1])
{
    for (unsigned i = 0; i < IRQ_DEVICE_COUNT; i++)
        out[i] = irq_count[IRQ_DEVICE_BASE + i];
    out[IRQ_DEVICE_COUNT] = irq_count[IRQ_SPURIOUS];
}

/* Interrupts since `before` on vectors other than the queue's. */
static unsigned others_since(const unsigned before[IRQ_DEVICE_COUNT + 1])
{
    unsigned now[IRQ_DEVICE_COUNT + 1], n = 0;
    snapshot(now);
    for (unsigned i = 0; i <= IRQ_DEVICE_COUNT; i++)
        if (i != QUEUE_ENTRY)
            n += now[i] - before[i];
    return n;
}

static void entry_mask(struct msix_run *r, unsigned entry, bool masked)
{
    uint64_t off = r->table_off + (uint64_t)entry * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL;
    r->d->io->bar_write(r->d->io->ctx, r->table_bar, off, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0,
                        4);
}

static bool pending(struct msix_run *r, unsigned entry)
{
    uint64_t word = r->d->io->bar_read(r->d->io->ctx, r->pba_bar, r->pba_off + entry / 32 * 4, 4);
    return word >> (entry % 32) & 1;
}

static void check_delivery(struct msix_run *r)
{
    unsigned before[IRQ_DEVICE_COUNT + 1];
    snapshot(before);
    unsigned want = irq_count[QUEUE_VECTOR] + 1;
    submit(r);
    bool used = wait_used(r, true);
    bool got = irq_wait(QUEUE_VECTOR, want, WAIT_TICKS);
    irq_window(QUIET_TICKS);
    bool ok = reap(r);
    unsigned n = irq_count[QUEUE_VECTOR] - before[QUEUE_ENTRY];
    check(used && ok, "MSI-X: request completed with the queue on table entry %u", QUEUE_ENTRY);
    check(got && n == 1, "MSI-X: a completion raises the queue's vector once (%u interrupt(s) on "
                         "IDT vector 0x%x)", n, QUEUE_VECTOR);
    unsigned other = others_since(before);
    check(other == 0, "MSI-X: no other vector raised by a completion (%u seen)", other);
}

static void check_masking(struct msix_run *r)
{
    unsigned base = irq_count[QUEUE_VECTOR];
    entry_mask(r, QUEUE_ENTRY, true);
    submit(r);
    bool used = wait_used(r, true);
    irq_window(QUIET_TICKS);
    unsigned masked_n = irq_count[QUEUE_VECTOR] - base;
    bool pend = pending(r, QUEUE_ENTRY);
    check(used && masked_n == 0, "MSI-X: no interrupt while the queue's entry is masked (%u seen, "
                                 "completed %s)", masked_n, used ? "yes" : "no");
    check(pend, "MSI-X: Pending Bit %u set while masked with an interrupt waiting", QUEUE_ENTRY);
    entry_mask(r, QUEUE_ENTRY, false);
    bool got = irq_wait(QUEUE_VECTOR, base + 1, WAIT_TICKS);
    irq_window(QUIET_TICKS);
    unsigned n = irq_count[QUEUE_VECTOR] - base;
    bool pend_after = pending(r, QUEUE_ENTRY);
    check(got && n == 1, "MSI-X: unmasking delivers the pending interrupt once (%u)", n);
    check(!pend_after, "MSI-X: Pending Bit %u clear after delivery", QUEUE_ENTRY);
    reap(r);
}

static uint64_t sorted_at(uint64_t *v, unsigned n, unsigned permille)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    unsigned idx = (unsigned)((uint64_t)(n - 1) * permille / 1000);
    return v[idx];
}

static void print_ticks(const char *key, uint64_t ticks, uint64_t hz)
{
    if (!hz) {
        con_printf(" %s=%lluticks", key, (unsigned long long)ticks);
        return;
    }
    uint64_t centi_us = ticks * 100000000ull / hz;
    con_printf(" %s=%llu.%02lluus", key, (unsigned long long)(centi_us / 100),
               (unsigned long long)(centi_us % 100));
}

static void latency(struct msix_run *r, const char *dev, bool by_irq)
{
    static uint64_t t[LATENCY_ROUNDS];
    unsigned done = 0, bad = 0;
    for (unsigned i = 0; i < LATENCY_ROUNDS; i++) {
        unsigned want = irq_count[QUEUE_VECTOR] + 1;
        uint64_t t0 = rdtsc();
        submit(r);
        bool ok = by_irq ? irq_wait(QUEUE_VECTOR, want, WAIT_TICKS) : wait_used(r, false);
        uint64_t t1 = rdtsc();
        if (by_irq)
            ok = ok && wait_used(r, false);
        if (!ok || !reap(r)) {
            bad++;
            if (!ok)
                break; /* a lost completion leaves the ring out of step */
            continue;
        }
        t[done++] = t1 - t0;
    }
    const char *mode = by_irq ? "msix" : "poll";
    if (!check(bad == 0 && done == LATENCY_ROUNDS, "%s %s: %u round trips completed (%u bad)", dev,
               mode, done, bad) || !done)
        return;
    uint64_t hz = tsc_hz();
    con_printf("LATENCY %s %s n=%u", dev, mode, done);
    print_ticks("median", sorted_at(t, done, 500), hz);
    print_ticks("p99", sorted_at(t, done, 990), hz);
    if (hz)
        con_printf(" tsc=%lluHz (%s)\n", (unsigned long long)hz, tsc_hz_source());
    else
        con_printf(" (no TSC frequency: neither CPUID nor the PIT gave one)\n");
}

static bool locate_tables(struct msix_run *r)
{
    const struct vdrv_io *io = r->d->io;
    uint32_t table = io->cfg_read(io->ctx, r->d->msix_cap + PCI_MSIX_TABLE, 4);
    uint32_t pba = io->cfg_read(io->ctx, r->d->msix_cap + PCI_MSIX_PBA, 4);
    r->table_bar = (int)(table & PCI_MSIX_TABLE_BIR);
    r->table_off = table & PCI_MSIX_TABLE_OFFSET;
    r->pba_bar = (int)(pba & PCI_MSIX_PBA_BIR);
    r->pba_off = pba & PCI_MSIX_PBA_OFFSET;
    return check(r->table_bar < PCI_BARS && r->pba_bar < PCI_BARS,
                 "MSI-X table in BAR%d, PBA in BAR%d", r->table_bar, r->pba_bar);
}

void drive_msix(struct pci_fn *f, struct vdrv_dev *d, bool with_latency)
{
    (void)f;
    const char *dev;
    struct msix_run r = { .d = d };
    uint8_t *buf;
    switch (d->virtio_type) {
    case VIRTIO_ID_RNG:
        dev = "rng";
        buf = probe_alloc(RNG_BYTES, 64);
        r.sg[0] = (struct vdrv_sg){ (uintptr_t)buf, RNG_BYTES };
        r.nin = 1;
        break;
    case VIRTIO_ID_BLOCK: {
        dev = "blk";
        struct virtio_blk_outhdr *hdr = probe_alloc(sizeof(*hdr), 16);
        hdr->type = VIRTIO_BLK_T_IN;
        buf = probe_alloc(BLK_BYTES, 4096);
        r.status = probe_alloc(1, 1);
        r.sg[0] = (struct vdrv_sg){ (uintptr_t)hdr, sizeof(*hdr) };
        r.sg[1] = (struct vdrv_sg){ (uintptr_t)buf, BLK_BYTES };
        r.sg[2] = (struct vdrv_sg){ (uintptr_t)r.status, 1 };
        r.nout = 1;
        r.nin = 2;
        break;
    }
    default:
        return;
    }
    if (!irq_ready()) {
        note("no local APIC: MSI-X checks skipped");
        return;
    }
    if (!d->msix_cap || d->msix_size < 2) {
        note("no MSI-X capability with two vectors: MSI-X checks skipped");
        return;
    }
    if (!locate_tables(&r))
        return;
    int rc = start(&r, QUEUE_ENTRY);
    if (check(rc == 0, "MSI-X: device started with config vector %u, queue 0 on vector %u (rc %d)",
              CONFIG_ENTRY, QUEUE_ENTRY, rc)) {
        check_delivery(&r);
        check_masking(&r);
        if (with_latency)
            latency(&r, dev, true);
    }
    if (rc == 0 && with_latency) {
        rc = start(&r, VIRTIO_MSI_NO_VECTOR);
        if (check(rc == 0, "device restarted with queue 0 on NO_VECTOR for polling (rc %d)", rc))
            latency(&r, dev, false);
    }
    stop(&r);
}
