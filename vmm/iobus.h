/* An address space of device ranges (one for port I/O, one for MMIO): a
 * guest access is routed to the range that contains it, with the offset
 * within the range. Unclaimed reads float high (all ones), unclaimed writes
 * are dropped, as on a PC bus. Ranges are added before vCPUs run; the table is
 * not locked (remapping at run time from several vCPUs needs a lock). */
#ifndef KICK_IOBUS_H
#define KICK_IOBUS_H

#include <stdbool.h>
#include <stdint.h>

#define IOBUS_MAX_RANGES 32

typedef uint64_t iobus_read_fn(void *opaque, uint64_t off, unsigned size);
typedef void iobus_write_fn(void *opaque, uint64_t off, unsigned size, uint64_t value);

struct iobus_range {
    uint64_t base, len;
    iobus_read_fn *read;   /* NULL: reads as all ones */
    iobus_write_fn *write; /* NULL: writes dropped */
    void *opaque;
    const char *name;
};

/* Claims what no range does (a PCI bus decoding BARs that move at run time).
 * Returns true if it claimed the access; a read then fills *value. */
typedef bool iobus_fallback_fn(void *opaque, uint64_t addr, unsigned size, uint64_t *value,
                               bool is_write);

struct iobus {
    struct iobus_range ranges[IOBUS_MAX_RANGES];
    unsigned n;
    iobus_fallback_fn *fallback; /* NULL: unclaimed */
    void *fallback_opaque;
};

/* Returns 0, -EEXIST if the range overlaps one already there, -EINVAL for an
 * empty or wrapping range, -ENOSPC if the table is full. */
int iobus_add(struct iobus *bus, uint64_t base, uint64_t len, iobus_read_fn *read,
              iobus_write_fn *write, void *opaque, const char *name);

/* Sets the handler for accesses no range claims (set before vCPUs run). */
void iobus_set_fallback(struct iobus *bus, iobus_fallback_fn *fn, void *opaque);

/* size is 1, 2, 4 or 8. An access must lie entirely inside one range to be
 * claimed. Return false if unclaimed (read then yields all ones). */
bool iobus_read(const struct iobus *bus, uint64_t addr, unsigned size, uint64_t *value);
bool iobus_write(const struct iobus *bus, uint64_t addr, unsigned size, uint64_t value);

#endif
