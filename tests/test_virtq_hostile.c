/* Split virtqueue against a hostile driver. Every case must end in an error
 * code, a broken queue, NEEDS_RESET on the owning device (with the config
 * interrupt, since the driver is running) and no host access outside guest
 * RAM (guest RAM is an exact-size heap block: ASan catches any overrun). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "virtio/virtio_dev.h"

#define RAM_GPA   0x100000ULL
#define RAM_SIZE  0x20000u
#define DESC_OFF  0x0000u
#define AVAIL_OFF 0x1000u
#define USED_OFF  0x2000u
#define TABLE_OFF 0x4000u /* indirect tables */
#define DATA_OFF  0x8000u
#define QSIZE     8

#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_VERSION1 (1ULL << VIRTIO_F_VERSION_1)

struct fx {
    uint8_t *ram;
    struct gmem mem;
    struct virtio_dev dev;
    struct virtq vq[1];
    unsigned config_irqs;
    uint16_t avail_idx;
    struct iovec iov[QSIZE * 2];
    struct virtq_elem e;
};

static void count_irq(struct virtio_dev *d, int vq)
{
    struct fx *f = d->priv;
    if (vq == VIRTIO_IRQ_CONFIG)
        f->config_irqs++;
}

static struct vring_desc *ring_desc(struct fx *f) { return (void *)(f->ram + DESC_OFF); }
static struct vring_desc *table(struct fx *f) { return (void *)(f->ram + TABLE_OFF); }
static uint64_t gpa(uint32_t off) { return RAM_GPA + off; }

static void set_desc(struct vring_desc *t, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    t[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

static void publish(struct fx *f, uint16_t head)
{
    struct vring_avail *a = (void *)(f->ram + AVAIL_OFF);
    a->ring[f->avail_idx % QSIZE] = head;
    a->idx = ++f->avail_idx;
}

/* A modern device driven to DRIVER_OK, with queue 0 configured but not yet
 * enabled; features negotiated as given. */
static struct fx *fx_new(uint64_t features)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->ram = malloc(RAM_SIZE);
    memset(f->ram, 0, RAM_SIZE);
    gmem_init(&f->mem);
    assert_int_equal(gmem_add(&f->mem, RAM_GPA, RAM_SIZE, f->ram), 0);
    virtio_dev_init(&f->dev, 4, F_INDIRECT | F_EVENT, f->vq, 1, QSIZE, NULL, 0, NULL, f);
    f->dev.mem = &f->mem;
    f->dev.transport.irq = count_irq;
    virtio_dev_set_status(&f->dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    assert_int_equal(virtio_dev_set_guest_features(&f->dev, features | F_VERSION1), 0);
    virtio_dev_set_status(&f->dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                       VIRTIO_CONFIG_S_FEATURES_OK);
    assert_true(f->dev.status & VIRTIO_CONFIG_S_FEATURES_OK);
    f->vq[0].desc_gpa = gpa(DESC_OFF);
    f->vq[0].avail_gpa = gpa(AVAIL_OFF);
    f->vq[0].used_gpa = gpa(USED_OFF);
    f->e.iov = f->iov;
    f->e.iov_cap = QSIZE * 2;
    return f;
}

static struct fx *fx_running(uint64_t features)
{
    struct fx *f = fx_new(features);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), 0);
    virtio_dev_set_status(&f->dev, f->dev.status | VIRTIO_CONFIG_S_DRIVER_OK);
    assert_true(virtio_dev_running(&f->dev));
    return f;
}

static void fx_free(struct fx *f)
{
    free(f->ram);
    free(f);
}

/* The verdict every hostile chain must get, and a broken queue stays quiet
 * even once the guest puts a good chain behind the bad one. */
static void expect_broken(struct fx *f, int expected)
{
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), expected);
    assert_true(f->vq[0].broken);
    assert_true(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert_false(virtio_dev_running(&f->dev));
    assert_int_equal(f->config_irqs, 1);
    set_desc(ring_desc(f), 7, gpa(DATA_OFF), 8, 0, 0);
    publish(f, 7);
    assert_false(virtq_has_avail(&f->vq[0]));
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), 0);
    virtq_push(&f->vq[0], 7, 0); /* ignored, no crash */
    assert_false(virtq_needs_irq(&f->vq[0]));
    assert_int_equal(f->config_irqs, 1);
    fx_free(f);
}

