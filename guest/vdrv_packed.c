/* Packed virtqueue, driver side (virtio 1.2 §2.8). Freestanding: no libc.
 *
 * Everything the device can write - the descriptor ring, the device area -
 * is read once into locals; ids and chain lengths come from our own table
 * (vdrv_pvq_id), which the device cannot reach, and an id is honoured only
 * while it is in flight. Ring positions only ever advance by our own
 * recorded lengths and are reduced modulo the size, so nothing a device
 * writes moves the driver outside its ring.
 *
 * The id goes into every descriptor of a chain, not only the last one the
 * spec requires: devices reading either place get it.
 *
 * Event suppression: disable_cb writes DISABLE; enable_cb writes ENABLE, or
 * with event idx a descriptor event for last_used, which get_used moves along
 * while it stays armed (like the split ring's used_event). */
#include "guest/vdrv_ring.h"

#include <asm-generic/errno-base.h>

#include "common/kick_barrier.h"

#define PK_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PK_F_USED  (1u << VRING_PACKED_DESC_F_USED)
#define PK_EV_WRAP (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define PK_NO_ID   0xffffu

static inline uint32_t pk_event(uint16_t flags, uint16_t off_wrap)
{
    return (uint32_t)flags << 16 | off_wrap;
}


size_t vdrv_pvq_mem_size(uint16_t size)
{
    return sizeof(struct vring_packed_desc) * (size_t)size + 2 * sizeof(uint32_t);
}

void vdrv_pvq_init(struct vdrv_pvq *q, uint16_t size, void *mem, uint64_t mem_pa,
                   struct vdrv_pvq_id *ids, bool event_idx, bool in_order)
{
    uint8_t *base = mem;
    size_t ring_bytes = sizeof(struct vring_packed_desc) * (size_t)size;

    q->size = size;
    q->num_free = size;
    q->next_avail = 0;
    q->last_used = 0;
    q->free_id = 0;
    q->order_head = 0;
    q->order_tail = 0; /* unused: free_id serves in order too */
    q->batch_last = PK_NO_ID;
    q->batch_len = 0;
    q->num_added = 0;
    q->avail_wrap = true; /* §2.8.1: both wrap counters start at 1 */
    q->used_wrap = true;
    q->event_idx = event_idx;
    q->in_order = in_order;
    q->desc = (struct vring_packed_desc *)base;
    q->driver_event = (uint32_t *)(base + ring_bytes);
    q->device_event = (const uint32_t *)(base + ring_bytes + sizeof(uint32_t));
    q->desc_pa = mem_pa;
    q->driver_pa = mem_pa + ring_bytes;
    q->device_pa = mem_pa + ring_bytes + sizeof(uint32_t);
    q->ids = ids;

    /* Relaxed atomic stores keep gcc from turning the loop into memset. Out
     * of order the free ids are a list through next; in order they are handed
     * out in turn, so the same links, closed into a ring and never changed,
     * give add one way to take the next id either way. */
    for (unsigned i = 0; i < size; i++) {
        unsigned next = i + 1u < size ? i + 1u : in_order ? 0 : PK_NO_ID;
        KICK_WRITE_ONCE(q->desc[i].flags, (uint16_t)0);
        KICK_WRITE_ONCE(ids[i].token, (void *)0);
        KICK_WRITE_ONCE(ids[i].next, (uint16_t)next);
    }
    q->driver_event_shadow = pk_event(VRING_PACKED_EVENT_FLAG_ENABLE, 0);
    KICK_WRITE_ONCE(*q->driver_event, q->driver_event_shadow);
}

/* An id for a new chain; the caller has checked a descriptor is free, so
 * fewer than size chains are in flight and one is. In order, free_id is the
 * next id in turn and the links it follows form a fixed ring. */
static inline unsigned pk_alloc_id(struct vdrv_pvq *q)
{
    unsigned id = q->free_id;
    q->free_id = q->ids[id].next;
    return id;
}

