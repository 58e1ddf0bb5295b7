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

/* One region alone: true, with *p set, when [gpa, gpa+len) lies wholly inside
 * r (len 0: gpa inside it). false says nothing about other regions. */
static inline bool gmem_region_ptr(const struct gmem_region *r, uint64_t gpa, uint64_t len,
                                   void **p)
{
    uint64_t off = gpa - r->gpa;
    /* Keeps gcc from rebuilding size - off below as (r->gpa + size) - gpa,
     * which costs two instructions and a register on every buffer. */
    __asm__("" : "+r"(off));
    /* off < size and len <= size - off: no wrap possible, since both sides are
     * computed without overflow once off < size holds. */
    if (kick_likely(off < r->size && len <= r->size - off)) {
        *p = r->hva + off;
        return true;
    }
    return false;
}

/* Host pointer for [gpa, gpa+len), or NULL. len may be 0 (then gpa must still
 * be inside a region). The first region is tried inline: it is guest RAM below
 * the PCI hole and holds almost every buffer. */
static inline void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
    void *p;
    if (gmem_region_ptr(&m->r[0], gpa, len, &p))
        return p;
    return gmem_ptr_slow(m, gpa, len);
}

#endif
