/* Hostile mode's runner (see hostile.h). Each case gets a fresh queue:
 * reset, features (VERSION_1, INDIRECT_DESC), MSI-X with the configuration
 * vector on entry 0 when the function has it, an 8-entry queue 0 polled on
 * NO_VECTOR, DRIVER_OK. The case is published with one kick and watched:
 * NEEDS_RESET, used entries, or nothing. Then the device is reset and
 * driven through the library again, and the other device, started once
 * before the cases and left alone since, must still serve a request.
 *
 * Spec 1.2, 2.1.2: "The device SHOULD set DEVICE_NEEDS_RESET when it enters
 * an error state that a reset is needed. If DRIVER_OK is set, after it sets
 * DEVICE_NEEDS_RESET, the device MUST send a device configuration change
 * notification to the driver." */
#include <asm-generic/errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "common/kick_barrier.h"
#include "guest/probe/hostile.h"

#define CONFIG_ENTRY   0
#define CONFIG_VECTOR  (IRQ_DEVICE_BASE + CONFIG_ENTRY)
#define OUTCOME_TICKS  (TSC_SECOND / 2)   /* for NEEDS_RESET or a used entry */
#define SETTLE_TICKS   (TSC_SECOND / 20)  /* then for whatever else follows */
#define POLL_GAP_TICKS (TSC_SECOND / 20000)
#define WAIT_TICKS     (2 * TSC_SECOND)
#define BLK_SPARE_SECTORS 64              /* bystander writes go to 1..64 */

/* A device that carries a buffer wrapping past 2^64 on from address 0
 * writes into the first bytes of guest-physical memory, where nothing of
 * ours lives: a pattern there shows whether it did. */
#define LOW_PATTERN_BYTES 256
#define LOW_PATTERN       0x5a

static bool strict;

static volatile uint8_t *low_memory(void)
{
    uintptr_t p = 0;
    __asm__("" : "+r"(p)); /* address 0 is memory here, not a null pointer */
    return (volatile uint8_t *)p;
}

static int hstart(struct hdev *h, bool msix)
{
    struct vdrv_dev *d = &h->d;
    vdrv_reset(d);
    vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER);
    int rc = vdrv_negotiate(d, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC);
    if (rc)
        return rc;
    if (msix) {
        uint64_t addr = LAPIC_BASE | (uint64_t)irq_apic_id() << 12;
        if ((rc = vdrv_msix_enable(d, addr, IRQ_DEVICE_BASE)) ||
            (rc = vdrv_set_config_vector(d, CONFIG_ENTRY)))
            return rc;
    }
    memset(h->ring, 0, h->ring_bytes);
    rc = vdrv_setup_queue(d, 0, &h->vq, HOSTILE_QUEUE_SIZE, h->ring, (uintptr_t)h->ring, h->tokens,
                          h->chain, VIRTIO_MSI_NO_VECTOR);
    if (rc)
        return rc;
    if (h->vq.size != HOSTILE_QUEUE_SIZE)
        return -ERANGE;
    vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
    return 0;
}

static void hstop(struct hdev *h)
{
    struct vdrv_dev *d = &h->d;
    vdrv_reset(d);
    if (!d->msix_enabled)
        return;
    uint16_t ctrl = (uint16_t)d->io->cfg_read(d->io->ctx, d->msix_cap + PCI_MSIX_FLAGS, 2);
    d->io->cfg_write(d->io->ctx, d->msix_cap + PCI_MSIX_FLAGS, ctrl & ~PCI_MSIX_FLAGS_ENABLE, 2);
    d->msix_enabled = false;
}

static int lib_request(struct hdev *h, const struct vdrv_sg *sg, unsigned nout, unsigned nin,
                       uint32_t *len)
{
    static char token;
    int rc = vdrv_vq_add(&h->vq, sg, nout, nin, &token);
    if (rc)
        return rc;
    if (vdrv_vq_kick_prepare(&h->vq))
        vdrv_notify(&h->d, 0);
    uint64_t deadline = rdtsc() + WAIT_TICKS;
    while (!vdrv_vq_has_used(&h->vq) && rdtsc() < deadline)
        cpu_relax();
    return vdrv_vq_get_used(&h->vq, len) == &token ? 0 : -ETIMEDOUT;
}

