/* What only a packed queue has, checked against the device (virtio 1.2,
 * 2.8): many laps of a tiny ring, the Device Event Suppression structure
 * deciding the driver's kicks, the Driver Event Suppression structure
 * deciding the device's used buffer notifications. The drive runs with
 * MSI-X off, so a notification shows as ISR bit 0.
 *
 * The structures are read here independently of the library, so a kick
 * decision is judged against what the device wrote, not against the
 * library's own reading of it. */
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "common/kick_barrier.h"
#include "guest/probe/drive.h"

#define RNG_LAPS  3
/* After a used buffer a device raising no interrupt has had this long:
 * QEMU raises it right after writing the descriptor, in the same call. */
#define SETTLE    (TSC_SECOND / 50)
#define EV_WRAP   (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define EV_OFF    (EV_WRAP - 1u)

struct event {
    unsigned flags, off;
    bool wrap;
};

static struct event event_read(const uint32_t *word)
{
    uint32_t v = KICK_READ_ONCE(*word);
    return (struct event){ .flags = (v >> 16) & 3u, .off = v & EV_OFF, .wrap = (v & EV_WRAP) != 0 };
}

static const char *flags_name(unsigned flags)
{
    switch (flags) {
    case VRING_PACKED_EVENT_FLAG_ENABLE: return "ENABLE";
    case VRING_PACKED_EVENT_FLAG_DISABLE: return "DISABLE";
    case VRING_PACKED_EVENT_FLAG_DESC: return "DESC";
    }
    return "reserved";
}

/* Whether a device whose structure reads ev wants to hear of n descriptors
 * made available from (pos, wrap) on: the DESC position among them, on the
 * lap it names. */
static bool event_wants(struct event ev, unsigned pos, bool wrap, unsigned n, unsigned size)
{
    if (ev.flags == VRING_PACKED_EVENT_FLAG_ENABLE)
        return true;
    if (ev.flags != VRING_PACKED_EVENT_FLAG_DESC)
        return false;
    for (unsigned i = 0; i < n; i++) {
        if (ev.off == pos && ev.wrap == wrap)
            return true;
        if (++pos == size) {
            pos = 0;
            wrap = !wrap;
        }
    }
    return false;
}

int packed_add(struct drive *dr, struct dq *q, const struct vdrv_sg *sg, unsigned nout,
               unsigned nin, struct vring_packed_desc *table, void *token, struct pk_kick *out)
{
    struct vdrv_pvq *p = &q->pvq;
    struct event ev = event_read(p->device_event);
    struct pk_kick k = { .flags = ev.flags, .off = ev.off, .ev_wrap = ev.wrap,
                         .pos = p->next_avail, .wrap = p->avail_wrap };
    unsigned n = table ? 1 : nout + nin;
    k.want = event_wants(ev, k.pos, k.wrap, n, p->size);
    int rc = table ? vdrv_pvq_add_indirect(p, sg, nout, nin, table, (uintptr_t)table, token)
                   : vdrv_pvq_add(p, sg, nout, nin, token);
    k.kick = !rc && vdrv_pvq_kick_prepare(p);
    /* A device still finishing the previous chain on another CPU may re-arm
     * its event between our read and the library's: judge only decisions
     * taken while the structure held still. */
    struct event after = event_read(p->device_event);
    k.settled = after.flags == ev.flags && after.off == ev.off && after.wrap == ev.wrap;
    if (out)
        *out = k;
    if (rc)
        return rc;
    dr->kicks_by_flags[ev.flags]++;
    if (!k.settled) {
        dr->kicks_unjudged++;
    } else if (k.kick != k.want) {
        dr->kicks_wrong++;
        note("kick decision for %u descriptor(s) at %u wrap %u: device event %s off %u wrap %u "
             "asks %s, library said %s", n, k.pos, k.wrap, flags_name(ev.flags), ev.off, ev.wrap,
             k.want ? "yes" : "no", k.kick ? "yes" : "no");
    }
    return 0;
}