static __attribute__((noinline, cold)) int pk_add_error(unsigned nout, unsigned nin, void *token)
{
    if ((nout | nin) == 0 || token == (void *)0)
        return -EINVAL;
    return -ENOSPC;
}

/* Records the chain and hands the first descriptor over. */
static inline __attribute__((always_inline)) void
pk_publish(struct vdrv_pvq *q, unsigned id, unsigned first, uint16_t first_flags, unsigned ndescs,
           uint32_t in_len, void *token)
{
    struct vdrv_pvq_id *ent = &q->ids[id];
    ent->token = token;
    ent->ndescs = (uint16_t)ndescs;
    ent->in_len = in_len;
    q->num_free = (uint16_t)(q->num_free - ndescs);
    q->num_added += ndescs;
    /* The rest of the chain before the flags that expose it. */
    kick_wmb();
    KICK_WRITE_ONCE(q->desc[first].flags, first_flags);
}

/* Any chain, across the ring's end too: one descriptor at a time. */
static __attribute__((noinline)) int pk_add_wrapping(struct vdrv_pvq *q, const struct vdrv_sg *sg,
                                                     unsigned nout, size_t total, void *token)
{
    unsigned id = pk_alloc_id(q);
    unsigned size = q->size;
    unsigned pos = q->next_avail, first = pos;
    bool wrap = q->avail_wrap;
    unsigned avail_bits = wrap ? PK_F_AVAIL : PK_F_USED;
    uint16_t first_flags = 0;
    uint32_t in_len = 0;
    struct vring_packed_desc *desc = q->desc;

    for (size_t i = 0; i < total; i++) {
        struct vring_packed_desc *d = &desc[pos];
        unsigned flags = avail_bits;
        if (i >= nout) {
            flags |= VRING_DESC_F_WRITE;
            in_len += sg[i].len;
        }
        if (i + 1 < total)
            flags |= VRING_DESC_F_NEXT;
        d->addr = sg[i].addr;
        d->len = sg[i].len;
        d->id = (uint16_t)id;
        if (i == 0)
            first_flags = (uint16_t)flags;
        else
            KICK_WRITE_ONCE(d->flags, (uint16_t)flags);
        if (++pos == size) {
            pos = 0;
            wrap = !wrap;
            avail_bits = wrap ? PK_F_AVAIL : PK_F_USED;
        }
    }
    q->next_avail = (uint16_t)pos;
    q->avail_wrap = wrap;
    pk_publish(q, id, first, first_flags, total, in_len, token);
    return 0;
}

/* len, id and flags, which sit side by side at the end of a descriptor, in
 * one store. */
static inline void pk_store_len_id_flags(struct vring_packed_desc *d, uint64_t len_id_flags)
{
    __builtin_memcpy(&d->len, &len_id_flags, sizeof(len_id_flags));
}

/* The common chain, one that ends before the ring does, in straight runs:
 * readable descriptors, then writable ones, all but the first exposed with
 * NEXT; the last one's NEXT is taken back before the first is published. */
