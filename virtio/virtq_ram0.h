/* Internal to the virtqueue code (virtq.c, virtq_packed.c): the inline
 * guest-memory check both rings' fast walks make on every buffer. */
#ifndef KICK_VIRTQ_RAM0_H
#define KICK_VIRTQ_RAM0_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/gmem.h"

/* Region 0 for the fast walk: the same acceptance as gmem_region_ptr() for
 * any buffer of one byte or more, and size is read once (a memory operand,
 * no register). end = off + len is computed modulo 2^64; it wrapped exactly
 * when end < len (len is a descriptor's 32-bit length, off < 2^64), so "no
 * wrap and end <= size" is off + len <= size in exact arithmetic, which also
 * gives off < size. Only a zero-length buffer reads differently: one starting
 * exactly at the region's end is taken (its iov_base is the end of the
 * mapping, never dereferenced for 0 bytes), where gmem_region_ptr() would
 * leave it to the slow walk (the next region, or the dummy byte). */
static inline __attribute__((always_inline)) bool
virtq_ram0_ptr(const struct gmem_region *r, uint64_t addr, uint64_t len, void **p)
{
    uint64_t off = addr - r->gpa;
    uint64_t end = off + len;
    /* Opaque to gcc, which would otherwise turn end < len back into a
     * carry flag kept in a register and tested apart. */
    __asm__("" : "+r"(end));
    if (kick_unlikely(end > r->size) || kick_unlikely(end < len))
        return false;
    *p = r->hva + off;
    return true;
}

#endif