/* One request through the library; says what it saw in `what`. rng: bytes
 * that are not all zero; blk: a fresh pattern written and read back. */
static bool lib_works(struct hdev *h, char *what, size_t cap)
{
    static unsigned pass;
    uint32_t len = 0;
    int rc;
    if (!h->blk) {
        memset(h->data, 0, h->data_len);
        struct vdrv_sg sg = { (uintptr_t)h->data, h->data_len };
        rc = lib_request(h, &sg, 0, 1, &len);
        unsigned nonzero = 0;
        for (uint32_t i = 0; rc == 0 && i < len && i < h->data_len; i++)
            nonzero += h->data[i] != 0;
        bool ok = rc == 0 && len >= 1 && len <= h->data_len && nonzero > 0;
        probe_snprintf(what, cap, "rc %d, %u rng bytes, %u nonzero", rc, len, nonzero);
        return ok;
    }
    uint64_t sector = 1 + pass++ % BLK_SPARE_SECTORS;
    uint8_t seed = (uint8_t)(rdtsc() >> 4);
    for (unsigned i = 0; i < HOSTILE_SECTOR; i++)
        h->data[i] = (uint8_t)(seed + i * 13u);
    h->hdr->type = VIRTIO_BLK_T_OUT;
    h->hdr->sector = sector;
    *h->status = 0xff;
    struct vdrv_sg sg[3] = {
        { (uintptr_t)h->hdr, sizeof(*h->hdr) },
        { (uintptr_t)h->data, HOSTILE_SECTOR },
        { (uintptr_t)h->status, 1 },
    };
    rc = lib_request(h, sg, 2, 1, &len);
    uint8_t wst = *h->status;
    if (rc == 0 && wst == VIRTIO_BLK_S_OK) {
        memset(h->data, 0, HOSTILE_SECTOR);
        h->hdr->type = VIRTIO_BLK_T_IN;
        *h->status = 0xff;
        rc = lib_request(h, sg, 1, 2, &len);
    }
    bool match = true;
    for (unsigned i = 0; i < HOSTILE_SECTOR; i++)
        match = match && h->data[i] == (uint8_t)(seed + i * 13u);
    bool ok = rc == 0 && wst == VIRTIO_BLK_S_OK && *h->status == VIRTIO_BLK_S_OK && match;
    probe_snprintf(what, cap, "rc %d, sector %llu written (status %u) and read back (status %u, %s)",
                   rc, (unsigned long long)sector, wst, *h->status, match ? "match" : "MISMATCH");
    return ok;
}

struct outcome {
    uint8_t status;
    uint16_t used;
    bool used_sane;      /* every used entry names head 0 with a possible length */
    uint32_t first_len;
    unsigned cfg_irqs;
    uint8_t isr;
};

/* Polls status and used idx, interrupts on (the configuration vector is
 * counted), until NEEDS_RESET or a used entry, and a settling time after. */
static void watch(struct hdev *h, uint32_t max_written, struct outcome *o)
{
    unsigned cfg_before = irq_count[CONFIG_VECTOR];
    uint64_t deadline = rdtsc() + OUTCOME_TICKS;
    bool seen = false;
    __asm__ volatile("sti" ::: "memory");
    for (;;) {
        o->status = vdrv_get_status(&h->d);
        o->used = KICK_READ_ONCE(h->vq.used->idx);
        uint64_t now = rdtsc();
        if (!seen && ((o->status & VIRTIO_CONFIG_S_NEEDS_RESET) || o->used)) {
            seen = true;
            deadline = now + SETTLE_TICKS;
        }
        if (now >= deadline)
            break;
        while (rdtsc() < now + POLL_GAP_TICKS)
            cpu_relax();
    }
    __asm__ volatile("cli" ::: "memory");
    kick_rmb();
    o->used_sane = true;
    for (unsigned i = 0; i < o->used && i < h->vq.size; i++) {
        struct vring_used_elem e = h->vq.used->ring[i];
        if (i == 0)
            o->first_len = e.len;
        o->used_sane = o->used_sane && e.id == 0 && e.len <= max_written;
    }
    o->cfg_irqs = irq_count[CONFIG_VECTOR] - cfg_before;
    if (!h->d.msix_enabled)
        o->isr = vdrv_read_isr(&h->d);
}

