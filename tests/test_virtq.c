/* Split virtqueue, device side: normal operation against rings built by hand
 * in a malloc'd "guest RAM" (so ASan sees any access outside it). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtq.h"

#define RAM_GPA   0x40000000ULL /* not 0, so gpa/hva mix-ups show */
#define RAM_SIZE  0x40000u
#define DESC_OFF  0x0000u
#define AVAIL_OFF 0x4000u
#define USED_OFF  0x5000u
#define DATA_OFF  0x10000u
#define QMAX      256

struct fx {
    uint8_t *ram;
    struct gmem mem;
    struct virtq q;
    uint16_t avail_idx;
    struct iovec iov[64];
    struct virtq_elem e;
};

static struct vring_desc *ring_desc(struct fx *f) { return (void *)(f->ram + DESC_OFF); }
static struct vring_avail *ring_avail(struct fx *f) { return (void *)(f->ram + AVAIL_OFF); }
static struct vring_used *ring_used(struct fx *f) { return (void *)(f->ram + USED_OFF); }
static uint64_t gpa(uint32_t off) { return RAM_GPA + off; }

static void set_desc(struct vring_desc *t, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    t[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

static void publish(struct fx *f, uint16_t head)
{
    ring_avail(f)->ring[f->avail_idx % f->q.size] = head;
    f->avail_idx++;
    ring_avail(f)->idx = f->avail_idx;
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->ram = aligned_alloc(4096, RAM_SIZE);
    memset(f->ram, 0, RAM_SIZE);
    gmem_init(&f->mem);
    assert_int_equal(gmem_add(&f->mem, RAM_GPA, RAM_SIZE, f->ram), 0);
    f->q.max_size = QMAX;
    virtq_reset(&f->q);
    f->e.iov = f->iov;
    f->e.iov_cap = 64;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    free(f->ram);
    free(f);
    return 0;
}

static void fx_start(struct fx *f, uint16_t size, uint64_t features)
{
    f->q.size = size;
    f->q.desc_gpa = gpa(DESC_OFF);
    f->q.avail_gpa = gpa(AVAIL_OFF);
    f->q.used_gpa = gpa(USED_OFF);
    assert_int_equal(virtq_start(&f->q, &f->mem, features), 0);
}

#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ULL << VIRTIO_RING_F_EVENT_IDX)

static void test_reset_state(void **state)
{
    struct fx *f = *state;
    f->q.index = 3;
    fx_start(f, 16, 0);
    virtq_reset(&f->q);
    assert_int_equal(f->q.size, QMAX);
    assert_int_equal(f->q.max_size, QMAX);
    assert_int_equal(f->q.index, 3);
    assert_false(f->q.ready);
    assert_null(f->q.avail);
    assert_int_equal(f->q.desc_gpa, 0);
    assert_int_equal(virtq_pop(&f->q, &f->e), 0);
    assert_false(virtq_has_avail(&f->q));
    virtq_push(&f->q, 0, 0); /* a stopped queue ignores it */
    assert_false(virtq_needs_irq(&f->q));
}

static void test_start_resolves_rings(void **state)
{
    struct fx *f = *state;
    fx_start(f, 64, F_EVENT);
    assert_true(f->q.ready);
    assert_ptr_equal(f->q.desc, ring_desc(f));
    assert_ptr_equal(f->q.avail, ring_avail(f));
    assert_ptr_equal(f->q.used, ring_used(f));
    assert_ptr_equal(f->q.used_event, &ring_avail(f)->ring[64]);
    assert_ptr_equal(f->q.avail_event, (void *)&ring_used(f)->ring[64]);
    assert_true(f->q.event_idx);
    assert_false(f->q.indirect);
}

static void test_pop_empty(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    assert_false(virtq_has_avail(&f->q));
    assert_int_equal(virtq_pop(&f->q, &f->e), 0);
}

static void test_pop_out_then_in(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    struct vring_desc *d = ring_desc(f);
    set_desc(d, 5, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 2);
    set_desc(d, 2, gpa(DATA_OFF + 0x100), 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 9);
    set_desc(d, 9, gpa(DATA_OFF + 0x400), 1, VRING_DESC_F_WRITE, 0);
    publish(f, 5);
    assert_true(virtq_has_avail(&f->q));
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.head, 5);
    assert_int_equal(f->e.nout, 1);
    assert_int_equal(f->e.nin, 2);
    assert_int_equal(f->e.out_len, 16);
    assert_int_equal(f->e.in_len, 513);
    assert_ptr_equal(f->iov[0].iov_base, f->ram + DATA_OFF);
    assert_int_equal(f->iov[0].iov_len, 16);
    assert_ptr_equal(f->iov[1].iov_base, f->ram + DATA_OFF + 0x100);
    assert_int_equal(f->iov[1].iov_len, 512);
    assert_ptr_equal(f->iov[2].iov_base, f->ram + DATA_OFF + 0x400);
    assert_int_equal(f->iov[2].iov_len, 1);
    assert_false(virtq_has_avail(&f->q));
    assert_int_equal(virtq_pop(&f->q, &f->e), 0);
}

static void test_pop_one_direction_only(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    struct vring_desc *d = ring_desc(f);
    set_desc(d, 0, gpa(DATA_OFF), 10, VRING_DESC_F_NEXT, 1);
    set_desc(d, 1, gpa(DATA_OFF + 10), 20, 0, 0);
    set_desc(d, 2, gpa(DATA_OFF + 40), 30, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    publish(f, 2);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.nout, 2);
    assert_int_equal(f->e.nin, 0);
    assert_int_equal(f->e.out_len, 30);
    assert_int_equal(f->e.in_len, 0);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.head, 2);
    assert_int_equal(f->e.nout, 0);
    assert_int_equal(f->e.nin, 1);
    assert_int_equal(f->e.out_len, 0);
    assert_int_equal(f->e.in_len, 30);
}

