/* Split virtqueue, device side (virtio 1.2 §2.7), and the queue interface's
 * dispatch to the packed ring (virtq_packed.c). A packed queue leaves the
 * split ring pointers NULL, so each entry point below reaches the packed code
 * from the branch it already has for a stopped queue: the split fast paths
 * carry no extra test.
 *
 * Everything the guest controls - avail->idx, ring entries, descriptors,
 * indirect tables, used_event - is read exactly once into a local and checked
 * there, so a guest rewriting its ring while we walk it gains nothing.
 *
 * Choices the spec leaves open:
 * - Zero-length data descriptors are kept as iovecs of length 0 (so iovec
 *   positions match descriptor positions); their address is not required to
 *   be in guest RAM (outside it, iov_base points at a dummy byte; exactly at
 *   the end of region 0, at the end of its mapping).
 * - An indirect table must be 8-byte aligned (the natural alignment of a
 *   descriptor, which every driver's allocator gives); anything else is a ring
 *   violation rather than an unaligned host access.
 * - A chain whose readable or writable bytes add up to 4 GiB or more is a ring
 *   violation: the totals in virtq_elem are 32-bit, and the used length is too.
 * - Kicks are wanted by default. Without event idx used->flags stays 0 until
 *   virtq_set_notify(false); with event idx virtq_pop() points avail_event at
 *   where it stopped whenever it finds the ring empty, so a device that pops
 *   until empty on each kick never misses one and gets one kick per idle
 *   period (virtq_set_notify(false) then only holds until the next empty pop).
 * - VIRTIO_F_NOTIFY_ON_EMPTY (legacy-only) is not implemented; no device
 *   model offers it.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio_dev.h"
#include "virtio/virtq.h"
#include "virtio/virtq_ram0.h"

/* Kept out of line and cold so the checks on the fast path are a compare and
 * a never-taken jump each. */
__attribute__((noinline, cold)) static int virtq_fail(struct virtq *q, int err)
{
    /* Forget the rings: every entry point then sees a stopped queue
     * without testing broken on its fast path. */
    q->broken = true;
    q->signalled_used_valid = false; /* virtq_needs_irq's "rings mapped" */
    q->desc = NULL;
    q->avail = NULL;
    q->used = NULL;
    q->used_event = NULL;
    q->avail_event = NULL;
    if (q->dev)
        virtio_dev_needs_reset(q->dev);
    return err;
}

void virtq_reset(struct virtq *q)
{
    uint16_t max_size = q->max_size;
    struct virtio_dev *dev = q->dev;
    unsigned index = q->index;

    free(q->pk.slots);
    memset(q, 0, sizeof(*q));
    q->max_size = max_size;
    q->size = max_size;
    q->dev = dev;
    q->index = index;
}

/* Host pointer for a ring of len bytes at gpa, which must be align-aligned
 * both in guest and in host terms (the latter only fails for an oddly
 * registered region, but we dereference it as a typed pointer). */
static void *virtq_map_ring(const struct gmem *mem, uint64_t gpa, uint64_t len, unsigned align)
{
    if (gpa % align)
        return NULL;
    void *p = gmem_ptr(mem, gpa, len);
    if (p && (uintptr_t)p % align)
        return NULL;
    return p;
}

