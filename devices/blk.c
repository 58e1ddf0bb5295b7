#include "devices/blk.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#define SECTOR_SHIFT 9
#define SECTOR_SIZE  (1u << SECTOR_SHIFT)

/* What the backend is handed: one io and the request it belongs to, so a
 * completion finds its request wherever the request was allocated. */
struct blk_req_io {
    struct blk_io io; /* first: the backend's pointer is this struct's */
    struct blk_req *req;
};

/* A request slot. Slots are allocated one at a time as the guest keeps more
 * requests in flight (up to BLK_INFLIGHT per queue) and then kept on the
 * queue's free list: most of a slot is the iovec array for the longest chain,
 * and a guest that never has many requests outstanding never pays for more
 * than a few. A slot is on the free list exactly when no backend io of it is
 * outstanding; slots are freed only by blk_dev_destroy, after the drain. */
struct blk_req {
    struct blk_queue *q;
    struct blk_req *next_free;
    struct blk_req *next_slot; /* every slot of the queue, for destroy */
    uint16_t head;
    uint8_t status;       /* worst outcome so far */
    unsigned pending;     /* backend ios outstanding */
    uint8_t *status_byte; /* host pointer to the guest's status byte */
    uint32_t used_len;
    uint32_t type;        /* VIRTIO_BLK_T_*, for the stats */
    uint64_t bytes;       /* data moved, for the stats */
    struct blk_req_io io[BLK_DWZ_SEG_MAX];
    struct iovec iov[BLK_IOV_MAX];
};

/* --- small helpers over a chain's iovecs --- */

/* Copies up to len bytes from the front of iov[0..n) into dst; returns how many. */
static size_t iov_copy_from(const struct iovec *iov, unsigned n, void *dst, size_t len)
{
    size_t got = 0;
    for (unsigned i = 0; i < n && got < len; i++) {
        size_t k = iov[i].iov_len < len - got ? iov[i].iov_len : len - got;
        memcpy((uint8_t *)dst + got, iov[i].iov_base, k);
        got += k;
    }
    return got;
}

static void iov_copy_to(const struct iovec *iov, unsigned n, const void *src, size_t len)
{
    size_t put = 0;
    for (unsigned i = 0; i < n && put < len; i++) {
        size_t k = iov[i].iov_len < len - put ? iov[i].iov_len : len - put;
        memcpy(iov[i].iov_base, (const uint8_t *)src + put, k);
        put += k;
    }
}