static void test_push_publishes_used(void **state)
{
    struct fx *f = *state;
    fx_start(f, 4, 0);
    struct vring_desc *d = ring_desc(f);
    for (unsigned i = 0; i < 4; i++)
        set_desc(d, i, gpa(DATA_OFF + i * 64), 64, VRING_DESC_F_WRITE, 0);
    /* Many times round a small ring: indices wrap at the ring size and at
     * 2^16, and the ring slots follow. */
    for (unsigned n = 0; n < 70000; n++) {
        publish(f, (uint16_t)(n % 4));
        assert_int_equal(virtq_pop(&f->q, &f->e), 1);
        assert_int_equal(f->e.head, n % 4);
        virtq_push(&f->q, f->e.head, 7 + n % 3);
        struct vring_used *u = ring_used(f);
        assert_int_equal(u->idx, (uint16_t)(n + 1));
        assert_int_equal(u->ring[n % 4].id, n % 4);
        assert_int_equal(u->ring[n % 4].len, 7 + n % 3);
    }
    assert_int_equal(virtq_pop(&f->q, &f->e), 0);
}

static void test_full_ring_and_queue_size_chain(void **state)
{
    struct fx *f = *state;
    fx_start(f, 8, 0);
    struct vring_desc *d = ring_desc(f);
    /* One chain using every descriptor: exactly the queue size is legal. */
    for (unsigned i = 0; i < 8; i++)
        set_desc(d, i, gpa(DATA_OFF + i), 1, i < 7 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.nout, 8);
    assert_int_equal(f->e.out_len, 8);
    virtq_push(&f->q, 0, 0);
    /* A full avail ring: size chains outstanding at once. */
    for (unsigned i = 0; i < 8; i++)
        set_desc(d, i, gpa(DATA_OFF + i), 1, 0, 0);
    for (unsigned i = 0; i < 8; i++)
        publish(f, (uint16_t)(7 - i));
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(virtq_pop(&f->q, &f->e), 1);
        assert_int_equal(f->e.head, 7 - i);
    }
    assert_int_equal(virtq_pop(&f->q, &f->e), 0);
}