int vdrv_pvq_add(struct vdrv_pvq *q, const struct vdrv_sg *sg, unsigned nout, unsigned nin,
                 void *token)
{
    size_t total = (size_t)nout + nin;
    if (kick_unlikely(total - 1u >= q->num_free || token == (void *)0))
        return pk_add_error(nout, nin, token);
    unsigned pos = q->next_avail;
    if (kick_unlikely(pos + total >= q->size))
        return pk_add_wrapping(q, sg, nout, total, token);

    unsigned id = pk_alloc_id(q);
    /* Bookkeeping first: fewer values live across the runs below. */
    struct vdrv_pvq_id *ent = &q->ids[id];
    ent->token = token;
    ent->ndescs = (uint16_t)total;
    q->num_free = (uint16_t)(q->num_free - total);
    q->num_added += (uint32_t)total;
    /* A single store of its own: gcc would otherwise pair it with num_free's
     * through a vector register. */
    KICK_WRITE_ONCE(q->next_avail, (uint16_t)(pos + total));
    unsigned avail_bits = q->avail_wrap ? PK_F_AVAIL : PK_F_USED;
    struct vring_packed_desc *first = &q->desc[pos];

    /* The first descriptor: everything but its flags. */
    first->addr = sg->addr;
    first->len = sg->len;
    first->id = (uint16_t)id;
    uint32_t in_len = 0;
    unsigned first_flags = avail_bits;
    if (nout == 0) {
        first_flags |= VRING_DESC_F_WRITE;
        in_len = sg->len;
    }
    if (total > 1) {
        first_flags |= VRING_DESC_F_NEXT;
        const struct vdrv_sg *s = sg + 1, *out_end = sg + nout, *end = sg + total;
        struct vring_packed_desc *d = first;
        uint64_t id_flags = (uint64_t)(id | (avail_bits | VRING_DESC_F_NEXT) << 16) << 32;
        for (; s < out_end; s++) {
            d++;
            /* Opaque, so gcc keeps d and s in hand rather than working out
             * where they ended from the trip count after the loop. */
            __asm__("" : "+r"(d), "+r"(s));
            d->addr = s->addr;
            pk_store_len_id_flags(d, s->len | id_flags);
        }
        id_flags |= (uint64_t)VRING_DESC_F_WRITE << 48;
        for (; s != end; s++) {
            d++;
            __asm__("" : "+r"(d));
            d->addr = s->addr;
            in_len += s->len;
            pk_store_len_id_flags(d, s->len | id_flags);
        }
        /* The last one ends the chain (a read-modify-write of our store). */
        d->flags &= (uint16_t)~VRING_DESC_F_NEXT;
    }
    ent->in_len = in_len;
    /* The rest of the chain before the flags that expose it. */
    kick_wmb();
    KICK_WRITE_ONCE(first->flags, (uint16_t)first_flags);
    return 0;
}

int vdrv_pvq_add_indirect(struct vdrv_pvq *q, const struct vdrv_sg *sg, unsigned nout,
                          unsigned nin, struct vring_packed_desc *table, uint64_t table_pa,
                          void *token)
{
    size_t total = (size_t)nout + nin;
    if (kick_unlikely(total == 0 || q->num_free == 0 || token == (void *)0))
        return pk_add_error(nout, nin, token);

    uint32_t in_len = 0;
    for (size_t i = 0; i < total; i++) {
        table[i].addr = sg[i].addr;
        table[i].len = sg[i].len;
        table[i].id = 0;
        table[i].flags = (uint16_t)(i >= nout ? VRING_DESC_F_WRITE : 0);
        if (i >= nout)
            in_len += sg[i].len;
    }
    unsigned id = pk_alloc_id(q);
    unsigned pos = q->next_avail;
    struct vring_packed_desc *d = &q->desc[pos];
    d->addr = table_pa;
    d->len = (uint32_t)(total * sizeof(struct vring_packed_desc));
    d->id = (uint16_t)id;
    uint16_t flags =
        (uint16_t)(VRING_DESC_F_INDIRECT | (q->avail_wrap ? PK_F_AVAIL : PK_F_USED));
    if (pos + 1u == q->size) {
        q->next_avail = 0;
        q->avail_wrap = !q->avail_wrap;
    } else {
        q->next_avail = (uint16_t)(pos + 1u);
    }
    pk_publish(q, id, pos, flags, 1, in_len, token);
    return 0;
}

/* Kick iff the position the device named (off, wrap) is among the added
 * ones just made available, those before next_avail: now - event in
 * [1, added] on the two-lap cycle (now == event is a whole cycle back).
 * now - event is next_avail - off, plus size when the wrap counters differ
 * (-size and +size are the same on the cycle). */
static inline bool pk_kick_desc(const struct vdrv_pvq *q, unsigned off, bool wrap, uint32_t added)
{
    unsigned size = q->size;
    int back = (int)q->next_avail - (int)off;
    if (wrap != q->avail_wrap)
        back += (int)size;
    if (back <= 0)
        back += 2 * (int)size;
    return (unsigned)back <= added;
}