/* Drops skip bytes from the front of the iovec array in place (the header). */
static void iov_skip(struct iovec **iov, unsigned *n, size_t skip)
{
    while (*n && skip) {
        if ((*iov)->iov_len > skip) {
            (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + skip;
            (*iov)->iov_len -= skip;
            return;
        }
        skip -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    /* Zero-length leftovers at the front carry nothing; drop them too. */
    while (*n && (*iov)->iov_len == 0) {
        (*iov)++;
        (*n)--;
    }
}

/* --- request slots --- */

/* A free slot of bq, allocating one while fewer than BLK_INFLIGHT exist;
 * NULL when the queue is at its limit (or out of memory): the chain then
 * waits in the ring until a completion frees a slot. */
static struct blk_req *blk_slot_get(struct blk_queue *bq, struct virtq *vq)
{
    struct blk_req *r = bq->free;
    if (r) {
        bq->free = r->next_free;
        return r;
    }
    /* A new slot only for a chain that is there to be served. */
    if (bq->nslots >= BLK_INFLIGHT || !virtq_has_avail(vq))
        return NULL;
    /* Not zeroed: blk_start sets every field a request reads, and the iovec
     * array is filled by virtq_pop up to the chain's length. */
    r = malloc(sizeof(*r));
    if (!r)
        return NULL;
    r->q = bq;
    for (unsigned i = 0; i < BLK_DWZ_SEG_MAX; i++)
        r->io[i].req = r;
    r->next_slot = bq->slots;
    bq->slots = r;
    bq->nslots++;
    return r;
}

static void blk_slot_put(struct blk_queue *bq, struct blk_req *r)
{
    r->next_free = bq->free;
    bq->free = r;
}

/* --- completion --- */

static void blk_req_finish(struct blk_req *r)
{
    struct blk_queue *bq = r->q;
    struct blk_dev *b = bq->blk;

    if (!bq->dropping) {
        *r->status_byte = r->status;
        virtq_push(&b->vqs[bq->index], r->head, r->used_len);
        bq->pushed = true;
        b->stats.requests++;
        if (r->status != VIRTIO_BLK_S_OK)
            b->stats.errors++;
        else if (r->type == VIRTIO_BLK_T_IN)
            b->stats.read_bytes += r->bytes;
        else if (r->type == VIRTIO_BLK_T_OUT)
            b->stats.write_bytes += r->bytes;
        else if (r->type == VIRTIO_BLK_T_FLUSH)
            b->stats.flushes++;
    }
    blk_slot_put(bq, r);
    bq->inflight--;
}

static struct blk_req *blk_req_of(struct blk_io *io)
{
    return ((struct blk_req_io *)io)->req;
}

static void blk_backend_done(void *ctx, struct blk_io *io, int res)
{
    (void)ctx;
    struct blk_req *r = blk_req_of(io);
    if (res < 0)
        r->status = VIRTIO_BLK_S_IOERR;
    if (--r->pending == 0)
        blk_req_finish(r);
}

/* --- request decoding --- */

static bool blk_range_ok(const struct blk_dev *b, uint64_t sector, uint64_t nsect)
{
    /* Written so that no sum can overflow. */
    return sector <= b->capacity && nsect <= b->capacity - sector;
}

/* Validates and queues a DISCARD or WRITE_ZEROES request's segments. */
static uint8_t blk_start_dwz(struct blk_dev *b, struct blk_req *r, uint32_t type,
                             struct iovec *data, unsigned ndata, uint64_t data_len)
{
    struct virtio_blk_discard_write_zeroes seg[BLK_DWZ_SEG_MAX];
    bool discard = type == VIRTIO_BLK_T_DISCARD;
    unsigned feature = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;

    if (!virtio_dev_has_feature(&b->vdev, feature))
        return VIRTIO_BLK_S_UNSUPP;
    if (b->read_only)
        return VIRTIO_BLK_S_IOERR;
    if (data_len == 0 || data_len % sizeof(seg[0]) || data_len / sizeof(seg[0]) > BLK_DWZ_SEG_MAX)
        return VIRTIO_BLK_S_IOERR;
    unsigned nseg = (unsigned)(data_len / sizeof(seg[0]));
    iov_copy_from(data, ndata, seg, data_len);

    /* All segments are checked before any is started: a refused request
     * leaves the disk untouched. */
    for (unsigned i = 0; i < nseg; i++) {
        uint32_t flags = le32toh(seg[i].flags);
        if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
            return VIRTIO_BLK_S_UNSUPP;
        if (discard && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
            return VIRTIO_BLK_S_UNSUPP;
        uint32_t n = le32toh(seg[i].num_sectors);
        if (n > BLK_DWZ_SECT_MAX || !blk_range_ok(b, le64toh(seg[i].sector), n))
            return VIRTIO_BLK_S_IOERR;
    }
    for (unsigned i = 0; i < nseg; i++) {
        struct blk_io *io = &r->io[i].io;
        *io = (struct blk_io){
            .op = discard ? BLK_IO_DISCARD : BLK_IO_WRITE_ZEROES,
            .offset = le64toh(seg[i].sector) << SECTOR_SHIFT,
            .len = (uint64_t)le32toh(seg[i].num_sectors) << SECTOR_SHIFT,
            .unmap = le32toh(seg[i].flags) & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
        };
        if (io->len == 0)
            continue;
        if (b->be->ops->submit(b->be->be, r->q->index, io) < 0) {
            r->status = VIRTIO_BLK_S_IOERR;
            break;
        }
        r->pending++;
    }
    return r->status;
}

/* Starts one popped chain. Either the request is now in flight (pending >
 * 0), or it has been finished here. */
static void blk_start(struct blk_dev *b, struct blk_req *r, struct virtq_elem *e)
{
    struct blk_queue *bq = r->q;
    struct iovec *out = r->iov, *in = r->iov + e->nout;
    unsigned nout = e->nout, nin = e->nin;

    r->head = e->head;
    r->status = VIRTIO_BLK_S_OK;
    r->pending = 0;
    r->bytes = 0;
    r->type = ~0u; /* until the header is read */
    bq->inflight++;

    /* The status byte is the last writable byte. Without one the request
     * cannot be answered at all: that is a broken driver, not a failed
     * request, so the device asks for a reset (and returns the chain so the
     * descriptors are not lost). */
    while (nin && in[nin - 1].iov_len == 0)
        nin--;
    if (nin == 0) {
        virtq_push(&b->vqs[bq->index], r->head, 0);
        bq->pushed = true;
        blk_slot_put(bq, r);
        bq->inflight--;
        virtio_dev_needs_reset(&b->vdev);
        return;
    }
    struct iovec *last = &in[nin - 1];
    r->status_byte = (uint8_t *)last->iov_base + last->iov_len - 1;
    r->used_len = e->in_len;
    last->iov_len--;
    if (last->iov_len == 0)
        nin--;
    uint64_t in_data = e->in_len - 1;

    struct virtio_blk_outhdr hdr;
    if (iov_copy_from(out, nout, &hdr, sizeof(hdr)) < sizeof(hdr)) {
        r->status = VIRTIO_BLK_S_IOERR;
        goto finish_now;
    }
    iov_skip(&out, &nout, sizeof(hdr));
    uint64_t out_data = e->out_len - sizeof(hdr);
    uint32_t type = le32toh(hdr.type);
    r->type = type;
    uint64_t sector = le64toh(hdr.sector);
    struct blk_io *io = &r->io[0].io;

    switch (type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT: {
        bool write = type == VIRTIO_BLK_T_OUT;
        uint64_t len = write ? out_data : in_data;
        if (write && b->read_only) {
            r->status = VIRTIO_BLK_S_IOERR;
            goto finish_now;
        }
        if (len % SECTOR_SIZE || !blk_range_ok(b, sector, len >> SECTOR_SHIFT)) {
            r->status = VIRTIO_BLK_S_IOERR;
            goto finish_now;
        }
        r->bytes = len;
        if (len == 0)
            goto finish_now;
        *io = (struct blk_io){
            .op = write ? BLK_IO_WRITE : BLK_IO_READ,
            .iov = write ? out : in,
            .iovcnt = write ? nout : nin,
            .offset = sector << SECTOR_SHIFT,
            .len = len,
            /* Without FLUSH negotiated every completed write must be stable. */
            .sync = write && !virtio_dev_has_feature(&b->vdev, VIRTIO_BLK_F_FLUSH),
        };
        break;
    }
    case VIRTIO_BLK_T_FLUSH:
        *io = (struct blk_io){ .op = BLK_IO_FLUSH };
        break;
    case VIRTIO_BLK_T_GET_ID: {
        char id[VIRTIO_BLK_ID_BYTES];
        memcpy(id, b->serial, sizeof(id));
        iov_copy_to(in, nin, id, in_data < sizeof(id) ? in_data : sizeof(id));
        goto finish_now;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        r->status = blk_start_dwz(b, r, type, out, nout, out_data);
        if (r->pending == 0)
            goto finish_now;
        return;
    default:
        r->status = VIRTIO_BLK_S_UNSUPP;
        goto finish_now;
    }

    if (b->be->ops->submit(b->be->be, bq->index, io) < 0) {
        r->status = VIRTIO_BLK_S_IOERR;
        goto finish_now;
    }
    r->pending = 1;
    return;

finish_now:
    blk_req_finish(r);
}

/* Pops and starts chains while there are request slots. */
static void blk_process(struct blk_dev *b, unsigned qi)
{
    struct blk_queue *bq = &b->q[qi];
    struct virtq *vq = &b->vqs[qi];
    bool started = false;

    while (virtio_dev_running(&b->vdev)) {
        struct blk_req *r = blk_slot_get(bq, vq);
        if (!r)
            break;
        struct virtq_elem e = { .iov = r->iov, .iov_cap = BLK_IOV_MAX };
        if (virtq_pop(vq, &e) != 1) {
            blk_slot_put(bq, r);
            break; /* empty, or broken (the core marked NEEDS_RESET) */
        }
        blk_start(b, r, &e);
        started = true;
    }
    if (started)
        b->be->ops->commit(b->be->be, qi);
    if (bq->pushed) {
        bq->pushed = false;
        virtio_dev_queue_irq(&b->vdev, qi);
    }
}

static void blk_queue_notify(struct virtio_dev *d, unsigned qi)
{
    struct blk_dev *b = d->priv;
    if (qi < d->num_queues)
        blk_process(b, qi);
}

unsigned blk_poll_queue(struct blk_dev *b, unsigned qi, bool wait)
{
    if (qi >= b->vdev.num_queues)
        return 0;
    struct blk_queue *bq = &b->q[qi];
    if (bq->inflight == 0)
        return 0;
    uint64_t before = b->stats.requests;
    b->be->ops->reap(b->be->be, qi, wait, blk_backend_done, bq);
    unsigned completed = (unsigned)(b->stats.requests - before);
    /* Completions freed slots: serve chains that were waiting for one. */
    if (b->vqs[qi].ready && virtio_dev_running(&b->vdev))
        blk_process(b, qi);
    else if (bq->pushed) {
        bq->pushed = false;
        virtio_dev_queue_irq(&b->vdev, qi);
    }
    return completed;
}

unsigned blk_poll(struct blk_dev *b, bool wait)
{
    unsigned n = 0;
    for (unsigned qi = 0; qi < b->vdev.num_queues; qi++)
        n += blk_poll_queue(b, qi, wait);
    return n;
}

unsigned blk_inflight(const struct blk_dev *b)
{
    unsigned n = 0;
    for (unsigned qi = 0; qi < b->vdev.num_queues; qi++)
        n += b->q[qi].inflight;
    return n;
}

/* Waits out queue qi's in-flight I/O and forgets it: the guest's buffers may
 * be reused once the reset returns, so nothing may still be writing them. */
static void blk_drain_queue(struct blk_dev *b, unsigned qi)
{
    struct blk_queue *bq = &b->q[qi];
    bq->dropping = true;
    while (bq->inflight)
        b->be->ops->reap(b->be->be, qi, true, blk_backend_done, bq);
    bq->dropping = false;
    bq->pushed = false;
}

static void blk_reset(struct virtio_dev *d)
{
    struct blk_dev *b = d->priv;
    for (unsigned qi = 0; qi < d->num_queues; qi++)
        blk_drain_queue(b, qi);
}

static void blk_queue_reset(struct virtio_dev *d, unsigned qi)
{
    struct blk_dev *b = d->priv;
    if (qi < d->num_queues)
        blk_drain_queue(b, qi);
}

static const struct virtio_dev_ops blk_ops = {
    .queue_notify = blk_queue_notify,
    .reset = blk_reset,
    .queue_reset = blk_queue_reset,
};

static void blk_fill_config(struct blk_dev *b, uint32_t blk_size, unsigned nq)
{
    struct virtio_blk_config *c = &b->cfg;
    memset(c, 0, sizeof(*c));
    c->capacity = htole64(b->capacity);
    c->size_max = htole32(BLK_SIZE_MAX);
    c->seg_max = htole32(BLK_SEG_MAX);
    c->blk_size = htole32(blk_size);
    c->physical_block_exp = 0;
    c->alignment_offset = 0;
    c->min_io_size = htole16(1);
    c->opt_io_size = htole32(0);
    c->num_queues = htole16((uint16_t)nq);
    c->max_discard_sectors = htole32(BLK_DWZ_SECT_MAX);
    c->max_discard_seg = htole32(BLK_DWZ_SEG_MAX);
    c->discard_sector_alignment = htole32(blk_size >> SECTOR_SHIFT);
    c->max_write_zeroes_sectors = htole32(BLK_DWZ_SECT_MAX);
    c->max_write_zeroes_seg = htole32(BLK_DWZ_SEG_MAX);
    c->write_zeroes_may_unmap = 1;
}

int blk_dev_init(struct blk_dev *b, struct blk_backend *be, const struct blk_opts *o)
{
    static const struct blk_opts defaults;
    if (!o)
        o = &defaults;
    uint32_t blk_size = o->blk_size ? o->blk_size : SECTOR_SIZE;
    unsigned nq = o->num_queues ? o->num_queues : 1;
    if (blk_size < SECTOR_SIZE || (blk_size & (blk_size - 1)) || blk_size > (1u << 16))
        return -EINVAL;
    if (nq > BLK_MAX_QUEUES || nq > be->channels)
        return -EINVAL;

    memset(b, 0, sizeof(*b));
    b->be = be;
    b->capacity = be->size >> SECTOR_SHIFT;
    b->read_only = o->read_only || be->read_only;
    /* NUL-padded; a 20-byte serial has no terminator (as the spec allows). */
    if (o->serial)
        memcpy(b->serial, o->serial, strnlen(o->serial, sizeof(b->serial)));

    for (unsigned qi = 0; qi < nq; qi++) {
        b->q[qi].blk = b;
        b->q[qi].index = qi;
    }

    uint64_t features = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
                        (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
                        (1ull << VIRTIO_BLK_F_TOPOLOGY) |
                        (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC);
    if (b->read_only)
        features |= 1ull << VIRTIO_BLK_F_RO;
    if (nq > 1)
        features |= 1ull << VIRTIO_BLK_F_MQ;
    if (!o->no_discard)
        features |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
    blk_fill_config(b, blk_size, nq);
    virtio_dev_init(&b->vdev, VIRTIO_ID_BLOCK, features, b->vqs, nq, BLK_QUEUE_SIZE, &b->cfg,
                    sizeof(b->cfg), &blk_ops, b);
    return 0;
}

void blk_dev_destroy(struct blk_dev *b)
{
    for (unsigned qi = 0; qi < BLK_MAX_QUEUES; qi++) {
        struct blk_queue *bq = &b->q[qi];
        if (bq->slots && b->vdev.num_queues > qi)
            blk_drain_queue(b, qi);
        while (bq->slots) {
            struct blk_req *r = bq->slots;
            bq->slots = r->next_slot;
            free(r);
        }
        bq->free = NULL;
        bq->nslots = 0;
    }
}
