/* Shared by the conformance files. */
#ifndef KICK_PROBE_CONFORM_H
#define KICK_PROBE_CONFORM_H

#include "guest/probe/probe.h"

/* A vendor-specific (virtio) capability as the device presents it. */
struct vcap {
    uint8_t pos, cap_len, type, bar;
    uint64_t offset, length;
};

unsigned vcaps_walk(struct pci_fn *f, struct vcap *out, unsigned max);

/* Common configuration registers of the modern interface. */
uint64_t creg_read(struct vdrv_dev *d, uint64_t off, unsigned len);
void creg_write(struct vdrv_dev *d, uint64_t off, uint64_t val, unsigned len);

#endif
