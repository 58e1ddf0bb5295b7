/* Packed virtqueue, both ends in one process: the driver library's packed
 * queue (guest/vdrv_packed.c) against the device side (virtio/virtq_packed.c)
 * over a heap block posing as guest RAM, so ASan sees any access outside it.
 * Each side checks the other: what the driver adds must pop as the same
 * iovecs, and what the device pushes must come back as the same tokens. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>

#include "guest/vdrv_ring.h"
#include "tests/test_virtq_packed_pair.h"
#include "virtio/virtq.h"

#define RAM_GPA   0x40000000ULL
#define RAM_SIZE  0x100000u
#define DATA_OFF  0x80000u /* 256 data buffers of 256 bytes */
#define TABLE_OFF 0xA0000u /* indirect tables, 1 KiB each */
#define QMAX      1024

#define F_PACKED   (1ULL << VIRTIO_F_RING_PACKED)
#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_IN_ORDER (1ULL << VIRTIO_F_IN_ORDER)

struct fx {
    uint8_t *ram;
    struct gmem mem;
    struct virtq dq;
    struct vdrv_pvq vq;
    struct vdrv_pvq_id ids[QMAX];
    struct iovec iov[64];
    struct virtq_elem e;
    uint64_t features;
};

static uint64_t gpa(uint32_t off) { return RAM_GPA + off; }

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->ram = aligned_alloc(4096, RAM_SIZE);
    memset(f->ram, 0, RAM_SIZE);
    gmem_init(&f->mem);
    assert_int_equal(gmem_add(&f->mem, RAM_GPA, RAM_SIZE, f->ram), 0);
    f->dq.max_size = QMAX;
    virtq_reset(&f->dq);
    f->e.iov = f->iov;
    f->e.iov_cap = 64;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    virtq_reset(&f->dq);
    free(f->ram);
    free(f);
    return 0;
}

/* Both ends of a queue of size entries; the driver's ring at RAM offset 0. */
static void fx_start(struct fx *f, uint16_t size, uint64_t features)
{
    memset(f->ram, 0, DATA_OFF);
    f->features = features | F_PACKED;
    packed_pair_start(&f->vq, f->ids, &f->dq, &f->mem, f->ram, RAM_GPA, size, features);
}

static uint8_t *data(struct fx *f, unsigned i) { return f->ram + DATA_OFF + (i % 256) * 256; }
static uint64_t data_gpa(unsigned i) { return gpa(DATA_OFF + (i % 256) * 256); }

/* A request in the shape of a block write: header, payload, status. */
static void add_request(struct fx *f, unsigned n, void *token)
{
    struct vdrv_sg sg[3] = { { data_gpa(n), 16 }, { data_gpa(n) + 16, 100 },
                             { data_gpa(n) + 200, 1 } };
    memset(data(f, n), (int)(n & 0xff), 116);
    assert_int_equal(vdrv_pvq_add(&f->vq, sg, 2, 1, token), 0);
}

/* Pops one request and checks it is the one add_request(n) made. */
static uint16_t pop_request(struct fx *f, unsigned n)
{
    assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
    assert_int_equal(f->e.nout, 2);
    assert_int_equal(f->e.nin, 1);
    assert_int_equal(f->e.out_len, 116);
    assert_int_equal(f->e.in_len, 1);
    assert_ptr_equal(f->iov[0].iov_base, data(f, n));
    assert_ptr_equal(f->iov[2].iov_base, data(f, n) + 200);
    assert_int_equal(((uint8_t *)f->iov[1].iov_base)[99], n & 0xff);
    assert_true(f->e.head < f->dq.size);
    return f->e.head;
}

