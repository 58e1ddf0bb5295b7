/* Driver-side split ring: checked by reading the ring memory the way a device
 * would, and by a round trip through kick's device side (virtio/virtq.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "guest/vdrv_ring.h"
#include "virtio/gmem.h"
#include "virtio/virtq.h"

#define QSIZE 8
#define RING_PA 0x40000ull

static uint8_t ring_mem[3 * 4096] __attribute__((aligned(4096)));
static void *tokens[256];
static uint16_t chain_len[256];
static int tok[256]; /* distinct token addresses */

static struct vdrv_vq q;

static void setup_ring(uint16_t size, bool legacy, bool event_idx)
{
    memset(ring_mem, 0, sizeof(ring_mem));
    assert_true(vdrv_vq_mem_size(size, legacy) <= sizeof(ring_mem));
    /* Garbage in the caller's arrays must not survive init. */
    memset(tokens, 0xa5, sizeof(tokens));
    memset(chain_len, 0xa5, sizeof(chain_len));
    vdrv_vq_init(&q, size, ring_mem, RING_PA, tokens, chain_len, legacy, event_idx);
}

static uint16_t *used_event(void) { return &q.avail->ring[q.size]; }
static uint16_t *avail_event(void) { return (uint16_t *)&q.used->ring[q.size]; }

/* The device's half of a completion, by hand. */
static void device_complete(uint32_t id, uint32_t len)
{
    uint16_t idx = q.used->idx;
    q.used->ring[idx % q.size].id = id;
    q.used->ring[idx % q.size].len = len;
    q.used->idx = (uint16_t)(idx + 1);
}

static void test_layout_matches_spec(void **state)
{
    (void)state;
    /* Legacy: the uapi vring_size/vring_init with 4096 alignment is the
     * spec's legacy layout; ours must match it byte for byte. */
    for (unsigned size = 1; size <= 256; size *= 2) {
        struct vring ref;
        assert_int_equal(vdrv_vq_mem_size((uint16_t)size, true), vring_size(size, 4096));
        setup_ring((uint16_t)size, true, false);
        vring_init(&ref, size, ring_mem, 4096);
        assert_ptr_equal(q.desc, ref.desc);
        assert_ptr_equal(q.avail, ref.avail);
        assert_ptr_equal(q.used, ref.used);
        assert_int_equal(q.used_pa - RING_PA, (uint8_t *)ref.used - ring_mem);
        assert_int_equal(q.used_pa % 4096, 0);
    }
    /* Modern: same order, used ring only 4-aligned, so smaller. */
    setup_ring(QSIZE, false, false);
    assert_int_equal(q.desc_pa, RING_PA);
    assert_int_equal(q.avail_pa, RING_PA + 16 * QSIZE);
    assert_int_equal(q.used_pa, RING_PA + ((16 * QSIZE + 6 + 2 * QSIZE + 3) & ~3ull));
    assert_int_equal(q.used_pa % 4, 0);
    assert_ptr_equal((uint8_t *)q.used - ring_mem, q.used_pa - RING_PA);
    assert_int_equal(vdrv_vq_mem_size(QSIZE, false), q.used_pa - RING_PA + 6 + 8 * QSIZE);
    assert_true(vdrv_vq_mem_size(QSIZE, false) < vdrv_vq_mem_size(QSIZE, true));
}

static void test_init_state(void **state)
{
    (void)state;
    setup_ring(QSIZE, false, false);
    assert_int_equal(q.size, QSIZE);
    assert_int_equal(q.num_free, QSIZE);
    assert_int_equal(q.free_head, 0);
    for (unsigned i = 0; i < QSIZE; i++) {
        assert_null(tokens[i]);
        assert_int_equal(chain_len[i], 0);
        if (i + 1 < QSIZE)
            assert_int_equal(q.desc[i].next, i + 1);
    }
}