void packed_kick_report(struct drive *dr)
{
    unsigned *by = dr->kicks_by_flags;
    unsigned total = by[0] + by[1] + by[2] + by[3];
    if (!total)
        return;
    check(dr->kicks_wrong == 0 && by[3] == 0 && dr->kicks_unjudged < total,
          "kick decisions followed the device event structure for %u chains (ENABLE %u, "
          "DISABLE %u, DESC %u, reserved %u; disagreed %u; not judged, the device moving "
          "its event meanwhile, %u)",
          total, by[VRING_PACKED_EVENT_FLAG_ENABLE], by[VRING_PACKED_EVENT_FLAG_DISABLE],
          by[VRING_PACKED_EVENT_FLAG_DESC], by[3], dr->kicks_wrong, dr->kicks_unjudged);
}

static void rng_laps(struct drive *dr, struct dq *q, uint8_t *buf, uint32_t len)
{
    struct vdrv_pvq *p = &q->pvq;
    unsigned n = RNG_LAPS * p->size + 1, done = 0;
    static char token;
    struct vdrv_sg sg = { (uintptr_t)buf, len };
    for (; done < n; done++) {
        uint32_t got = 0;
        struct pk_kick k;
        if (packed_add(dr, q, &sg, 0, 1, NULL, &token, &k))
            break;
        if (k.kick)
            vdrv_notify(dr->d, q->q);
        if (!dq_wait_used(q) || dq_reap(dr, q, &got) != &token || got == 0 || got > len)
            break;
    }
    check(done == n, "rng %u reads over a %u-entry ring, %u laps (%u completed)", n, p->size,
          RNG_LAPS, done);
}

void packed_two_kicks(struct drive *dr, struct dq *q, const struct vdrv_sg *sg, unsigned nout,
                      unsigned nin, bool indirect)
{
    static char token[2];
    /* Let the device finish re-arming its event after the previous chain,
     * so the decisions below are judged against a structure at rest. */
    uint64_t rest = rdtsc() + SETTLE;
    while (rdtsc() < rest)
        cpu_relax();
    for (unsigned i = 0; i < 2; i++) {
        struct vring_packed_desc *table =
            indirect ? probe_alloc(sizeof(*table) * (nout + nin), 16) : NULL;
        struct pk_kick k;
        if (!check(packed_add(dr, q, sg, nout, nin, table, &token[i], &k) == 0,
                   "request %u of two added", i))
            return;
        /* Spec 2.8.10: RING_EVENT_FLAGS_DESC "Only valid if
         * VIRTIO_F_RING_EVENT_IDX has been negotiated"; 3 is reserved. */
        check(k.flags != 3 && (q->pvq.event_idx || k.flags != VRING_PACKED_EVENT_FLAG_DESC),
              "device event flags %s valid with%s EVENT_IDX", flags_name(k.flags),
              q->pvq.event_idx ? "" : "out");
        check(!k.settled || k.kick == k.want,
              "kick decision follows the device event structure for request %u at %u wrap %u "
              "(%s off %u wrap %u: kick %s, library %s%s)",
              i, k.pos, k.wrap, flags_name(k.flags), k.off, k.ev_wrap, k.want ? "yes" : "no",
              k.kick ? "yes" : "no",
              k.settled ? "" : "; not judged: the device re-armed its event meanwhile");
    }
    /* Whatever was asked: the spec lets a driver notify any time, and under
     * DISABLE a device that does not poll would otherwise never see them. */
    vdrv_notify(dr->d, q->q);
    unsigned got = 0;
    for (unsigned i = 0; i < 2; i++) {
        uint32_t l;
        if (!dq_wait_used(q))
            break;
        void *t = dq_reap(dr, q, &l);
        got += t == &token[0] || t == &token[1];
    }
    check(got == 2, "both requests used after one kick (%u of 2)", got);
}

