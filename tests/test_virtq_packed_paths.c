/* Packed virtqueue: the fast paths against the general ones, both ends.
 *
 * The device pops a chain on a straight-line walk when it is direct, lies in
 * region 0 and ends before the ring does, and on the general walk otherwise;
 * the driver adds a chain that ends before the ring does in straight runs and
 * any other one descriptor by descriptor. Random chains through rings of
 * several sizes land on both paths of both ends (this test counts that they
 * do), and every pop must give exactly the iovecs the driver's sg list names,
 * every reclaim exactly the token and length the device pushed. Then the
 * event decoding fast paths against words the common case never writes. */
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
#define RAM_SIZE  0x40000u
#define DATA_OFF  0x10000u
#define HIGH_GPA  0x80000000ULL /* region 1: the fast walk leaves it to the general one */
#define HIGH_SIZE 0x10000u
#define QMAX      64
#define MAX_CHAIN 6

#define F_EVENT    (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_IN_ORDER (1ULL << VIRTIO_F_IN_ORDER)

struct fx {
    uint8_t *ram, *high;
    struct gmem mem;
    struct virtq dq;
    struct vdrv_pvq vq;
    struct vdrv_pvq_id ids[QMAX];
    struct iovec iov[QMAX];
    struct virtq_elem e;
    uint64_t rng;
};

static unsigned rnd(struct fx *f, unsigned n)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return (unsigned)(f->rng % n);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->ram = aligned_alloc(4096, RAM_SIZE);
    f->high = malloc(HIGH_SIZE);
    gmem_init(&f->mem);
    assert_int_equal(gmem_add(&f->mem, RAM_GPA, RAM_SIZE, f->ram), 0);
    assert_int_equal(gmem_add(&f->mem, HIGH_GPA, HIGH_SIZE, f->high), 0);
    f->dq.max_size = QMAX;
    virtq_reset(&f->dq);
    f->e.iov = f->iov;
    f->e.iov_cap = QMAX;
    f->rng = 0x9e3779b97f4a7c15ull;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    virtq_reset(&f->dq);
    free(f->ram);
    free(f->high);
    free(f);
    return 0;
}

static void fx_start(struct fx *f, uint16_t size, uint64_t features)
{
    memset(f->ram, 0, RAM_SIZE);
    packed_pair_start(&f->vq, f->ids, &f->dq, &f->mem, f->ram, RAM_GPA, size, features);
}

static void *host(struct fx *f, uint64_t addr)
{
    return addr >= HIGH_GPA ? f->high + (addr - HIGH_GPA) : f->ram + (addr - RAM_GPA);
}

struct chain {
    struct vdrv_sg sg[MAX_CHAIN];
    unsigned nout, nin;
    uint32_t in_len;
    uint16_t head;   /* the device's handle once popped */
    uint32_t pushed; /* the length the device pushed */
};

/* A random chain: 1..MAX_CHAIN buffers (zero-length ones too), readable
 * then writable, now and then one in region 1. */
static void random_chain(struct fx *f, struct chain *c, unsigned *high)
{
    unsigned n = 1 + rnd(f, MAX_CHAIN);
    c->nout = rnd(f, n + 1);
    c->nin = n - c->nout;
    c->in_len = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t len = rnd(f, 8) ? 1 + rnd(f, 300) : 0;
        bool in_high = rnd(f, 16) == 0;
        uint64_t addr = in_high ? HIGH_GPA + rnd(f, HIGH_SIZE - 300)
                                : RAM_GPA + DATA_OFF + rnd(f, RAM_SIZE - DATA_OFF - 300);
        *high += in_high && len;
        c->sg[i] = (struct vdrv_sg){ addr, len };
        if (i >= c->nout)
            c->in_len += len;
    }
}

/* What the driver named, buffer for buffer. */
static void expect_popped(struct fx *f, const struct chain *c)
{
    assert_int_equal(f->e.nout, c->nout);
    assert_int_equal(f->e.nin, c->nin);
    uint32_t out_len = 0;
    for (unsigned i = 0; i < c->nout + c->nin; i++) {
        assert_int_equal(f->iov[i].iov_len, c->sg[i].len);
        if (c->sg[i].len)
            assert_ptr_equal(f->iov[i].iov_base, host(f, c->sg[i].addr));
        if (i < c->nout)
            out_len += c->sg[i].len;
    }
    assert_int_equal(f->e.out_len, out_len);
    assert_int_equal(f->e.in_len, c->in_len);
}

