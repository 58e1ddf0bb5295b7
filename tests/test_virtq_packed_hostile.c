/* Packed virtqueue against a hostile driver: one test per ring rule. Every
 * case must end in an error code, a broken queue, NEEDS_RESET on the owning
 * device (with the config interrupt, the driver being live) and no host
 * access outside guest RAM (an exact-size heap block: ASan sees overruns). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/virtio_config.h>

#include "virtio/virtio_dev.h"

#define RAM_GPA    0x100000ULL
#define RAM_SIZE   0x20000u
#define DESC_OFF   0x0000u
#define DRIVER_OFF 0x1000u
#define DEVICE_OFF 0x1004u
#define TABLE_OFF  0x4000u
#define DATA_OFF   0x8000u
#define QSIZE      6 /* not a power of two */

#define F_PACKED   (1ULL << VIRTIO_F_RING_PACKED)
#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_VERSION1 (1ULL << VIRTIO_F_VERSION_1)

#define AVAIL1 (1u << VRING_PACKED_DESC_F_AVAIL) /* available in lap 1 */
#define NEXT   VRING_DESC_F_NEXT
#define WRITE  VRING_DESC_F_WRITE
#define INDIR  VRING_DESC_F_INDIRECT

struct fx {
    uint8_t *ram;
    struct gmem mem;
    struct virtio_dev dev;
    struct virtq vq[1];
    unsigned config_irqs;
    struct iovec iov[QSIZE * 4];
    struct virtq_elem e;
};

static void count_irq(struct virtio_dev *d, int vq)
{
    struct fx *f = d->priv;
    if (vq == VIRTIO_IRQ_CONFIG)
        f->config_irqs++;
}

static struct vring_packed_desc *ring(struct fx *f) { return (void *)(f->ram + DESC_OFF); }
static struct vring_packed_desc *table(struct fx *f) { return (void *)(f->ram + TABLE_OFF); }
static uint64_t gpa(uint32_t off) { return RAM_GPA + off; }

static void set_desc(struct vring_packed_desc *t, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags)
{
    t[i] = (struct vring_packed_desc){ .addr = addr, .len = len, .id = (uint16_t)i,
                                       .flags = flags };
}

/* A running modern device whose queue 0 is an enabled packed ring. */
static struct fx *fx_running(uint64_t features)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->ram = malloc(RAM_SIZE);
    memset(f->ram, 0, RAM_SIZE);
    gmem_init(&f->mem);
    assert_int_equal(gmem_add(&f->mem, RAM_GPA, RAM_SIZE, f->ram), 0);
    virtio_dev_init(&f->dev, 4, F_INDIRECT | F_EVENT | F_PACKED, f->vq, 1, QSIZE, NULL, 0,
                    NULL, f);
    f->dev.mem = &f->mem;
    f->dev.transport.irq = count_irq;
    virtio_dev_set_status(&f->dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, features | F_PACKED | F_VERSION1),
                     0);
    virtio_dev_set_status(&f->dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                       VIRTIO_CONFIG_S_FEATURES_OK);
    f->vq[0].size = QSIZE;
    f->vq[0].desc_gpa = gpa(DESC_OFF);
    f->vq[0].avail_gpa = gpa(DRIVER_OFF);
    f->vq[0].used_gpa = gpa(DEVICE_OFF);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), 0);
    assert_true(f->vq[0].packed);
    virtio_dev_set_status(&f->dev, f->dev.status | VIRTIO_CONFIG_S_DRIVER_OK);
    assert_true(virtio_dev_running(&f->dev));
    f->e.iov = f->iov;
    f->e.iov_cap = QSIZE * 4;
    return f;
}

static void fx_free(struct fx *f)
{
    virtq_reset(&f->vq[0]);
    free(f->ram);
    free(f);
}

/* The verdict every hostile chain gets; a broken queue then stays quiet. */
static void expect_broken(struct fx *f, int expected)
{
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), expected);
    assert_true(f->vq[0].broken);
    assert_true(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert_false(virtio_dev_running(&f->dev));
    assert_int_equal(f->config_irqs, 1);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1);
    assert_false(virtq_has_avail(&f->vq[0]));
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), 0);
    virtq_push(&f->vq[0], 0, 0); /* ignored, no crash */
    assert_false(virtq_needs_irq(&f->vq[0]));
    virtq_set_notify(&f->vq[0], true);
    assert_int_equal(f->config_irqs, 1);
    fx_free(f);
}

static void test_good_chain_pops(void **state)
{
    (void)state;
    /* The baseline the others break: the same layout, well formed. */
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, AVAIL1 | WRITE);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), 1);
    assert_int_equal(f->e.nout, 1);
    assert_int_equal(f->e.nin, 1);
    assert_false(f->vq[0].broken);
    assert_false(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    fx_free(f);
}

