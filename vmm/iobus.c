/* Address-range dispatch for port I/O and MMIO (see iobus.h). */
#include "vmm/iobus.h"

#include <errno.h>
#include <stddef.h>

int iobus_add(struct iobus *bus, uint64_t base, uint64_t len, iobus_read_fn *read,
              iobus_write_fn *write, void *opaque, const char *name)
{
    if (len == 0 || base + len < base)
        return -EINVAL;
    for (unsigned i = 0; i < bus->n; i++) {
        const struct iobus_range *r = &bus->ranges[i];
        if (base < r->base + r->len && r->base < base + len)
            return -EEXIST;
    }
    if (bus->n == IOBUS_MAX_RANGES)
        return -ENOSPC;
    bus->ranges[bus->n++] = (struct iobus_range){ base, len, read, write, opaque, name };
    return 0;
}

static const struct iobus_range *find(const struct iobus *bus, uint64_t addr, unsigned size)
{
    for (unsigned i = 0; i < bus->n; i++) {
        const struct iobus_range *r = &bus->ranges[i];
        if (addr >= r->base && addr - r->base < r->len && size <= r->len - (addr - r->base))
            return r;
    }
    return NULL;
}

static uint64_t all_ones(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

void iobus_set_fallback(struct iobus *bus, iobus_fallback_fn *fn, void *opaque)
{
    bus->fallback = fn;
    bus->fallback_opaque = opaque;
}

bool iobus_read(const struct iobus *bus, uint64_t addr, unsigned size, uint64_t *value)
{
    const struct iobus_range *r = find(bus, addr, size);
    *value = all_ones(size);
    if (!r) {
        if (bus->fallback && bus->fallback(bus->fallback_opaque, addr, size, value, false)) {
            *value &= all_ones(size);
            return true;
        }
        *value = all_ones(size);
        return false;
    }
    if (r->read)
        *value = r->read(r->opaque, addr - r->base, size) & all_ones(size);
    return true;
}

bool iobus_write(const struct iobus *bus, uint64_t addr, unsigned size, uint64_t value)
{
    const struct iobus_range *r = find(bus, addr, size);
    if (!r) {
        value &= all_ones(size);
        return bus->fallback && bus->fallback(bus->fallback_opaque, addr, size, &value, true);
    }
    if (r->write)
        r->write(r->opaque, addr - r->base, size, value & all_ones(size));
    return true;
}
