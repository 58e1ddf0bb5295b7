/* virtio-blk, driver side: synchronous sector I/O over one queue.
 * Freestanding (no libc). Each call adds one request, kicks, and polls the
 * used ring until it comes back; between polls it calls the idle hook (a
 * real guest passes a pause loop; a loopback test lets the host device run). */
#ifndef KICK_VDRV_BLK_H
#define KICK_VDRV_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "guest/vdrv_pci.h"

/* Scratch memory the driver needs per queue (header, discard segments and
 * status), guest-physical, any 16-byte-aligned block of this size. */
#define VDRV_BLK_SCRATCH 64
#define VDRV_BLK_POLL_LIMIT 100000000u

struct vdrv_blk {
    struct vdrv_dev *dev;
    struct vdrv_vq *vq;
    unsigned queue;
    uint64_t capacity;      /* 512-byte sectors, from config */
    uint32_t blk_size;      /* 512 unless VIRTIO_BLK_F_BLK_SIZE says otherwise */
    bool read_only;
    uint8_t *scratch;
    uint64_t scratch_pa;
    void (*idle)(void *ctx);
    void *idle_ctx;
    uint32_t last_used_len; /* used length of the last request */
};

/* Binds to queue `queue` of an already negotiated, DRIVER_OK device and
 * reads the config. scratch: VDRV_BLK_SCRATCH bytes of guest memory. */
void vdrv_blk_init(struct vdrv_blk *b, struct vdrv_dev *d, struct vdrv_vq *vq, unsigned queue,
                   void *scratch, uint64_t scratch_pa, void (*idle)(void *), void *idle_ctx);
/* Re-reads capacity (after a config change). */
void vdrv_blk_read_config(struct vdrv_blk *b);

/* Requests. Return 0 (VIRTIO_BLK_S_OK), -EIO (IOERR), -EOPNOTSUPP (UNSUPP,
 * or any other status), -ETIMEDOUT (never came back), or the ring's error.
 * data: guest-physical buffers, n of them, lengths multiples of 512. */
int vdrv_blk_rw(struct vdrv_blk *b, bool write, uint64_t sector, const struct vdrv_sg *data,
                unsigned n);
int vdrv_blk_read(struct vdrv_blk *b, uint64_t sector, uint64_t buf_pa, uint32_t len);
int vdrv_blk_write(struct vdrv_blk *b, uint64_t sector, uint64_t buf_pa, uint32_t len);
int vdrv_blk_flush(struct vdrv_blk *b);
/* buf_pa: VIRTIO_BLK_ID_BYTES bytes. */
int vdrv_blk_get_id(struct vdrv_blk *b, uint64_t buf_pa);
/* One-segment DISCARD, or WRITE_ZEROES (unmap: may deallocate). */
int vdrv_blk_discard(struct vdrv_blk *b, uint64_t sector, uint32_t nsect);
int vdrv_blk_write_zeroes(struct vdrv_blk *b, uint64_t sector, uint32_t nsect, bool unmap);

/* Lower level: one request of any type with the given data buffers (all
 * device-readable, or all device-writable when data_writable). */
int vdrv_blk_request(struct vdrv_blk *b, uint32_t type, uint64_t sector,
                     const struct vdrv_sg *data, unsigned n, bool data_writable);

#endif