static void test_iov_cap_exact_fit(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    struct vring_desc *d = ring_desc(f);
    set_desc(d, 0, gpa(DATA_OFF), 4, VRING_DESC_F_NEXT, 1);
    set_desc(d, 1, gpa(DATA_OFF + 4), 4, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
    set_desc(d, 2, gpa(DATA_OFF + 8), 4, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    f->e.iov_cap = 3;
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.nout + f->e.nin, 3);
}

static void test_zero_length_descriptors(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    struct vring_desc *d = ring_desc(f);
    /* Kept as empty iovecs, even with an address outside guest memory. */
    set_desc(d, 0, gpa(DATA_OFF), 0, VRING_DESC_F_NEXT, 1);
    set_desc(d, 1, 0xdead00000000ULL, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
    set_desc(d, 2, gpa(DATA_OFF), 8, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.nout, 1);
    assert_int_equal(f->e.nin, 2);
    assert_int_equal(f->iov[0].iov_len, 0);
    assert_ptr_equal(f->iov[0].iov_base, f->ram + DATA_OFF);
    assert_int_equal(f->iov[1].iov_len, 0);
    assert_int_equal(f->iov[2].iov_len, 8);
    assert_int_equal(f->e.in_len, 8);
    assert_false(f->q.broken);
}

static void test_indirect_table(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, F_INDIRECT);
    assert_true(f->q.indirect);
    struct vring_desc *t = (void *)(f->ram + DATA_OFF + 0x1000);
    set_desc(t, 0, gpa(DATA_OFF), 12, VRING_DESC_F_NEXT, 2);
    set_desc(t, 2, gpa(DATA_OFF + 0x20), 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    set_desc(t, 1, gpa(DATA_OFF + 0x200), 1, VRING_DESC_F_WRITE, 0);
    /* WRITE on the descriptor naming the table carries no meaning. */
    set_desc(ring_desc(f), 3, gpa(DATA_OFF + 0x1000), 3 * sizeof(struct vring_desc),
             VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
    publish(f, 3);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.head, 3);
    assert_int_equal(f->e.nout, 1);
    assert_int_equal(f->e.nin, 2);
    assert_int_equal(f->e.out_len, 12);
    assert_int_equal(f->e.in_len, 101);
    assert_ptr_equal(f->iov[1].iov_base, f->ram + DATA_OFF + 0x20);
    assert_ptr_equal(f->iov[2].iov_base, f->ram + DATA_OFF + 0x200);
}

static void test_direct_then_indirect(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, F_INDIRECT);
    /* §2.7.5.3.2: normal descriptors followed by one indirect one. Bytes
     * keep their order across the switch. */
    struct vring_desc *t = (void *)(f->ram + DATA_OFF + 0x1000);
    set_desc(t, 0, gpa(DATA_OFF + 0x10), 8, VRING_DESC_F_NEXT, 1);
    set_desc(t, 1, gpa(DATA_OFF + 0x40), 64, VRING_DESC_F_WRITE, 0);
    struct vring_desc *d = ring_desc(f);
    set_desc(d, 0, gpa(DATA_OFF), 16, VRING_DESC_F_NEXT, 7);
    set_desc(d, 7, gpa(DATA_OFF + 0x1000), 2 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.nout, 2);
    assert_int_equal(f->e.nin, 1);
    assert_int_equal(f->e.out_len, 24);
    assert_int_equal(f->e.in_len, 64);
    assert_ptr_equal(f->iov[0].iov_base, f->ram + DATA_OFF);
    assert_ptr_equal(f->iov[1].iov_base, f->ram + DATA_OFF + 0x10);
    assert_ptr_equal(f->iov[2].iov_base, f->ram + DATA_OFF + 0x40);
}

static void test_buffer_in_second_region(void **state)
{
    struct fx *f = *state;
    static uint8_t high[0x1000];
    assert_int_equal(gmem_add(&f->mem, 0x100000000ULL, sizeof(high), high), 0);
    fx_start(f, 16, 0);
    set_desc(ring_desc(f), 0, 0x100000000ULL + 0x10, 0x20, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_ptr_equal(f->iov[0].iov_base, high + 0x10);
}

static void test_unpop(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    set_desc(ring_desc(f), 4, gpa(DATA_OFF), 8, 0, 0);
    set_desc(ring_desc(f), 6, gpa(DATA_OFF), 8, 0, 0);
    publish(f, 4);
    publish(f, 6);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.head, 4);
    virtq_unpop(&f->q);
    assert_true(virtq_has_avail(&f->q));
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.head, 4);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    assert_int_equal(f->e.head, 6);
    assert_false(virtq_has_avail(&f->q));
}

static void push_one(struct fx *f)
{
    set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->q, &f->e), 1);
    virtq_push(&f->q, f->e.head, 8);
}

