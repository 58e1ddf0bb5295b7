/* Packed virtqueue, device side (virtio 1.2 §2.8), behind virtq.h's calls.
 *
 * As in the split ring, every guest-controlled value (descriptor fields,
 * indirect tables, the driver's event suppression word) is read once into a
 * local and checked there.
 *
 * Handles and slots. virtq_pop hands out e->head = a slot of our own (below
 * the queue size) that remembers the chain's buffer id and how many ring
 * descriptors it took: a used descriptor carries the id and the device skips
 * that many positions after writing it (§2.8.6), so both must outlive the
 * ring, which the driver may already be refilling. Ids are the driver's
 * business: any 16-bit value is echoed back, duplicates only confuse the
 * driver that made them.
 *
 * Bounds. Descriptors popped but not yet covered by a used descriptor
 * (inflight) plus the chain being read never exceed the queue size: a driver
 * cannot legitimately have more available, and the bound guarantees a free
 * slot and that used descriptors land only on positions already read.
 *
 * Choices the spec leaves open:
 * - The buffer id is taken from the chain's last descriptor (§2.8.6), or from
 *   the descriptor that points at an indirect table.
 * - Every descriptor of a chain, not only the first, must carry the
 *   available pattern for its lap; one that does not is a ring violation.
 * - An indirect descriptor stands alone (no NEXT, not after a NEXT, §2.8.8);
 *   table entries are walked in order, their NEXT and id are ignored as the
 *   spec says, INDIRECT in a table is refused; a table is a non-empty whole
 *   number of 8-byte-aligned descriptors, at most VIRTQ_MAX_CHAIN.
 * - A used descriptor gets VIRTQ_DESC_F_WRITE exactly when len is non-zero.
 * - Event suppression: set_notify(false) writes DISABLE; set_notify(true)
 *   writes ENABLE, or with event idx a descriptor event at the next position
 *   to read. With event idx pop re-arms that event whenever it finds the ring
 *   empty, as the split ring does with avail_event. The driver's reserved
 *   flag value 3, and DESC without event idx, count as ENABLE; a descriptor
 *   event at an offset past the ring asks for an interrupt every time.
 * - VIRTIO_F_IN_ORDER: used descriptors are written in pop order whatever
 *   order the model pushes in (a push waits for earlier pops). A run of
 *   finished buffers becomes one used descriptor carrying the last one's id
 *   (§2.8.11); a buffer is only folded into a later one when its used length
 *   equals its writable length, since the driver takes skipped buffers as
 *   completely used.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>

#include "virtio/virtio_dev.h"
#include "virtio/virtq.h"

#define PK_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PK_F_USED  (1u << VRING_PACKED_DESC_F_USED)
#define PK_EV_WRAP (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define PK_NO_SLOT 0xffffu
#define PK_MAX_SIZE 32768u /* §2.8: up to 2^15 entries */

enum { SLOT_FREE, SLOT_POPPED, SLOT_DONE };

struct virtq_packed_slot {
    uint32_t len;       /* in order: the pushed length, once done */
    uint32_t in_len;    /* writable bytes (in order: may the buffer be folded?) */
    uint16_t id;        /* buffer id to echo */
    uint16_t ndescs;    /* ring descriptors the chain took */
    uint16_t next_free; /* out of order: free list */
    uint16_t state;
};

/* The event suppression words are read and written as one 32-bit value: the
 * offset/wrap half and the flags half must never be seen torn. */
static inline uint32_t pk_event(uint16_t flags, uint16_t off_wrap)
{
    return (uint32_t)flags << 16 | off_wrap;
}

__attribute__((noinline, cold)) static int pk_fail(struct virtq *q, int err)
{
    /* Forget the rings; every entry point then sees a stopped queue. */
    q->broken = true;
    q->pk.desc = NULL;
    q->pk.driver_event = NULL;
    q->pk.device_event = NULL;
    if (q->dev)
        virtio_dev_needs_reset(q->dev);
    return err;
}

/* Available for the lap whose wrap counter is wrap: AVAIL == wrap, USED != wrap. */
static inline bool pk_is_avail(unsigned flags, bool wrap)
{
    return (flags & (PK_F_AVAIL | PK_F_USED)) == (wrap ? PK_F_AVAIL : PK_F_USED);
}

/* Position on the two-lap cycle the wrap counters run through. */
static inline unsigned pk_lap_pos(unsigned idx, bool wrap, unsigned size)
{
    return idx + (wrap ? 0 : size);
}