int virtq_start(struct virtq *q, const struct gmem *mem, uint64_t features)
{
    unsigned size = q->size;
    bool event_idx = (features >> VIRTIO_RING_F_EVENT_IDX) & 1;
    /* used_event trails the avail ring and avail_event the used ring; both
     * are part of the ring's extent only when event idx is on. */
    uint64_t event_bytes = event_idx ? sizeof(uint16_t) : 0;

    /* First, for either ring: virtq_needs_irq reads used_event on its word. */
    q->signalled_used_valid = false;
    if ((features >> VIRTIO_F_RING_PACKED) & 1)
        return virtq_packed_start(q, mem, features);
    q->packed = false;
    /* The packed entry points are reached from the split ones' stopped
     * branches and find nothing to do through these. */
    q->pk.desc = NULL;
    q->pk.driver_event = NULL;
    q->ready = false;
    q->mem = NULL;
    q->desc = NULL;
    q->avail = NULL;
    q->used = NULL;
    q->used_event = NULL;
    q->avail_event = NULL;

    if (mem == NULL || size == 0 || size > q->max_size || (size & (size - 1)))
        return -EINVAL;

    /* §2.7: descriptor table 16, available ring 2, used ring 4 bytes. */
    struct vring_desc *desc =
        virtq_map_ring(mem, q->desc_gpa, (uint64_t)size * sizeof(struct vring_desc), 16);
    struct vring_avail *avail = virtq_map_ring(
        mem, q->avail_gpa,
        sizeof(struct vring_avail) + (uint64_t)size * sizeof(uint16_t) + event_bytes, 2);
    struct vring_used *used = virtq_map_ring(
        mem, q->used_gpa,
        sizeof(struct vring_used) + (uint64_t)size * sizeof(struct vring_used_elem) + event_bytes,
        4);
    if (!desc || !avail || !used)
        return -EINVAL;

    q->mem = mem;
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    if (event_idx) {
        q->used_event = &avail->ring[size];
        q->avail_event = (uint16_t *)&used->ring[size];
    }
    q->event_idx = event_idx;
    q->indirect = (features >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
    q->ring_size = (uint16_t)size;
    q->ring_mask = size - 1;
    q->chain_max = (uint16_t)(size < VIRTQ_MAX_CHAIN ? size : VIRTQ_MAX_CHAIN);
    /* Regions are only ever added, never moved or dropped, so this copy
     * stays a region of the map for as long as the queue runs. */
    q->ram0 = mem->r[0];
    q->last_avail = 0;
    q->used_idx = 0;
    q->signalled_used = 0;
    q->signalled_used_valid = false;
    q->broken = false;
    q->ready = true;
    return 0;
}

/* The descriptor the walk could not store: the caller's iovecs, or the
 * table, ran out. Both break the queue; the errno says whose fault it is. */
__attribute__((noinline, cold)) static int
virtq_overflow(struct virtq *q, const struct virtq_elem *e, const struct iovec *v,
               const struct vring_desc *table, unsigned limit, const struct vring_desc *d)
{
    unsigned n = (unsigned)(v - e->iov);
    if (n >= VIRTQ_MAX_CHAIN || n < e->iov_cap)
        return virtq_fail(q, -EIO); /* longer than the table allows: a loop */
    /* The caller's array is full. A chain that ends within its table is just
     * too long for this caller; one that does not is a loop. */
    for (unsigned steps = 0; steps < limit; steps++) {
        uint16_t flags = KICK_READ_ONCE(d->flags);
        if (!(flags & VRING_DESC_F_NEXT) || (flags & VRING_DESC_F_INDIRECT))
            return virtq_fail(q, -ENOBUFS);
        unsigned next = KICK_READ_ONCE(d->next);
        if (next >= limit)
            break;
        d = &table[next];
    }
    return virtq_fail(q, -EIO);
}

/* §2.7.5.3: only when negotiated; one level deep; the table descriptor ends
 * the chain (it may follow direct descriptors); a table is a whole number of
 * descriptors, at most VIRTQ_MAX_CHAIN. Its WRITE flag means nothing and is
 * ignored. NULL for a violation. (Nesting is refused by the walk, which knows
 * which table it is in.) */
static const struct vring_desc *virtq_indirect_table(const struct virtq *q, uint64_t addr,
                                                     uint32_t len, unsigned flags)
{
    if (!q->indirect || (flags & VRING_DESC_F_NEXT) || len == 0 ||
        len % sizeof(struct vring_desc) || len > VIRTQ_MAX_CHAIN * sizeof(struct vring_desc))
        return NULL;
    const struct vring_desc *table = gmem_ptr(q->mem, addr, len);
    /* A table placed over the ring's own is refused too: no driver does
     * that, and it would be the ring's table walked as an indirect one. */
    if (table && ((uintptr_t)table % alignof(struct vring_desc) || table == q->desc))
        return NULL;
    return table;
}

/* Zero bytes need no memory: a zero-length buffer is allowed anywhere and
 * gets a harmless host address. */
static uint8_t virtq_zero_len_buf;

/* The totals, once the chain has ended. */
static inline __attribute__((always_inline)) int
virtq_finish(struct virtq *q, struct virtq_elem *e, const struct iovec *v, uint64_t sum,
             unsigned writable)
{
    /* e is the caller's to ignore after a failure: filled in first, so the
     * check below is the last use of sum. */
    unsigned n = (unsigned)(v - e->iov);
    if (writable) {
        /* out_len, stored when the writable part began, is exact now. */
        e->nin = (uint16_t)(n - e->nout);
        e->in_len = (uint32_t)sum - e->out_len;
    } else {
        e->nout = (uint16_t)n;
        e->nin = 0;
        e->out_len = (uint32_t)sum;
        e->in_len = 0;
    }
    /* Both directions at once: the readable part is no larger. */
    if (kick_unlikely(sum >> 32))
        return virtq_fail(q, -EIO);
    return 1;
}

/* Every case, from descriptor d of the ring's own table on: indirect tables,
 * buffers outside region 0, zero-length buffers anywhere, a full iovec array,
 * and every violation. virtq_pop's fast walk hands over here at the first
 * descriptor it does not handle, before taking anything from it, with what it
 * has built so far (v, sum, writable); d is read afresh and decided here on
 * its own, as if the fast walk had never looked at it. */
__attribute__((noinline)) static int virtq_walk_slow(struct virtq *q, struct virtq_elem *e,
                                                     const struct vring_desc *d,
                                                     struct iovec *v, uint64_t sum,
                                                     unsigned writable)
{
    const struct vring_desc *table = q->desc;
    unsigned limit = q->ring_size;
    /* The same bound as virtq_pop's. */
    struct iovec *stop = e->iov + (e->iov_cap < q->chain_max ? e->iov_cap : q->chain_max);

    for (;;) {
        uint64_t addr = KICK_READ_ONCE(d->addr);
        uint32_t len = KICK_READ_ONCE(d->len);
        /* WRITE flipped once the writable part has begun (§2.7.4.2). */
        unsigned flags = KICK_READ_ONCE(d->flags) ^ writable;

        if (flags & VRING_DESC_F_INDIRECT) {
            /* Only from the ring's table; the indirect descriptor is a
             * step of the ring's chain, so past the bound it is the loop
             * (or the full array) the bound is there to catch. */
            if (table != q->desc)
                return virtq_fail(q, -EIO);
            if (v >= stop)
                return virtq_overflow(q, e, v, table, limit, d);
            table = virtq_indirect_table(q, addr, len, flags);
            if (!table)
                return virtq_fail(q, -EIO);
            /* The table restarts both bounds: its own entry count for
             * length, what is left of the caller's array for iovecs. */
            limit = len / sizeof(struct vring_desc);
            unsigned cap = e->iov_cap < VIRTQ_MAX_CHAIN ? e->iov_cap : VIRTQ_MAX_CHAIN;
            unsigned room = (unsigned)(e->iov + cap - v);
            stop = v + (limit < room ? limit : room);
            d = table;
            continue;
        }
        if (flags & VRING_DESC_F_WRITE) {
            if (writable)
                return virtq_fail(q, -EIO);
            writable = VRING_DESC_F_WRITE;
            e->nout = (uint16_t)(v - e->iov);
            e->out_len = (uint32_t)sum;
        }
        void *p = gmem_ptr(q->mem, addr, len);
        if (!p) {
            /* Outside guest memory, straddling two regions or wrapping:
             * fine for zero bytes only. */
            if (len)
                return virtq_fail(q, -EIO);
            p = &virtq_zero_len_buf;
        }
        if (v == stop)
            return virtq_overflow(q, e, v, table, limit, d);
        v->iov_base = p;
        v->iov_len = len;
        v++;
        sum += len;
        if (!(flags & VRING_DESC_F_NEXT))
            return virtq_finish(q, e, v, sum, writable);
        unsigned next = KICK_READ_ONCE(d->next);
        if (next >= limit)
            return virtq_fail(q, -EIO);
        d = &table[next];
    }
}

/* The ring ran dry. With event idx the driver kicks only when its avail->idx
 * crosses avail_event, so before going idle we point avail_event at where we
 * stopped - once per idle period, not per chain: while we are busy the stale
 * value keeps the driver from kicking. A chain added while we did so may have
 * been published without a kick: look again after a full barrier (our store,
 * then its load; pairs with the driver's barrier between idx and avail_event). */
__attribute__((noinline)) static int virtq_pop_empty(struct virtq *q, struct virtq_elem *e)
{
    uint16_t last = q->last_avail;
    if (!q->event_idx || KICK_READ_ONCE(*q->avail_event) == last)
        return 0;
    KICK_WRITE_ONCE(*q->avail_event, last);
    kick_mb();
    if (KICK_READ_ONCE(q->avail->idx) == last)
        return 0;
    return virtq_pop(q, e); /* avail_event == last now: recurses at most once */
}

/* Kept out of line: the fast path below only tells the cases apart. */
__attribute__((noinline, cold)) static int virtq_pop_none(struct virtq *q, struct virtq_elem *e,
                                                          unsigned pending)
{
    return pending ? virtq_fail(q, -EIO) : virtq_pop_empty(q, e);
}

/* The fast walk takes what a block or net request looks like: direct
 * descriptors, buffers in region 0, readable ones then writable ones, in two
 * loops so the direction is where the code is rather than a live value.
 * Anything else goes to virtq_walk_slow, before the descriptor in hand is
 * taken; every way out is a tail call, so nothing is live across a call and
 * the walk (nearly) fits in scratch registers. */
int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
    /* Stopped and broken queues have no ring pointers. */
    const struct vring_avail *avail = q->avail;
    if (kick_unlikely(!avail))
        return virtq_packed_pop(q, e); /* 0 unless a packed ring is running */

    unsigned last = q->last_avail;
    /* Chains outstanding less one: more than the ring holds, or none (-1
     * wraps to 0xffff, above any queue size), in one compare. */
    uint16_t pending_m1 = (uint16_t)(KICK_READ_ONCE(avail->idx) - last - 1u);
    if (kick_unlikely(pending_m1 >= q->ring_size))
        return virtq_pop_none(q, e, (uint16_t)(pending_m1 + 1u));
    /* Ring entries and descriptors are only valid once we have seen the
     * avail->idx that covers them. ring_size and ring_mask, not size: the
     * extent virtq_start() mapped. */
    kick_rmb();
    size_t head = KICK_READ_ONCE(avail->ring[last & q->ring_mask]);
    if (kick_unlikely(head >= q->ring_size))
        return virtq_fail(q, -EIO);
    /* Consumed from here on: every failure below breaks the queue anyway. */
    q->last_avail = (uint16_t)(last + 1u);
    e->head = (uint16_t)head;

    struct iovec *v = e->iov;
    /* One pointer bounds both the caller's array and the chain's length (a
     * chain longer than its table visits a descriptor twice: a loop). It is
     * tested before following next: the first descriptor always has room,
     * as both bounds are at least 1 (else the slow walk reports it). */
    size_t budget = q->chain_max;
    if (e->iov_cap < budget)
        budget = e->iov_cap;
    struct iovec *stop = v + budget;
    const struct vring_desc *d = &q->desc[head];
    if (kick_unlikely(v == stop))
        return virtq_walk_slow(q, e, d, v, 0, 0);
    uint64_t sum = 0;
    uint32_t len;
    unsigned flags;
    void *p;

    /* The device-readable part. Each guest field is read once; only the
     * copies are checked. */
    for (;;) {
        uint64_t addr = KICK_READ_ONCE(d->addr);
        len = KICK_READ_ONCE(d->len);
        if (kick_unlikely(!virtq_ram0_ptr(&q->ram0, addr, len, &p)))
            return virtq_walk_slow(q, e, d, v, sum, 0);
        /* Read after the bounds check, so the check's temporary and the
         * flags share a register. */
        flags = KICK_READ_ONCE(d->flags);
        if (kick_unlikely(flags & (VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE)))
            break;
        v->iov_base = p;
        v->iov_len = len;
        v++;
        sum += len;
        if (!(flags & VRING_DESC_F_NEXT))
            return virtq_finish(q, e, v, sum, 0);
        unsigned next = KICK_READ_ONCE(d->next);
        if (kick_unlikely(next >= q->ring_size))
            return virtq_fail(q, -EIO);
        d = &q->desc[next];
        if (kick_unlikely(v == stop))
            return virtq_walk_slow(q, e, d, v, sum, 0);
    }
    if (flags & VRING_DESC_F_INDIRECT)
        return virtq_walk_slow(q, e, d, v, sum, 0);

    /* The first writable descriptor. Stored before the bookkeeping, which
     * then has the buffer's registers to work in; e is the caller's to
     * ignore after a failure, so storing ahead of the total's check is
     * harmless, and out_len is exact once that check passes. */
    v->iov_base = p;
    v->iov_len = len;
    if (!(flags & VRING_DESC_F_NEXT)) {
        /* The only writable descriptor, and the last: a block request's
         * status byte, a one-buffer receive. The total is checked last,
         * when nothing else needs a register. */
        e->in_len = len;
        e->out_len = (uint32_t)sum;
        e->nout = (uint16_t)(v - e->iov);
        e->nin = 1;
        /* Keeps gcc from computing sum + len once for both paths, ahead of
         * the branch, in a register the walk does not have. */
        __asm__("" : "+r"(sum));
        sum += len;
        if (kick_unlikely(sum >> 32))
            return virtq_fail(q, -EIO);
        return 1;
    }
    e->nout = (uint16_t)(v - e->iov);
    e->out_len = (uint32_t)sum;
    v++;
    sum += len;

    /* The rest of the device-writable part; d has NEXT. A readable (out of
     * order, §2.7.4.2) or indirect descriptor here goes to the slow walk,
     * which reports it. */
    for (;;) {
        unsigned next = KICK_READ_ONCE(d->next);
        if (kick_unlikely(next >= q->ring_size))
            return virtq_fail(q, -EIO);
        d = &q->desc[next];
        if (kick_unlikely(v == stop))
            return virtq_walk_slow(q, e, d, v, sum, VRING_DESC_F_WRITE);
        uint64_t addr = KICK_READ_ONCE(d->addr);
        len = KICK_READ_ONCE(d->len);
        if (kick_unlikely(!virtq_ram0_ptr(&q->ram0, addr, len, &p)))
            return virtq_walk_slow(q, e, d, v, sum, VRING_DESC_F_WRITE);
        /* WRITE flipped, so one test catches both. Opaque after the flip:
         * otherwise gcc tests a masked copy and needs a register more than
         * the walk has to spare. */
        flags = KICK_READ_ONCE(d->flags) ^ VRING_DESC_F_WRITE;
        __asm__("" : "+r"(flags));
        if (kick_unlikely(flags & (VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT)))
            return virtq_walk_slow(q, e, d, v, sum, VRING_DESC_F_WRITE);
        v->iov_base = p;
        v->iov_len = len;
        v++;
        sum += len;
        if (!(flags & VRING_DESC_F_NEXT))
            return virtq_finish(q, e, v, sum, VRING_DESC_F_WRITE);
    }
}