/* One buffer through the queue with the driver event structure as it is;
 * returns the ISR read after the buffer came back (0: no notification).
 * When a notification is expected, wait up to a second for it (a device
 * thread may raise it well after publishing the buffer on a loaded host);
 * when none is, give it SETTLE to show up anyway.
 * The ISR is judged before the buffer is reclaimed: reclaiming moves an
 * armed DESC event on to the next position (as Linux's driver does), and a
 * device on another CPU that reads the event after that rightly raises
 * nothing for a buffer the driver has already taken. */
static uint8_t notified(struct drive *dr, struct dq *q, uint8_t *buf, uint32_t len, bool *ok,
                        bool expect)
{
    static char token;
    struct vdrv_sg sg = { (uintptr_t)buf, len };
    isr_drain(dr->d);
    *ok = false;
    struct pk_kick k;
    if (packed_add(dr, q, &sg, 0, 1, NULL, &token, &k))
        return 0;
    if (k.kick)
        vdrv_notify(dr->d, q->q);
    if (!dq_wait_used(q))
        return 0;
    uint8_t isr = expect ? isr_wait(dr->d, TSC_SECOND) : isr_after(dr->d, SETTLE);
    uint32_t l;
    *ok = dq_reap(dr, q, &l) == &token;
    return isr;
}

static void driver_event_write(struct vdrv_pvq *p, unsigned flags, unsigned off, bool wrap)
{
    p->driver_event_shadow = flags << 16 | off | (wrap ? EV_WRAP : 0);
    KICK_WRITE_ONCE(*p->driver_event, p->driver_event_shadow);
    kick_mb();
}

static void used_notifications(struct drive *dr, struct dq *q, uint8_t *buf, uint32_t len)
{
    struct vdrv_pvq *p = &q->pvq;
    bool ok;
    vdrv_pvq_disable_cb(p);
    uint8_t isr = notified(dr, q, buf, len, &ok, false);
    check(ok && !(isr & ISR_QUEUE_INTERRUPT),
          "no used buffer notification while the driver event flags say DISABLE (ISR 0x%02x)", isr);

    bool idle = vdrv_pvq_enable_cb(p);
    const char *how = p->event_idx ? "DESC at the next used position" : "ENABLE";
    isr = notified(dr, q, buf, len, &ok, true);
    check(idle && ok && (isr & ISR_QUEUE_INTERRUPT),
          "used buffer notification with the driver event %s (ISR 0x%02x)", how, isr);
    if (!p->event_idx)
        return;

    /* DESC naming the position after the next buffer: "Event will only
     * trigger when this descriptor is made available/used" (spec 2.8.10). */
    unsigned at = p->last_used + 1u, now = p->last_used;
    bool wrap = p->used_wrap;
    if (at == p->size) {
        at = 0;
        wrap = !wrap;
    }
    driver_event_write(p, VRING_PACKED_EVENT_FLAG_DESC, at, wrap);
    isr = notified(dr, q, buf, len, &ok, false);
    check(ok && !(isr & ISR_QUEUE_INTERRUPT),
          "no used buffer notification for the buffer at %u while the driver event names %u "
          "wrap %u (ISR 0x%02x)", now, at, wrap, isr);
    isr = notified(dr, q, buf, len, &ok, true);
    check(ok && (isr & ISR_QUEUE_INTERRUPT),
          "used buffer notification once the buffer at %u wrap %u is used (ISR 0x%02x, "
          "buffer %s)", at, wrap, isr, ok ? "came back" : "did not come back");
    vdrv_pvq_enable_cb(p);
}

void packed_events(struct drive *dr, struct dq *q, uint8_t *buf, uint32_t len)
{
    rng_laps(dr, q, buf, len);
    struct vdrv_sg sg = { (uintptr_t)buf, len };
    packed_two_kicks(dr, q, &sg, 0, 1, false);
    used_notifications(dr, q, buf, len);
}
