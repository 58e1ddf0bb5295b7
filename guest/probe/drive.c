/* Drives each device through the library with MSI-X off: INTx semantics,
 * completions found by polling the used ring, and the ISR checked after the
 * first one (set, then cleared by the read). rng reads entropy, blk writes
 * a sector and reads it back, console writes a line, net sends one frame;
 * the run scripts check the console line and the frame on the host side.
 * A modern device offering VIRTIO_F_RING_PACKED is driven twice: over split
 * queues (RING_PACKED declined), then over packed ones ("modern packed"),
 * where drive_packed.c adds what only that layout has. */
#include <asm-generic/errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>

#include "common/kick_barrier.h"
#include "guest/probe/drive.h"

#define MODERN_QUEUE_SIZE 64
#define RNG_BYTES         64
#define SECTOR            512
#define ETH_ALEN          6
#define ETH_MIN_FRAME     60
#define ETH_P_LOCAL_EXP   0x88b5 /* IEEE local experimental ethertype */
/* Packed sizes are deliberately small and not powers of two: the rng ring
 * wraps every third buffer, and a three-descriptor blk chain straddles the
 * end of a five-entry ring. */
#define PACKED_RNG_SIZE   3
#define PACKED_BLK_SIZE   5
#define PACKED_SIZE       50
#define PACKED_WANT ((1ull << VIRTIO_F_RING_PACKED) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
                     (1ull << VIRTIO_RING_F_INDIRECT_DESC))

void *dq_reap(struct drive *dr, struct dq *q, uint32_t *len)
{
    if (!q->packed)
        return vdrv_vq_get_used(&q->vq, len);
    struct vdrv_pvq *p = &q->pvq;
    const struct vring_packed_desc *d = &p->desc[p->last_used];
    if (!vdrv_pvq_has_used(p))
        return NULL;
    /* Read the used descriptor as the device left it, before the library
     * reclaims it: the flags decide whether its length means anything. */
    uint16_t flags = KICK_READ_ONCE(d->flags);
    kick_rmb();
    uint16_t id = KICK_READ_ONCE(d->id);
    uint32_t raw_len = KICK_READ_ONCE(d->len);
    bool wrote = id < p->size && p->ids[id].in_len > 0 && raw_len > 0;
    void *token = vdrv_pvq_get_used(p, len);
    if (!token || !wrote)
        return token;
    bool has_write = flags & VRING_DESC_F_WRITE;
    if (!dr->write_flag_checked) {
        dr->write_flag_checked = true;
        /* Spec 2.8.3: "In a used descriptor, this bit is used to specify
         * whether any data has been written by the device into any parts
         * of the buffer." */
        check(has_write, "used descriptor flags carry VIRTQ_DESC_F_WRITE for a buffer the device "
                         "wrote %u bytes into (flags 0x%04x)", raw_len, flags);
        if (!has_write)
            note("taking Element Length without VIRTQ_DESC_F_WRITE from here on, as Linux does");
    }
    if (!has_write && len)
        *len = raw_len;
    return token;
}

bool dq_wait_used(const struct dq *q)
{
    uint64_t deadline = rdtsc() + POLL_SECONDS * TSC_SECOND;
    while (q->packed ? !vdrv_pvq_has_used(&q->pvq) : !vdrv_vq_has_used(&q->vq))
        if (rdtsc() >= deadline)
            return false;
        else
            cpu_relax();
    return true;
}

void isr_drain(struct vdrv_dev *d)
{
    for (unsigned n = 0; n < 16 && vdrv_read_isr(d); n++)
        ;
}

uint8_t isr_wait(struct vdrv_dev *d, uint64_t ticks)
{
    uint64_t deadline = rdtsc() + ticks;
    uint8_t isr;
    /* A device thread sets the ISR after it publishes the used buffer, so
     * seeing the buffer does not mean the notification is already there. */
    while (!(isr = vdrv_read_isr(d)) && rdtsc() < deadline)
        cpu_relax();
    return isr;
}

uint8_t isr_after(struct vdrv_dev *d, uint64_t ticks)
{
    uint64_t deadline = rdtsc() + ticks;
    while (rdtsc() < deadline)
        cpu_relax();
    return vdrv_read_isr(d);
}