static void test_start_validates(void **state)
{
    struct fx *f = *state;
    vdrv_pvq_init(&f->vq, 7, f->ram, RAM_GPA, f->ids, false, false);
    f->dq.desc_gpa = f->vq.desc_pa;
    f->dq.avail_gpa = f->vq.driver_pa;
    f->dq.used_gpa = f->vq.device_pa;
    f->dq.size = 7; /* not a power of two: fine for packed only */
    assert_int_equal(virtq_start(&f->dq, &f->mem, 0), -EINVAL);
    assert_int_equal(virtq_start(&f->dq, &f->mem, F_PACKED), 0);
    assert_true(f->dq.packed && f->dq.ready);
    assert_null(f->dq.desc); /* the split fast path sees a stopped queue */
    f->dq.size = 0;
    assert_int_equal(virtq_start(&f->dq, &f->mem, F_PACKED), -EINVAL);
    f->dq.size = QMAX + 1;
    assert_int_equal(virtq_start(&f->dq, &f->mem, F_PACKED), -EINVAL);
    f->dq.size = 7;
    f->dq.desc_gpa = gpa(8); /* ring alignment is 16 */
    assert_int_equal(virtq_start(&f->dq, &f->mem, F_PACKED), -EINVAL);
    f->dq.desc_gpa = gpa(0);
    f->dq.avail_gpa = gpa(0x1002); /* event structures: 4 */
    assert_int_equal(virtq_start(&f->dq, &f->mem, F_PACKED), -EINVAL);
    f->dq.avail_gpa = gpa(0x1000);
    f->dq.used_gpa = RAM_GPA + RAM_SIZE - 2; /* straddles the end of RAM */
    assert_int_equal(virtq_start(&f->dq, &f->mem, F_PACKED), -EINVAL);
    f->dq.used_gpa = RAM_GPA + RAM_SIZE - 4;
    assert_int_equal(virtq_start(&f->dq, &f->mem, F_PACKED), 0);
    /* Back to split on the next start, and reset forgets it all. */
    f->dq.size = 8;
    f->dq.used_gpa = gpa(0x2000);
    assert_int_equal(virtq_start(&f->dq, &f->mem, 0), 0);
    assert_false(f->dq.packed);
    assert_non_null(f->dq.desc);
    virtq_reset(&f->dq);
    assert_false(f->dq.packed);
    assert_null(f->dq.pk.slots);
    assert_int_equal(virtq_pop(&f->dq, &f->e), 0);
}

static void test_roundtrip(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    assert_false(virtq_has_avail(&f->dq));
    assert_int_equal(virtq_pop(&f->dq, &f->e), 0);
    add_request(f, 1, (void *)0x11);
    assert_true(vdrv_pvq_kick_prepare(&f->vq));
    assert_true(virtq_has_avail(&f->dq));
    uint16_t h = pop_request(f, 1);
    assert_false(virtq_has_avail(&f->dq));
    assert_false(vdrv_pvq_has_used(&f->vq));
    virtq_push(&f->dq, h, 1);
    assert_true(virtq_needs_irq(&f->dq));
    assert_true(vdrv_pvq_has_used(&f->vq));
    uint32_t len = 0;
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), (void *)0x11);
    assert_int_equal(len, 1);
    assert_null(vdrv_pvq_get_used(&f->vq, &len));
    assert_int_equal(f->vq.num_free, 16);
    /* The used descriptor sits where the chain began, and the next
     * request starts right after the chain. */
    assert_int_equal(f->vq.last_used, 3);
    assert_int_equal(f->dq.pk.used_idx, 3);
    /* A read-only buffer comes back with length 0 whatever len says. */
    struct vdrv_sg sg = { data_gpa(2), 8 };
    assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 1, 0, (void *)0x22), 0);
    assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
    assert_int_equal(f->e.nout, 1);
    assert_int_equal(f->e.nin, 0);
    virtq_push(&f->dq, f->e.head, 0);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), (void *)0x22);
    assert_int_equal(len, 0);
}

/* Many laps of odd-sized rings with chains of 1..3 descriptors, several in
 * flight, completed out of order: positions, wrap counters, ids and free
 * counts must stay in step on both sides. */
