/* Shared by drive.c (split and packed queues through one face) and
 * drive_packed.c (what only a packed queue has: event suppression
 * structures, packed indirect tables, ring wrap). */
#ifndef KICK_PROBE_DRIVE_H
#define KICK_PROBE_DRIVE_H

#include "guest/probe/probe.h"

#define POLL_SECONDS        5
#define ISR_POLL_SECONDS    1
#define ISR_QUEUE_INTERRUPT 0x1 /* ISR bit 0; linux/virtio_pci.h names only bit 1 */

/* One driven queue, whichever layout was negotiated. */
struct dq {
    unsigned q;
    bool packed;
    struct vdrv_vq vq;
    struct vdrv_pvq pvq;
};

struct drive {
    struct pci_fn *f;
    struct vdrv_dev *d;
    const char *mode; /* "modern", "modern packed", "legacy": also in console/net payloads */
    bool packed;
    bool isr_checked;
    bool write_flag_checked;
    /* Packed: kick decisions judged, by the device event flags seen, and
     * how many disagreed with the device event structure. */
    unsigned kicks_by_flags[4], kicks_wrong, kicks_unjudged;
};

/* One packed add's kick decision against the device event structure as
 * read just before the add. */
struct pk_kick {
    unsigned flags, off;   /* the device's event structure */
    bool ev_wrap;
    unsigned pos;          /* where the chain went */
    bool wrap;
    bool want, kick;       /* what the structure asks; what the library said */
    bool settled;          /* the structure read the same after the library's decision */
};

/* dq_get_used, and on a packed queue a check (once per drive) that a used
 * descriptor the device wrote through has VIRTQ_DESC_F_WRITE; without it
 * the length is taken from the descriptor anyway (the library, reading the
 * spec, reports 0) so the drive's own checks still see what was written. */
void *dq_reap(struct drive *dr, struct dq *q, uint32_t *len);
/* Polls until q has a used buffer or POLL_SECONDS pass. */
bool dq_wait_used(const struct dq *q);

/* Reads the ISR until it is clear; then waits `ticks` and reads it once
 * more, returning that (the interrupt a used buffer raised, if any). */
void isr_drain(struct vdrv_dev *d);
uint8_t isr_after(struct vdrv_dev *d, uint64_t ticks);
/* Polls the ISR until it is non-zero (returned) or ticks pass (0). */
uint8_t isr_wait(struct vdrv_dev *d, uint64_t ticks);

/* drive_packed.c */
/* Ring wrap, the device's event structure against the library's kick
 * decisions, and used buffer notifications against the driver's event
 * structure (through the ISR: the drive runs with MSI-X off). The queue is
 * idle on entry and on return; buf is a writable buffer of len bytes. */
void packed_events(struct drive *dr, struct dq *q, uint8_t *buf, uint32_t len);
/* Adds a chain (through an indirect table of nout + nin entries when table
 * is not NULL) and makes the kick decision, judged and counted in dr; out
 * (optional) gets the particulars. 0 or the library's error. */
int packed_add(struct drive *dr, struct dq *q, const struct vdrv_sg *sg, unsigned nout,
               unsigned nin, struct vring_packed_desc *table, void *token, struct pk_kick *out);
/* One line for the drive's kick decisions (none: nothing printed). */
void packed_kick_report(struct drive *dr);
/* Two requests made available before one kick: the library must ask for a
 * kick exactly where the device event structure does. The chain is added
 * direct, or indirect when `indirect`. */
void packed_two_kicks(struct drive *dr, struct dq *q, const struct vdrv_sg *sg, unsigned nout,
                      unsigned nin, bool indirect);

#endif