static int setup_one(struct drive *dr, struct dq *dq, unsigned q, int max, uint16_t pk_size)
{
    struct vdrv_dev *d = dr->d;
    int rc;
    dq->q = q;
    dq->packed = dr->packed;
    if (dr->packed) {
        uint16_t size = max < pk_size ? (uint16_t)max : pk_size;
        void *mem = probe_alloc(vdrv_pvq_mem_size(size), 16);
        struct vdrv_pvq_id *ids = probe_alloc(sizeof(*ids) * size, 8);
        rc = vdrv_setup_queue_packed(d, q, &dq->pvq, size, mem, (uintptr_t)mem, ids,
                                     VIRTIO_MSI_NO_VECTOR);
        if (!check(rc == 0, "packed queue %u set up (size %u, rc %d)", q, dq->pvq.size, rc))
            return rc;
        /* Spec: the packed ring's size "does not have to be a power of 2". */
        int got = vdrv_queue_max(d, q);
        check(got == size, "queue %u keeps the packed size %u written (reads %d)", q, size, got);
        return 0;
    }
    /* Legacy: the device decides the size, so size the memory for it. */
    uint16_t size = d->modern && max > MODERN_QUEUE_SIZE ? MODERN_QUEUE_SIZE : (uint16_t)max;
    void *mem = probe_alloc(vdrv_vq_mem_size(size, !d->modern), 4096);
    void **tokens = probe_alloc(sizeof(void *) * size, 8);
    uint16_t *chain = probe_alloc(sizeof(uint16_t) * size, 2);
    rc = vdrv_setup_queue(d, q, &dq->vq, size, mem, (uintptr_t)mem, tokens, chain,
                          VIRTIO_MSI_NO_VECTOR);
    check(rc == 0, "queue %u set up (size %u, rc %d)", q, dq->vq.size, rc);
    return rc;
}

static int start(struct drive *dr, uint64_t want, unsigned first_q, unsigned nq, struct dq *dqs,
                 uint16_t pk_size)
{
    struct vdrv_dev *d = dr->d;
    vdrv_reset(d);
    vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER);
    if (d->modern)
        want |= 1ull << VIRTIO_F_VERSION_1;
    if (dr->packed)
        want |= PACKED_WANT;
    int rc = vdrv_negotiate_ring(d, want, dr->packed);
    if (!check(rc == 0, "feature negotiation (rc %d, features 0x%llx)", rc,
               (unsigned long long)d->features))
        return rc;
    if (!check(vdrv_ring_packed(d) == dr->packed, "ring layout negotiated: %s",
               vdrv_ring_packed(d) ? "packed" : "split"))
        return -EIO;
    for (unsigned i = 0; i < nq; i++) {
        unsigned q = first_q + i;
        int max = vdrv_queue_max(d, q);
        if (!check(max > 0, "queue %u present (max %d)", q, max))
            return -ENOENT;
        if ((rc = setup_one(dr, &dqs[i], q, max, pk_size)))
            return rc;
    }
    vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
    uint8_t want_status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                          VIRTIO_CONFIG_S_DRIVER_OK |
                          (d->modern ? VIRTIO_CONFIG_S_FEATURES_OK : 0);
    uint8_t s = vdrv_get_status(d);
    return check(s == want_status, "status after DRIVER_OK is 0x%02x (got 0x%02x)", want_status, s)
               ? 0
               : -EIO;
}

/* The first completion of a drive also checks the ISR. */
static void first_isr_check(struct drive *dr)
{
    if (dr->isr_checked)
        return;
    dr->isr_checked = true;
    /* The device may publish the used entry a moment before it raises
     * the interrupt: wait for the ISR, then see the read cleared it. */
    uint8_t isr = 0;
    uint64_t deadline = rdtsc() + ISR_POLL_SECONDS * TSC_SECOND;
    while (!(isr = vdrv_read_isr(dr->d)) && rdtsc() < deadline)
        cpu_relax();
    uint8_t again = vdrv_read_isr(dr->d);
    /* A fresh interrupt may land between the two reads (QEMU's serial
     * device answers control messages late on a loaded host): a register
     * that does not clear reads non-zero a third time as well. */
    uint8_t third = again ? vdrv_read_isr(dr->d) : 0;
    check(isr & ISR_QUEUE_INTERRUPT, "ISR queue bit set after a used buffer (got 0x%02x)", isr);
    check(again == 0 || third == 0, "ISR read-to-clear (second read 0x%02x, third 0x%02x)", again,
          third);
}

/* One chain through queue dq (packed: through an indirect table when
 * `indirect`), completed by polling. */
static int transact_how(struct drive *dr, struct dq *dq, const struct vdrv_sg *sg, unsigned nout,
                        unsigned nin, uint32_t *len, bool indirect)
{
    static char token;
    int rc;
    bool kick;
    if (dq->packed) {
        struct vring_packed_desc *table =
            indirect ? probe_alloc(sizeof(*table) * (nout + nin), 16) : NULL;
        struct pk_kick k;
        rc = packed_add(dr, dq, sg, nout, nin, table, &token, &k);
        kick = k.kick;
    } else {
        rc = vdrv_vq_add(&dq->vq, sg, nout, nin, &token);
        kick = !rc && vdrv_vq_kick_prepare(&dq->vq);
    }
    if (rc)
        return rc;
    if (kick)
        vdrv_notify(dr->d, dq->q);
    dq_wait_used(dq);
    if (dq_reap(dr, dq, len) != &token)
        return -ETIMEDOUT;
    first_isr_check(dr);
    return 0;
}