static const char *outcome_name(const struct outcome *o)
{
    if (o->status & VIRTIO_CONFIG_S_NEEDS_RESET)
        return o->used ? "NEEDS_RESET after serving" : "NEEDS_RESET";
    return o->used ? "served" : "nothing completed";
}

static void run_case(struct hdev *t, struct hdev *by, enum hostile_case c)
{
    const char *name = hostile_case_name(c);
    bool msix = irq_ready() && t->d.msix_cap && t->d.msix_size > CONFIG_ENTRY;
    char what[160];

    report_subject(t->f, t->name, "hostile");
    int rc = hstart(t, msix);
    if (!check(rc == 0, "%s: fresh queue of %u set up (rc %d)", name, HOSTILE_QUEUE_SIZE, rc))
        return;
    uint8_t before = vdrv_get_status(&t->d);
    if (!msix)
        vdrv_read_isr(&t->d);
    if (c == HC_WRAP)
        for (unsigned i = 0; i < LOW_PATTERN_BYTES; i++)
            low_memory()[i] = LOW_PATTERN;
    uint32_t max_written = 0;
    uint16_t idx = hostile_case_build(t, c, &max_written);
    kick_wmb();
    KICK_WRITE_ONCE(t->vq.avail->idx, idx);
    kick_mb();
    vdrv_notify(&t->d, 0);

    struct outcome o = { 0 };
    watch(t, max_written, &o);
    bool needs_reset = o.status & VIRTIO_CONFIG_S_NEEDS_RESET;
    /* Nothing but NEEDS_RESET may have changed without a reset. */
    bool sane = (o.status & ~VIRTIO_CONFIG_S_NEEDS_RESET) == before;
    bool ok = sane && (!o.used || o.used_sane);
    if (c == HC_CONTROL)
        ok = ok && !needs_reset && o.used == 1;
    else if (strict)
        ok = ok && (needs_reset || (hostile_case_servable(c) && o.used));
    char used_text[40] = "";
    if (o.used)
        probe_snprintf(used_text, sizeof(used_text), ", first len %u%s", o.first_len,
                       o.used_sane ? "" : ", NOT head 0 within the chain");
    check(ok, "%s: %s%s (status 0x%02x, was 0x%02x; used idx %u%s%s)", name,
          c == HC_CONTROL ? "" : "device survived: ", outcome_name(&o), o.status, before, o.used,
          used_text, !strict || c == HC_CONTROL ? ""
                     : hostile_case_servable(c) ? "; strict: NEEDS_RESET or service"
                                                : "; strict: NEEDS_RESET");

    if (c == HC_WRAP) {
        unsigned changed = 0;
        for (unsigned i = 0; i < LOW_PATTERN_BYTES; i++)
            changed += low_memory()[i] != LOW_PATTERN;
        if (changed)
            note("%s: the device went on from guest-physical 0 (%u of the first %u bytes "
                 "rewritten)", name, changed, LOW_PATTERN_BYTES);
    }
    if (needs_reset && msix) {
        /* The interrupt may trail the status a little. */
        if (!o.cfg_irqs && irq_wait(CONFIG_VECTOR, irq_count[CONFIG_VECTOR] + 1, TSC_SECOND / 10))
            o.cfg_irqs = 1;
        check(o.cfg_irqs >= 1, "%s: NEEDS_RESET came with a configuration change interrupt "
                               "(MSI-X entry %u, %u seen)", name, CONFIG_ENTRY, o.cfg_irqs);
    } else if (needs_reset) {
        check(o.isr & VIRTIO_PCI_ISR_CONFIG, "%s: NEEDS_RESET came with the configuration change "
                                             "bit in ISR (0x%02x)", name, o.isr);
    }

    vdrv_reset(&t->d);
    uint8_t after_reset = vdrv_get_status(&t->d);
    rc = hstart(t, msix);
    bool works = rc == 0 && lib_works(t, what, sizeof(what));
    check(after_reset == 0 && works, "%s: recovered after reset (status 0x%02x after reset; "
                                     "start rc %d; %s)", name, after_reset, rc,
          rc == 0 ? what : "not driven");

    report_subject(by->f, by->name, "hostile");
    works = lib_works(by, what, sizeof(what));
    check(works, "still works after %s %s: %s", t->name, name, what);
}

