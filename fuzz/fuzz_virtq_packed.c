/* libFuzzer target: the packed ring's device side against arbitrary guest RAM.
 *
 * Input: an 8-byte header, then the guest RAM contents (zero-padded).
 *   [0]   queue size, raw (0 and sizes above the maximum reach virtq_start)
 *   [1]   bit 0 indirect, bit 1 event idx, bit 2 in order, bit 3 take ring
 *         addresses from [4..7], else the fixed layout below
 *   [2]   iovec capacity - 1 (mod 64)
 *   [3]   bit 0 unpop the first element once, bit 1 push in reverse pop
 *         order (in order: the queue must hold them back), bits 2-7 how many
 *         chains to hold before pushing (0: push each at once)
 *   [4..7] descriptor ring and event structure offsets into RAM (the ring
 *         16 bits, each event structure 8 bits times 64)
 * Descriptors and the driver's event word come from the RAM bytes, as a
 * guest would write them; the driver never runs concurrently here.
 *
 * Guest RAM is two adjacent regions on separate heap blocks of exact size, so
 * a range straddling them, or any access past them, is caught by ASan. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>

#include "virtio/virtq.h"

#define RAM_GPA   0x200000ULL
#define HALF      0x8000u
#define RAM_SIZE  (2 * HALF)
#define IOV_MAX_FUZZ 64
#define HOLD_MAX  64

static bool in_ram(const uint8_t *lo, const uint8_t *hi, const struct iovec *v)
{
    const uint8_t *p = v->iov_base;
    if (v->iov_len == 0)
        return true; /* may point at a dummy byte; never dereferenced */
    for (int i = 0; i < 2; i++) {
        const uint8_t *base = i ? hi : lo;
        if (p >= base && p < base + HALF && v->iov_len <= (size_t)(base + HALF - p))
            return true;
    }
    return false;
}

static void push_held(struct virtq *q, uint16_t *held, uint32_t *lens, unsigned n, bool reverse)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned k = reverse ? n - 1 - i : i;
        virtq_push(q, held[k], lens[k]);
    }
    (void)virtq_needs_irq(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint8_t *lo = calloc(1, HALF), *hi = calloc(1, HALF);
    size_t body = size - 8 < RAM_SIZE ? size - 8 : RAM_SIZE;
    size_t lo_n = body < HALF ? body : HALF;
    memcpy(lo, data + 8, lo_n);
    memcpy(hi, data + 8 + lo_n, body - lo_n);

    struct gmem mem;
    gmem_init(&mem);
    if (gmem_add(&mem, RAM_GPA, HALF, lo) || gmem_add(&mem, RAM_GPA + HALF, HALF, hi))
        abort();

    struct virtq q;
    memset(&q, 0, sizeof(q));
    q.max_size = 200;
    virtq_reset(&q);
    uint8_t mode = data[1];
    q.size = data[0];
    if (mode & 8) {
        q.desc_gpa = RAM_GPA + (data[4] | (uint32_t)data[5] << 8);
        q.avail_gpa = RAM_GPA + data[6] * 64u;
        q.used_gpa = RAM_GPA + data[7] * 64u + 4;
    } else {
        q.desc_gpa = RAM_GPA;
        q.avail_gpa = RAM_GPA + 0x3000;
        q.used_gpa = RAM_GPA + 0x3004;
    }
    uint64_t features = (1ull << VIRTIO_F_RING_PACKED) |
                        ((uint64_t)(mode & 1) << VIRTIO_RING_F_INDIRECT_DESC) |
                        ((uint64_t)((mode >> 1) & 1) << VIRTIO_RING_F_EVENT_IDX) |
                        ((uint64_t)((mode >> 2) & 1) << VIRTIO_F_IN_ORDER);
    if (virtq_start(&q, &mem, features) < 0)
        goto out;

    struct iovec iov[IOV_MAX_FUZZ];
    struct virtq_elem e = { .iov = iov, .iov_cap = (uint16_t)(1 + data[2] % IOV_MAX_FUZZ) };
    bool unpopped = !(data[3] & 1);
    bool reverse = data[3] & 2;
    unsigned hold = data[3] >> 2;
    uint16_t held[HOLD_MAX];
    uint32_t lens[HOLD_MAX];
    unsigned nheld = 0;
    /* Pops stop at the first descriptor not available, and the in-flight
     * bound stops them within one lap; the round bound only guards against
     * a bug that would not. */
    for (unsigned round = 0; round < 2u * q.size + 8; round++) {
        int rc = virtq_pop(&q, &e);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (!q.broken || virtq_pop(&q, &e) != 0 || virtq_has_avail(&q))
                abort();
            break;
        }
        if (rc != 1 || e.head >= q.size || e.nout + e.nin > e.iov_cap)
            abort();
        uint64_t out = 0, in = 0;
        for (unsigned i = 0; i < (unsigned)e.nout + e.nin; i++) {
            if (!in_ram(lo, hi, &iov[i]))
                abort();
            (i < e.nout ? &out : &in)[0] += iov[i].iov_len;
        }
        if (out != e.out_len || in != e.in_len)
            abort();
        if (!unpopped) {
            unpopped = true;
            virtq_unpop(&q);
            continue;
        }
        held[nheld] = e.head;
        lens[nheld] = e.in_len;
        nheld++;
        if (nheld > hold || nheld == HOLD_MAX) {
            push_held(&q, held, lens, nheld, reverse);
            nheld = 0;
        }
        virtq_set_notify(&q, round & 1);
    }
    push_held(&q, held, lens, nheld, reverse);
    /* Everything popped has been pushed: nothing may remain in flight. */
    if (!q.broken && q.pk.inflight != 0)
        abort();
out:
    virtq_reset(&q);
    free(lo);
    free(hi);
    return 0;
}
