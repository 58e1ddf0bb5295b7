/* Guest memory: the one accessor through which device code reaches guest RAM.
 * Every (gpa, len) is checked against the memory map; a range that wraps, or
 * that is not wholly inside one region, is refused (NULL). */
#ifndef KICK_GMEM_H
#define KICK_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/kick_barrier.h"

#define GMEM_MAX_REGIONS 8

struct gmem_region {
    uint64_t gpa;
    uint64_t size;
    uint8_t *hva;
};

struct gmem {
    unsigned nr;
    struct gmem_region r[GMEM_MAX_REGIONS];
};

void gmem_init(struct gmem *m);
/* Adds [gpa, gpa+size) backed by hva. -EINVAL on zero size, wrap or overlap,
 * -ENOSPC when the map is full. Regions are kept sorted by gpa. */
int gmem_add(struct gmem *m, uint64_t gpa, uint64_t size, void *hva);

/* Slow path: search all regions. */
void *gmem_ptr_slow(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Host pointer for [gpa, gpa+len), or NULL. len may be 0 (then gpa must still
 * be inside a region). The first region is tried inline: it is guest RAM below
 * the PCI hole and holds almost every buffer. */
static inline void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
    const struct gmem_region *r = &m->r[0];
    uint64_t off = gpa - r->gpa;
    /* off < size and len <= size - off: no wrap possible, since both sides are
     * computed without overflow once off < size holds. */
    if (kick_likely(off < r->size && len <= r->size - off))
        return r->hva + off;
    return gmem_ptr_slow(m, gpa, len);
}

#endif
