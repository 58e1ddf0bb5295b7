/* The hostile chains, written by hand into a queue the library set up. Each
 * starts from the request a conforming driver would make (rng: one writable
 * buffer; blk: header, data, status reading sector 0) and breaks one rule of
 * the split ring (virtio 1.2, 2.7.5 and 2.7.6). Wherever a device might read
 * a broken descriptor as a plain buffer, that buffer is scratch memory of
 * ours, so no reading of a chain can hurt the guest. */
#include <linux/virtio_ring.h>

#include "guest/probe/hostile.h"

/* Far above any RAM or BAR window the scripts give QEMU or kick. */
#define PAST_RAM_ADDR 0x10000000000ull

struct seg {
    uint64_t addr;
    uint32_t len;
    bool write;
};

static const char *const case_names[HC_COUNT] = {
    [HC_CONTROL] = "control: a conforming chain written by hand",
    [HC_LOOP] = "descriptor loop (next points back)",
    [HC_LONG_CHAIN] = "chain longer than the queue size (every descriptor, then back)",
    [HC_LONG_INDIRECT] = "indirect chain longer than the queue size",
    [HC_NESTED_INDIRECT] = "indirect descriptor inside an indirect table",
    [HC_EMPTY_INDIRECT] = "zero-length indirect table",
    [HC_PAST_RAM] = "buffer address past guest RAM",
    [HC_WRAP] = "buffer wrapping past 2^64",
    [HC_AVAIL_JUMP] = "avail idx more than the queue size ahead",
};

const char *hostile_case_name(enum hostile_case c)
{
    return c < HC_COUNT ? case_names[c] : "?";
}

bool hostile_case_indirect(enum hostile_case c)
{
    return c == HC_LONG_INDIRECT || c == HC_NESTED_INDIRECT || c == HC_EMPTY_INDIRECT;
}

bool hostile_case_servable(enum hostile_case c)
{
    /* 2.7.5.3.1 says only "A driver MUST NOT create a descriptor chain
     * longer than the Queue Size of the device"; each entry of the table is
     * a valid buffer, and Linux's virtio_ring makes such chains whenever a
     * request has more segments than the ring has entries. */
    return c == HC_LONG_INDIRECT;
}

/* The conforming request; *big is the segment the cases split or move. */
static unsigned request(const struct hdev *h, struct seg *s, unsigned *big)
{
    if (!h->blk) {
        s[0] = (struct seg){ (uintptr_t)h->data, h->data_len, true };
        *big = 0;
        return 1;
    }
    h->hdr->type = VIRTIO_BLK_T_IN;
    h->hdr->sector = 0;
    *h->status = 0xff;
    s[0] = (struct seg){ (uintptr_t)h->hdr, sizeof(*h->hdr), false };
    s[1] = (struct seg){ (uintptr_t)h->data, h->data_len, true };
    s[2] = (struct seg){ (uintptr_t)h->status, 1, true };
    *big = 1;
    return 3;
}

/* The request with its big segment cut into pieces so that it takes
 * `want` descriptors (at least its own count); returns the count. */
static unsigned request_split(const struct hdev *h, struct seg *out, unsigned want)
{
    struct seg s[3];
    unsigned big, n = request(h, s, &big);
    unsigned pieces = want > n ? want - n + 1 : 1;
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i != big) {
            out[k++] = s[i];
            continue;
        }
        uint32_t each = s[i].len / pieces;
        for (unsigned p = 0; p < pieces; p++) {
            uint32_t len = p + 1 < pieces ? each : s[i].len - each * (pieces - 1);
            out[k++] = (struct seg){ s[i].addr + (uint64_t)each * p, len, true };
        }
    }
    return k;
}

/* Chains segs into t[0..n-1] as a conforming driver would. */
static void fill(struct vring_desc *t, const struct seg *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        t[i].addr = s[i].addr;
        t[i].len = s[i].len;
        t[i].flags = (uint16_t)((s[i].write ? VRING_DESC_F_WRITE : 0) |
                                (i + 1 < n ? VRING_DESC_F_NEXT : 0));
        t[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
    }
}

