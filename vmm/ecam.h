/* PCI Express Enhanced Configuration Access Mechanism (PCIe base spec 7.2.2):
 * a memory window in which bus b, device d, function f, register r lives at
 *   base + (b << 20 | d << 15 | f << 12 | r),
 * 4 KiB of config space per function, 1 MiB per bus. ecam decodes guest MMIO
 * in that window and hands config accesses to the bus's owner through two
 * callbacks, which see the full 4 KiB (offsets >= 256 included).
 *
 * Accesses must be 1, 2 or 4 bytes and naturally aligned (what PCIe allows
 * to be split into one config request); anything else reads as all ones and
 * writes are dropped, as is an access to a bus outside the window. ecam holds
 * no lock: the callbacks take the bus's. */
#ifndef KICK_ECAM_H
#define KICK_ECAM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/iobus.h"

#define ECAM_BUS_SIZE (1ull << 20)
#define ECAM_FUNC_CFG_SIZE 4096

/* bdf: bus << 8 | device << 3 | function, as in the PCI Routing ID */
typedef uint32_t ecam_cfg_read_fn(void *opaque, uint16_t bdf, unsigned off, unsigned len);
typedef void ecam_cfg_write_fn(void *opaque, uint16_t bdf, unsigned off, uint32_t data,
                               unsigned len);

struct ecam {
    uint64_t base;                 /* guest-physical address of bus bus_start */
    uint8_t bus_start, bus_end;
    ecam_cfg_read_fn *cfg_read;
    ecam_cfg_write_fn *cfg_write;
    void *opaque;
    uint64_t bad_accesses;         /* refused: width, alignment, bus */
};

struct ecam_addr {
    uint16_t bdf;
    unsigned off;                  /* register within the function's 4 KiB */
};

/* Window size for buses bus_start..bus_end. */
static inline uint64_t ecam_size(uint8_t bus_start, uint8_t bus_end)
{
    return ((uint64_t)bus_end - bus_start + 1) * ECAM_BUS_SIZE;
}

/* Sets up e; if mmio is not NULL claims the window on it. base must be
 * 1 MiB-aligned. 0, -EINVAL or iobus_add's error. */
int ecam_init(struct ecam *e, struct iobus *mmio, uint64_t base, uint8_t bus_start,
              uint8_t bus_end, ecam_cfg_read_fn *cfg_read, ecam_cfg_write_fn *cfg_write,
              void *opaque);

/* Decodes an access at offset off (from e->base) of size bytes. false if it
 * is refused (see above). */
bool ecam_decode(const struct ecam *e, uint64_t off, unsigned size, struct ecam_addr *out);

/* The window's iobus handlers (off relative to e->base); also for tests. */
uint64_t ecam_mmio_read(void *opaque, uint64_t off, unsigned size);
void ecam_mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t value);

#endif