static bool hdev_init(struct hdev *h, struct pci_fn *f, bool blk)
{
    pci_fn_activate(f);
    if (vdrv_pci_probe(&h->d, &f->io, false) || !h->d.modern)
        return false;
    h->f = f;
    h->blk = blk;
    h->name = blk ? "blk" : "rng";
    h->ring_bytes = vdrv_vq_mem_size(HOSTILE_QUEUE_SIZE, false);
    h->ring = probe_alloc(h->ring_bytes, 4096);
    h->tokens = probe_alloc(sizeof(void *) * HOSTILE_QUEUE_SIZE, 8);
    h->chain = probe_alloc(sizeof(uint16_t) * HOSTILE_QUEUE_SIZE, 2);
    h->data_len = blk ? HOSTILE_SECTOR : HOSTILE_RNG_BYTES;
    h->data = probe_alloc(h->data_len, 512);
    h->hdr = probe_alloc(sizeof(*h->hdr), 16);
    h->status = probe_alloc(1, 1);
    for (int i = 0; i < 2; i++)
        h->table[i] = probe_alloc(HOSTILE_TABLE_MAX * sizeof(struct vring_desc), 16);
    return true;
}

static void run_target(struct hdev *t, struct hdev *by)
{
    char what[160];
    report_subject(by->f, by->name, "hostile");
    int rc = hstart(by, false);
    bool works = rc == 0 && lib_works(by, what, sizeof(what));
    if (!check(works, "bystander started before %s's cases (rc %d; %s)", t->name, rc,
               rc == 0 ? what : "not driven"))
        return;
    report_subject(t->f, t->name, "hostile");
    bool indirect = vdrv_device_features(&t->d) & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
    for (enum hostile_case c = 0; c < HC_COUNT; c++) {
        if (hostile_case_indirect(c) && !indirect) {
            report_subject(t->f, t->name, "hostile");
            note("%s: VIRTIO_RING_F_INDIRECT_DESC not offered: skipped", hostile_case_name(c));
            continue;
        }
        run_case(t, by, c);
    }
    hstop(t);
    hstop(by);
}

void hostile_run(struct pci_fn *fns, unsigned n)
{
    static struct hdev rng, blk;
    bool have_rng = false, have_blk = false;
    strict = cmdline_word("hostile-strict");
    con_printf("INFO: hostile mode%s: hand-written broken chains against rng and blk\n",
               strict ? " (strict: NEEDS_RESET wherever there is nothing to serve)" : "");
    for (unsigned i = 0; i < n; i++) {
        struct pci_fn *f = &fns[i];
        struct vdrv_dev probe_d;
        pci_fn_activate(f);
        if (vdrv_pci_probe(&probe_d, &f->io, false))
            continue; /* not a virtio function (ivshmem shares the vendor ID) */
        uint16_t type = probe_d.virtio_type;
        if (type == VIRTIO_ID_RNG && !have_rng)
            have_rng = hdev_init(&rng, f, false);
        else if (type == VIRTIO_ID_BLOCK && !have_blk)
            have_blk = hdev_init(&blk, f, true);
    }
    if (!have_rng || !have_blk) {
        report_subject_name("hostile");
        check(false, "needs a modern rng and a modern blk (rng %s, blk %s)",
              have_rng ? "found" : "missing", have_blk ? "found" : "missing");
        return;
    }
    run_target(&rng, &blk);
    run_target(&blk, &rng);
    struct hdev *both[2] = { &rng, &blk };
    for (int i = 0; i < 2; i++) {
        report_subject(both[i]->f, both[i]->name, "hostile");
        check(both[i]->f->bad_access == 0, "library kept every access inside its BAR (refused %u)",
              both[i]->f->bad_access);
    }
}
