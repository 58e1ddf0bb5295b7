/* Drives each device through the library with MSI-X off: INTx semantics,
 * completions found by polling the used ring, and the ISR checked after the
 * first one (set, then cleared by the read). rng reads entropy, blk writes
 * a sector and reads it back, console writes a line, net sends one frame;
 * the run scripts check the console line and the frame on the host side. */
#include <asm-generic/errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>

#include "guest/probe/probe.h"

#define MODERN_QUEUE_SIZE 64
#define POLL_SECONDS      5
#define ISR_POLL_SECONDS  1
#define RNG_BYTES         64
#define SECTOR            512
#define ETH_ALEN          6
#define ETH_MIN_FRAME     60
#define ETH_P_LOCAL_EXP   0x88b5 /* IEEE local experimental ethertype */
#define ISR_QUEUE_INTERRUPT 0x1 /* ISR bit 0; linux/virtio_pci.h names only bit 1 */

struct drive {
    struct pci_fn *f;
    struct vdrv_dev *d;
    const char *mode;
    bool isr_checked;
};

static int start(struct drive *dr, uint64_t want, unsigned first_q, unsigned nq,
                 struct vdrv_vq *vqs)
{
    struct vdrv_dev *d = dr->d;
    vdrv_reset(d);
    vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER);
    if (d->modern)
        want |= 1ull << VIRTIO_F_VERSION_1;
    int rc = vdrv_negotiate(d, want);
    if (!check(rc == 0, "feature negotiation (rc %d, features 0x%llx)", rc,
               (unsigned long long)d->features))
        return rc;
    for (unsigned i = 0; i < nq; i++) {
        unsigned q = first_q + i;
        int max = vdrv_queue_max(d, q);
        if (!check(max > 0, "queue %u present (max %d)", q, max))
            return -ENOENT;
        /* Legacy: the device decides the size, so size the memory for it. */
        uint16_t size = d->modern && max > MODERN_QUEUE_SIZE ? MODERN_QUEUE_SIZE : (uint16_t)max;
        void *mem = probe_alloc(vdrv_vq_mem_size(size, !d->modern), 4096);
        void **tokens = probe_alloc(sizeof(void *) * size, 8);
        uint16_t *chain = probe_alloc(sizeof(uint16_t) * size, 2);
        rc = vdrv_setup_queue(d, q, &vqs[i], size, mem, (uintptr_t)mem, tokens, chain,
                              VIRTIO_MSI_NO_VECTOR);
        if (!check(rc == 0, "queue %u set up (size %u, rc %d)", q, vqs[i].size, rc))
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

/* One chain through queue q, completed by polling; the first completion of
 * a drive also checks the ISR. */
static int transact(struct drive *dr, unsigned q, struct vdrv_vq *vq, const struct vdrv_sg *sg,
                    unsigned nout, unsigned nin, uint32_t *len)
{
    static char token;
    int rc = vdrv_vq_add(vq, sg, nout, nin, &token);
    if (rc)
        return rc;
    if (vdrv_vq_kick_prepare(vq))
        vdrv_notify(dr->d, q);
    uint64_t deadline = rdtsc() + POLL_SECONDS * TSC_SECOND;
    while (!vdrv_vq_has_used(vq) && rdtsc() < deadline)
        cpu_relax();
    if (vdrv_vq_get_used(vq, len) != &token)
        return -ETIMEDOUT;
    if (!dr->isr_checked) {
        dr->isr_checked = true;
        /* The device may publish the used entry a moment before it raises
         * the interrupt: wait for the ISR, then see the read cleared it. */
        uint8_t isr = 0;
        deadline = rdtsc() + ISR_POLL_SECONDS * TSC_SECOND;
        while (!(isr = vdrv_read_isr(dr->d)) && rdtsc() < deadline)
            cpu_relax();
        uint8_t again = vdrv_read_isr(dr->d);
        check(isr & ISR_QUEUE_INTERRUPT, "ISR queue bit set after a used buffer (got 0x%02x)", isr);
        check(again == 0, "ISR read-to-clear (second read 0x%02x)", again);
    }
    return 0;
}

static void drive_rng(struct drive *dr)
{
    struct vdrv_vq vq;
    if (start(dr, 0, 0, 1, &vq))
        return;
    uint8_t *buf = probe_alloc(RNG_BYTES, 64);
    struct vdrv_sg sg = { (uintptr_t)buf, RNG_BYTES };
    uint32_t len = 0;
    int rc = transact(dr, 0, &vq, &sg, 0, 1, &len);
    if (!check(rc == 0 && len >= 1 && len <= RNG_BYTES, "rng request completed (rc %d, %u bytes)",
               rc, len))
        return;
    unsigned nonzero = 0;
    for (uint32_t i = 0; i < len; i++)
        nonzero += buf[i] != 0;
    check(nonzero > 0, "rng bytes not all zero (%u of %u nonzero)", nonzero, len);
}

static int blk_rw(struct drive *dr, struct vdrv_vq *vq, uint32_t type, uint64_t sector,
                  uint8_t *data, uint32_t *len, uint8_t *status)
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
    return transact(dr, 0, vq, sg, out ? 2 : 1, out ? 1 : 2, len);
}

