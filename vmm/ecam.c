/* ECAM window decoding (see ecam.h). */
#include "vmm/ecam.h"

#include <errno.h>

bool ecam_decode(const struct ecam *e, uint64_t off, unsigned size, struct ecam_addr *out)
{
    if ((size != 1 && size != 2 && size != 4) || off % size != 0 ||
        off >= ecam_size(e->bus_start, e->bus_end))
        return false;
    /* Natural alignment keeps the access inside one function's 4 KiB. */
    unsigned bus = e->bus_start + (unsigned)(off >> 20);
    unsigned devfn = (unsigned)(off >> 12) & 0xff;
    out->bdf = (uint16_t)(bus << 8 | devfn);
    out->off = (unsigned)(off & (ECAM_FUNC_CFG_SIZE - 1));
    return true;
}

uint64_t ecam_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct ecam *e = opaque;
    struct ecam_addr a;
    if (!ecam_decode(e, off, size, &a)) {
        __atomic_fetch_add(&e->bad_accesses, 1, __ATOMIC_RELAXED);
        return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    }
    uint32_t v = e->cfg_read(e->opaque, a.bdf, a.off, size);
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

void ecam_mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    struct ecam *e = opaque;
    struct ecam_addr a;
    if (!ecam_decode(e, off, size, &a)) {
        __atomic_fetch_add(&e->bad_accesses, 1, __ATOMIC_RELAXED);
        return;
    }
    uint32_t v = size == 4 ? (uint32_t)value : (uint32_t)value & ((1u << (8 * size)) - 1);
    e->cfg_write(e->opaque, a.bdf, a.off, v, size);
}

int ecam_init(struct ecam *e, struct iobus *mmio, uint64_t base, uint8_t bus_start,
              uint8_t bus_end, ecam_cfg_read_fn *cfg_read, ecam_cfg_write_fn *cfg_write,
              void *opaque)
{
    if (base % ECAM_BUS_SIZE || bus_start > bus_end || !cfg_read || !cfg_write ||
        base + ecam_size(bus_start, bus_end) < base)
        return -EINVAL;
    *e = (struct ecam){ .base = base, .bus_start = bus_start, .bus_end = bus_end,
                        .cfg_read = cfg_read, .cfg_write = cfg_write, .opaque = opaque };
    if (!mmio)
        return 0;
    int r = iobus_add(mmio, base, ecam_size(bus_start, bus_end), ecam_mmio_read,
                      ecam_mmio_write, e, "pci-ecam");
    return r < 0 ? r : 0;
}
