/* libFuzzer target: the split ring's device side against arbitrary guest RAM.
 *
 * Input: an 8-byte header, then the guest RAM contents (zero-padded).
 *   [0]   queue size: 1 << (v % 10), or the raw byte when bit 7 of [1] is set
 *         (so invalid sizes reach virtq_start too)
 *   [1]   bit 0 indirect, bit 1 event idx, bit 2 take ring addresses from
 *         [2..7], else the fixed layout below; bit 7 see [0]
 *   [2..7] ring offsets into RAM, 16 bits each (desc, avail, used)
 * The avail index, ring entries and descriptors all come from the RAM bytes,
 * as a guest would write them. The driver never runs concurrently here.
 *
 * Guest RAM is two adjacent regions on separate heap blocks of exact size, so
 * a range straddling them, or any access past them, is caught by ASan. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtq.h"

#define RAM_GPA   0x200000ULL
#define HALF      0x8000u
#define RAM_SIZE  (2 * HALF)
#define IOV_MAX_FUZZ 64

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
    q.max_size = 512;
    virtq_reset(&q);
    uint8_t mode = data[1];
    q.size = (mode & 0x80) ? data[0] : (uint16_t)(1u << (data[0] % 10));
    if (mode & 4) {
        q.desc_gpa = RAM_GPA + (data[2] | (uint32_t)data[3] << 8);
        q.avail_gpa = RAM_GPA + (data[4] | (uint32_t)data[5] << 8);
        q.used_gpa = RAM_GPA + (data[6] | (uint32_t)data[7] << 8);
    } else {
        q.desc_gpa = RAM_GPA;
        q.avail_gpa = RAM_GPA + 0x2000;
        q.used_gpa = RAM_GPA + 0x3000;
    }
    uint64_t features = ((uint64_t)(mode & 1) << VIRTIO_RING_F_INDIRECT_DESC) |
                        ((uint64_t)((mode >> 1) & 1) << VIRTIO_RING_F_EVENT_IDX);
    if (virtq_start(&q, &mem, features) < 0)
        goto out;

    struct iovec iov[IOV_MAX_FUZZ];
    struct virtq_elem e = { .iov = iov, .iov_cap = (uint16_t)(1 + data[2] % IOV_MAX_FUZZ) };
    bool unpopped = false;
    /* Each pop consumes a ring entry, so this ends by itself; the bound only
     * guards against a bug that would not. */
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
        /* Give the first element back once to exercise unpop. */
        if (!unpopped && (data[3] & 1)) {
            unpopped = true;
            virtq_unpop(&q);
            continue;
        }
        virtq_push(&q, e.head, e.in_len);
        (void)virtq_needs_irq(&q);
        virtq_set_notify(&q, round & 1);
    }
out:
    free(lo);
    free(hi);
    return 0;
}