static void test_add_writes_chain(void **state)
{
    (void)state;
    setup_ring(QSIZE, false, false);
    struct vdrv_sg sg[3] = { { 0x1000, 16 }, { 0x2000, 4096 }, { 0x3000, 1 } };
    assert_int_equal(vdrv_vq_add(&q, sg, 2, 1, &tok[0]), 0);
    assert_int_equal(q.num_free, QSIZE - 3);

    /* Walk the chain as a device would. */
    uint16_t head = q.avail->ring[0];
    uint16_t i = head;
    for (unsigned n = 0; n < 3; n++) {
        assert_int_equal(q.desc[i].addr, sg[n].addr);
        assert_int_equal(q.desc[i].len, sg[n].len);
        uint16_t want = (n < 2 ? 0 : VRING_DESC_F_WRITE) | (n < 2 ? VRING_DESC_F_NEXT : 0);
        assert_int_equal(q.desc[i].flags, want);
        i = q.desc[i].next;
    }
    assert_ptr_equal(tokens[head], &tok[0]);
    /* Reclaim's record, so it need not walk links the device can write:
     * the tail under the head, the length under the tail. */
    uint16_t tail = chain_len[head];
    assert_true(tail < QSIZE && tail != head);
    assert_int_equal(q.desc[tail].flags & VRING_DESC_F_NEXT, 0);
    assert_int_equal(chain_len[tail], 3);

    /* Not visible before kick_prepare publishes it. */
    assert_int_equal(q.avail->idx, 0);
    vdrv_vq_kick_prepare(&q);
    assert_int_equal(q.avail->idx, 1);

    /* Only writable, only readable. */
    assert_int_equal(vdrv_vq_add(&q, sg, 0, 1, &tok[1]), 0);
    uint16_t h2 = q.avail->ring[1];
    assert_int_equal(q.desc[h2].flags, VRING_DESC_F_WRITE);
    assert_int_equal(vdrv_vq_add(&q, sg, 1, 0, &tok[2]), 0);
    uint16_t h3 = q.avail->ring[2];
    assert_int_equal(q.desc[h3].flags, 0);
    assert_true(h2 != head && h3 != head && h3 != h2);
    vdrv_vq_kick_prepare(&q);
    assert_int_equal(q.avail->idx, 3);
}

static void test_add_errors_and_exhaustion(void **state)
{
    (void)state;
    setup_ring(QSIZE, false, false);
    struct vdrv_sg sg[QSIZE + 1];
    for (unsigned i = 0; i <= QSIZE; i++)
        sg[i] = (struct vdrv_sg){ 0x1000 * (i + 1), 8 };

    assert_int_equal(vdrv_vq_add(&q, sg, 0, 0, &tok[0]), -EINVAL);
    assert_int_equal(vdrv_vq_add(&q, sg, 1, 0, NULL), -EINVAL);
    assert_int_equal(vdrv_vq_add(&q, sg, QSIZE, 1, &tok[0]), -ENOSPC);
    assert_int_equal(vdrv_vq_add(&q, sg, 0xffffffffu, 2, &tok[0]), -ENOSPC); /* no wrap */
    assert_int_equal(q.num_free, QSIZE);

    /* Fill with 3 + 3 + 2, then nothing fits. */
    assert_int_equal(vdrv_vq_add(&q, sg, 3, 0, &tok[0]), 0);
    assert_int_equal(vdrv_vq_add(&q, sg, 1, 2, &tok[1]), 0);
    assert_int_equal(vdrv_vq_add(&q, sg, 3, 0, &tok[2]), -ENOSPC);
    assert_int_equal(vdrv_vq_add(&q, sg, 2, 0, &tok[2]), 0);
    assert_int_equal(q.num_free, 0);
    assert_int_equal(vdrv_vq_add(&q, sg, 0, 1, &tok[3]), -ENOSPC);
    vdrv_vq_kick_prepare(&q);

    /* Every descriptor is used exactly once. */
    uint8_t seen[QSIZE] = { 0 };
    for (unsigned c = 0; c < 3; c++) {
        uint16_t i = q.avail->ring[c];
        for (;;) {
            assert_true(i < QSIZE);
            seen[i]++;
            if (!(q.desc[i].flags & VRING_DESC_F_NEXT))
                break;
            i = q.desc[i].next;
        }
    }
    for (unsigned i = 0; i < QSIZE; i++)
        assert_int_equal(seen[i], 1);
}