static void test_loop(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 1);
    set_desc(ring_desc(f), 1, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 0);
    publish(f, 0);
    expect_broken(f, -EIO);
}

static void test_self_loop_small_iov_cap(void **state)
{
    (void)state;
    /* The caller's array runs out first, but a loop is still the guest's
     * fault, not a short array. */
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 3, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 3);
    publish(f, 3);
    f->e.iov_cap = 2;
    expect_broken(f, -EIO);
}

static void test_chain_longer_than_queue(void **state)
{
    (void)state;
    /* All QSIZE descriptors, and the last links back to the second. */
    struct fx *f = fx_running(0);
    for (unsigned i = 0; i < QSIZE; i++)
        set_desc(ring_desc(f), i, gpa(DATA_OFF + i), 1, VRING_DESC_F_NEXT,
                 (uint16_t)(i + 1 < QSIZE ? i + 1 : 1));
    publish(f, 0);
    expect_broken(f, -EIO);
}

static void test_head_out_of_range(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    publish(f, QSIZE);
    expect_broken(f, -EIO);
}

static void test_next_out_of_range(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, QSIZE);
    publish(f, 0);
    expect_broken(f, -EIO);
}

static void test_avail_idx_jumps_too_far(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, 0, 0);
    struct vring_avail *a = (void *)(f->ram + AVAIL_OFF);
    f->avail_idx = QSIZE + 1;
    a->idx = f->avail_idx;
    expect_broken(f, -EIO);
}

static void indirect_head(struct fx *f, uint32_t len, uint16_t flags)
{
    set_desc(ring_desc(f), 0, gpa(TABLE_OFF), len, VRING_DESC_F_INDIRECT | flags, 1);
    set_desc(ring_desc(f), 1, gpa(DATA_OFF), 8, 0, 0);
    publish(f, 0);
}

static void test_indirect_not_negotiated(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0, 0);
    indirect_head(f, 16, 0);
    expect_broken(f, -EIO);
}

static void test_indirect_in_indirect(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 1);
    set_desc(table(f), 1, gpa(TABLE_OFF + 0x100), 16, VRING_DESC_F_INDIRECT, 0);
    set_desc(table(f), 16, gpa(DATA_OFF), 8, 0, 0);
    indirect_head(f, 2 * 16, 0);
    expect_broken(f, -EIO);
}

static void test_indirect_table_over_ring(void **state)
{
    (void)state;
    /* A table aliasing the ring's own descriptor table, pointing at itself:
     * must not recurse. */
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(ring_desc(f), 0, gpa(DESC_OFF), 16, VRING_DESC_F_INDIRECT, 0);
    publish(f, 0);
    expect_broken(f, -EIO);
}

static void test_indirect_with_next(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0, 0);
    indirect_head(f, 16, VRING_DESC_F_NEXT);
    expect_broken(f, -EIO);
}

static void test_indirect_zero_length(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    indirect_head(f, 0, 0);
    expect_broken(f, -EIO);
}

static void test_indirect_partial_descriptor(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0, 0);
    indirect_head(f, 24, 0);
    expect_broken(f, -EIO);
}

static void test_indirect_too_many_entries(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    /* The table itself would fit in guest RAM; it is just too long. */
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0, 0);
    indirect_head(f, (VIRTQ_MAX_CHAIN + 1) * sizeof(struct vring_desc), 0);
    expect_broken(f, -EIO);
}

static void test_indirect_table_outside_ram(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(ring_desc(f), 0, gpa(RAM_SIZE - 16), 32, VRING_DESC_F_INDIRECT, 0);
    publish(f, 0);
    expect_broken(f, -EIO);
}

static void test_indirect_next_out_of_table(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    /* Entry 2 exists in memory but not in the 2-entry table. */
    set_desc(table(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 2);
    set_desc(table(f), 2, gpa(DATA_OFF), 8, 0, 0);
    indirect_head(f, 2 * 16, 0);
    expect_broken(f, -EIO);
}

static void test_indirect_loop(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 1);
    set_desc(table(f), 1, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 0);
    indirect_head(f, 2 * 16, 0);
    expect_broken(f, -EIO);
}

