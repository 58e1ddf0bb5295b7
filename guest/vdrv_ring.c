/* Split virtqueue, driver side. Freestanding: no libc calls, not even the
 * ones gcc likes to synthesise (see vdrv_vq_init).
 *
 * The descriptor table lives in memory the device can reach, so every index
 * read back from it (free-list links) is masked to the queue size: a device
 * scribbling over the table can spoil its own requests but never make the
 * driver touch memory outside the ring. The queue size is a power of two
 * (vdrv_setup_queue guarantees it), which makes that mask the ring modulo;
 * a size of 0 is not a queue and must not reach vdrv_vq_init.
 *
 * With event idx, used buffer notifications are armed by enable_cb and stay
 * armed across get_used (like Linux's get_buf); disable_cb parks used_event
 * where the device will not cross it. */
#include "guest/vdrv_ring.h"

#include <asm-generic/errno-base.h>

#include "common/kick_barrier.h"

#define VDRV_LEGACY_ALIGN 4096u  /* legacy PFN interface: used ring on a page */

static inline size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static inline size_t avail_off(uint16_t size)
{
    return sizeof(struct vring_desc) * size;
}

static inline size_t used_off(uint16_t size, bool legacy_layout)
{
    /* avail: flags, idx, ring[size], used_event */
    size_t avail_end = avail_off(size) + sizeof(uint16_t) * (3u + size);
    return align_up(avail_end, legacy_layout ? VDRV_LEGACY_ALIGN : VRING_USED_ALIGN_SIZE);
}

/* The event words sit just past each ring (spec: used_event / avail_event). */
static inline uint16_t *used_event_word(const struct vdrv_vq *q)
{
    return &q->avail->ring[q->size];
}

static inline uint16_t *avail_event_word(const struct vdrv_vq *q)
{
    return (uint16_t *)&q->used->ring[q->size];
}

size_t vdrv_vq_mem_size(uint16_t size, bool legacy_layout)
{
    /* used: flags, idx, ring[size], avail_event */
    return used_off(size, legacy_layout) + sizeof(uint16_t) * 3u +
           sizeof(struct vring_used_elem) * size;
}

void vdrv_vq_init(struct vdrv_vq *q, uint16_t size, void *mem, uint64_t mem_pa,
                  void **tokens, uint16_t *chain_len, bool legacy_layout, bool event_idx)
{
    uint8_t *base = mem;
    size_t uoff = used_off(size, legacy_layout);

    q->size = size;
    q->num_free = size;
    q->free_head = 0;
    q->avail_idx = 0;
    q->last_used = 0;
    q->kicked_idx = 0;
    q->event_idx = event_idx;
    q->desc = (struct vring_desc *)base;
    q->avail = (struct vring_avail *)(base + avail_off(size));
    q->used = (struct vring_used *)(base + uoff);
    q->desc_pa = mem_pa;
    q->avail_pa = mem_pa + avail_off(size);
    q->used_pa = mem_pa + uoff;
    q->tokens = tokens;
    q->chain_len = chain_len;

    /* Relaxed atomic stores keep gcc from fusing these loops into memset
     * calls, which a freestanding image has no one to provide. */
    for (uint16_t i = 0; i < size; i++) {
        KICK_WRITE_ONCE(q->desc[i].next, (uint16_t)(i + 1u));
        KICK_WRITE_ONCE(tokens[i], (void *)0);
        KICK_WRITE_ONCE(chain_len[i], (uint16_t)0);
    }
    /* The memory is zeroed by contract, but the spec makes the driver
     * responsible for these words, so do not lean on the caller. */
    KICK_WRITE_ONCE(q->avail->flags, (uint16_t)0);
    KICK_WRITE_ONCE(q->avail->idx, (uint16_t)0);
    KICK_WRITE_ONCE(q->used->flags, (uint16_t)0);
    KICK_WRITE_ONCE(q->used->idx, (uint16_t)0);
    if (size)
        KICK_WRITE_ONCE(*used_event_word(q), (uint16_t)0);
}

/* Cold, so the fast path below carries one combined range check only. */
static __attribute__((noinline, cold)) int add_error(const struct vdrv_vq *q, unsigned nout,
                                                     unsigned nin, void *token)
{
    if ((nout | nin) == 0 || token == (void *)0)
        return -EINVAL;
    (void)q;
    return -ENOSPC;
}