static void test_reclaim_restores_free(void **state)
{
    (void)state;
    setup_ring(QSIZE, false, false);
    struct vdrv_sg sg[4] = { { 0x1000, 1 }, { 0x2000, 2 }, { 0x3000, 3 }, { 0x4000, 4 } };
    assert_int_equal(vdrv_vq_add(&q, sg, 1, 3, &tok[0]), 0);
    assert_int_equal(vdrv_vq_add(&q, sg, 2, 1, &tok[1]), 0);
    vdrv_vq_kick_prepare(&q);
    uint16_t h0 = q.avail->ring[0], h1 = q.avail->ring[1];
    assert_int_equal(q.num_free, 1);

    uint32_t len = 0;
    assert_false(vdrv_vq_has_used(&q));
    assert_null(vdrv_vq_get_used(&q, &len));
    /* Out of order completion. */
    device_complete(h1, 77);
    assert_true(vdrv_vq_has_used(&q));
    assert_ptr_equal(vdrv_vq_get_used(&q, &len), &tok[1]);
    assert_int_equal(len, 77);
    assert_int_equal(q.num_free, 4);
    assert_null(tokens[h1]);
    device_complete(h0, 5);
    assert_ptr_equal(vdrv_vq_get_used(&q, NULL), &tok[0]);
    assert_int_equal(q.num_free, QSIZE);
    assert_false(vdrv_vq_has_used(&q));

    /* The whole table is reusable as one chain: the free list is intact. */
    struct vdrv_sg big[QSIZE];
    for (unsigned i = 0; i < QSIZE; i++)
        big[i] = (struct vdrv_sg){ 0x10000 + i, 1 };
    assert_int_equal(vdrv_vq_add(&q, big, QSIZE, 0, &tok[2]), 0);
    assert_int_equal(q.num_free, 0);
}

/* Many cycles, including the 16-bit index wrap, with a mix of chain lengths. */
static void test_many_cycles_wrap(void **state)
{
    (void)state;
    setup_ring(4, false, false);
    struct vdrv_sg sg[3] = { { 0x1000, 1 }, { 0x2000, 2 }, { 0x3000, 3 } };
    for (unsigned n = 0; n < 70000; n++) {
        unsigned len = 1 + n % 3;
        assert_int_equal(vdrv_vq_add(&q, sg, len - 1, 1, &tok[n % 4]), 0);
        vdrv_vq_kick_prepare(&q);
        uint16_t head = q.avail->ring[(uint16_t)(q.avail->idx - 1) % 4];
        device_complete(head, len);
        uint32_t got;
        assert_ptr_equal(vdrv_vq_get_used(&q, &got), &tok[n % 4]);
        assert_int_equal(got, len);
        assert_int_equal(q.num_free, 4);
    }
    assert_int_equal(q.avail->idx, (uint16_t)70000);
}

static void test_kick_no_event_idx(void **state)
{
    (void)state;
    setup_ring(QSIZE, false, false);
    struct vdrv_sg sg = { 0x1000, 8 };
    assert_false(vdrv_vq_kick_prepare(&q)); /* nothing new */
    assert_int_equal(vdrv_vq_add(&q, &sg, 1, 0, &tok[0]), 0);
    assert_true(vdrv_vq_kick_prepare(&q));
    assert_false(vdrv_vq_kick_prepare(&q));
    q.used->flags = VRING_USED_F_NO_NOTIFY;
    assert_int_equal(vdrv_vq_add(&q, &sg, 1, 0, &tok[1]), 0);
    assert_false(vdrv_vq_kick_prepare(&q));
    assert_int_equal(q.avail->idx, 2); /* published even without a kick */
    q.used->flags = 0;
    assert_int_equal(vdrv_vq_add(&q, &sg, 1, 0, &tok[2]), 0);
    assert_true(vdrv_vq_kick_prepare(&q));
    /* Without event idx avail_event means nothing. */
    *avail_event() = 100;
    assert_int_equal(vdrv_vq_add(&q, &sg, 1, 0, &tok[3]), 0);
    assert_true(vdrv_vq_kick_prepare(&q));
}

/* Adds n one-descriptor chains and returns the kick decision for the batch. */
static bool add_batch(unsigned n)
{
    struct vdrv_sg sg = { 0x1000, 8 };
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(vdrv_vq_add(&q, &sg, 1, 0, &tok[i]), 0);
    return vdrv_vq_kick_prepare(&q);
}

static void drain(void)
{
    while (q.num_free != q.size) {
        uint16_t head = q.avail->ring[(uint16_t)(q.avail->idx - (q.size - q.num_free)) % q.size];
        device_complete(head, 0);
        assert_non_null(vdrv_vq_get_used(&q, NULL));
    }
}

static void test_kick_event_idx(void **state)
{
    (void)state;
    setup_ring(QSIZE, false, true);
    /* avail_event = 0: the device wants to hear about entry 0. */
    assert_true(add_batch(1));                /* 0 -> 1 */
    *avail_event() = 1;
    assert_true(add_batch(1));                /* 1 -> 2: crosses 1 */
    assert_false(add_batch(1));               /* 2 -> 3: 1 already passed */
    *avail_event() = 5;
    drain();
    assert_false(add_batch(2));               /* 3 -> 5: entry 5 not yet */
    assert_true(add_batch(1));                /* 5 -> 6 */
    drain();
    *avail_event() = 7;
    assert_true(add_batch(3));                /* 6 -> 9 covers 7 */
    drain();
    /* The device's suppression flag is ignored with event idx. */
    q.used->flags = VRING_USED_F_NO_NOTIFY;
    *avail_event() = 9;
    assert_true(add_batch(1));                /* 9 -> 10 */
    q.used->flags = 0;
    drain();
    *avail_event() = 20;
    assert_false(add_batch(1));
    drain();
}