void virtq_unpop(struct virtq *q)
{
    if (q->avail)
        q->last_avail--;
    else if (q->packed)
        virtq_packed_unpop(q);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
    struct vring_used *used = q->used;
    if (kick_unlikely(!used)) {
        if (q->packed)
            virtq_packed_push(q, head, len);
        return;
    }
    unsigned idx = q->used_idx;
    uint16_t next = (uint16_t)(idx + 1);
    q->used_idx = next; /* ours alone: when it is stored does not matter */
    /* Opaque, so gcc ands in 32 bits and indexes with the result, instead
     * of narrowing the and to 16 bits and zero-extending again. */
    __asm__("" : "+r"(idx));
    struct vring_used_elem *u = &used->ring[idx & q->ring_mask];
    KICK_WRITE_ONCE(u->id, (uint32_t)head);
    KICK_WRITE_ONCE(u->len, len);
    /* The element must be visible before the index that publishes it. */
    kick_wmb();
    KICK_WRITE_ONCE(used->idx, next);
}

/* Event idx, first decision since the queue started: there is no baseline
 * yet to compare used_event with, so interrupt. */
__attribute__((noinline, cold)) static bool virtq_needs_irq_first(struct virtq *q)
{
    q->signalled_used = q->used_idx;
    q->signalled_used_valid = true;
    return true;
}