static int transact(struct drive *dr, struct dq *dq, const struct vdrv_sg *sg, unsigned nout,
                    unsigned nin, uint32_t *len)
{
    return transact_how(dr, dq, sg, nout, nin, len, false);
}

static void drive_rng(struct drive *dr)
{
    struct dq q;
    if (start(dr, 0, 0, 1, &q, PACKED_RNG_SIZE))
        return;
    uint8_t *buf = probe_alloc(RNG_BYTES, 64);
    struct vdrv_sg sg = { (uintptr_t)buf, RNG_BYTES };
    uint32_t len = 0;
    int rc = transact(dr, &q, &sg, 0, 1, &len);
    if (!check(rc == 0 && len >= 1 && len <= RNG_BYTES, "rng request completed (rc %d, %u bytes)",
               rc, len))
        return;
    unsigned nonzero = 0;
    for (uint32_t i = 0; i < len; i++)
        nonzero += buf[i] != 0;
    check(nonzero > 0, "rng bytes not all zero (%u of %u nonzero)", nonzero, len);
    if (dr->packed)
        packed_events(dr, &q, buf, RNG_BYTES);
}

static int blk_rw(struct drive *dr, struct dq *q, uint32_t type, uint64_t sector, uint8_t *data,
                  uint32_t *len, uint8_t *status, bool indirect)
{
    struct virtio_blk_outhdr *hdr = probe_alloc(sizeof(*hdr), 16);
    hdr->type = type;
    hdr->sector = sector;
    *status = 0xff;
    struct vdrv_sg sg[3] = {
        { (uintptr_t)hdr, sizeof(*hdr) },
        { (uintptr_t)data, SECTOR },
        { (uintptr_t)status, 1 },
    };
    bool out = type == VIRTIO_BLK_T_OUT;
    return transact_how(dr, q, sg, out ? 2 : 1, out ? 1 : 2, len, indirect);
}

/* Writes a fresh pattern to a fresh sector and reads it back. */
static void blk_round_trip(struct drive *dr, struct dq *q, uint64_t cap, bool indirect)
{
    /* A fresh sector and pattern per pass: a write that never landed cannot
     * read back as a match of an earlier one. */
    static unsigned pass;
    uint64_t sector = 1 + pass++ % (cap - 1);
    uint8_t seed = (uint8_t)(rdtsc() >> 4);
    uint8_t *wbuf = probe_alloc(SECTOR, SECTOR), *rbuf = probe_alloc(SECTOR, SECTOR);
    uint8_t *status = probe_alloc(1, 1);
    const char *how = indirect ? " through an indirect table" : "";
    for (unsigned i = 0; i < SECTOR; i++)
        wbuf[i] = (uint8_t)(seed + i * 7u + (i >> 8));
    uint32_t len = 0;
    int rc = blk_rw(dr, q, VIRTIO_BLK_T_OUT, sector, wbuf, &len, status, indirect);
    if (!check(rc == 0 && *status == VIRTIO_BLK_S_OK && len == 1,
               "blk write sector %llu%s (rc %d, status %u, used len %u)",
               (unsigned long long)sector, how, rc, *status, len))
        return;
    rc = blk_rw(dr, q, VIRTIO_BLK_T_IN, sector, rbuf, &len, status, indirect);
    if (!check(rc == 0 && *status == VIRTIO_BLK_S_OK && len == SECTOR + 1,
               "blk read sector %llu%s (rc %d, status %u, used len %u)",
               (unsigned long long)sector, how, rc, *status, len))
        return;
    check(memcmp(wbuf, rbuf, SECTOR) == 0, "blk read back the pattern written%s (seed 0x%02x)",
          how, seed);
}

/* Two reads of sector 0 made available before one kick. */
static void blk_two_reads(struct drive *dr, struct dq *q)
{
    struct virtio_blk_outhdr *hdr = probe_alloc(sizeof(*hdr), 16);
    uint8_t *data = probe_alloc(SECTOR, SECTOR), *status = probe_alloc(1, 1);
    hdr->type = VIRTIO_BLK_T_IN;
    struct vdrv_sg sg[3] = {
        { (uintptr_t)hdr, sizeof(*hdr) },
        { (uintptr_t)data, SECTOR },
        { (uintptr_t)status, 1 },
    };
    packed_two_kicks(dr, q, sg, 1, 2, true);
}

