/* Ring request cost, split or packed, device side and driver side, in one
 * process.
 *
 * One request is a 3-descriptor chain (16-byte header out, 4 KiB data out,
 * 1-byte status in), the shape of a block write. The device side of a
 * request is virtq_pop (every bounds check, iovecs) + virtq_push +
 * virtq_needs_irq; the driver side is vdrv_vq_add + vdrv_vq_kick_prepare +
 * vdrv_vq_get_used (packed: vdrv_pvq_add + vdrv_pvq_kick_prepare +
 * vdrv_pvq_get_used; the device calls are the same). bench/callgrind.sh runs this under callgrind with
 * --toggle-collect on exactly those library functions (not the wrappers
 * below) to count instructions per request; run alone it prints requests per
 * second, wrappers included.
 *
 * With a queue depth QD above 1 (fourth argument) the requests go in
 * batches: QD adds, one kick decision, QD pops, QD pushes, one interrupt
 * decision, QD reclaims - the cost per request once the per-batch decisions
 * are shared. QD 1 is the request-by-request round trip above.
 *
 * Output is one "key=value" line per measurement. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "guest/vdrv_ring.h"
#include "virtio/virtq.h"

#define QSIZE 256
#define RAM_GPA 0x100000ull
#define RAM_SIZE (4u << 20)

static struct gmem mem;
static uint8_t *ram;
static struct virtq dq;
static struct vdrv_vq vq;
static struct vdrv_pvq pvq;
static struct vdrv_pvq_id pvq_ids[QSIZE];
static void *tokens[QSIZE];
static uint16_t chain_len[QSIZE];
static struct iovec iov[8];
static struct vdrv_sg sg[3];
static uint64_t irqs, kicks;

/* Batch halves: adds without the kick decision, and the device side in two
 * passes. */
__attribute__((noinline)) int bench_driver_add_only(bool packed)
{
    return packed ? vdrv_pvq_add(&pvq, sg, 2, 1, tokens) : vdrv_vq_add(&vq, sg, 2, 1, tokens);
}

__attribute__((noinline)) void bench_driver_kick(bool packed)
{
    if (packed ? vdrv_pvq_kick_prepare(&pvq) : vdrv_vq_kick_prepare(&vq))
        kicks++;
}

__attribute__((noinline)) int bench_device_pop(uint16_t *head)
{
    struct virtq_elem e = { .iov = iov, .iov_cap = 8 };
    if (virtq_pop(&dq, &e) != 1)
        return -1;
    *head = e.head;
    return 0;
}

__attribute__((noinline)) void bench_device_push(uint16_t head)
{
    virtq_push(&dq, head, 1);
}

__attribute__((noinline)) void bench_device_irq(void)
{
    if (virtq_needs_irq(&dq))
        irqs++;
}

__attribute__((noinline)) int bench_driver_add(void)
{
    int rc = vdrv_vq_add(&vq, sg, 2, 1, tokens);
    if (vdrv_vq_kick_prepare(&vq))
        kicks++;
    return rc;
}

__attribute__((noinline)) int bench_driver_add_packed(void)
{
    int rc = vdrv_pvq_add(&pvq, sg, 2, 1, tokens);
    if (vdrv_pvq_kick_prepare(&pvq))
        kicks++;
    return rc;
}

__attribute__((noinline)) int bench_driver_reclaim_packed(void)
{
    uint32_t len;
    return vdrv_pvq_get_used(&pvq, &len) ? 0 : -1;
}

__attribute__((noinline)) int bench_device_round(void)
{
    struct virtq_elem e = { .iov = iov, .iov_cap = 8 };
    int rc = virtq_pop(&dq, &e);
    if (rc != 1)
        return -1;
    virtq_push(&dq, e.head, 1);
    if (virtq_needs_irq(&dq))
        irqs++;
    return 0;
}