static void test_irq_flag_suppression(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    push_one(f);
    assert_true(virtq_needs_irq(&f->q));
    ring_avail(f)->flags = VRING_AVAIL_F_NO_INTERRUPT;
    push_one(f);
    assert_false(virtq_needs_irq(&f->q));
    ring_avail(f)->flags = 0;
    assert_true(virtq_needs_irq(&f->q));
}

static void test_irq_event_idx(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, F_EVENT);
    /* The flag means nothing with event idx. */
    ring_avail(f)->flags = VRING_AVAIL_F_NO_INTERRUPT;
    *f->q.used_event = 0;
    push_one(f); /* used idx 1: no baseline yet, so interrupt */
    assert_true(virtq_needs_irq(&f->q));
    push_one(f); /* 2: driver asked for an interrupt after entry 0 only */
    assert_false(virtq_needs_irq(&f->q));
    *f->q.used_event = 4; /* interrupt once used->idx moves past 4 */
    push_one(f);
    push_one(f);
    push_one(f); /* idx 3, 4, 5 pushed together */
    assert_true(virtq_needs_irq(&f->q));
    push_one(f); /* 6 */
    assert_false(virtq_needs_irq(&f->q));
    *f->q.used_event = 6;
    push_one(f); /* 7 crosses 6 */
    assert_true(virtq_needs_irq(&f->q));
    assert_false(virtq_needs_irq(&f->q)); /* nothing new since */
}

static void test_notify_flag(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, 0);
    virtq_set_notify(&f->q, false);
    assert_int_equal(ring_used(f)->flags, VRING_USED_F_NO_NOTIFY);
    virtq_set_notify(&f->q, true);
    assert_int_equal(ring_used(f)->flags, 0);
}

static void test_notify_event_idx(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, F_EVENT);
    push_one(f);
    push_one(f);
    virtq_set_notify(&f->q, true);
    assert_int_equal(*f->q.avail_event, 2);
    assert_int_equal(ring_used(f)->flags, 0);
    push_one(f);
    virtq_set_notify(&f->q, false); /* leaves avail_event behind */
    assert_int_equal(*f->q.avail_event, 2);
    assert_int_equal(ring_used(f)->flags, 0);
    /* Re-check after enabling catches a chain added before the enable. */
    set_desc(ring_desc(f), 1, gpa(DATA_OFF), 8, 0, 0);
    publish(f, 1);
    virtq_set_notify(&f->q, true);
    assert_int_equal(*f->q.avail_event, 3);
    assert_true(virtq_has_avail(&f->q));
}

static void test_event_idx_rearmed_when_empty(void **state)
{
    struct fx *f = *state;
    fx_start(f, 16, F_EVENT);
    /* A device that never calls virtq_set_notify still gets its kicks. */
    push_one(f);
    push_one(f);
    push_one(f);
    assert_int_equal(*f->q.avail_event, 0); /* busy: left behind */
    assert_int_equal(virtq_pop(&f->q, &f->e), 0);
    assert_int_equal(*f->q.avail_event, 3);
    /* The driver's next add crosses it: vring_need_event says kick. */
    assert_true(vring_need_event(*f->q.avail_event, 4, 3));
    /* Without event idx nothing is written there. */
    virtq_reset(&f->q);
    memset(f->ram, 0, RAM_SIZE);
    f->avail_idx = 0;
    fx_start(f, 16, 0);
    push_one(f);
    assert_int_equal(virtq_pop(&f->q, &f->e), 0);
    assert_int_equal(ring_used(f)->ring[16].id, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_reset_state),
        T(test_start_resolves_rings),
        T(test_pop_empty),
        T(test_pop_out_then_in),
        T(test_pop_one_direction_only),
        T(test_push_publishes_used),
        T(test_full_ring_and_queue_size_chain),
        T(test_iov_cap_exact_fit),
        T(test_zero_length_descriptors),
        T(test_indirect_table),
        T(test_direct_then_indirect),
        T(test_buffer_in_second_region),
        T(test_unpop),
        T(test_irq_flag_suppression),
        T(test_irq_event_idx),
        T(test_notify_flag),
        T(test_notify_event_idx),
        T(test_event_idx_rearmed_when_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