static unsigned first_writable(const struct seg *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (s[i].write)
            return i;
    return 0;
}

static uint32_t writable_bytes(const struct seg *s, unsigned n)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < n; i++)
        if (s[i].write)
            sum += s[i].len;
    return sum;
}

static void indirect_head(struct vring_desc *ring, const struct vring_desc *table, uint32_t len)
{
    ring[0] = (struct vring_desc){ .addr = (uintptr_t)table, .len = len,
                                   .flags = VRING_DESC_F_INDIRECT };
}

uint16_t hostile_case_build(struct hdev *h, enum hostile_case c, uint32_t *max_written)
{
    struct vring_desc *ring = h->vq.desc;
    uint16_t size = h->vq.size;
    struct seg s[HOSTILE_TABLE_MAX];
    unsigned big, n;
    uint16_t advance = 1;

    switch (c) {
    case HC_CONTROL:
        n = request(h, s, &big);
        fill(ring, s, n);
        break;
    case HC_LOOP:
        /* The last descriptor goes on to the first writable one: a loop
         * that stays within the writable part, so a device that only
         * checks direction still has to see the loop. */
        n = request(h, s, &big);
        fill(ring, s, n);
        ring[n - 1].flags |= VRING_DESC_F_NEXT;
        ring[n - 1].next = (uint16_t)first_writable(s, n);
        break;
    case HC_LONG_CHAIN:
        /* Every descriptor of the table in order, then on to the first
         * writable one again: no short cycle, just a walk that passes
         * the queue size. */
        n = request_split(h, s, size);
        fill(ring, s, n);
        ring[n - 1].flags |= VRING_DESC_F_NEXT;
        ring[n - 1].next = (uint16_t)first_writable(s, n);
        break;
    case HC_LONG_INDIRECT:
        n = request_split(h, s, size + 1u);
        fill(h->table[0], s, n);
        indirect_head(ring, h->table[0], n * (uint32_t)sizeof(struct vring_desc));
        break;
    case HC_NESTED_INDIRECT: {
        /* The big segment moves into a second table the first one points
         * at. Read as a plain writable buffer (the flag ignored) the
         * pointer is 16 bytes of our second table. */
        n = request(h, s, &big);
        struct seg inner = s[big];
        fill(h->table[1], &inner, 1);
        s[big] = (struct seg){ (uintptr_t)h->table[1], sizeof(struct vring_desc), true };
        fill(h->table[0], s, n);
        h->table[0][big].flags |= VRING_DESC_F_INDIRECT;
        indirect_head(ring, h->table[0], n * (uint32_t)sizeof(struct vring_desc));
        s[big] = inner; /* for the bound below: either reading */
        break;
    }
    case HC_EMPTY_INDIRECT:
        /* A valid table behind it, should a device walk it anyway. */
        n = request(h, s, &big);
        fill(h->table[0], s, n);
        indirect_head(ring, h->table[0], 0);
        break;
    case HC_PAST_RAM:
        n = request(h, s, &big);
        s[big].addr = PAST_RAM_ADDR;
        fill(ring, s, n);
        break;
    case HC_WRAP:
        /* Starts half its length below 2^64. */
        n = request(h, s, &big);
        s[big].addr = 0 - (uint64_t)(s[big].len / 2);
        fill(ring, s, n);
        break;
    case HC_AVAIL_JUMP:
        /* Every avail entry names the same valid chain: a device that
         * takes idx at its word serves the same buffer size + 1 times. */
        n = request(h, s, &big);
        fill(ring, s, n);
        advance = (uint16_t)(size + 1u);
        break;
    default:
        *max_written = 0;
        return 0;
    }
    *max_written = writable_bytes(s, n) + (uint32_t)sizeof(struct vring_desc);
    for (uint16_t i = 0; i < size; i++)
        h->vq.avail->ring[i] = 0;
    return advance;
}