/* Everything but a DESC event with its reserved flag bits clear under
 * event idx (decided in vdrv_pvq_kick_prepare). */
static __attribute__((noinline)) bool pk_kick_general(const struct vdrv_pvq *q, uint32_t ev,
                                                      uint32_t added)
{
    unsigned flags = (ev >> 16) & 3u;
    if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
        return false;
    if (flags != VRING_PACKED_EVENT_FLAG_DESC || !q->event_idx)
        return true;
    unsigned off = ev & (PK_EV_WRAP - 1u);
    if (off >= q->size)
        return true;
    return pk_kick_desc(q, off, ev & PK_EV_WRAP, added);
}

bool vdrv_pvq_kick_prepare(struct vdrv_pvq *q)
{
    uint32_t added = q->num_added;
    if (added == 0)
        return false;
    q->num_added = 0;
    /* Our flags stores before the load of the device's suppression word, or
     * a device going idle in between never hears of this batch. */
    kick_mb();
    uint32_t ev = KICK_READ_ONCE(*q->device_event);
    /* DESC, the reserved flag bits clear, an offset inside the ring: one
     * compare. */
    uint32_t off = (ev & ~PK_EV_WRAP) - ((uint32_t)VRING_PACKED_EVENT_FLAG_DESC << 16);
    if (kick_likely(off < q->size) && kick_likely(q->event_idx))
        return pk_kick_desc(q, off, ev & PK_EV_WRAP, added);
    /* ENABLE, the reserved flag bits clear: the other common case. */
    if (kick_likely(ev >> 16 == VRING_PACKED_EVENT_FLAG_ENABLE))
        return true;
    return pk_kick_general(q, ev, added);
}

/* Used in the lap whose wrap counter is wrap: AVAIL and USED both equal to
 * it. */
static inline bool pk_is_used(unsigned flags, bool wrap)
{
    return !((flags ^ (unsigned)wrap * (PK_F_AVAIL | PK_F_USED)) & (PK_F_AVAIL | PK_F_USED));
}

bool vdrv_pvq_has_used(const struct vdrv_pvq *q)
{
    if (q->batch_last != PK_NO_ID)
        return true;
    return pk_is_used(KICK_READ_ONCE(q->desc[q->last_used].flags), q->used_wrap);
}

/* Moves past the n descriptors of a buffer given back at last_used. */
static inline __attribute__((always_inline)) void pk_used_advance(struct vdrv_pvq *q, unsigned n)
{
    unsigned old = q->last_used;
    bool old_wrap = q->used_wrap;
    unsigned pos = old + n;
    if (pos >= q->size) {
        pos -= q->size;
        q->used_wrap = !old_wrap;
    }
    q->last_used = (uint16_t)pos;
    q->num_free = (uint16_t)(q->num_free + n);

    /* Armed (a descriptor event at the position just left): follow along, so
     * a driver that simply reclaims keeps getting interrupts. The flags half
     * first: it rules out ENABLE and DISABLE in one compare. */
    uint32_t shadow = q->driver_event_shadow;
    if (shadow >> 16 == VRING_PACKED_EVENT_FLAG_DESC && q->event_idx &&
        shadow == pk_event(VRING_PACKED_EVENT_FLAG_DESC,
                           (uint16_t)(old | (old_wrap ? PK_EV_WRAP : 0)))) {
        q->driver_event_shadow = pk_event(VRING_PACKED_EVENT_FLAG_DESC,
                                          (uint16_t)(pos | (q->used_wrap ? PK_EV_WRAP : 0)));
        KICK_WRITE_ONCE(*q->driver_event, q->driver_event_shadow);
        /* Before the next flags load: a device using the position now named
         * must see the new event, or we must see its descriptor. */
        kick_mb();
    }
}