/* Everything but an event idx queue past its first decision. */
__attribute__((noinline)) static bool virtq_needs_irq_other(struct virtq *q)
{
    if (kick_unlikely(!q->used))
        return virtq_packed_needs_irq(q); /* false unless a packed ring is running */
    if (!q->event_idx)
        return !(KICK_READ_ONCE(q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
    return virtq_needs_irq_first(q);
}

bool virtq_needs_irq(struct virtq *q)
{
    /* Our used->idx store must be globally visible before we read the
     * driver's suppression state, or we can miss the driver re-enabling
     * interrupts after it saw the old idx (pairs with the driver's mb).
     * Issued first, for every queue: the one case that skips the stopped
     * test below needs it, and the others read the driver's state too. */
    kick_mb();
    /* Set only by a running split queue with event idx, from its first
     * decision on, and cleared whenever its rings go (virtq_start,
     * virtq_fail, virtq_reset): used_event is mapped when it is set. */
    if (kick_likely(q->signalled_used_valid)) {
        uint16_t old = q->signalled_used;
        uint16_t new = q->used_idx;
        q->signalled_used = new;
        return vring_need_event(KICK_READ_ONCE(*q->used_event), new, old);
    }
    return virtq_needs_irq_other(q);
}

void virtq_set_notify(struct virtq *q, bool enable)
{
    if (!q->used) {
        if (q->packed)
            virtq_packed_set_notify(q, enable);
        return;
    }
    if (q->event_idx) {
        /* Disabling needs no write: once the driver's idx passes the old
         * avail_event it stops kicking by itself (§2.7.10). virtq_pop()
         * re-arms it when it finds the ring empty, so with event idx "off"
         * lasts until the device next runs dry. */
        if (!enable)
            return;
        KICK_WRITE_ONCE(*q->avail_event, q->last_avail);
    } else {
        KICK_WRITE_ONCE(q->used->flags, enable ? 0 : VRING_USED_F_NO_NOTIFY);
        if (!enable)
            return;
    }
    /* The enable must be visible before the caller re-reads avail->idx,
     * or a chain added in between goes unnoticed and unkicked. */
    kick_mb();
}

bool virtq_has_avail(struct virtq *q)
{
    if (!q->avail)
        return q->packed && virtq_packed_has_avail(q);
    return KICK_READ_ONCE(q->avail->idx) != q->last_avail;
}
