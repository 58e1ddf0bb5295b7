/* Hostile mode ("hostile" on the command line): the probe plays a
 * misbehaving driver against a modern rng or blk queue, writing descriptor
 * chains no conforming driver writes, and checks that the device survives
 * (NEEDS_RESET, or nothing completed, the guest still running), comes back
 * after a reset, and that another device kept working meanwhile.
 * "hostile-strict" also demands NEEDS_RESET wherever the spec gives the
 * device nothing to serve (kick marks such a queue broken). */
#ifndef KICK_PROBE_HOSTILE_H
#define KICK_PROBE_HOSTILE_H

#include <linux/virtio_blk.h>

#include "guest/probe/irq.h"

/* Small, so "longer than the queue size" stays short; QEMU's rng queue is
 * 8 entries at most anyway. */
#define HOSTILE_QUEUE_SIZE 8
#define HOSTILE_TABLE_MAX  32 /* descriptors per scratch indirect table */
#define HOSTILE_RNG_BYTES  64
#define HOSTILE_SECTOR     512

/* One device: the target of the cases, driven by hand through the ring the
 * library laid out, or the bystander, driven through the library. */
struct hdev {
    struct pci_fn *f;
    struct vdrv_dev d;
    const char *name; /* "rng", "blk" */
    bool blk;
    struct vdrv_vq vq;
    void *ring;
    size_t ring_bytes;
    void **tokens;
    uint16_t *chain;
    /* The request the cases wrap: rng fills data; blk reads sector 0 into
     * it (header, data, status). */
    struct virtio_blk_outhdr *hdr;
    uint8_t *data;
    uint32_t data_len;
    uint8_t *status;
    struct vring_desc *table[2]; /* scratch indirect tables */
};

enum hostile_case {
    HC_CONTROL, /* the conforming request, written the same way: must be served */
    HC_LOOP,
    HC_LONG_CHAIN,
    HC_LONG_INDIRECT,
    HC_NESTED_INDIRECT,
    HC_EMPTY_INDIRECT,
    HC_PAST_RAM,
    HC_WRAP,
    HC_AVAIL_JUMP,
    HC_COUNT
};

const char *hostile_case_name(enum hostile_case c);
bool hostile_case_indirect(enum hostile_case c);
/* A chain a device may serve as it stands: the spec forbids it to the
 * driver but asks nothing of the device, so strict mode accepts service. */
bool hostile_case_servable(enum hostile_case c);
/* Writes case c into h's freshly set up queue: descriptors from index 0
 * (head 0) and the scratch tables, and avail ring entries; returns the
 * avail idx to publish. Also the most bytes any reading of the chain lets
 * the device write, for judging a used length. */
uint16_t hostile_case_build(struct hdev *h, enum hostile_case c, uint32_t *max_written);

/* hostile.c */
void hostile_run(struct pci_fn *fns, unsigned n);

#endif
