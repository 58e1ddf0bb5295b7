/* Split virtqueue, device side (virtio 1.2 §2.7).
 *
 * Everything the guest controls - avail->idx, ring entries, descriptors,
 * indirect tables, used_event - is read exactly once into a local and checked
 * there, so a guest rewriting its ring while we walk it gains nothing.
 *
 * Choices the spec leaves open:
 * - Zero-length data descriptors are kept as iovecs of length 0 (so iovec
 *   positions match descriptor positions); their address is not required to
 *   be in guest RAM (outside it, iov_base points at a dummy byte).
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
#include <string.h>

#include "virtio/virtio_dev.h"
#include "virtio/virtq.h"

/* Kept out of line and cold so the checks on the fast path are a compare and
 * a never-taken jump each. */
__attribute__((noinline, cold)) static int virtq_fail(struct virtq *q, int err)
{
    /* Forget the rings: every entry point then sees a stopped queue
     * without testing broken on its fast path. */
    q->broken = true;
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

/* Zero bytes need no memory: a zero-length buffer is allowed anywhere and
 * gets a harmless host address. Any other buffer outside guest memory (or
 * straddling two regions, or wrapping) breaks the queue; NULL then. */
static uint8_t virtq_zero_len_buf;

__attribute__((noinline, cold)) static void *virtq_bad_buffer(struct virtq *q, uint32_t len)
{
    if (len == 0)
        return &virtq_zero_len_buf;
    virtq_fail(q, -EIO);
    return NULL;
}

/* §2.7.5.3: only when negotiated; one level deep; the table descriptor ends
 * the chain (it may follow direct descriptors); a table is a whole number of
 * descriptors, at most VIRTQ_MAX_CHAIN. Its WRITE flag means nothing and is
 * ignored. NULL for a violation. */
__attribute__((noinline)) static const struct vring_desc *
virtq_indirect_table(const struct virtq *q, const struct vring_desc *cur, uint64_t addr,
                     uint32_t len, uint16_t flags)
{
    /* cur is the table the indirect descriptor sits in: anything but the
     * ring's own table means a table inside a table. */
    if (!q->indirect || cur != q->desc || (flags & VRING_DESC_F_NEXT) || len == 0 ||
        len % sizeof(struct vring_desc) || len > VIRTQ_MAX_CHAIN * sizeof(struct vring_desc))
        return NULL;
    const struct vring_desc *table = gmem_ptr(q->mem, addr, len);
    /* A table placed over the ring's own would make the nesting test above
     * blind; no driver does that. */
    if (table && ((uintptr_t)table % alignof(struct vring_desc) || table == q->desc))
        return NULL;
    return table;
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

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
    /* Stopped and broken queues have no ring pointers. */
    const struct vring_avail *avail = q->avail;
    if (kick_unlikely(!avail))
        return 0;

    unsigned last = q->last_avail;
    unsigned size = q->size;
    const struct gmem *mem = q->mem;
    const struct vring_desc *table = q->desc;
    unsigned pending = (uint16_t)(KICK_READ_ONCE(avail->idx) - last);
    /* Empty, or more chains outstanding than the ring holds (one compare). */
    if (kick_unlikely(pending - 1 >= size))
        return pending ? virtq_fail(q, -EIO) : virtq_pop_empty(q, e);
    /* Ring entries and descriptors are only valid once we have seen the
     * avail->idx that covers them. */
    kick_rmb();
    unsigned head = KICK_READ_ONCE(avail->ring[last & (size - 1)]);
    if (kick_unlikely(head >= size))
        return virtq_fail(q, -EIO);
    /* Consumed from here on: every failure below breaks the queue anyway. */
    q->last_avail = (uint16_t)(last + 1);
    e->head = (uint16_t)head;

    struct iovec *v = e->iov;
    /* One pointer bounds both the caller's array and the chain length (a
     * chain cannot hold more descriptors than its table: more is a loop). */
    unsigned budget = e->iov_cap;
    if (budget > VIRTQ_MAX_CHAIN)
        budget = VIRTQ_MAX_CHAIN;
    if (budget > size)
        budget = size;
    struct iovec *stop = v + budget;
    const struct vring_desc *d = &table[head];
    unsigned limit = size;   /* entries in the table being walked */
    /* WRITE once the device-writable part has begun: from then on a
     * readable buffer is out of order (§2.7.4.2). */
    unsigned writable = 0;
    /* Both directions together; one overflow test at the end covers both. */
    uint64_t sum = 0;

    for (;;) {
        /* Each guest field is read once; only the copies are checked. */
        uint64_t addr = KICK_READ_ONCE(d->addr);
        uint64_t len = KICK_READ_ONCE(d->len);
        /* WRITE flipped once the writable part has begun, so one test
         * catches indirect, the first writable and an out-of-order
         * readable buffer; the other bits are untouched. */
        unsigned flags = KICK_READ_ONCE(d->flags) ^ writable;

        if (kick_unlikely(flags & (VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE))) {
            if (flags & VRING_DESC_F_INDIRECT) {
                /* The table restarts both bounds: its own entry count for
                 * length, what is left of the caller's array for iovecs. */
                if (kick_unlikely(v >= stop))
                    return virtq_overflow(q, e, v, table, limit, d);
                table = virtq_indirect_table(q, table, addr, (uint32_t)len, (uint16_t)flags);
                if (!table)
                    return virtq_fail(q, -EIO);
                limit = len / sizeof(struct vring_desc);
                unsigned cap = e->iov_cap < VIRTQ_MAX_CHAIN ? e->iov_cap : VIRTQ_MAX_CHAIN;
                unsigned room = (unsigned)(e->iov + cap - v);
                stop = v + (limit < room ? limit : room);
                d = table;
                continue;
            }
            if (writable)
                return virtq_fail(q, -EIO);
            writable = VRING_DESC_F_WRITE;
            e->nout = (uint16_t)(v - e->iov);
            e->out_len = (uint32_t)sum;
        }

        void *p = gmem_ptr(mem, addr, len);
        if (kick_unlikely(!p)) {
            p = virtq_bad_buffer(q, len);
            if (!p)
                return -EIO;
        }
        if (kick_unlikely(v == stop))
            return virtq_overflow(q, e, v, table, limit, d);
        v->iov_base = p;
        v->iov_len = len;
        v++;
        sum += len;

        if (!(flags & VRING_DESC_F_NEXT))
            break;
        unsigned next = KICK_READ_ONCE(d->next);
        if (kick_unlikely(next >= limit))
            return virtq_fail(q, -EIO);
        d = &table[next];
    }
    if (kick_unlikely(sum >> 32))
        return virtq_fail(q, -EIO);
    unsigned n = (unsigned)(v - e->iov);
    if (writable) {
        /* out_len holds the readable bytes exactly: sum fits in 32 bits. */
        e->nin = (uint16_t)(n - e->nout);
        e->in_len = (uint32_t)sum - e->out_len;
    } else {
        e->nout = (uint16_t)n;
        e->nin = 0;
        e->out_len = (uint32_t)sum;
        e->in_len = 0;
    }
    return 1;
}

void virtq_unpop(struct virtq *q)
{
    if (q->avail)
        q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
    struct vring_used *used = q->used;
    if (kick_unlikely(!used))
        return;
    unsigned idx = q->used_idx;
    struct vring_used_elem *u = &used->ring[idx & (q->size - 1u)];
    KICK_WRITE_ONCE(u->id, (uint32_t)head);
    KICK_WRITE_ONCE(u->len, len);
    q->used_idx = (uint16_t)(idx + 1);
    /* The element must be visible before the index that publishes it. */
    kick_wmb();
    KICK_WRITE_ONCE(used->idx, (uint16_t)(idx + 1));
}

bool virtq_needs_irq(struct virtq *q)
{
    if (kick_unlikely(!q->used))
        return false;
    /* Our used->idx store must be globally visible before we read the
     * driver's suppression state, or we can miss the driver re-enabling
     * interrupts after it saw the old idx (pairs with the driver's mb). */
    kick_mb();
    if (!q->event_idx)
        return !(KICK_READ_ONCE(q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);

    uint16_t old = q->signalled_used;
    uint16_t new = q->used_idx;
    bool valid = q->signalled_used_valid;
    q->signalled_used = new;
    q->signalled_used_valid = true;
    /* The first time round there is no baseline to compare used_event with. */
    if (kick_unlikely(!valid))
        return true;
    return vring_need_event(KICK_READ_ONCE(*q->used_event), new, old);
}

void virtq_set_notify(struct virtq *q, bool enable)
{
    if (!q->used)
        return;
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
        return false;
    return KICK_READ_ONCE(q->avail->idx) != q->last_avail;
}