/* In order: the oldest buffer of the batch being returned. */
static inline __attribute__((always_inline)) void *pk_next_of_batch(struct vdrv_pvq *q, uint32_t *len)
{
    unsigned id = q->order_head;
    struct vdrv_pvq_id *ent = &q->ids[id];
    uint32_t l = ent->in_len;
    if (id == q->batch_last) {
        l = q->batch_len;
        q->batch_last = PK_NO_ID;
    }
    if (len)
        *len = l;
    void *token = ent->token;
    ent->token = (void *)0;
    /* Its link already names the next id in turn: free_id passes it later. */
    q->order_head = (uint16_t)(id + 1u == q->size ? 0 : id + 1u);
    pk_used_advance(q, ent->ndescs);
    return token;
}

/* The used descriptor at last_used, if any, and the id in flight it names:
 * its entry, or NULL. */
static inline __attribute__((always_inline)) struct vdrv_pvq_id *
pk_used_entry(struct vdrv_pvq *q, unsigned *id_out, uint32_t *used_len)
{
    const struct vring_packed_desc *d = &q->desc[q->last_used];
    unsigned flags = KICK_READ_ONCE(d->flags);
    if (!pk_is_used(flags, q->used_wrap))
        return (void *)0;
    /* id and len are valid only once the flags say so. */
    kick_rmb();
    unsigned id = KICK_READ_ONCE(d->id);
    /* Only an id in flight: a device repeating or inventing ids must not
     * free anything twice. */
    if (kick_unlikely(id >= q->size))
        return (void *)0;
    struct vdrv_pvq_id *ent = &q->ids[id];
    if (kick_unlikely(ent->token == (void *)0))
        return (void *)0;
    *id_out = id;
    *used_len = (flags & VRING_DESC_F_WRITE) ? KICK_READ_ONCE(d->len) : 0;
    return ent;
}

/* In order: a used descriptor says everything up to its id is done; hand
 * the batch out oldest first. */
static __attribute__((noinline)) void *pk_get_used_in_order(struct vdrv_pvq *q, uint32_t *len)
{
    if (q->batch_last == PK_NO_ID) {
        unsigned id;
        uint32_t used_len;
        if (!pk_used_entry(q, &id, &used_len))
            return (void *)0;
        q->batch_last = (uint16_t)id;
        q->batch_len = used_len;
    }
    return pk_next_of_batch(q, len);
}

void *vdrv_pvq_get_used(struct vdrv_pvq *q, uint32_t *len)
{
    if (kick_unlikely(q->in_order))
        return pk_get_used_in_order(q, len);
    unsigned id;
    uint32_t used_len;
    struct vdrv_pvq_id *ent = pk_used_entry(q, &id, &used_len);
    if (!ent)
        return (void *)0;
    if (len)
        *len = used_len;
    void *token = ent->token;
    ent->token = (void *)0;
    ent->next = q->free_id;
    q->free_id = (uint16_t)id;
    pk_used_advance(q, ent->ndescs);
    return token;
}

void vdrv_pvq_disable_cb(struct vdrv_pvq *q)
{
    q->driver_event_shadow = pk_event(VRING_PACKED_EVENT_FLAG_DISABLE, 0);
    KICK_WRITE_ONCE(*q->driver_event, q->driver_event_shadow);
}

bool vdrv_pvq_enable_cb(struct vdrv_pvq *q)
{
    if (q->event_idx)
        q->driver_event_shadow =
            pk_event(VRING_PACKED_EVENT_FLAG_DESC,
                     (uint16_t)(q->last_used | (q->used_wrap ? PK_EV_WRAP : 0)));
    else
        q->driver_event_shadow = pk_event(VRING_PACKED_EVENT_FLAG_ENABLE, 0);
    KICK_WRITE_ONCE(*q->driver_event, q->driver_event_shadow);
    /* The enable before the flags load: a buffer used while the device still
     * saw notifications off must not go unnoticed. */
    kick_mb();
    return !vdrv_pvq_has_used(q);
}