static void test_chain_longer_than_queue(void **state)
{
    (void)state;
    /* Every descriptor says NEXT; after the ring's end the lap-2 pattern
     * would be needed, so make position 0 look like it too: the length
     * bound must stop the walk either way. */
    struct fx *f = fx_running(0);
    for (unsigned i = 0; i < QSIZE; i++)
        set_desc(ring(f), i, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    expect_broken(f, -EIO);
}

static void test_chain_beyond_inflight_room(void **state)
{
    (void)state;
    /* Four descriptors in flight, then a chain of three: only two are
     * free, so the driver made available what it could not have had. */
    struct fx *f = fx_running(0);
    for (unsigned i = 0; i < 4; i++)
        set_desc(ring(f), i, gpa(DATA_OFF), 8, AVAIL1);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(virtq_pop(&f->vq[0], &f->e), 1);
    set_desc(ring(f), 4, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    set_desc(ring(f), 5, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    /* Position 0 in lap 2: AVAIL clear, USED set. */
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, (1u << VRING_PACKED_DESC_F_USED));
    expect_broken(f, -EIO);
}

static void test_next_descriptor_not_available(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, 0); /* never made available */
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    expect_broken(f, -EIO);
}

static void test_readable_after_writable(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, AVAIL1);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT | WRITE);
    expect_broken(f, -EIO);
}

static void test_buffer_outside_ram(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring(f), 0, RAM_GPA + RAM_SIZE - 4, 8, AVAIL1);
    expect_broken(f, -EIO);
}

static void test_buffer_wraps_address_space(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring(f), 0, UINT64_MAX - 3, 16, AVAIL1);
    expect_broken(f, -EIO);
}

static void test_iov_cap_exceeded(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    set_desc(ring(f), 2, gpa(DATA_OFF), 8, AVAIL1);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    f->e.iov_cap = 2;
    expect_broken(f, -ENOBUFS);
}

static void test_indirect_not_negotiated(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0);
    set_desc(ring(f), 0, gpa(TABLE_OFF), 16, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_with_next(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0);
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, AVAIL1);
    set_desc(ring(f), 0, gpa(TABLE_OFF), 16, AVAIL1 | INDIR | NEXT);
    expect_broken(f, -EIO);
}

static void test_indirect_after_next(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0);
    set_desc(ring(f), 1, gpa(TABLE_OFF), 16, AVAIL1 | INDIR);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    expect_broken(f, -EIO);
}