static void test_readable_after_writable(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    set_desc(ring_desc(f), 1, gpa(DATA_OFF), 8, 0, 0);
    publish(f, 0);
    expect_broken(f, -EIO);
}

static void test_readable_after_writable_across_indirect(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_INDIRECT);
    set_desc(table(f), 0, gpa(DATA_OFF), 8, 0, 0);
    set_desc(ring_desc(f), 2, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
    set_desc(ring_desc(f), 3, gpa(TABLE_OFF), 16, VRING_DESC_F_INDIRECT, 0);
    publish(f, 2);
    expect_broken(f, -EIO);
}

static void test_buffer_past_ram(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 0, gpa(RAM_SIZE - 4), 8, 0, 0);
    publish(f, 0);
    expect_broken(f, -EIO);
}

static void test_buffer_below_ram(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 0, RAM_GPA - 4, 8, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    expect_broken(f, -EIO);
}

static void test_buffer_wraps(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    /* addr + len overflows 64 bits and lands inside guest RAM. */
    set_desc(ring_desc(f), 0, UINT64_MAX - 0xff, RAM_GPA + 0x200, 0, 0);
    publish(f, 0);
    expect_broken(f, -EIO);
}

/* The fast walk's bounds check: a buffer may end exactly at the end of
 * guest RAM in every position the walk has (readable, the lone writable
 * tail, a writable run), and not one byte further. */
static void test_buffer_ends_at_ram_end(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    uint64_t last8 = gpa(RAM_SIZE - 8);
    set_desc(ring_desc(f), 0, last8, 8, VRING_DESC_F_NEXT, 1);
    set_desc(ring_desc(f), 1, last8, 8, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    set_desc(ring_desc(f), 2, last8, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
    set_desc(ring_desc(f), 3, last8, 8, VRING_DESC_F_WRITE, 0);
    publish(f, 2);
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), 1);
    assert_int_equal(f->e.nout, 1);
    assert_int_equal(f->e.nin, 1);
    assert_int_equal(f->e.out_len, 8);
    assert_int_equal(f->e.in_len, 8);
    assert_ptr_equal(f->iov[0].iov_base, f->ram + RAM_SIZE - 8);
    assert_ptr_equal(f->iov[1].iov_base, f->ram + RAM_SIZE - 8);
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), 1);
    assert_int_equal(f->e.nout, 0);
    assert_int_equal(f->e.nin, 2);
    assert_int_equal(f->e.in_len, 16);
    assert_ptr_equal(f->iov[1].iov_base, f->ram + RAM_SIZE - 8);
    /* Zero bytes right at the end: taken, and nothing to dereference. */
    set_desc(ring_desc(f), 4, gpa(RAM_SIZE), 0, VRING_DESC_F_WRITE, 0);
    publish(f, 4);
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), 1);
    assert_int_equal(f->e.nin, 1);
    assert_int_equal(f->iov[0].iov_len, 0);
    assert_false(f->vq[0].broken);
    fx_free(f);
}

static void test_buffer_one_past_ram_end(void **state)
{
    (void)state;
    /* The second descriptor of each chain is one byte too long. */
    static const uint16_t first[] = { VRING_DESC_F_NEXT, VRING_DESC_F_NEXT,
                                      VRING_DESC_F_NEXT | VRING_DESC_F_WRITE };
    static const uint16_t second[] = { 0, VRING_DESC_F_WRITE, VRING_DESC_F_WRITE };
    for (unsigned c = 0; c < 3; c++) {
        struct fx *f = fx_running(0);
        set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, first[c], 1);
        set_desc(ring_desc(f), 1, gpa(RAM_SIZE - 8), 9, second[c], 0);
        publish(f, 0);
        expect_broken(f, -EIO);
    }
}

/* Starting below RAM with a length that carries the end back inside it: the
 * end is within RAM, only the wrap gives it away. In each walk position. */
