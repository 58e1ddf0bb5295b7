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
#include "virtio/virtq_ram0.h"

#define PK_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PK_F_USED  (1u << VRING_PACKED_DESC_F_USED)
#define PK_F_LAP   (PK_F_AVAIL | PK_F_USED)
#define PK_EV_WRAP (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define PK_NO_SLOT 0xffffu
#define PK_MAX_SIZE 32768u /* §2.8: up to 2^15 entries */

/* A slot's tag, read and written whole by the hot paths:
 * - free: 0 in the upper half (out of order: the next free slot below);
 * - popped: the buffer id below, the chain's ring descriptors (at least 1,
 *   at most VIRTQ_MAX_CHAIN) in bits 16..29;
 * - in order, pushed but not yet written out: PK_TAG_DONE as well, and
 *   PK_TAG_FOLD when the used length equals the writable length. */
#define PK_TAG_NDESCS_SHIFT 16
#define PK_TAG_NDESCS_MASK  0x3fffu
#define PK_TAG_FOLD (1u << 30)
#define PK_TAG_DONE (1u << 31)

struct virtq_packed_slot {
    uint32_t tag;
    uint32_t len; /* in order: writable bytes once popped, used bytes once pushed */
};

static inline unsigned pk_tag_ndescs(uint32_t tag)
{
    return (tag >> PK_TAG_NDESCS_SHIFT) & PK_TAG_NDESCS_MASK;
}

/* The event suppression words are read and written as one 32-bit value: the
 * offset/wrap half and the flags half must never be seen torn. */
static inline uint32_t pk_event(uint16_t flags, uint16_t off_wrap)
{
    return (uint32_t)flags << 16 | off_wrap;
}

/* The AVAIL/USED pattern of an available descriptor in the lap whose wrap
 * counter is wrap: AVAIL alone (1) or USED alone (0). flags ^ pattern has
 * both bits clear exactly when the descriptor is available. */
static inline unsigned pk_avail_pattern(bool wrap)
{
    return wrap ? PK_F_AVAIL : PK_F_USED;
}

/* Also the state virtq_reset and a failed start leave: ring_size 0 makes
 * every handle out of range for virtq_packed_push. */
__attribute__((noinline, cold)) static int pk_fail(struct virtq *q, int err)
{
    /* Forget the rings; every entry point then sees a stopped queue. */
    q->broken = true;
    q->pk.desc = NULL;
    q->pk.driver_event = NULL;
    q->pk.device_event = NULL;
    q->ring_size = 0;
    if (q->dev)
        virtio_dev_needs_reset(q->dev);
    return err;
}