static void run_random(struct fx *f, uint16_t size, uint64_t features, unsigned requests,
                       unsigned *straddling, unsigned *high)
{
    fx_start(f, size, features);
    struct chain chains[QMAX];
    unsigned order[QMAX];
    bool in_order = features & F_IN_ORDER;
    for (unsigned done = 0; done < requests;) {
        /* Add a few chains, pop them all, push them back in a random order. */
        unsigned batch = 0, want = 1 + rnd(f, 4);
        while (batch < want) {
            struct chain *c = &chains[batch];
            random_chain(f, c, high);
            unsigned n = c->nout + c->nin;
            if (n > f->vq.num_free)
                break;
            *straddling += f->vq.next_avail + n > size;
            assert_int_equal(vdrv_pvq_add(&f->vq, c->sg, c->nout, c->nin, c), 0);
            batch++;
        }
        vdrv_pvq_kick_prepare(&f->vq);
        for (unsigned i = 0; i < batch; i++) {
            unsigned n = chains[i].nout + chains[i].nin;
            /* Sometimes exactly as many iovecs as the chain needs. */
            f->e.iov_cap = (uint16_t)(rnd(f, 2) ? n : QMAX);
            assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
            expect_popped(f, &chains[i]);
            chains[i].head = f->e.head;
            order[i] = i;
        }
        assert_int_equal(virtq_pop(&f->dq, &f->e), 0);
        for (unsigned i = batch; i > 1; i--) {
            unsigned j = rnd(f, i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (unsigned i = 0; i < batch; i++) {
            struct chain *c = &chains[order[i]];
            c->pushed = c->in_len ? rnd(f, c->in_len + 1) : 0;
            virtq_push(&f->dq, c->head, c->pushed);
        }
        for (unsigned i = 0; i < batch; i++) {
            struct chain *c = &chains[in_order ? i : order[i]];
            uint32_t len = ~0u;
            assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), c);
            assert_int_equal(len, c->pushed);
        }
        assert_null(vdrv_pvq_get_used(&f->vq, NULL));
        packed_pair_in_step(&f->vq, &f->dq);
        assert_false(f->dq.broken);
        done += batch;
    }
}

static void test_paths_agree(void **state)
{
    struct fx *f = *state;
    static const uint16_t sizes[] = { 6, 7, 16, 29, 64 };
    static const uint64_t feats[] = { 0, F_EVENT, F_IN_ORDER | F_EVENT };
    unsigned straddling = 0, high = 0;
    for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        for (unsigned i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
            run_random(f, sizes[s], feats[i], 600, &straddling, &high);
    /* Both walks of both ends were taken, many times. */
    assert_true(straddling > 500);
    assert_true(high > 500);
}

/* The device's event word as kick_prepare reads it. */
static void device_event(struct fx *f, uint32_t flags, unsigned off, bool wrap)
{
    *(uint32_t *)(f->ram + (f->vq.device_pa - RAM_GPA)) =
        flags << 16 | off | (wrap ? 1u << VRING_PACKED_EVENT_F_WRAP_CTR : 0);
}

/* kick_prepare's DESC decision, and what the general decoding makes of the
 * same event with reserved flag bits set, against the rule written out:
 * kick iff the named position is one of the added ones before next_avail. */
static void test_kick_decoding(void **state)
{
    struct fx *f = *state;
    const unsigned size = 5, cycle = 2 * size;
    fx_start(f, size, F_EVENT);
    for (unsigned step = 0; step < 3 * cycle; step++) {
        unsigned now = f->vq.next_avail + (f->vq.avail_wrap ? 0 : size);
        for (unsigned ev = 0; ev < cycle; ev++) {
            unsigned off = ev % size;
            bool wrap = ev < size;
            for (uint32_t added = 1; added <= cycle + 1; added++) {
                unsigned back = (now + cycle - ev) % cycle;
                bool want = (back ? back : cycle) <= added;
                device_event(f, VRING_PACKED_EVENT_FLAG_DESC, off, wrap);
                f->vq.num_added = added;
                assert_int_equal(vdrv_pvq_kick_prepare(&f->vq), want);
                device_event(f, VRING_PACKED_EVENT_FLAG_DESC | 4u, off, wrap);
                f->vq.num_added = added;
                assert_int_equal(vdrv_pvq_kick_prepare(&f->vq), want);
            }
        }
        /* An offset past the ring, ENABLE and DISABLE, reserved bits or not. */
        static const struct { uint32_t flags; bool kick; } other[] = {
            { VRING_PACKED_EVENT_FLAG_ENABLE, true }, { VRING_PACKED_EVENT_FLAG_ENABLE | 8u, true },
            { VRING_PACKED_EVENT_FLAG_DISABLE, false }, { VRING_PACKED_EVENT_FLAG_DISABLE | 4u, false },
            { 3u, true },
        };
        for (unsigned i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
            device_event(f, other[i].flags, 1, true);
            f->vq.num_added = 1;
            assert_int_equal(vdrv_pvq_kick_prepare(&f->vq), other[i].kick);
        }
        device_event(f, VRING_PACKED_EVENT_FLAG_DESC, size, true);
        f->vq.num_added = 1;
        assert_true(vdrv_pvq_kick_prepare(&f->vq));
        /* Move on by one descriptor. */
        struct vdrv_sg sg = { RAM_GPA + DATA_OFF, 4 };
        assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 1, 0, f), 0);
        assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
        virtq_push(&f->dq, f->e.head, 0);
        assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), f);
    }
    /* Without event idx a DESC event is read as ENABLE. */
    fx_start(f, size, 0);
    device_event(f, VRING_PACKED_EVENT_FLAG_DESC, 3, true);
    f->vq.num_added = 1;
    assert_true(vdrv_pvq_kick_prepare(&f->vq));
}

