/* Loopback host: kick's driver side (guest/) drives kick's device side
 * (virtio/ + pci/) with every config-space and BAR access a function call and
 * a block of host memory standing in for guest RAM. The harness plays the
 * firmware's part (BAR placement, decode enable) and the interrupt
 * controller's (it counts MSI messages and watches the INTx line).
 * Used by the tests and by `kick demo`. */
#ifndef KICK_LOOPBACK_H
#define KICK_LOOPBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/vdrv_pci.h"
#include "virtio/gmem.h"
#include "virtio/vpci.h"

#define LOOPBACK_RAM_GPA   0x10000000ull /* not 0, so address mix-ups show */
#define LOOPBACK_MSI_ADDR  0xfee00000ull
#define LOOPBACK_MSI_DATA  0x40          /* vector i sends data 0x40 + i */
#define LOOPBACK_MAX_VECS  64

struct loopback {
    struct gmem mem;
    uint8_t *ram;
    uint64_t ram_size;
    uint64_t brk; /* bump allocator offset into ram */
    unsigned nfn;
};

struct loopback_fn {
    struct loopback *lb;
    struct vpci t;
    struct vdrv_io io;
    struct vdrv_dev drv;
    unsigned slot;
    /* what the "interrupt controller" saw */
    unsigned msi[LOOPBACK_MAX_VECS];
    unsigned msi_total, msi_bad;
    unsigned msi_taken; /* msi_total at the last loopback_fn_take_irq */
    bool intx_level;
    unsigned intx_raises;
    /* driver-side queue 0 */
    struct vdrv_vq vq;
    void *tokens[1024];
    uint16_t chain_len[1024];
};

int loopback_init(struct loopback *lb, size_t ram_size);
void loopback_destroy(struct loopback *lb);
/* Zeroed guest memory, aligned; returns the host pointer and its guest
 * physical address, or NULL when RAM is exhausted. */
void *loopback_alloc(struct loopback *lb, size_t size, size_t align, uint64_t *pa);
uint64_t loopback_pa(const struct loopback *lb, const void *p);

/* Plugs dev in as a virtio-pci function (mode, msix_vectors as vpci_init),
 * places its BARs and enables decode and bus mastering, as firmware would. */
int loopback_fn_attach(struct loopback_fn *fn, struct loopback *lb, struct virtio_dev *dev,
                       enum vpci_mode mode, unsigned msix_vectors);
void loopback_fn_detach(struct loopback_fn *fn);

/* Bring-up in steps, for devices with several queues:
 * begin: probe (optionally forcing legacy), reset, ACKNOWLEDGE|DRIVER,
 *        negotiate `wanted`, and with use_msix enable MSI-X with the config
 *        on vector 0;
 * queue: set up queue q with up to `want` entries (0, or a legacy device:
 *        the device's size) in fresh loopback memory, on MSI-X vector
 *        `vector` (VIRTIO_MSI_NO_VECTOR without MSI-X); tokens and chain_len
 *        hold 1024 entries;
 * ok:    DRIVER_OK, and -EIO if the device then reports NEEDS_RESET. */
int loopback_fn_driver_begin(struct loopback_fn *fn, bool force_legacy, bool use_msix,
                             uint64_t wanted);
int loopback_fn_queue(struct loopback_fn *fn, unsigned q, struct vdrv_vq *vq, uint16_t want,
                      void **tokens, uint16_t *chain_len, uint16_t vector);
int loopback_fn_driver_ok(struct loopback_fn *fn);

/* The driver's side of bring-up for a one-queue device: probe (optionally
 * forcing legacy), reset, ACKNOWLEDGE|DRIVER, negotiate `wanted`, MSI-X on
 * or off, queue 0 with up to qsize entries, DRIVER_OK. 0 or negative errno. */
int loopback_fn_driver_up(struct loopback_fn *fn, bool force_legacy, bool use_msix,
                          uint64_t wanted, uint16_t qsize);

/* One request on queue 0: add the chain, kick if the device asks, and
 * reclaim it (the loopback device completes it within the kick). 0 with the
 * bytes written, -EIO if the chain did not come back, or add's error. */
int loopback_fn_roundtrip(struct loopback_fn *fn, const struct vdrv_sg *sg, unsigned nout,
                          unsigned nin, uint32_t *written);

/* Services an interrupt the way a driver would: with INTx, reads the ISR
 * (returns it); with MSI-X, returns 1 if any MSI arrived since the last call. */
unsigned loopback_fn_take_irq(struct loopback_fn *fn);

#endif