static void test_indirect_in_indirect(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0);
    set_desc(table(f), 1, gpa(TABLE_OFF), 32, INDIR);
    set_desc(ring(f), 0, gpa(TABLE_OFF), 32, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_len_not_multiple(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0);
    set_desc(ring(f), 0, gpa(TABLE_OFF), 24, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_len_zero(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(ring(f), 0, gpa(TABLE_OFF), 0, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_table_too_long(void **state)
{
    (void)state;
    /* Inside RAM, but more entries than VIRTQ_MAX_CHAIN. */
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(ring(f), 0, RAM_GPA, (VIRTQ_MAX_CHAIN + 1) * 16, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_table_outside_ram(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(ring(f), 0, RAM_GPA + RAM_SIZE - 16, 32, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_table_misaligned(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(ring(f), 0, gpa(TABLE_OFF + 4), 16, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_entry_outside_ram(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0);
    set_desc(table(f), 1, RAM_GPA + RAM_SIZE, 1, WRITE);
    set_desc(ring(f), 0, gpa(TABLE_OFF), 32, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_readable_after_writable(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, WRITE);
    set_desc(table(f), 1, gpa(DATA_OFF), 8, 0);
    set_desc(ring(f), 0, gpa(TABLE_OFF), 32, AVAIL1 | INDIR);
    expect_broken(f, -EIO);
}

static void test_indirect_total_4g(void **state)
{
    (void)state;
    /* A large second region, the same 8 MiB named by every entry: each one
     * valid, their sum not a 32-bit length. */
    struct fx *f = fx_running(F_INDIRECT);
    const uint64_t big_gpa = 1ull << 32, big_size = 8u << 20;
    uint8_t *big = malloc(big_size);
    assert_int_equal(gmem_add(&f->mem, big_gpa, big_size, big), 0);
    unsigned n = (unsigned)((1ull << 32) / big_size) + 1;
    for (unsigned i = 0; i < n; i++)
        set_desc(table(f), i, big_gpa, (uint32_t)big_size, WRITE);
    set_desc(ring(f), 0, gpa(TABLE_OFF), n * 16, AVAIL1 | INDIR);
    struct iovec *iov = calloc(n, sizeof(struct iovec));
    f->e.iov = iov;
    f->e.iov_cap = (uint16_t)n;
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), -EIO);
    free(iov);
    free(big);
    f->e.iov = f->iov;
    f->e.iov_cap = QSIZE * 4;
    expect_broken(f, 0);
}

/* The fast walk's checks, each on a chain it takes whole (direct, in region
 * 0, ending before the ring does). */

static void test_fast_chain_beyond_inflight_room(void **state)
{
    (void)state;
    /* A full lap in flight, two of them used, then a lap-2 chain of three
     * at positions 0..2, before the ring's end: only two are free. */
    struct fx *f = fx_running(0);
    for (unsigned i = 0; i < QSIZE; i++)
        set_desc(ring(f), i, gpa(DATA_OFF), 8, AVAIL1);
    uint16_t heads[QSIZE];
    for (unsigned i = 0; i < QSIZE; i++) {
        assert_int_equal(virtq_pop(&f->vq[0], &f->e), 1);
        heads[i] = f->e.head;
    }
    virtq_push(&f->vq[0], heads[0], 0);
    virtq_push(&f->vq[0], heads[1], 0);
    const uint16_t lap2 = 1u << VRING_PACKED_DESC_F_USED;
    set_desc(ring(f), 2, gpa(DATA_OFF), 8, lap2);
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, lap2 | NEXT);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, lap2 | NEXT);
    expect_broken(f, -EIO);
}

static void test_fast_iov_cap_zero(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1);
    f->e.iov_cap = 0;
    expect_broken(f, -ENOBUFS);
}

static void test_fast_iov_cap_mid_chain(void **state)
{
    (void)state;
    /* Room for the readable part only: the writable descriptor after it is
     * the one that does not fit. */
    struct fx *f = fx_running(0);
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    set_desc(ring(f), 2, gpa(DATA_OFF), 8, AVAIL1 | WRITE);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    f->e.iov_cap = 2;
    expect_broken(f, -ENOBUFS);
}

static void test_fast_writable_then_indirect(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0);
    set_desc(ring(f), 1, gpa(TABLE_OFF), 16, AVAIL1 | INDIR);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT | WRITE);
    expect_broken(f, -EIO);
}

static void test_fast_writable_then_unavailable(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring(f), 2, gpa(DATA_OFF), 8, WRITE); /* not made available */
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, AVAIL1 | NEXT | WRITE);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    expect_broken(f, -EIO);
}

static void test_fast_writable_outside_ram(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring(f), 2, RAM_GPA + RAM_SIZE - 4, 8, AVAIL1 | WRITE);
    set_desc(ring(f), 1, gpa(DATA_OFF), 8, AVAIL1 | NEXT | WRITE);
    set_desc(ring(f), 0, gpa(DATA_OFF), 8, AVAIL1 | NEXT);
    expect_broken(f, -EIO);
}

/* A queue of its own, no device: region 0 a 5 GiB reservation never touched
 * (the device only computes pointers into buffers), the ring above it. */
struct big {
    void *reserve;
    uint8_t *ram;
    struct gmem mem;
    struct virtq q;
    struct iovec *iov;
    struct virtq_elem e;
};

#define BIG_RESERVE (5ull << 30)
#define BIG_RING_GPA (8ull << 30)