static void run_laps(struct fx *f, uint16_t size, uint64_t features, unsigned requests)
{
    fx_start(f, size, features);
    unsigned added = 0, done = 0;
    uint16_t heads[64];
    unsigned tokens[64];
    while (done < requests) {
        /* Fill what fits (at most 4 chains), then pop them all. */
        unsigned batch = 0;
        while (added < requests && batch < 4) {
            unsigned n = added;
            unsigned nd = 1 + n % 3;
            if (nd > size)
                nd = size;
            if (f->vq.num_free < nd)
                break;
            struct vdrv_sg sg[3] = { { data_gpa(n), 4 }, { data_gpa(n) + 4, 4 },
                                     { data_gpa(n) + 8, 4 } };
            memset(data(f, n), (int)(n & 0xff), 12);
            assert_int_equal(vdrv_pvq_add(&f->vq, sg, nd - 1, 1, (void *)(uintptr_t)(n + 1)), 0);
            added++;
            batch++;
        }
        vdrv_pvq_kick_prepare(&f->vq);
        unsigned popped = 0;
        while (virtq_pop(&f->dq, &f->e) == 1) {
            unsigned n = done + popped;
            assert_int_equal(f->e.nout + f->e.nin, (1 + n % 3) > size ? size : 1 + n % 3);
            assert_ptr_equal(f->iov[f->e.nout].iov_base, data(f, n) + (f->e.nout ? 4 * f->e.nout : 0));
            heads[popped] = f->e.head;
            tokens[popped] = n + 1;
            popped++;
        }
        assert_int_equal(popped, batch);
        assert_false(f->dq.broken);
        /* Complete in reverse (out of order unless in-order is on, when the
         * device must hold them back and publish in order). */
        bool in_order = features & F_IN_ORDER;
        /* In order, full lengths, so the device may fold them. */
        for (unsigned i = popped; i-- > 0;)
            virtq_push(&f->dq, heads[i], in_order ? 4 : tokens[i]);
        for (unsigned i = 0; i < popped; i++) {
            uint32_t len = 0;
            void *t = vdrv_pvq_get_used(&f->vq, &len);
            unsigned expect = in_order ? done + i + 1 : tokens[popped - 1 - i];
            assert_ptr_equal(t, (void *)(uintptr_t)expect);
            assert_int_equal(len, in_order ? 4 : expect);
        }
        assert_null(vdrv_pvq_get_used(&f->vq, NULL));
        done += popped;
        packed_pair_in_step(&f->vq, &f->dq);
    }
}

static void test_laps_odd_sizes(void **state)
{
    struct fx *f = *state;
    static const uint16_t sizes[] = { 1, 2, 3, 5, 7, 13, 100, 255 };
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        run_laps(f, sizes[i], 0, 40u * sizes[i] + 50);
}

static void test_laps_in_order(void **state)
{
    struct fx *f = *state;
    static const uint16_t sizes[] = { 1, 3, 7, 13, 255 };
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        run_laps(f, sizes[i], F_IN_ORDER | F_EVENT, 40u * sizes[i] + 50);
}

static void test_in_order_holds_and_folds(void **state)
{
    struct fx *f = *state;
    fx_start(f, 8, F_IN_ORDER);
    uint16_t h[3];
    for (unsigned i = 0; i < 3; i++) {
        struct vdrv_sg sg = { data_gpa(i), 10 };
        assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 0, 1, (void *)(uintptr_t)(i + 1)), 0);
    }
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
        h[i] = f->e.head;
    }
    /* Later ones first: nothing may show until the first is done. */
    virtq_push(&f->dq, h[2], 3);
    virtq_push(&f->dq, h[1], 10);
    assert_false(vdrv_pvq_has_used(&f->vq));
    virtq_push(&f->dq, h[0], 10);
    /* 0 and 1 were filled completely, so all three go out as one used
     * descriptor with the last one's id and length. */
    const struct vring_packed_desc *ring = f->vq.desc;
    assert_true(ring[0].flags & (1u << VRING_PACKED_DESC_F_USED));
    assert_int_equal(ring[0].id, 2);
    assert_int_equal(ring[0].len, 3);
    assert_false(ring[1].flags & (1u << VRING_PACKED_DESC_F_USED)); /* skipped */
    assert_false(ring[2].flags & (1u << VRING_PACKED_DESC_F_USED));
    uint32_t len;
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), (void *)1);
    assert_int_equal(len, 10);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), (void *)2);
    assert_int_equal(len, 10);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), (void *)3);
    assert_int_equal(len, 3);
    assert_null(vdrv_pvq_get_used(&f->vq, &len));
    /* A short first buffer is never folded. */
    for (unsigned i = 0; i < 2; i++) {
        struct vdrv_sg sg = { data_gpa(i), 10 };
        assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 0, 1, (void *)(uintptr_t)(i + 5)), 0);
        assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
        h[i] = f->e.head;
    }
    virtq_push(&f->dq, h[1], 10);
    virtq_push(&f->dq, h[0], 4);
    assert_true(ring[3].flags & (1u << VRING_PACKED_DESC_F_USED));
    assert_true(ring[4].flags & (1u << VRING_PACKED_DESC_F_USED));
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), (void *)5);
    assert_int_equal(len, 4);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), (void *)6);
    assert_int_equal(len, 10);
}