__attribute__((noinline)) int bench_driver_reclaim(void)
{
    uint32_t len;
    return vdrv_vq_get_used(&vq, &len) ? 0 : -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    int event_idx = argc > 2 ? atoi(argv[2]) : 1;
    bool packed = argc > 3 && strcmp(argv[3], "packed") == 0;

    ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED)
        return 1;
    gmem_init(&mem);
    gmem_add(&mem, RAM_GPA, RAM_SIZE, ram);

    size_t ring_bytes;
    uint64_t feats = (1ull << VIRTIO_F_VERSION_1) | ((uint64_t)event_idx << VIRTIO_RING_F_EVENT_IDX);
    if (packed) {
        ring_bytes = vdrv_pvq_mem_size(QSIZE);
        vdrv_pvq_init(&pvq, QSIZE, ram, RAM_GPA, pvq_ids, event_idx, false);
        feats |= 1ull << VIRTIO_F_RING_PACKED;
    } else {
        ring_bytes = vdrv_vq_mem_size(QSIZE, false);
        vdrv_vq_init(&vq, QSIZE, ram, RAM_GPA, tokens, chain_len, false, event_idx);
    }

    memset(&dq, 0, sizeof(dq));
    dq.max_size = QSIZE;
    virtq_reset(&dq);
    dq.size = QSIZE;
    dq.desc_gpa = packed ? pvq.desc_pa : vq.desc_pa;
    dq.avail_gpa = packed ? pvq.driver_pa : vq.avail_pa;
    dq.used_gpa = packed ? pvq.device_pa : vq.used_pa;
    dq.ready = true;
    if (virtq_start(&dq, &mem, feats) < 0) {
        fprintf(stderr, "bench: virtq_start failed\n");
        return 1;
    }
    uint64_t data = RAM_GPA + ((ring_bytes + 4095) & ~4095ull);
    sg[0] = (struct vdrv_sg){ data, 16 };
    sg[1] = (struct vdrv_sg){ data + 4096, 4096 };
    sg[2] = (struct vdrv_sg){ data + 16, 1 };

    unsigned long qd = argc > 4 ? strtoul(argv[4], NULL, 10) : 1;
    /* 3 descriptors a request: at most QSIZE / 3 in flight. */
    if (qd == 0 || qd > QSIZE / 3 || n % qd) {
        fprintf(stderr, "bench: queue depth must be 1..%d and divide the request count\n",
                QSIZE / 3);
        return 1;
    }
    uint16_t heads[QSIZE];

    double t0 = now();
    int (*driver_add)(void) = packed ? bench_driver_add_packed : bench_driver_add;
    int (*driver_reclaim)(void) = packed ? bench_driver_reclaim_packed : bench_driver_reclaim;
    if (qd == 1) {
        for (unsigned long i = 0; i < n; i++) {
            if (driver_add() < 0 || bench_device_round() < 0 || driver_reclaim() < 0) {
                fprintf(stderr, "bench: request %lu failed\n", i);
                return 1;
            }
        }
    } else {
        for (unsigned long i = 0; i < n; i += qd) {
            int bad = 0;
            for (unsigned long j = 0; j < qd; j++)
                bad |= bench_driver_add_only(packed);
            bench_driver_kick(packed);
            for (unsigned long j = 0; j < qd; j++)
                bad |= bench_device_pop(&heads[j]);
            for (unsigned long j = 0; j < qd; j++)
                bench_device_push(heads[j]);
            bench_device_irq();
            for (unsigned long j = 0; j < qd; j++)
                bad |= driver_reclaim();
            if (bad) {
                fprintf(stderr, "bench: batch at request %lu failed\n", i);
                return 1;
            }
        }
    }
    double dt = now() - t0;
    virtq_reset(&dq);
    printf("ring=%s qd=%lu requests=%lu event_idx=%d kicks=%" PRIu64 " irqs=%" PRIu64 "\n",
           packed ? "packed" : "split", qd, n, event_idx, kicks, irqs);
    printf("requests_per_second=%.0f\n", n / dt);
    printf("ns_per_request=%.1f\n", dt * 1e9 / n);
    return 0;
}