int vdrv_vq_add(struct vdrv_vq *q, const struct vdrv_sg *sg, unsigned nout, unsigned nin,
                void *token)
{
    /* 64-bit sum: no wrap, and an empty chain turns into a huge value. */
    size_t total = (size_t)nout + nin;

    if (kick_unlikely(total - 1u >= q->num_free || token == (void *)0))
        return add_error(q, nout, nin, token);

    /* Bookkeeping first, so fewer values live across the loops below
     * (head is read back from q after). */
    size_t head = q->free_head;
    q->num_free = (uint16_t)(q->num_free - total);
    q->tokens[head] = token;

    size_t mask = q->size - 1u;
    struct vring_desc *desc = q->desc;
    struct vring_desc *d = &desc[head];
    size_t i = head;
    const struct vdrv_sg *end = sg + nout, *in_end = end + nin;
    /* In a register: gcc otherwise stores a 16-bit immediate per
     * descriptor, which decodes slowly. */
    uint16_t flags = VRING_DESC_F_NEXT;
    __asm__("" : "+r"(flags));

    /* The free list is already linked through next, so only addr, len and
     * flags need writing. */
    for (; sg != end; sg++) {
        d = &desc[i];
        d->addr = sg->addr;
        d->len = sg->len;
        d->flags = flags;
        i = d->next & mask;
    }
    if (sg != in_end) {
        flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE;
        __asm__("" : "+r"(flags));
        do {
            d = &desc[i];
            d->addr = sg->addr;
            d->len = sg->len;
            d->flags = flags;
            i = d->next & mask;
        } while (++sg != in_end);
    }
    /* The last one ends the chain (a read-modify-write of our own store). */
    d->flags = (uint16_t)(d->flags & ~VRING_DESC_F_NEXT);

    /* For reclaim, without walking links the device can write: the tail
     * under the head, the length under the tail. A one-descriptor chain is
     * its own tail, and the second store leaves head there, which says so. */
    size_t tail = (size_t)(d - desc);
    head = q->free_head;
    q->free_head = (uint16_t)i;
    uint16_t *chain_len = q->chain_len;
    chain_len[tail] = (uint16_t)total;
    chain_len[head] = (uint16_t)tail;

    /* Written now, made visible by the idx store in kick_prepare. */
    unsigned idx = q->avail_idx;
    q->avail->ring[idx & mask] = (uint16_t)head;
    q->avail_idx = (uint16_t)(idx + 1u);
    return 0;
}

bool vdrv_vq_kick_prepare(struct vdrv_vq *q)
{
    uint16_t new_idx = q->avail_idx;
    uint16_t old_idx = q->kicked_idx;
    /* Chains added since the last decision. */
    uint16_t added = (uint16_t)(new_idx - old_idx);

    /* Nothing new since the last decision: the device already knows, or
     * asked not to be told, about everything published. */
    if (added == 0)
        return false;
    q->kicked_idx = new_idx;

    /* Descriptors and ring entries before the index that exposes them. */
    kick_wmb();
    KICK_WRITE_ONCE(q->avail->idx, new_idx);
    /* The index store before reading the device's suppression state, or a
     * device going to sleep in between would never hear about this batch. */
    kick_mb();

    if (q->event_idx) {
        /* Kick iff avail_event lies in [old, new): the device asked to be
         * told when the entry at avail_event is published. */
        uint16_t event = KICK_READ_ONCE(*avail_event_word(q));
        return (uint16_t)(new_idx - event - 1u) < added;
    }
    return !(KICK_READ_ONCE(q->used->flags) & VRING_USED_F_NO_NOTIFY);
}

bool vdrv_vq_has_used(const struct vdrv_vq *q)
{
    return q->last_used != KICK_READ_ONCE(q->used->idx);
}

void *vdrv_vq_get_used(struct vdrv_vq *q, uint32_t *len)
{
    size_t last = q->last_used;
    const struct vring_used *used = q->used;

    if ((uint16_t)last == KICK_READ_ONCE(used->idx))
        return (void *)0;
    /* The element is valid only once idx says so. */
    kick_rmb();

    size_t mask = q->size - 1u;
    const struct vring_used_elem *e = &used->ring[last & mask];
    size_t id = KICK_READ_ONCE(e->id);

    /* Only a head we handed out and have not had back is acceptable: a
     * device repeating or inventing ids must not free descriptors twice. */
    if (kick_unlikely(id > mask))
        return (void *)0;
    void **slot = &q->tokens[id];
    void *token = *slot;
    if (kick_unlikely(token == (void *)0))
        return (void *)0;
    *slot = (void *)0;
    if (len)
        *len = KICK_READ_ONCE(e->len);

    /* Recorded by add (driver memory only; masked all the same). */
    const uint16_t *chain_len = q->chain_len;
    size_t tail = chain_len[id] & mask;
    unsigned n = tail == id ? 1u : chain_len[tail];
    q->desc[tail].next = q->free_head;
    q->free_head = (uint16_t)id;
    q->num_free = (uint16_t)(q->num_free + n);
    q->last_used = (uint16_t)(last + 1u);

    /* With event idx, "armed" means used_event names the entry we just took;
     * move it along so a driver that simply reclaims keeps getting
     * interrupts (disable_cb parks used_event behind last_used instead). */
    if (q->event_idx) {
        uint16_t *ev = &q->avail->ring[mask + 1u]; /* used_event; mask is in hand */
        if (KICK_READ_ONCE(*ev) == (uint16_t)last) {
            KICK_WRITE_ONCE(*ev, (uint16_t)(last + 1u));
            /* Before the next used idx load: a device pushing meanwhile must
             * see the new event, or we must see its entry. */
            kick_mb();
        }
    }
    return token;
}

void vdrv_vq_disable_cb(struct vdrv_vq *q)
{
    if (q->event_idx) {
        /* The spec wants flags left at 0 with event idx; an event index just
         * behind what we have consumed is the one the device crossed longest
         * ago, so it stays quiet until the index wraps. */
        KICK_WRITE_ONCE(*used_event_word(q), (uint16_t)(q->last_used - 1u));
    } else {
        KICK_WRITE_ONCE(q->avail->flags, (uint16_t)VRING_AVAIL_F_NO_INTERRUPT);
    }
}

bool vdrv_vq_enable_cb(struct vdrv_vq *q)
{
    if (q->event_idx)
        KICK_WRITE_ONCE(*used_event_word(q), q->last_used);
    else
        KICK_WRITE_ONCE(q->avail->flags, (uint16_t)0);
    /* The enable store before the used idx load: otherwise an entry pushed
     * while the device still saw notifications off goes unnoticed. */
    kick_mb();
    return q->last_used == KICK_READ_ONCE(q->used->idx);
}