static void test_indirect(void **state)
{
    struct fx *f = *state;
    fx_start(f, 4, F_INDIRECT);
    struct vring_packed_desc *table = (void *)(f->ram + TABLE_OFF);
    struct vdrv_sg sg[5] = { { data_gpa(0), 16 }, { data_gpa(1), 32 }, { data_gpa(2), 64 },
                             { data_gpa(3), 1 }, { data_gpa(4), 2 } };
    /* More buffers than the ring has descriptors: the point of indirect. */
    for (unsigned lap = 0; lap < 9; lap++) {
        assert_int_equal(vdrv_pvq_add_indirect(&f->vq, sg, 3, 2, table, gpa(TABLE_OFF),
                                               (void *)(uintptr_t)(lap + 1)),
                         0);
        assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
        assert_int_equal(f->e.nout, 3);
        assert_int_equal(f->e.nin, 2);
        assert_int_equal(f->e.out_len, 112);
        assert_int_equal(f->e.in_len, 3);
        assert_ptr_equal(f->iov[1].iov_base, data(f, 1));
        assert_ptr_equal(f->iov[4].iov_base, data(f, 4));
        virtq_push(&f->dq, f->e.head, 3);
        uint32_t len;
        assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), (void *)(uintptr_t)(lap + 1));
        assert_int_equal(len, 3);
    }
    assert_int_equal(f->vq.num_free, 4);
}

static void test_unpop(void **state)
{
    struct fx *f = *state;
    fx_start(f, 7, 0);
    add_request(f, 9, (void *)9); /* so the second chain below crosses the end */
    virtq_push(&f->dq, pop_request(f, 9), 1);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)9);
    add_request(f, 1, (void *)1);
    add_request(f, 2, (void *)2);
    pop_request(f, 1);
    uint16_t h1 = f->e.head;
    pop_request(f, 2);
    virtq_unpop(&f->dq);
    assert_true(virtq_has_avail(&f->dq));
    uint16_t h2 = pop_request(f, 2); /* the same chain again */
    assert_int_equal(f->dq.pk.last_avail, 2);
    assert_false(f->dq.pk.avail_wrap);
    assert_int_equal(f->dq.pk.inflight, 6);
    virtq_push(&f->dq, h2, 1);
    virtq_push(&f->dq, h1, 1);
    virtq_push(&f->dq, h1, 1); /* twice: ignored */
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)2);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)1);
    assert_null(vdrv_pvq_get_used(&f->vq, NULL));
    assert_int_equal(f->dq.pk.inflight, 0);
    assert_int_equal(f->vq.num_free, 7);
}

/* Available buffer notifications: ENABLE/DISABLE, and the descriptor event
 * (with its wrap counter) the device parks where it ran dry. */
static void test_kick_suppression(void **state)
{
    struct fx *f = *state;
    fx_start(f, 3, 0);
    add_request(f, 0, (void *)1);
    assert_true(vdrv_pvq_kick_prepare(&f->vq));
    assert_false(vdrv_pvq_kick_prepare(&f->vq)); /* nothing new */
    virtq_set_notify(&f->dq, false);
    virtq_push(&f->dq, pop_request(f, 0), 1);
    vdrv_pvq_get_used(&f->vq, NULL);
    add_request(f, 1, (void *)1);
    assert_false(vdrv_pvq_kick_prepare(&f->vq));
    virtq_set_notify(&f->dq, true);
    virtq_push(&f->dq, pop_request(f, 1), 1);
    vdrv_pvq_get_used(&f->vq, NULL);
    add_request(f, 2, (void *)1);
    assert_true(vdrv_pvq_kick_prepare(&f->vq));
    virtq_push(&f->dq, pop_request(f, 2), 1);
    vdrv_pvq_get_used(&f->vq, NULL);

    /* Event idx on a 3-entry ring: the event's wrap counter matters, since
     * the same offset comes round every lap. */
    fx_start(f, 3, F_EVENT);
    for (unsigned lap = 0; lap < 10; lap++) {
        assert_int_equal(virtq_pop(&f->dq, &f->e), 0); /* parks the event */
        struct vdrv_sg sg = { data_gpa(lap), 4 };
        assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 1, 0, (void *)1), 0);
        assert_true(vdrv_pvq_kick_prepare(&f->vq));
        assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 1, 0, (void *)2), 0);
        /* The device has not looked yet: no second kick. */
        assert_false(vdrv_pvq_kick_prepare(&f->vq));
        for (unsigned i = 0; i < 2; i++) {
            assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
            virtq_push(&f->dq, f->e.head, 0);
        }
        assert_non_null(vdrv_pvq_get_used(&f->vq, NULL));
        assert_non_null(vdrv_pvq_get_used(&f->vq, NULL));
    }
    /* Disabled outright, then re-enabled at the next position. */
    virtq_set_notify(&f->dq, false);
    struct vdrv_sg sg = { data_gpa(0), 4 };
    assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 1, 0, (void *)1), 0);
    assert_false(vdrv_pvq_kick_prepare(&f->vq));
    virtq_set_notify(&f->dq, true);
    assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 1, 0, (void *)2), 0);
    assert_false(vdrv_pvq_kick_prepare(&f->vq)); /* event is at the first, already past */
    assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
    virtq_push(&f->dq, f->e.head, 0);
    assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
    virtq_push(&f->dq, f->e.head, 0);
    assert_int_equal(virtq_pop(&f->dq, &f->e), 0);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)1);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)2);
}