static void *pk_map(const struct gmem *mem, uint64_t gpa, uint64_t len, unsigned align)
{
    if (gpa % align)
        return NULL;
    void *p = gmem_ptr(mem, gpa, len);
    if (p && (uintptr_t)p % align)
        return NULL;
    return p;
}

static void pk_write_device_event(struct virtq *q, uint32_t ev)
{
    q->pk.device_event_shadow = ev;
    KICK_WRITE_ONCE(*q->pk.device_event, ev);
}

int virtq_packed_start(struct virtq *q, const struct gmem *mem, uint64_t features)
{
    unsigned size = q->size;

    q->ready = false;
    q->mem = NULL;
    q->desc = NULL;
    q->avail = NULL;
    q->used = NULL;
    q->used_event = NULL;
    q->avail_event = NULL;
    q->packed = true;
    q->pk.desc = NULL;
    q->pk.driver_event = NULL;
    q->pk.device_event = NULL;

    if (mem == NULL || size == 0 || size > q->max_size || size > PK_MAX_SIZE)
        return -EINVAL;
    /* §2.8.10.1: descriptor ring 16, event suppression structures 4. */
    struct vring_packed_desc *desc =
        pk_map(mem, q->desc_gpa, (uint64_t)size * sizeof(struct vring_packed_desc), 16);
    const uint32_t *driver_event = pk_map(mem, q->avail_gpa, sizeof(uint32_t), 4);
    uint32_t *device_event = pk_map(mem, q->used_gpa, sizeof(uint32_t), 4);
    if (!desc || !driver_event || !device_event)
        return -EINVAL;

    free(q->pk.slots);
    q->pk.slots = calloc(size, sizeof(struct virtq_packed_slot));
    if (!q->pk.slots)
        return -ENOMEM;
    for (unsigned i = 0; i < size; i++)
        q->pk.slots[i].next_free = (uint16_t)(i + 1 < size ? i + 1 : PK_NO_SLOT);

    q->mem = mem;
    q->ram0 = mem->r[0];
    q->event_idx = (features >> VIRTIO_RING_F_EVENT_IDX) & 1;
    q->indirect = (features >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
    q->ring_size = (uint16_t)size;
    q->ring_mask = 0; /* meaningless for a packed ring of any size */
    q->chain_max = (uint16_t)(size < VIRTQ_MAX_CHAIN ? size : VIRTQ_MAX_CHAIN);
    q->signalled_used = 0; /* lap position of used_idx at the last needs_irq */
    q->signalled_used_valid = false;
    q->pk.in_order = (features >> VIRTIO_F_IN_ORDER) & 1;
    q->pk.avail_wrap = true; /* §2.8.1: both wrap counters start at 1 */
    q->pk.used_wrap = true;
    q->pk.last_avail = 0;
    q->pk.used_idx = 0;
    q->pk.inflight = 0;
    q->pk.free_slot = 0;
    q->pk.order_head = q->pk.order_tail = 0;
    q->pk.used_since_irq = 0;
    q->pk.unpop_slot = PK_NO_SLOT;
    q->pk.desc = desc;
    q->pk.driver_event = driver_event;
    q->pk.device_event = device_event;
    /* The device area is ours to write; do not trust what the driver left.
     * With event idx, ask for the first descriptor only, as a split ring's
     * zeroed avail_event does: the device is busy until it next runs dry. */
    pk_write_device_event(q, q->event_idx ? pk_event(VRING_PACKED_EVENT_FLAG_DESC, PK_EV_WRAP)
                                          : pk_event(VRING_PACKED_EVENT_FLAG_ENABLE, 0));
    q->broken = false;
    q->ready = true;
    return 0;
}

/* The chain being read: where its iovecs go and what they add up to. */
struct pk_walk {
    struct iovec *v, *stop; /* next iovec; end of the caller's array */
    uint64_t sum;
    bool writable;
};

static uint8_t pk_zero_len_buf;

/* One buffer: 0, or the error that breaks the queue. */
static inline __attribute__((always_inline)) int
pk_take(struct virtq *q, struct virtq_elem *e, struct pk_walk *w, uint64_t addr, uint32_t len,
        bool writable)
{
    if (writable != w->writable) {
        /* §2.8.4.1: readable buffers first, then writable ones. */
        if (!writable)
            return -EIO;
        w->writable = true;
        e->nout = (uint16_t)(w->v - e->iov);
        e->out_len = (uint32_t)w->sum;
    }
    void *p;
    if (kick_unlikely(!gmem_region_ptr(&q->ram0, addr, len, &p))) {
        p = gmem_ptr_slow(q->mem, addr, len);
        if (!p) {
            /* Zero bytes need no memory. */
            if (len)
                return -EIO;
            p = &pk_zero_len_buf;
        }
    }
    if (kick_unlikely(w->v == w->stop))
        return -ENOBUFS;
    w->v->iov_base = p;
    w->v->iov_len = len;
    w->v++;
    w->sum += len;
    return 0;
}

/* The totals once the chain has ended; 0 or the error. */
static inline __attribute__((always_inline)) int pk_finish(struct virtq_elem *e,
                                                           const struct pk_walk *w)
{
    /* Both directions at once: the readable part is no larger. */
    if (kick_unlikely(w->sum >> 32))
        return -EIO;
    unsigned n = (unsigned)(w->v - e->iov);
    if (w->writable) {
        e->nin = (uint16_t)(n - e->nout);
        e->in_len = (uint32_t)w->sum - e->out_len;
    } else {
        e->nout = (uint16_t)n;
        e->nin = 0;
        e->out_len = (uint32_t)w->sum;
        e->in_len = 0;
    }
    return 0;
}

/* The chain consumed: a slot for it, and the ring position moves on. */
static inline __attribute__((always_inline)) int
pk_popped(struct virtq *q, struct virtq_elem *e, uint16_t id, unsigned ndescs, unsigned pos,
          bool wrap)
{
    /* inflight < size before this chain, so fewer than size chains are in
     * flight and a slot is free. */
    struct virtq_packed_slot *slots = q->pk.slots;
    unsigned slot;
    if (q->pk.in_order) {
        slot = q->pk.order_tail;
        q->pk.order_tail = (uint16_t)(slot + 1 == q->ring_size ? 0 : slot + 1);
    } else {
        slot = q->pk.free_slot;
        q->pk.free_slot = slots[slot].next_free;
    }
    struct virtq_packed_slot *s = &slots[slot];
    s->id = id;
    s->ndescs = (uint16_t)ndescs;
    s->in_len = e->in_len;
    s->state = SLOT_POPPED;
    q->pk.unpop_slot = (uint16_t)slot;
    q->pk.unpop_avail = q->pk.last_avail;
    q->pk.unpop_wrap = q->pk.avail_wrap;
    q->pk.last_avail = (uint16_t)pos;
    q->pk.avail_wrap = wrap;
    q->pk.inflight = (uint16_t)(q->pk.inflight + ndescs);
    e->head = (uint16_t)slot;
    return 1;
}

/* A chain that is one indirect descriptor d (at the position before pos):
 * its table, walked in order. */
__attribute__((noinline)) static int pk_pop_indirect(struct virtq *q, struct virtq_elem *e,
                                                     const struct vring_packed_desc *d,
                                                     unsigned flags, unsigned pos, bool wrap)
{
    uint64_t addr = KICK_READ_ONCE(d->addr);
    uint32_t len = KICK_READ_ONCE(d->len);
    uint16_t id = KICK_READ_ONCE(d->id);
    struct pk_walk walk = { .v = e->iov, .stop = e->iov + e->iov_cap, .sum = 0,
                            .writable = false };
    struct pk_walk *w = &walk;
    if ((flags & VRING_DESC_F_NEXT) || !q->indirect || len == 0 ||
        len % sizeof(struct vring_packed_desc) ||
        len > VIRTQ_MAX_CHAIN * sizeof(struct vring_packed_desc))
        return pk_fail(q, -EIO);
    if (!q->indirect || len == 0 || len % sizeof(struct vring_packed_desc) ||
        len > VIRTQ_MAX_CHAIN * sizeof(struct vring_packed_desc))
        return -EIO;
    const struct vring_packed_desc *t = gmem_ptr(q->mem, addr, len);
    if (!t || (uintptr_t)t % alignof(struct vring_packed_desc))
        return pk_fail(q, -EIO);
    unsigned n = len / sizeof(struct vring_packed_desc);
    for (unsigned i = 0; i < n; i++) {
        uint64_t a = KICK_READ_ONCE(t[i].addr);
        uint32_t l = KICK_READ_ONCE(t[i].len);
        uint16_t tflags = KICK_READ_ONCE(t[i].flags);
        if (tflags & VRING_DESC_F_INDIRECT)
            return pk_fail(q, -EIO);
        int rc = pk_take(q, e, w, a, l, tflags & VRING_DESC_F_WRITE);
        if (rc)
            return pk_fail(q, rc);
    }
    int rc = pk_finish(e, w);
    if (rc)
        return pk_fail(q, rc);
    return pk_popped(q, e, id, 1, pos, wrap);
}

/* Nothing at last_avail. With event idx, ask to be kicked when something
 * arrives there (once per idle period), then look again after a full
 * barrier: a descriptor published while we wrote may have gone unkicked. */
__attribute__((noinline)) static int pk_pop_empty(struct virtq *q, struct virtq_elem *e)
{
    if (!q->event_idx)
        return 0;
    uint32_t want = pk_event(VRING_PACKED_EVENT_FLAG_DESC,
                             (uint16_t)(q->pk.last_avail | (q->pk.avail_wrap ? PK_EV_WRAP : 0)));
    if (q->pk.device_event_shadow == want)
        return 0;
    pk_write_device_event(q, want);
    kick_mb();
    if (!pk_is_avail(KICK_READ_ONCE(q->pk.desc[q->pk.last_avail].flags), q->pk.avail_wrap))
        return 0;
    return virtq_packed_pop(q, e); /* the event is in place now: no recursion */
}

int virtq_packed_pop(struct virtq *q, struct virtq_elem *e)
{
    struct vring_packed_desc *ring = q->pk.desc;
    if (!ring)
        return 0;
    unsigned size = q->ring_size;
    unsigned pos = q->pk.last_avail;
    bool wrap = q->pk.avail_wrap;
    unsigned flags = KICK_READ_ONCE(ring[pos].flags);
    if (!pk_is_avail(flags, wrap))
        return pk_pop_empty(q, e);
    /* The descriptors' other fields are valid only once we saw the flags. */
    kick_rmb();

    /* Longest chain allowed: what is not in flight, and the chain cap. */
    unsigned limit = size - q->pk.inflight;
    if (limit > q->chain_max)
        limit = q->chain_max;
    if (kick_unlikely(limit == 0))
        return pk_fail(q, -EIO); /* more available than the ring holds */

    struct pk_walk w = { .v = e->iov, .stop = e->iov + e->iov_cap, .sum = 0, .writable = false };
    unsigned ndescs = 0;
    int rc;
    for (;;) {
        const struct vring_packed_desc *d = &ring[pos];
        if (ndescs) {
            flags = KICK_READ_ONCE(d->flags);
            if (kick_unlikely(!pk_is_avail(flags, wrap)))
                return pk_fail(q, -EIO);
        }
        ndescs++;
        if (++pos == size) {
            pos = 0;
            wrap = !wrap;
        }
        if (kick_unlikely(flags & VRING_DESC_F_INDIRECT)) {
            /* §2.8.8: an indirect descriptor is a chain on its own. */
            if (ndescs != 1)
                return pk_fail(q, -EIO);
            return pk_pop_indirect(q, e, d, flags, pos, wrap);
        }
        rc = pk_take(q, e, &w, KICK_READ_ONCE(d->addr), KICK_READ_ONCE(d->len),
                     flags & VRING_DESC_F_WRITE);
        if (kick_unlikely(rc))
            return pk_fail(q, rc);
        if (!(flags & VRING_DESC_F_NEXT)) {
            rc = pk_finish(e, &w);
            if (kick_unlikely(rc))
                return pk_fail(q, rc);
            return pk_popped(q, e, KICK_READ_ONCE(d->id), ndescs, pos, wrap);
        }
        if (kick_unlikely(ndescs == limit))
            return pk_fail(q, -EIO);
    }
}

void virtq_packed_unpop(struct virtq *q)
{
    unsigned slot = q->pk.unpop_slot;
    if (!q->pk.desc || slot == PK_NO_SLOT || q->pk.slots[slot].state != SLOT_POPPED)
        return;
    struct virtq_packed_slot *s = &q->pk.slots[slot];
    s->state = SLOT_FREE;
    if (q->pk.in_order) {
        q->pk.order_tail = (uint16_t)slot; /* it was the last one handed out */
    } else {
        s->next_free = q->pk.free_slot;
        q->pk.free_slot = (uint16_t)slot;
    }
    q->pk.inflight = (uint16_t)(q->pk.inflight - s->ndescs);
    q->pk.last_avail = q->pk.unpop_avail;
    q->pk.avail_wrap = q->pk.unpop_wrap;
    q->pk.unpop_slot = PK_NO_SLOT;
}

/* One used descriptor at used_idx standing for skip ring positions. */
static void pk_write_used(struct virtq *q, uint16_t id, uint32_t len, unsigned skip)
{
    struct vring_packed_desc *d = &q->pk.desc[q->pk.used_idx];
    unsigned flags = q->pk.used_wrap ? PK_F_AVAIL | PK_F_USED : 0;
    if (len)
        flags |= VRING_DESC_F_WRITE;
    KICK_WRITE_ONCE(d->id, id);
    KICK_WRITE_ONCE(d->len, len);
    /* id and len before the flags that hand the descriptor over. */
    kick_wmb();
    KICK_WRITE_ONCE(d->flags, (uint16_t)flags);
    unsigned idx = q->pk.used_idx + skip;
    if (idx >= q->ring_size) {
        idx -= q->ring_size;
        q->pk.used_wrap = !q->pk.used_wrap;
    }
    q->pk.used_idx = (uint16_t)idx;
    q->pk.inflight = (uint16_t)(q->pk.inflight - skip);
    q->pk.used_since_irq += skip;
}

/* In order: write out the finished buffers at the front, folding each into
 * the next one when the driver may take it as completely used. */
static void pk_flush_in_order(struct virtq *q)
{
    struct virtq_packed_slot *slots = q->pk.slots;
    unsigned size = q->ring_size;
    unsigned head = q->pk.order_head;
    unsigned skip = 0;
    while (slots[head].state == SLOT_DONE) {
        struct virtq_packed_slot *s = &slots[head];
        s->state = SLOT_FREE;
        skip += s->ndescs;
        head = head + 1 == size ? 0 : head + 1;
        if (slots[head].state != SLOT_DONE || s->len != s->in_len) {
            pk_write_used(q, s->id, s->len, skip);
            skip = 0;
        }
    }
    q->pk.order_head = (uint16_t)head;
}

void virtq_packed_push(struct virtq *q, uint16_t head, uint32_t len)
{
    /* A handle we did not hand out, or pushed twice, is the model's bug,
     * not the guest's: ignored. */
    if (!q->pk.desc || head >= q->ring_size)
        return;
    struct virtq_packed_slot *s = &q->pk.slots[head];
    if (s->state != SLOT_POPPED)
        return;
    if (q->pk.unpop_slot == head)
        q->pk.unpop_slot = PK_NO_SLOT;
    if (!q->pk.in_order) {
        pk_write_used(q, s->id, len, s->ndescs);
        s->state = SLOT_FREE;
        s->next_free = q->pk.free_slot;
        q->pk.free_slot = head;
        return;
    }
    s->len = len;
    s->state = SLOT_DONE;
    pk_flush_in_order(q);
}

bool virtq_packed_needs_irq(struct virtq *q)
{
    if (!q->pk.desc)
        return false;
    /* Our flags stores must precede the load of the driver's suppression
     * word (pairs with the driver's barrier after it re-enables): the full
     * barrier virtq_needs_irq issues before it dispatches here. */
    uint32_t ev = KICK_READ_ONCE(*q->pk.driver_event);
    unsigned size = q->ring_size;
    unsigned since = q->pk.used_since_irq;
    unsigned old = q->signalled_used;
    q->pk.used_since_irq = 0;
    q->signalled_used = (uint16_t)pk_lap_pos(q->pk.used_idx, q->pk.used_wrap, size);

    unsigned flags = (ev >> 16) & 3u;
    if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
        return false;
    if (flags != VRING_PACKED_EVENT_FLAG_DESC || !q->event_idx)
        return true;
    unsigned off = ev & (PK_EV_WRAP - 1u);
    if (off >= size)
        return true;
    /* Interrupt iff the descriptor the driver named is among the positions
     * made used since the last decision: [old, old + since) on the cycle. */
    unsigned event = pk_lap_pos(off, ev & PK_EV_WRAP, size);
    unsigned dist = event >= old ? event - old : event + 2 * size - old;
    return dist < since;
}

void virtq_packed_set_notify(struct virtq *q, bool enable)
{
    if (!q->pk.desc)
        return;
    uint32_t ev;
    if (!enable)
        ev = pk_event(VRING_PACKED_EVENT_FLAG_DISABLE, 0);
    else if (q->event_idx)
        ev = pk_event(VRING_PACKED_EVENT_FLAG_DESC,
                      (uint16_t)(q->pk.last_avail | (q->pk.avail_wrap ? PK_EV_WRAP : 0)));
    else
        ev = pk_event(VRING_PACKED_EVENT_FLAG_ENABLE, 0);
    pk_write_device_event(q, ev);
    /* The enable must be visible before the caller looks for work again. */
    if (enable)
        kick_mb();
}

bool virtq_packed_has_avail(struct virtq *q)
{
    if (!q->pk.desc)
        return false;
    return pk_is_avail(KICK_READ_ONCE(q->pk.desc[q->pk.last_avail].flags), q->pk.avail_wrap);
}