/* The device's interrupt decision: ENABLE in one compare, everything else as
 * before, reserved flag bits ignored. */
static void test_irq_decoding(void **state)
{
    struct fx *f = *state;
    static const struct { uint32_t flags; bool irq; } cases[] = {
        { VRING_PACKED_EVENT_FLAG_ENABLE, true }, { VRING_PACKED_EVENT_FLAG_ENABLE | 4u, true },
        { VRING_PACKED_EVENT_FLAG_DISABLE, false }, { VRING_PACKED_EVENT_FLAG_DISABLE | 8u, false },
        { 3u, true },
    };
    for (unsigned e = 0; e < 2; e++) {
        fx_start(f, 8, e ? F_EVENT : 0);
        uint32_t *word = (uint32_t *)(f->ram + (f->vq.driver_pa - RAM_GPA));
        for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct vdrv_sg sg = { RAM_GPA + DATA_OFF, 4 };
            assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 0, 1, f), 0);
            assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
            virtq_push(&f->dq, f->e.head, 4);
            *word = cases[i].flags << 16;
            assert_int_equal(virtq_needs_irq(&f->dq), cases[i].irq);
            assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), f);
        }
        /* DESC: the one position just used, with or without reserved bits;
         * an offset past the ring always; without event idx, like ENABLE. */
        for (uint32_t reserved = 0; reserved <= 4; reserved += 4) {
            unsigned at = f->dq.pk.used_idx;
            bool wrap = f->dq.pk.used_wrap;
            struct vdrv_sg sg = { RAM_GPA + DATA_OFF, 4 };
            assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 0, 1, f), 0);
            assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
            virtq_push(&f->dq, f->e.head, 4);
            *word = (VRING_PACKED_EVENT_FLAG_DESC | reserved) << 16 | ((at + 1) % 8) |
                    (wrap ? 1u << VRING_PACKED_EVENT_F_WRAP_CTR : 0);
            assert_int_equal(virtq_needs_irq(&f->dq), !e); /* the next one: not yet */
            assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), f);
            assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 0, 1, f), 0);
            assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
            virtq_push(&f->dq, f->e.head, 4);
            *word = (VRING_PACKED_EVENT_FLAG_DESC | reserved) << 16 | at |
                    (wrap ? 1u << VRING_PACKED_EVENT_F_WRAP_CTR : 0);
            assert_int_equal(virtq_needs_irq(&f->dq), !e); /* already behind */
            assert_ptr_equal(vdrv_pvq_get_used(&f->vq, NULL), f);
            *word = (VRING_PACKED_EVENT_FLAG_DESC | reserved) << 16 | 8u;
            assert_true(virtq_needs_irq(&f->dq));
        }
    }
}

/* Handles the device model got wrong: out of range, never popped, pushed
 * twice; none reaches the ring, and unpop after a push does nothing. */
static void test_bad_handles_ignored(void **state)
{
    struct fx *f = *state;
    fx_start(f, 8, 0);
    struct vdrv_sg sg = { RAM_GPA + DATA_OFF, 4 };
    assert_int_equal(vdrv_pvq_add(&f->vq, &sg, 0, 1, f), 0);
    assert_int_equal(virtq_pop(&f->dq, &f->e), 1);
    uint16_t h = f->e.head;
    virtq_push(&f->dq, 8, 1);
    virtq_push(&f->dq, 0xffff, 1);
    virtq_push(&f->dq, (uint16_t)(h + 1), 1); /* free slot */
    assert_int_equal(f->dq.pk.used_idx, 0);
    assert_false(vdrv_pvq_has_used(&f->vq));
    virtq_push(&f->dq, h, 2);
    virtq_push(&f->dq, h, 3);
    virtq_unpop(&f->dq);
    assert_int_equal(f->dq.pk.used_idx, 1);
    assert_int_equal(f->dq.pk.last_avail, 1);
    assert_int_equal(f->dq.pk.inflight, 0);
    uint32_t len = 0;
    assert_ptr_equal(vdrv_pvq_get_used(&f->vq, &len), f);
    assert_int_equal(len, 2);
    assert_null(vdrv_pvq_get_used(&f->vq, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paths_agree, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kick_decoding, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_irq_decoding, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_handles_ignored, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
