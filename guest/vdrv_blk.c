/* virtio-blk driver: one synchronous request at a time. Freestanding.
 * Requests use the layout every device accepts (header, data, status in
 * separate descriptors), which is also what legacy devices without
 * VIRTIO_F_ANY_LAYOUT require. Fields are written in little-endian, which is
 * also the guest's native order on the x86 guests this library targets
 * (legacy uses native order). */
#include "guest/vdrv_blk.h"

#include <asm-generic/errno-base.h>
#include <asm-generic/errno.h>

#include "common/kick_barrier.h"

#define HDR_OFF    0
#define SEG_OFF    16
#define STATUS_OFF 32
#define MAX_DATA_SG 126

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void vdrv_blk_read_config(struct vdrv_blk *b)
{
    uint64_t cap = 0;
    vdrv_config_read(b->dev, __builtin_offsetof(struct virtio_blk_config, capacity), &cap,
                     sizeof(cap));
    b->capacity = cap;
    b->blk_size = 512;
    if (b->dev->features & (1ull << VIRTIO_BLK_F_BLK_SIZE)) {
        uint32_t bs = 0;
        vdrv_config_read(b->dev, __builtin_offsetof(struct virtio_blk_config, blk_size), &bs,
                         sizeof(bs));
        if (bs >= 512 && !(bs & (bs - 1)))
            b->blk_size = bs;
    }
    b->read_only = (b->dev->features >> VIRTIO_BLK_F_RO) & 1;
}

void vdrv_blk_init(struct vdrv_blk *b, struct vdrv_dev *d, struct vdrv_vq *vq, unsigned queue,
                   void *scratch, uint64_t scratch_pa, void (*idle)(void *), void *idle_ctx)
{
    b->dev = d;
    b->vq = vq;
    b->queue = queue;
    b->scratch = scratch;
    b->scratch_pa = scratch_pa;
    b->idle = idle;
    b->idle_ctx = idle_ctx;
    b->last_used_len = 0;
    vdrv_blk_read_config(b);
}

static int vdrv_blk_submit_wait(struct vdrv_blk *b, const struct vdrv_sg *sg, unsigned nout,
                                unsigned nin)
{
    char token;
    volatile uint8_t *status = b->scratch + STATUS_OFF;
    *status = 0xff; /* no device writes this: a missing status shows */
    int rc = vdrv_vq_add(b->vq, sg, nout, nin, &token);
    if (rc < 0)
        return rc;
    if (vdrv_vq_kick_prepare(b->vq))
        vdrv_notify(b->dev, b->queue);
    for (uint32_t spins = 0; spins < VDRV_BLK_POLL_LIMIT; spins++) {
        uint32_t len = 0;
        void *t = vdrv_vq_get_used(b->vq, &len);
        if (t == &token) {
            b->last_used_len = len;
            kick_rmb();
            switch (*status) {
            case VIRTIO_BLK_S_OK:
                return 0;
            case VIRTIO_BLK_S_IOERR:
                return -EIO;
            default:
                return -EOPNOTSUPP;
            }
        }
        if (t)
            return -EPROTO; /* a chain we did not post came back */
        if (b->idle)
            b->idle(b->idle_ctx);
    }
    return -ETIMEDOUT;
}

int vdrv_blk_request(struct vdrv_blk *b, uint32_t type, uint64_t sector,
                     const struct vdrv_sg *data, unsigned n, bool data_writable)
{
    struct vdrv_sg sg[MAX_DATA_SG + 2];
    if (n > MAX_DATA_SG)
        return -EINVAL;
    uint8_t *hdr = b->scratch + HDR_OFF;
    put_le32(hdr, type);
    put_le32(hdr + 4, 0);
    put_le64(hdr + 8, sector);
    sg[0] = (struct vdrv_sg){ b->scratch_pa + HDR_OFF, sizeof(struct virtio_blk_outhdr) };
    for (unsigned i = 0; i < n; i++)
        sg[1 + i] = data[i];
    sg[1 + n] = (struct vdrv_sg){ b->scratch_pa + STATUS_OFF, 1 };
    unsigned nout = data_writable ? 1 : 1 + n;
    return vdrv_blk_submit_wait(b, sg, nout, n + 2 - nout);
}

int vdrv_blk_rw(struct vdrv_blk *b, bool write, uint64_t sector, const struct vdrv_sg *data,
                unsigned n)
{
    return vdrv_blk_request(b, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, data, n,
                            !write);
}

int vdrv_blk_read(struct vdrv_blk *b, uint64_t sector, uint64_t buf_pa, uint32_t len)
{
    struct vdrv_sg sg = { buf_pa, len };
    return vdrv_blk_rw(b, false, sector, &sg, 1);
}

int vdrv_blk_write(struct vdrv_blk *b, uint64_t sector, uint64_t buf_pa, uint32_t len)
{
    struct vdrv_sg sg = { buf_pa, len };
    return vdrv_blk_rw(b, true, sector, &sg, 1);
}

int vdrv_blk_flush(struct vdrv_blk *b)
{
    return vdrv_blk_request(b, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
}

int vdrv_blk_get_id(struct vdrv_blk *b, uint64_t buf_pa)
{
    struct vdrv_sg sg = { buf_pa, VIRTIO_BLK_ID_BYTES };
    return vdrv_blk_request(b, VIRTIO_BLK_T_GET_ID, 0, &sg, 1, true);
}

static int vdrv_blk_range_op(struct vdrv_blk *b, uint32_t type, uint64_t sector, uint32_t nsect,
                             uint32_t flags)
{
    uint8_t *seg = b->scratch + SEG_OFF;
    put_le64(seg, sector);
    put_le32(seg + 8, nsect);
    put_le32(seg + 12, flags);
    struct vdrv_sg sg = { b->scratch_pa + SEG_OFF, sizeof(struct virtio_blk_discard_write_zeroes) };
    return vdrv_blk_request(b, type, 0, &sg, 1, false);
}

int vdrv_blk_discard(struct vdrv_blk *b, uint64_t sector, uint32_t nsect)
{
    return vdrv_blk_range_op(b, VIRTIO_BLK_T_DISCARD, sector, nsect, 0);
}

int vdrv_blk_write_zeroes(struct vdrv_blk *b, uint64_t sector, uint32_t nsect, bool unmap)
{
    return vdrv_blk_range_op(b, VIRTIO_BLK_T_WRITE_ZEROES, sector, nsect,
                             unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
}
