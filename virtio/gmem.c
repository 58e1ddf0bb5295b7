/* Guest memory map. The inline fast path in gmem.h tries region 0; this file
 * keeps the map sorted (so region 0 is the lowest, normally RAM below the PCI
 * hole) and answers everything else. */
#include <errno.h>
#include <string.h>

#include "virtio/gmem.h"

void gmem_init(struct gmem *m)
{
    /* An empty map must make the fast path fail: region 0 has size 0. */
    memset(m, 0, sizeof(*m));
}

int gmem_add(struct gmem *m, uint64_t gpa, uint64_t size, void *hva)
{
    if (size == 0 || hva == NULL)
        return -EINVAL;
    /* Inclusive ends, so a region may end exactly at 2^64 without the sum
     * overflowing; anything past that wraps and is refused. */
    uint64_t last = gpa + (size - 1);
    if (last < gpa)
        return -EINVAL;
    if ((uintptr_t)hva + (size - 1) < (uintptr_t)hva)
        return -EINVAL;

    unsigned pos = 0;
    for (unsigned i = 0; i < m->nr; i++) {
        const struct gmem_region *r = &m->r[i];
        uint64_t r_last = r->gpa + (r->size - 1);
        if (gpa <= r_last && r->gpa <= last)
            return -EINVAL;
        if (r->gpa < gpa)
            pos = i + 1;
    }
    if (m->nr == GMEM_MAX_REGIONS)
        return -ENOSPC;

    memmove(&m->r[pos + 1], &m->r[pos], (m->nr - pos) * sizeof(m->r[0]));
    m->r[pos] = (struct gmem_region){ .gpa = gpa, .size = size, .hva = hva };
    m->nr++;
    return 0;
}

void *gmem_ptr_slow(const struct gmem *m, uint64_t gpa, uint64_t len)
{
    /* A range is served only by one region: adjacent regions have unrelated
     * host mappings, so a range straddling two is refused. */
    for (unsigned i = 0; i < m->nr && i < GMEM_MAX_REGIONS; i++) {
        const struct gmem_region *r = &m->r[i];
        uint64_t off = gpa - r->gpa;
        if (off < r->size && len <= r->size - off)
            return r->hva + off;
    }
    return NULL;
}