static void drive_blk(struct drive *dr)
{
    struct dq q;
    if (start(dr, 0, 0, 1, &q, PACKED_BLK_SIZE))
        return;
    uint64_t cap = 0;
    vdrv_config_read(dr->d, offsetof(struct virtio_blk_config, capacity), &cap, sizeof(cap));
    uint64_t want = cmdline_u64("kick.blk-sectors", 0);
    if (!check(want ? cap == want : cap >= 2, "blk capacity %llu sectors (expected %llu)",
               (unsigned long long)cap, (unsigned long long)want))
        return;
    blk_round_trip(dr, &q, cap, false);
    if (!dr->packed)
        return;
    /* Two more three-descriptor chains in a five-entry ring: each pass
     * crosses the end of the ring once more, with the wrap counter flipped. */
    blk_round_trip(dr, &q, cap, false);
    if (dr->d->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC)) {
        blk_round_trip(dr, &q, cap, true);
        blk_two_reads(dr, &q);
    } else
        note("VIRTIO_RING_F_INDIRECT_DESC not offered: no indirect table");
}

static size_t text_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void drive_console(struct drive *dr)
{
    struct dq q;
    /* Port 0 without MULTIPORT: receiveq 0, transmitq 1; only tx is used. */
    if (start(dr, 0, 1, 1, &q, PACKED_SIZE))
        return;
    static const char prefix[] = "kick-probe console ";
    char *line = probe_alloc(64, 64);
    size_t n = text_len(prefix);
    memcpy(line, prefix, n);
    memcpy(line + n, dr->mode, text_len(dr->mode));
    n += text_len(dr->mode);
    line[n++] = '\n';
    struct vdrv_sg sg = { (uintptr_t)line, (uint32_t)n };
    uint32_t len = 0;
    int rc = transact(dr, &q, &sg, 1, 0, &len);
    check(rc == 0, "console line written to port 0 (rc %d, used len %u)", rc, len);
}

static void drive_net(struct drive *dr)
{
    struct dq q;
    /* receiveq 0 stays unused; transmitq 1 sends the frame. */
    if (start(dr, 1ull << VIRTIO_NET_F_MAC, 1, 1, &q, PACKED_SIZE))
        return;
    uint8_t mac[ETH_ALEN];
    vdrv_config_read(dr->d, offsetof(struct virtio_net_config, mac), mac, ETH_ALEN);
    /* VERSION_1 makes num_buffers part of the header even without MRG_RXBUF. */
    size_t hdr_len = dr->d->modern ? sizeof(struct virtio_net_hdr_v1) : sizeof(struct virtio_net_hdr);
    uint8_t *hdr = probe_alloc(sizeof(struct virtio_net_hdr_v1), 16);
    uint8_t *frame = probe_alloc(ETH_MIN_FRAME, 64);
    memset(frame, 0xff, ETH_ALEN);
    memcpy(frame + ETH_ALEN, mac, ETH_ALEN);
    frame[12] = ETH_P_LOCAL_EXP >> 8;
    frame[13] = ETH_P_LOCAL_EXP & 0xff;
    static const char prefix[] = "kick-probe net ";
    size_t n = text_len(prefix);
    memcpy(frame + 14, prefix, n);
    memcpy(frame + 14 + n, dr->mode, text_len(dr->mode));
    struct vdrv_sg sg[2] = {
        { (uintptr_t)hdr, (uint32_t)hdr_len },
        { (uintptr_t)frame, ETH_MIN_FRAME },
    };
    uint32_t len = 0;
    int rc = transact(dr, &q, sg, 2, 0, &len);
    check(rc == 0, "net frame sent from %02x:%02x:%02x:%02x:%02x:%02x (rc %d)", mac[0], mac[1],
          mac[2], mac[3], mac[4], mac[5], rc);
}

static bool drive_once(struct drive *dr)
{
    switch (dr->d->virtio_type) {
    case VIRTIO_ID_RNG: drive_rng(dr); break;
    case VIRTIO_ID_BLOCK: drive_blk(dr); break;
    case VIRTIO_ID_CONSOLE: drive_console(dr); break;
    case VIRTIO_ID_NET: drive_net(dr); break;
    default:
        note("no driver for type %u here", dr->d->virtio_type);
        return false;
    }
    vdrv_reset(dr->d);
    if (dr->packed)
        packed_kick_report(dr);
    return true;
}

void drive_device(struct pci_fn *f, struct vdrv_dev *d)
{
    struct drive dr = { .f = f, .d = d, .mode = d->modern ? "modern" : "legacy" };
    if (!drive_once(&dr) || !d->modern)
        return;
    if (!(vdrv_device_features(d) & (1ull << VIRTIO_F_RING_PACKED))) {
        note("VIRTIO_F_RING_PACKED not offered: split queues only");
        return;
    }
    struct drive pk = { .f = f, .d = d, .mode = "modern packed", .packed = true };
    report_subject(f, virtio_type_name(d->virtio_type), pk.mode);
    drive_once(&pk);
    report_subject(f, virtio_type_name(d->virtio_type), dr.mode);
}