static void drive_blk(struct drive *dr)
{
    struct vdrv_vq vq;
    if (start(dr, 0, 0, 1, &vq))
        return;
    uint64_t cap = 0;
    vdrv_config_read(dr->d, offsetof(struct virtio_blk_config, capacity), &cap, sizeof(cap));
    uint64_t want = cmdline_u64("kick.blk-sectors", 0);
    if (!check(want ? cap == want : cap >= 2, "blk capacity %llu sectors (expected %llu)",
               (unsigned long long)cap, (unsigned long long)want))
        return;
    /* A fresh sector and pattern per pass: a write that never landed cannot
     * read back as a match of an earlier one. */
    static unsigned pass;
    uint64_t sector = 1 + pass++ % (cap - 1);
    uint8_t seed = (uint8_t)(rdtsc() >> 4);
    uint8_t *wbuf = probe_alloc(SECTOR, SECTOR), *rbuf = probe_alloc(SECTOR, SECTOR);
    uint8_t *status = probe_alloc(1, 1);
    for (unsigned i = 0; i < SECTOR; i++)
        wbuf[i] = (uint8_t)(seed + i * 7u + (i >> 8));
    uint32_t len = 0;
    int rc = blk_rw(dr, &vq, VIRTIO_BLK_T_OUT, sector, wbuf, &len, status);
    if (!check(rc == 0 && *status == VIRTIO_BLK_S_OK && len == 1,
               "blk write sector %llu (rc %d, status %u, used len %u)", (unsigned long long)sector,
               rc, *status, len))
        return;
    rc = blk_rw(dr, &vq, VIRTIO_BLK_T_IN, sector, rbuf, &len, status);
    if (!check(rc == 0 && *status == VIRTIO_BLK_S_OK && len == SECTOR + 1,
               "blk read sector %llu (rc %d, status %u, used len %u)", (unsigned long long)sector,
               rc, *status, len))
        return;
    check(memcmp(wbuf, rbuf, SECTOR) == 0, "blk read back the pattern written (seed 0x%02x)", seed);
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
    struct vdrv_vq vq;
    /* Port 0 without MULTIPORT: receiveq 0, transmitq 1; only tx is used. */
    if (start(dr, 0, 1, 1, &vq))
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
    int rc = transact(dr, 1, &vq, &sg, 1, 0, &len);
    check(rc == 0, "console line written to port 0 (rc %d, used len %u)", rc, len);
}

static void drive_net(struct drive *dr)
{
    struct vdrv_vq vq;
    /* receiveq 0 stays unused; transmitq 1 sends the frame. */
    if (start(dr, 1ull << VIRTIO_NET_F_MAC, 1, 1, &vq))
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
    int rc = transact(dr, 1, &vq, sg, 2, 0, &len);
    check(rc == 0, "net frame sent from %02x:%02x:%02x:%02x:%02x:%02x (rc %d)", mac[0], mac[1],
          mac[2], mac[3], mac[4], mac[5], rc);
}

void drive_device(struct pci_fn *f, struct vdrv_dev *d)
{
    struct drive dr = { .f = f, .d = d, .mode = d->modern ? "modern" : "legacy" };
    switch (d->virtio_type) {
    case VIRTIO_ID_RNG: drive_rng(&dr); break;
    case VIRTIO_ID_BLOCK: drive_blk(&dr); break;
    case VIRTIO_ID_CONSOLE: drive_console(&dr); break;
    case VIRTIO_ID_NET: drive_net(&dr); break;
    default:
        note("no driver for type %u here", d->virtio_type);
        return;
    }
    vdrv_reset(d);
}