/* Used buffer notifications, driver event suppression read by the device. */
static void test_irq_suppression(void **state)
{
    struct fx *f = *state;
    fx_start(f, 6, 0);
    add_request(f, 0, (void *)1);
    virtq_push(&f->dq, pop_request(f, 0), 1);
    assert_true(virtq_needs_irq(&f->dq));
    vdrv_pvq_disable_cb(&f->vq);
    add_request(f, 1, (void *)2);
    virtq_push(&f->dq, pop_request(f, 1), 1);
    assert_false(virtq_needs_irq(&f->dq));
    assert_false(vdrv_pvq_enable_cb(&f->vq)); /* two used already waiting */
    assert_true(virtq_needs_irq(&f->dq));
    assert_non_null(vdrv_pvq_get_used(&f->vq, NULL));
    assert_non_null(vdrv_pvq_get_used(&f->vq, NULL));
    assert_true(vdrv_pvq_enable_cb(&f->vq));

    /* Event idx: one interrupt when the armed position is used, none for
     * later ones until the driver reclaims (which moves the event along). */
    fx_start(f, 5, F_EVENT);
    for (unsigned lap = 0; lap < 12; lap++) {
        assert_true(vdrv_pvq_enable_cb(&f->vq));
        add_request(f, 0, (void *)1);
        struct vdrv_sg sg = { data_gpa(1), 4 };
        assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 0, 1, (void *)2), 0);
        virtq_push(&f->dq, pop_request(f, 0), 1);
        assert_true(virtq_needs_irq(&f->dq));
        assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
        virtq_push(&f->dq, f->e.head, 4);
        assert_false(virtq_needs_irq(&f->dq));
        assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)1);
        assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)2);
        vdrv_pvq_disable_cb(&f->vq);
        add_request(f, 2, (void *)3);
        virtq_push(&f->dq, pop_request(f, 2), 1);
        assert_false(virtq_needs_irq(&f->dq));
        assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)3);
    }
}

/* Ids the device makes up, repeats, or puts out of range are refused, and
 * the driver stays inside its ring. */
static void test_driver_refuses_bad_ids(void **state)
{
    struct fx *f = *state;
    fx_start(f, 4, 0);
    add_request(f, 0, (void *)1);
    uint16_t h = pop_request(f, 0);
    unsigned used = (1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED);
    f->vq.desc[0].id = 4; /* out of range */
    f->vq.desc[0].flags = (uint16_t)used;
    assert_null(vdrv_pvq_get_used(&f->vq, NULL));
    f->vq.desc[0].id = 3; /* in range, not in flight */
    assert_null(vdrv_pvq_get_used(&f->vq, NULL));
    assert_int_equal(f->vq.num_free, 1);
    assert_int_equal(f->vq.last_used, 0);
    virtq_push(&f->dq, h, 1);
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), (void *)1);
    /* The same id reported again at the next position: not in flight. */
    f->vq.desc[3].id = f->vq.desc[0].id;
    f->vq.desc[3].flags = (uint16_t)used;
    assert_null(vdrv_pvq_get_used(&f->vq, NULL));
    assert_int_equal(f->vq.num_free, 4);
    assert_int_equal(vdrv_pvq_add(&f->vq, NULL, 0, 0, (void *)1), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_validates, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_laps_odd_sizes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_laps_in_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_in_order_holds_and_folds, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_indirect, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unpop, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kick_suppression, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_irq_suppression, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_driver_refuses_bad_ids, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