static void test_kick_event_idx_wrap(void **state)
{
    (void)state;
    setup_ring(QSIZE, false, true);
    *avail_event() = 0xffff; /* never reached in this first stretch */
    for (unsigned n = 0; n < 65534; n++) {
        assert_false(add_batch(1));
        drain();
    }
    assert_int_equal(q.avail_idx, 65534);
    *avail_event() = 0; /* index 0 comes after the wrap */
    assert_false(add_batch(1));               /* 65534 -> 65535 */
    drain();
    assert_true(add_batch(2));                /* 65535 -> 1 covers 65535 */
    drain();
    *avail_event() = 2;
    assert_false(add_batch(1));               /* 1 -> 2: entry 2 not published yet */
    assert_true(add_batch(1));                /* 2 -> 3 */
}

static void test_get_used_rejects_bad_ids(void **state)
{
    (void)state;
    setup_ring(QSIZE, false, false);
    struct vdrv_sg sg[2] = { { 0x1000, 8 }, { 0x2000, 8 } };
    assert_int_equal(vdrv_vq_add(&q, sg, 1, 1, &tok[0]), 0);
    vdrv_vq_kick_prepare(&q);
    uint16_t head = q.avail->ring[0];
    uint16_t second = q.desc[head].next;

    uint32_t bad_ids[] = { QSIZE, 0xffffffffu, 0x10000u + head, second };
    for (unsigned b = 0; b < sizeof(bad_ids) / sizeof(bad_ids[0]); b++) {
        setup_ring(QSIZE, false, false);
        assert_int_equal(vdrv_vq_add(&q, sg, 1, 1, &tok[0]), 0);
        vdrv_vq_kick_prepare(&q);
        device_complete(bad_ids[b], 1);
        assert_null(vdrv_vq_get_used(&q, NULL));
        /* Nothing marked: same state, still reported as pending. */
        assert_int_equal(q.num_free, QSIZE - 2);
        assert_int_equal(q.last_used, 0);
        assert_true(vdrv_vq_has_used(&q));
        assert_ptr_equal(tokens[head], &tok[0]);
    }

    /* A repeated id: the second report must not free the chain twice. */
    setup_ring(QSIZE, false, false);
    assert_int_equal(vdrv_vq_add(&q, sg, 1, 1, &tok[0]), 0);
    assert_int_equal(vdrv_vq_add(&q, sg, 1, 0, &tok[1]), 0);
    vdrv_vq_kick_prepare(&q);
    device_complete(head, 1);
    device_complete(head, 1);
    assert_ptr_equal(vdrv_vq_get_used(&q, NULL), &tok[0]);
    assert_int_equal(q.num_free, QSIZE - 1);
    assert_null(vdrv_vq_get_used(&q, NULL));
    assert_int_equal(q.num_free, QSIZE - 1);
}