static void test_buffer_wraps_from_below_ram(void **state)
{
    (void)state;
    static const uint16_t flags[] = { 0, VRING_DESC_F_WRITE };
    for (unsigned c = 0; c < 2; c++) {
        struct fx *f = fx_running(0);
        set_desc(ring_desc(f), 0, RAM_GPA - 0x10, 0x20, flags[c], 0);
        publish(f, 0);
        expect_broken(f, -EIO);
    }
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    set_desc(ring_desc(f), 1, RAM_GPA - 1, 2, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    expect_broken(f, -EIO);
}

/* With event idx, needs_irq keeps a baseline from its first decision on;
 * a queue that breaks afterwards must drop it with its rings. */
static void test_needs_irq_after_break_with_event_idx(void **state)
{
    (void)state;
    struct fx *f = fx_running(F_EVENT);
    set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), 1);
    virtq_push(&f->vq[0], f->e.head, 8);
    assert_true(virtq_needs_irq(&f->vq[0])); /* first decision */
    assert_true(f->vq[0].signalled_used_valid);
    set_desc(ring_desc(f), 1, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 1); /* self loop */
    publish(f, 1);
    expect_broken(f, -EIO); /* includes needs_irq == false, no crash */
}

static void test_iov_cap_too_small(void **state)
{
    (void)state;
    struct fx *f = fx_running(0);
    set_desc(ring_desc(f), 0, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT, 1);
    set_desc(ring_desc(f), 1, gpa(DATA_OFF), 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
    set_desc(ring_desc(f), 2, gpa(DATA_OFF), 8, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    f->e.iov_cap = 2;
    expect_broken(f, -ENOBUFS);
}

static void test_total_length_over_4g(void **state)
{
    (void)state;
    /* Two 3 GiB buffers over a reserved, inaccessible 4 GiB region: popping
     * must not touch buffer memory at all, and the total does not fit the
     * 32-bit length fields. */
    size_t big = 4ULL << 30;
    void *res = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        skip();
    struct fx *f = fx_new(0);
    assert_int_equal(gmem_add(&f->mem, 1ULL << 40, big, res), 0);
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), 0);
    virtio_dev_set_status(&f->dev, f->dev.status | VIRTIO_CONFIG_S_DRIVER_OK);
    set_desc(ring_desc(f), 0, 1ULL << 40, 3U << 30, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    set_desc(ring_desc(f), 1, 1ULL << 40, 3U << 30, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), -EIO);
    assert_true(f->vq[0].broken);
    assert_true(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    /* Again with the big region as region 0, which the fast walk serves
     * (the rings in RAM above it): a readable part then a lone writable
     * tail, a readable part alone, a writable run, each its own way out. */
    static const uint16_t flags0[] = { VRING_DESC_F_NEXT, VRING_DESC_F_NEXT,
                                       VRING_DESC_F_NEXT | VRING_DESC_F_WRITE };
    static const uint16_t flags1[] = { VRING_DESC_F_WRITE, 0, VRING_DESC_F_WRITE };
    for (unsigned c = 0; c < 3; c++) {
        struct gmem mem;
        struct virtq q;
        gmem_init(&mem);
        assert_int_equal(gmem_add(&mem, 0, big, res), 0);
        assert_int_equal(gmem_add(&mem, 1ULL << 40, RAM_SIZE, f->ram), 0);
        memset(&q, 0, sizeof(q));
        q.max_size = QSIZE;
        virtq_reset(&q);
        q.desc_gpa = (1ULL << 40) + DESC_OFF;
        q.avail_gpa = (1ULL << 40) + AVAIL_OFF;
        q.used_gpa = (1ULL << 40) + USED_OFF;
        assert_int_equal(virtq_start(&q, &mem, F_VERSION1), 0);
        memset(f->ram, 0, RAM_SIZE);
        f->avail_idx = 0;
        set_desc(ring_desc(f), 0, 0, 3U << 30, flags0[c], 1);
        set_desc(ring_desc(f), 1, 1U << 30, 3U << 30, flags1[c], 0);
        publish(f, 0);
        assert_int_equal(virtq_pop(&q, &f->e), -EIO);
        assert_true(q.broken);
        virtq_reset(&q);
    }
    fx_free(f);
    munmap(res, big);
}

/* virtq_start refusals, through the device so NEEDS_RESET follows. */
static void expect_enable_refused(struct fx *f)
{
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), -EINVAL);
    assert_false(f->vq[0].ready);
    assert_null(f->vq[0].avail);
    assert_true(f->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert_int_equal(virtq_pop(&f->vq[0], &f->e), 0);
    fx_free(f);
}