static inline bool pk_is_avail(unsigned flags, bool wrap)
{
    return !((flags ^ pk_avail_pattern(wrap)) & PK_F_LAP);
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
    q->ring_size = 0; /* no handle is valid until the slots are */

    if (mem == NULL || size == 0 || size > q->max_size || size > PK_MAX_SIZE)
        return -EINVAL;
    /* §2.8.10.1: descriptor ring 16, event suppression structures 4. */
    struct vring_packed_desc *desc =
        pk_map(mem, q->desc_gpa, (uint64_t)size * sizeof(struct vring_packed_desc), 16);
    const uint32_t *driver_event = pk_map(mem, q->avail_gpa, sizeof(uint32_t), 4);
    uint32_t *device_event = pk_map(mem, q->used_gpa, sizeof(uint32_t), 4);
    if (!desc || !driver_event || !device_event)
        return -EINVAL;

    bool in_order = (features >> VIRTIO_F_IN_ORDER) & 1;
    free(q->pk.slots);
    q->pk.slots = calloc(size, sizeof(struct virtq_packed_slot));
    if (!q->pk.slots)
        return -ENOMEM;
    /* The free slots form a list through their tags. In order, slots are
     * handed out and come back in turn: the same links closed into a ring,
     * which every slot rejoins where it was, give pop one way to take a slot
     * either way. */
    for (unsigned i = 0; i < size; i++)
        q->pk.slots[i].tag = i + 1 < size ? i + 1 : in_order ? 0 : PK_NO_SLOT;

    q->mem = mem;
    q->ram0 = mem->r[0];
    q->event_idx = (features >> VIRTIO_RING_F_EVENT_IDX) & 1;
    q->indirect = (features >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
    q->ring_size = (uint16_t)size;
    q->ring_mask = 0; /* meaningless for a packed ring of any size */
    q->chain_max = (uint16_t)(size < VIRTQ_MAX_CHAIN ? size : VIRTQ_MAX_CHAIN);
    q->signalled_used = 0; /* unused: used_since_irq locates the last decision */
    q->signalled_used_valid = false;
    q->pk.in_order = in_order;
    q->pk.avail_wrap = true; /* §2.8.1: both wrap counters start at 1 */
    q->pk.used_wrap = true;
    q->pk.last_avail = 0;
    q->pk.used_idx = 0;
    q->pk.inflight = 0;
    q->pk.free_slot = 0;
    q->pk.order_head = 0;
    q->pk.order_tail = 0; /* unused: free_slot serves in order too */
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

/* The chain being read by the general walk: where its iovecs go and what
 * they add up to. */
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
    void *p = gmem_ptr(q->mem, addr, len);
    if (!p) {
        /* Zero bytes need no memory. */
        if (len)
            return -EIO;
        p = &pk_zero_len_buf;
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

/* The chain consumed, in slot: the ring position moves on by its
 * descriptors (ndescs <= size: past the ring's end at most once). */
static inline __attribute__((always_inline)) int
pk_consumed(struct virtq *q, struct virtq_elem *e, unsigned slot, unsigned ndescs)
{
    /* virtq_unpop steps back by the slot's ndescs: this is all it needs. */
    q->pk.unpop_slot = (uint16_t)slot;
    q->pk.inflight = (uint16_t)(q->pk.inflight + ndescs);
    e->head = (uint16_t)slot;
    unsigned pos = q->pk.last_avail + ndescs;
    if (pos >= q->ring_size) {
        pos -= q->ring_size;
        q->pk.avail_wrap = !q->pk.avail_wrap;
    }
    q->pk.last_avail = (uint16_t)pos;
    return 1;
}

/* A slot for the chain just read. The caller has checked inflight + ndescs
 * <= size, so fewer than size chains are in flight and a slot is free. */
static inline __attribute__((always_inline)) int
pk_popped(struct virtq *q, struct virtq_elem *e, unsigned id, unsigned ndescs)
{
    struct virtq_packed_slot *s = &q->pk.slots[q->pk.free_slot];
    unsigned slot = q->pk.free_slot;
    q->pk.free_slot = (uint16_t)s->tag;
    s->tag = id | ndescs << PK_TAG_NDESCS_SHIFT;
    s->len = e->in_len; /* in order: may the buffer be folded into a later one? */
    return pk_consumed(q, e, slot, ndescs);
}

/* A chain that is one indirect descriptor d: its table, walked in order. */
__attribute__((noinline, cold)) static int
pk_pop_indirect(struct virtq *q, struct virtq_elem *e, const struct vring_packed_desc *d,
                unsigned flags)
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
    return pk_popped(q, e, id, 1);
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

/* One direct buffer in region 0 for the fast walk, stored at v; false (v
 * untouched) hands the chain over to the general walk. */
static inline __attribute__((always_inline)) bool
pk_fast_take(const struct virtq *q, const struct vring_packed_desc *d, struct iovec *v,
             uint32_t *len)
{
    uint64_t addr = KICK_READ_ONCE(d->addr);
    uint32_t l = KICK_READ_ONCE(d->len);
    void *p;
    if (kick_unlikely(!virtq_ram0_ptr(&q->ram0, addr, l, &p)))
        return false;
    v->iov_base = p;
    v->iov_len = l;
    *len = l;
    return true;
}

/* Every chain, from its first descriptor on: indirect ones, chains running
 * past the ring's end, buffers outside region 0, zero-length buffers
 * anywhere, a full iovec array and every violation. virtq_packed_pop hands
 * over here having changed nothing in q, so this is a pop of its own: every
 * descriptor is read afresh and decided on these copies alone (the first
 * one included: virtq_packed_pop saw it available, so finding it otherwise
 * now is the driver taking back what it published). */
__attribute__((noinline, cold)) static int pk_pop_general(struct virtq *q, struct virtq_elem *e)
{
    struct vring_packed_desc *ring = q->pk.desc;
    unsigned size = q->ring_size;
    unsigned pos = q->pk.last_avail;
    bool wrap = q->pk.avail_wrap;

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
        unsigned flags = KICK_READ_ONCE(d->flags);
        if (kick_unlikely(!pk_is_avail(flags, wrap)))
            return pk_fail(q, -EIO);
        ndescs++;
        if (++pos == size) {
            pos = 0;
            wrap = !wrap;
        }
        if (kick_unlikely(flags & VRING_DESC_F_INDIRECT)) {
            /* §2.8.8: an indirect descriptor is a chain on its own. */
            if (ndescs != 1)
                return pk_fail(q, -EIO);
            return pk_pop_indirect(q, e, d, flags);
        }
        rc = pk_take(q, e, &w, KICK_READ_ONCE(d->addr), KICK_READ_ONCE(d->len),
                     flags & VRING_DESC_F_WRITE);
        if (kick_unlikely(rc))
            return pk_fail(q, rc);
        if (!(flags & VRING_DESC_F_NEXT)) {
            rc = pk_finish(e, &w);
            if (kick_unlikely(rc))
                return pk_fail(q, rc);
            return pk_popped(q, e, KICK_READ_ONCE(d->id), ndescs);
        }
        if (kick_unlikely(ndescs == limit))
            return pk_fail(q, -EIO);
    }
}

/* The fast walk takes what a block or net request looks like: direct
 * descriptors with buffers in region 0, readable ones then writable ones,
 * ending before the ring does and within the caller's iovecs. At the first
 * thing it does not take it hands the whole chain to pk_pop_general, having
 * stored nothing in q; every way out is a tail call. */
int virtq_packed_pop(struct virtq *q, struct virtq_elem *e)
{
    struct vring_packed_desc *ring = q->pk.desc;
    if (kick_unlikely(!ring))
        return 0;
    unsigned pos = q->pk.last_avail;
    unsigned lap = pk_avail_pattern(q->pk.avail_wrap);
    const struct vring_packed_desc *d = &ring[pos];
    /* Available: AVAIL/USED clear in flags; WRITE, INDIRECT and NEXT are as
     * the driver set them. */
    unsigned flags = KICK_READ_ONCE(d->flags) ^ lap;
    if (flags & PK_F_LAP)
        return pk_pop_empty(q, e);
    /* The descriptors' other fields are valid only once we saw the flags. */
    kick_rmb();

    /* One bound for the caller's array and the ring's end (which also keeps
     * the chain within VIRTQ_MAX_CHAIN when the ring is no longer). */
    unsigned budget = q->ring_size - pos;
    if (budget > e->iov_cap)
        budget = e->iov_cap;
    struct iovec *v = e->iov;
    struct iovec *stop = v + budget;
    if (kick_unlikely(v == stop))
        return pk_pop_general(q, e);
    uint64_t sum = 0;
    uint32_t len;

    /* The device-readable part. v == stop is tested before d moves on, so d
     * never leaves the ring. */
    for (;;) {
        if (kick_unlikely(flags & (PK_F_LAP | VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE)))
            break;
        if (kick_unlikely(!pk_fast_take(q, d, v, &len)))
            return pk_pop_general(q, e);
        v++;
        sum += len;
        if (!(flags & VRING_DESC_F_NEXT)) {
            e->nout = (uint16_t)(v - e->iov);
            e->nin = 0;
            e->out_len = (uint32_t)sum;
            e->in_len = 0;
            goto done;
        }
        if (kick_unlikely(v == stop))
            return pk_pop_general(q, e);
        d++;
        flags = KICK_READ_ONCE(d->flags) ^ lap;
    }
    /* Not available, indirect, or the first writable descriptor. */
    if (kick_unlikely(flags & (PK_F_LAP | VRING_DESC_F_INDIRECT)))
        return pk_pop_general(q, e);
    e->nout = (uint16_t)(v - e->iov);
    e->out_len = (uint32_t)sum;
    if (kick_unlikely(!pk_fast_take(q, d, v, &len)))
        return pk_pop_general(q, e);
    v++;
    sum += len;
    if (!(flags & VRING_DESC_F_NEXT)) {
        /* The only writable descriptor, and the last: a block request's
         * status byte, a one-buffer receive. */
        e->nin = 1;
        e->in_len = len;
        goto done;
    }
    /* The rest of the device-writable part. WRITE flipped, so one test also
     * catches a readable descriptor after a writable one. */
    for (;;) {
        if (kick_unlikely(v == stop))
            return pk_pop_general(q, e);
        d++;
        flags = KICK_READ_ONCE(d->flags) ^ lap ^ VRING_DESC_F_WRITE;
        if (kick_unlikely(flags & (PK_F_LAP | VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE)))
            return pk_pop_general(q, e);
        if (kick_unlikely(!pk_fast_take(q, d, v, &len)))
            return pk_pop_general(q, e);
        v++;
        sum += len;
        if (!(flags & VRING_DESC_F_NEXT))
            break;
    }
    e->nin = (uint16_t)(v - e->iov - e->nout);
    e->in_len = (uint32_t)sum - e->out_len;

done:;
    /* What the general walk checks on the way, checked once on the whole
     * chain: 32-bit totals (the readable part is no larger), no more
     * descriptors than are not in flight, and the chain cap. A chain failing
     * here is a violation wherever the general walk would have caught it
     * (it fits the caller's iovecs, so it is never -ENOBUFS). */
    unsigned ndescs = (unsigned)(v - e->iov);
    if (kick_unlikely(sum >> 32) || kick_unlikely(ndescs + q->pk.inflight > q->ring_size) ||
        kick_unlikely(ndescs > VIRTQ_MAX_CHAIN))
        return pk_fail(q, -EIO);
    return pk_popped(q, e, KICK_READ_ONCE(d->id), ndescs);
}

void virtq_packed_unpop(struct virtq *q)
{
    unsigned slot = q->pk.unpop_slot;
    if (!q->pk.desc || slot == PK_NO_SLOT)
        return;
    struct virtq_packed_slot *s = &q->pk.slots[slot];
    unsigned n = pk_tag_ndescs(s->tag);
    if (n == 0 || (s->tag & PK_TAG_DONE))
        return; /* pushed meanwhile */
    /* Back on the free list (in order: back in its place in the ring, as it
     * was the last one handed out). */
    s->tag = q->pk.free_slot;
    q->pk.free_slot = (uint16_t)slot;
    q->pk.inflight = (uint16_t)(q->pk.inflight - n);
    /* Back over the chain's descriptors, across the ring's start if pop
     * crossed it (n <= size: at most once). */
    unsigned pos = q->pk.last_avail;
    if (pos < n) {
        pos += q->ring_size;
        q->pk.avail_wrap = !q->pk.avail_wrap;
    }
    q->pk.last_avail = (uint16_t)(pos - n);
    q->pk.unpop_slot = PK_NO_SLOT;
}

/* One used descriptor at used_idx standing for n ring positions. */
static inline __attribute__((always_inline)) void
pk_write_used(struct virtq *q, unsigned id, uint32_t len, unsigned n)
{
    unsigned idx = q->pk.used_idx;
    struct vring_packed_desc *d = &q->pk.desc[idx];
    bool wrap = q->pk.used_wrap;
    /* Both bits set on a wrap-1 lap, both clear on a wrap-0 lap (§2.8.2). */
    unsigned flags = (unsigned)wrap * PK_F_LAP + (len != 0) * VRING_DESC_F_WRITE;
    KICK_WRITE_ONCE(d->id, (uint16_t)id);
    KICK_WRITE_ONCE(d->len, len);
    /* id and len before the flags that hand the descriptor over. */
    kick_wmb();
    KICK_WRITE_ONCE(d->flags, (uint16_t)flags);
    idx += n;
    if (idx >= q->ring_size) {
        idx -= q->ring_size;
        q->pk.used_wrap = !wrap;
    }
    q->pk.used_idx = (uint16_t)idx;
    q->pk.inflight = (uint16_t)(q->pk.inflight - n);
    q->pk.used_since_irq += n;
}

/* In order: the buffer is done; write out the finished buffers at the
 * front, folding each into the next one when the driver may take it as
 * completely used. */
__attribute__((noinline)) static void pk_push_in_order(struct virtq *q,
                                                       struct virtq_packed_slot *s,
                                                       uint32_t len)
{
    uint32_t tag = s->tag;
    if (pk_tag_ndescs(tag) == 0 || (tag & PK_TAG_DONE))
        return; /* not handed out, or pushed already */
    s->tag = tag | PK_TAG_DONE | (len == s->len ? PK_TAG_FOLD : 0);
    s->len = len;

    struct virtq_packed_slot *slots = q->pk.slots;
    unsigned size = q->ring_size;
    unsigned head = q->pk.order_head;
    unsigned skip = 0;
    while (slots[head].tag & PK_TAG_DONE) {
        struct virtq_packed_slot *h = &slots[head];
        uint32_t htag = h->tag;
        skip += pk_tag_ndescs(htag);
        head = head + 1 == size ? 0 : head + 1;
        h->tag = head; /* free, linked to the next in turn */
        if (!(slots[head].tag & PK_TAG_DONE) || !(htag & PK_TAG_FOLD)) {
            pk_write_used(q, (uint16_t)htag, h->len, skip);
            skip = 0;
        }
    }
    q->pk.order_head = (uint16_t)head;
}

void virtq_packed_push(struct virtq *q, uint16_t head, uint32_t len)
{
    /* A handle we did not hand out, or pushed twice, is the model's bug,
     * not the guest's: ignored. ring_size is 0 while the ring is not mapped
     * (stopped, broken, reset), so that is covered too. */
    if (kick_unlikely(head >= q->ring_size))
        return;
    struct virtq_packed_slot *s = &q->pk.slots[head];
    if (kick_unlikely(q->pk.in_order)) {
        pk_push_in_order(q, s, len);
        return;
    }
    uint32_t tag = s->tag;
    unsigned n = tag >> PK_TAG_NDESCS_SHIFT; /* no DONE or FOLD out of order */
    if (kick_unlikely(n == 0))
        return;
    s->tag = q->pk.free_slot;
    q->pk.free_slot = head;
    pk_write_used(q, (uint16_t)tag, len, n);
}

bool virtq_packed_needs_irq(struct virtq *q)
{
    const uint32_t *driver_event = q->pk.driver_event;
    if (!driver_event)
        return false;
    /* Our flags stores must precede the load of the driver's suppression
     * word (pairs with the driver's barrier after it re-enables): the full
     * barrier virtq_needs_irq issues before it dispatches here. */
    uint32_t ev = KICK_READ_ONCE(*driver_event);
    unsigned since = q->pk.used_since_irq;
    q->pk.used_since_irq = 0;

    /* ENABLE with the reserved flag bits clear, the common case, in one
     * compare; the full decoding below says the same for it. */
    if (kick_likely(ev >> 16 == VRING_PACKED_EVENT_FLAG_ENABLE))
        return true;
    unsigned flags = (ev >> 16) & 3u;
    if (flags != VRING_PACKED_EVENT_FLAG_DESC || !q->event_idx)
        return flags != VRING_PACKED_EVENT_FLAG_DISABLE;
    unsigned size = q->ring_size;
    unsigned off = ev & (PK_EV_WRAP - 1u);
    if (off >= size)
        return true;
    /* Interrupt iff the descriptor the driver named is among the since
     * positions made used before used_idx: now - event in [1, since] on the
     * cycle (now == event is a whole cycle back). */
    unsigned now = pk_lap_pos(q->pk.used_idx, q->pk.used_wrap, size);
    unsigned event = pk_lap_pos(off, ev & PK_EV_WRAP, size);
    unsigned back = now > event ? now - event : now + 2 * size - event;
    return back <= since;
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