static void test_callbacks(void **state)
{
    (void)state;
    struct vdrv_sg sg = { 0x1000, 8 };
    setup_ring(QSIZE, false, false);
    assert_int_equal(q.avail->flags, 0);
    vdrv_vq_disable_cb(&q);
    assert_int_equal(q.avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
    assert_true(vdrv_vq_enable_cb(&q));
    assert_int_equal(q.avail->flags, 0);
    /* The race: a completion lands while callbacks were off. */
    assert_int_equal(vdrv_vq_add(&q, &sg, 1, 0, &tok[0]), 0);
    vdrv_vq_kick_prepare(&q);
    vdrv_vq_disable_cb(&q);
    device_complete(q.avail->ring[0], 0);
    assert_false(vdrv_vq_enable_cb(&q));
    assert_int_equal(q.avail->flags, 0);
    assert_non_null(vdrv_vq_get_used(&q, NULL));
    assert_true(vdrv_vq_enable_cb(&q));

    /* Event idx: flags stay 0, used_event does the work. */
    setup_ring(QSIZE, false, true);
    for (unsigned n = 0; n < 3; n++) {
        assert_int_equal(vdrv_vq_add(&q, &sg, 1, 0, &tok[n]), 0);
        vdrv_vq_kick_prepare(&q);
        device_complete(q.avail->ring[n], 0);
    }
    vdrv_vq_disable_cb(&q);
    assert_int_equal(q.avail->flags, 0);
    /* Parked behind everything consumed: the device's next entries (0..)
     * do not reach it. */
    assert_int_equal(*used_event(), 0xffff);
    assert_non_null(vdrv_vq_get_used(&q, NULL));
    assert_int_equal(*used_event(), 0xffff); /* disabled: left alone */
    assert_false(vdrv_vq_enable_cb(&q));     /* 2 still pending */
    assert_int_equal(*used_event(), 1);
    /* Armed: each reclaim moves the event along to the next entry. */
    assert_non_null(vdrv_vq_get_used(&q, NULL));
    assert_int_equal(*used_event(), 2);
    assert_non_null(vdrv_vq_get_used(&q, NULL));
    assert_int_equal(*used_event(), 3);
    assert_true(vdrv_vq_enable_cb(&q));
    assert_int_equal(*used_event(), 3);
}

/* ---- round trip through the device side ---- */

#define RAM_GPA 0x100000ull
static uint8_t ram[64 * 1024] __attribute__((aligned(4096)));

static void round_trip(bool legacy_layout, bool event_idx)
{
    struct gmem mem;
    gmem_init(&mem);
    assert_int_equal(gmem_add(&mem, RAM_GPA, sizeof(ram), ram), 0);
    memset(ram, 0, sizeof(ram));
    vdrv_vq_init(&q, QSIZE, ram, RAM_GPA, tokens, chain_len, legacy_layout, event_idx);

    struct virtq dq;
    memset(&dq, 0, sizeof(dq));
    dq.max_size = QSIZE;
    virtq_reset(&dq);
    dq.size = QSIZE;
    dq.desc_gpa = q.desc_pa;
    dq.avail_gpa = q.avail_pa;
    dq.used_gpa = q.used_pa;
    dq.ready = true;
    uint64_t feats = (1ull << VIRTIO_F_VERSION_1) |
                     ((uint64_t)event_idx << VIRTIO_RING_F_EVENT_IDX);
    assert_int_equal(virtq_start(&dq, &mem, feats), 0);

    uint64_t buf = RAM_GPA + 0x8000;
    memcpy(ram + 0x8000, "request", 8);
    for (unsigned round = 0; round < 3 * QSIZE; round++) {
        struct vdrv_sg sg[3] = { { buf, 8 }, { buf + 0x100, 16 }, { buf + 0x200, 4 } };
        assert_int_equal(vdrv_vq_add(&q, sg, 1, 2, &tok[round % QSIZE]), 0);
        vdrv_vq_kick_prepare(&q);

        struct iovec iov[4];
        struct virtq_elem e = { .iov = iov, .iov_cap = 4 };
        assert_int_equal(virtq_pop(&dq, &e), 1);
        assert_int_equal(e.nout, 1);
        assert_int_equal(e.nin, 2);
        assert_int_equal(e.out_len, 8);
        assert_int_equal(e.in_len, 20);
        assert_memory_equal(iov[0].iov_base, "request", 8);
        assert_ptr_equal(iov[1].iov_base, ram + 0x8100);
        assert_int_equal(iov[2].iov_len, 4);
        memcpy(iov[2].iov_base, "done", 4);
        assert_int_equal(virtq_pop(&dq, &e), 0);
        virtq_push(&dq, e.head, 4);

        uint32_t len = 0;
        assert_ptr_equal(vdrv_vq_get_used(&q, &len), &tok[round % QSIZE]);
        assert_int_equal(len, 4);
        assert_memory_equal(ram + 0x8200, "done", 4);
        assert_int_equal(q.num_free, QSIZE);
    }
}

static void test_round_trip_modern(void **state)
{
    (void)state;
    round_trip(false, false);
    round_trip(false, true);
}

static void test_round_trip_legacy_layout(void **state)
{
    (void)state;
    round_trip(true, false);
    round_trip(true, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_spec),
        cmocka_unit_test(test_init_state),
        cmocka_unit_test(test_add_writes_chain),
        cmocka_unit_test(test_add_errors_and_exhaustion),
        cmocka_unit_test(test_reclaim_restores_free),
        cmocka_unit_test(test_many_cycles_wrap),
        cmocka_unit_test(test_kick_no_event_idx),
        cmocka_unit_test(test_kick_event_idx),
        cmocka_unit_test(test_kick_event_idx_wrap),
        cmocka_unit_test(test_get_used_rejects_bad_ids),
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_round_trip_modern),
        cmocka_unit_test(test_round_trip_legacy_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