static void test_start_size_not_power_of_two(void **state)
{
    (void)state;
    struct fx *f = fx_new(0);
    f->vq[0].size = 6;
    expect_enable_refused(f);
}

static void test_start_size_above_max(void **state)
{
    (void)state;
    struct fx *f = fx_new(0);
    f->vq[0].size = QSIZE * 2;
    expect_enable_refused(f);
}

static void test_start_size_zero(void **state)
{
    (void)state;
    struct fx *f = fx_new(0);
    f->vq[0].size = 0;
    expect_enable_refused(f);
}

static void test_start_misaligned_rings(void **state)
{
    (void)state;
    struct fx *f = fx_new(0);
    f->vq[0].desc_gpa += 8;
    expect_enable_refused(f);
    f = fx_new(0);
    f->vq[0].avail_gpa += 1;
    expect_enable_refused(f);
    f = fx_new(0);
    f->vq[0].used_gpa += 2;
    expect_enable_refused(f);
}

static void test_start_rings_outside_ram(void **state)
{
    (void)state;
    struct fx *f = fx_new(0);
    f->vq[0].desc_gpa = gpa(RAM_SIZE - 16 * QSIZE + 16);
    expect_enable_refused(f);
    f = fx_new(0);
    f->vq[0].used_gpa = RAM_GPA - 4096;
    expect_enable_refused(f);
    /* The avail ring ends exactly at the end of RAM: fine without event
     * idx, one u16 short with it (used_event). */
    f = fx_new(0);
    f->vq[0].avail_gpa = gpa(RAM_SIZE - (4 + 2 * QSIZE));
    assert_int_equal(virtio_dev_queue_enable(&f->dev, 0), 0);
    fx_free(f);
    f = fx_new(F_EVENT);
    f->vq[0].avail_gpa = gpa(RAM_SIZE - (4 + 2 * QSIZE));
    expect_enable_refused(f);
    f = fx_new(F_EVENT);
    f->vq[0].used_gpa = gpa(RAM_SIZE - (4 + 8 * QSIZE));
    expect_enable_refused(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop),
        cmocka_unit_test(test_self_loop_small_iov_cap),
        cmocka_unit_test(test_chain_longer_than_queue),
        cmocka_unit_test(test_head_out_of_range),
        cmocka_unit_test(test_next_out_of_range),
        cmocka_unit_test(test_avail_idx_jumps_too_far),
        cmocka_unit_test(test_indirect_not_negotiated),
        cmocka_unit_test(test_indirect_in_indirect),
        cmocka_unit_test(test_indirect_table_over_ring),
        cmocka_unit_test(test_indirect_with_next),
        cmocka_unit_test(test_indirect_zero_length),
        cmocka_unit_test(test_indirect_partial_descriptor),
        cmocka_unit_test(test_indirect_too_many_entries),
        cmocka_unit_test(test_indirect_table_outside_ram),
        cmocka_unit_test(test_indirect_next_out_of_table),
        cmocka_unit_test(test_indirect_loop),
        cmocka_unit_test(test_readable_after_writable),
        cmocka_unit_test(test_readable_after_writable_across_indirect),
        cmocka_unit_test(test_buffer_past_ram),
        cmocka_unit_test(test_buffer_below_ram),
        cmocka_unit_test(test_buffer_wraps),
        cmocka_unit_test(test_buffer_ends_at_ram_end),
        cmocka_unit_test(test_buffer_one_past_ram_end),
        cmocka_unit_test(test_buffer_wraps_from_below_ram),
        cmocka_unit_test(test_needs_irq_after_break_with_event_idx),
        cmocka_unit_test(test_iov_cap_too_small),
        cmocka_unit_test(test_total_length_over_4g),
        cmocka_unit_test(test_start_size_not_power_of_two),
        cmocka_unit_test(test_start_size_above_max),
        cmocka_unit_test(test_start_size_zero),
        cmocka_unit_test(test_start_misaligned_rings),
        cmocka_unit_test(test_start_rings_outside_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