static void big_start(struct big *b, uint16_t size, unsigned iov_cap)
{
    b->reserve = mmap(NULL, BIG_RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
    assert_true(b->reserve != MAP_FAILED);
    b->ram = calloc(1, (size_t)size * 16 + 64);
    gmem_init(&b->mem);
    assert_int_equal(gmem_add(&b->mem, 0, BIG_RESERVE, b->reserve), 0);
    assert_int_equal(gmem_add(&b->mem, BIG_RING_GPA, (size_t)size * 16 + 64, b->ram), 0);
    memset(&b->q, 0, sizeof(b->q));
    b->q.max_size = size;
    virtq_reset(&b->q);
    b->q.desc_gpa = BIG_RING_GPA;
    b->q.avail_gpa = BIG_RING_GPA + (uint64_t)size * 16;
    b->q.used_gpa = b->q.avail_gpa + 4;
    assert_int_equal(virtq_start(&b->q, &b->mem, F_PACKED | F_VERSION1), 0);
    b->iov = calloc(iov_cap, sizeof(*b->iov));
    b->e = (struct virtq_elem){ .iov = b->iov, .iov_cap = (uint16_t)iov_cap };
}

static void big_free(struct big *b)
{
    virtq_reset(&b->q);
    munmap(b->reserve, BIG_RESERVE);
    free(b->ram);
    free(b->iov);
}

static void test_fast_total_4g(void **state)
{
    (void)state;
    struct big b;
    struct vring_packed_desc *r;
    /* 2^32 - 1 bytes in all: the largest total there is. */
    big_start(&b, 4, 4);
    r = (void *)b.ram;
    set_desc(r, 1, 0, 1, AVAIL1 | WRITE);
    set_desc(r, 0, 4096, UINT32_MAX - 1, AVAIL1 | NEXT);
    assert_int_equal(virtq_pop(&b.q, &b.e), 1);
    assert_int_equal(b.e.out_len, UINT32_MAX - 1);
    assert_int_equal(b.e.in_len, 1);
    assert_ptr_equal(b.iov[0].iov_base, (uint8_t *)b.reserve + 4096);
    big_free(&b);
    /* One byte more: a ring violation. */
    big_start(&b, 4, 4);
    r = (void *)b.ram;
    set_desc(r, 1, 0, 2, AVAIL1 | WRITE);
    set_desc(r, 0, 4096, UINT32_MAX - 1, AVAIL1 | NEXT);
    assert_int_equal(virtq_pop(&b.q, &b.e), -EIO);
    assert_true(b.q.broken);
    assert_int_equal(virtq_pop(&b.q, &b.e), 0);
    big_free(&b);
}

static void test_fast_chain_over_max_chain(void **state)
{
    (void)state;
    /* A ring longer than VIRTQ_MAX_CHAIN: a direct chain may fill the cap
     * but not pass it. */
    const uint16_t size = 2 * VIRTQ_MAX_CHAIN;
    for (unsigned n = VIRTQ_MAX_CHAIN; n <= VIRTQ_MAX_CHAIN + 1; n++) {
        struct big b;
        big_start(&b, size, size);
        struct vring_packed_desc *r = (void *)b.ram;
        for (unsigned i = n; i-- > 0;)
            set_desc(r, i, 4096 * i, 8, AVAIL1 | (i + 1 < n ? NEXT : 0));
        if (n == VIRTQ_MAX_CHAIN) {
            assert_int_equal(virtq_pop(&b.q, &b.e), 1);
            assert_int_equal(b.e.nout, n);
        } else {
            assert_int_equal(virtq_pop(&b.q, &b.e), -EIO);
            assert_true(b.q.broken);
        }
        big_free(&b);
    }
}

static void test_start_rejects(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    struct virtq *q = &f->vq[0];
    uint64_t feats = F_PACKED | F_VERSION1;
    q->size = QSIZE + 1;
    assert_int_equal(virtq_start(q, &f->mem, feats), -EINVAL);
    q->size = QSIZE;
    q->desc_gpa = gpa(8);
    assert_int_equal(virtq_start(q, &f->mem, feats), -EINVAL);
    q->desc_gpa = RAM_GPA + RAM_SIZE - 16 * (QSIZE - 1);
    assert_int_equal(virtq_start(q, &f->mem, feats), -EINVAL);
    q->desc_gpa = gpa(DESC_OFF);
    q->avail_gpa = gpa(DRIVER_OFF + 2);
    assert_int_equal(virtq_start(q, &f->mem, feats), -EINVAL);
    q->avail_gpa = gpa(DRIVER_OFF);
    q->used_gpa = RAM_GPA - 4;
    assert_int_equal(virtq_start(q, &f->mem, feats), -EINVAL);
    q->used_gpa = gpa(DEVICE_OFF);
    assert_int_equal(virtq_start(q, &f->mem, feats), 0);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_chain_pops),
        cmocka_unit_test(test_chain_longer_than_queue),
        cmocka_unit_test(test_chain_beyond_inflight_room),
        cmocka_unit_test(test_next_descriptor_not_available),
        cmocka_unit_test(test_readable_after_writable),
        cmocka_unit_test(test_buffer_outside_ram),
        cmocka_unit_test(test_buffer_wraps_address_space),
        cmocka_unit_test(test_iov_cap_exceeded),
        cmocka_unit_test(test_indirect_not_negotiated),
        cmocka_unit_test(test_indirect_with_next),
        cmocka_unit_test(test_indirect_after_next),
        cmocka_unit_test(test_indirect_in_indirect),
        cmocka_unit_test(test_indirect_len_not_multiple),
        cmocka_unit_test(test_indirect_len_zero),
        cmocka_unit_test(test_indirect_table_too_long),
        cmocka_unit_test(test_indirect_table_outside_ram),
        cmocka_unit_test(test_indirect_table_misaligned),
        cmocka_unit_test(test_indirect_entry_outside_ram),
        cmocka_unit_test(test_indirect_readable_after_writable),
        cmocka_unit_test(test_indirect_total_4g),
        cmocka_unit_test(test_fast_chain_beyond_inflight_room),
        cmocka_unit_test(test_fast_iov_cap_zero),
        cmocka_unit_test(test_fast_iov_cap_mid_chain),
        cmocka_unit_test(test_fast_writable_then_indirect),
        cmocka_unit_test(test_fast_writable_then_unavailable),
        cmocka_unit_test(test_fast_writable_outside_ram),
        cmocka_unit_test(test_fast_total_4g),
        cmocka_unit_test(test_fast_chain_over_max_chain),
        cmocka_unit_test(test_start_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
